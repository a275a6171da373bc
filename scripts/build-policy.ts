// Builds the policy models public/ serves (run by scripts/build-models.ts after the bundled RM, or on its own):
//   models/scpo-mlp-policy  the bundled MLP policy trained on the default synthetic data's responses (HF layout + ONNX)
//   models/tiny-policy      a tiny GPT-2-typed causal LM for transformers.js text-generation (seeded, untrained;
//                           GloVe rows of the bundled RM projected to 32 dims)
// Idempotent like build-models: each folder carries a .build.json manifest (fingerprint + file sizes).
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { loadBagRM } from '../src/pipeline/rm/files.ts';
import { dirReader, writeModelDir } from '../src/pipeline/rm/files.node.ts';
import { encodeItems, tokenizerVocab } from '../src/pipeline/rm/tokenizer.ts';
import { buildCorpus, evaluateNll, initPolicyFromRM, trainPolicyLM } from '../src/pipeline/policy/lm-train.ts';
import { policyFiles } from '../src/pipeline/policy/onnx.ts';
import { buildTinyGpt2Files } from '../src/pipeline/policy/tiny-gpt2.ts';
import { CpuPolicyTrainer, DEFAULT_POLICY_OPTIMIZER } from '../src/pipeline/policy/trainer.ts';
import { DEFAULT_POLICY_SESSION } from '../src/pipeline/policy/session.ts';
import { hashSeed } from '../src/pipeline/rng.ts';

const BUILD_VERSION = 1;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MLP_POLICY_SUBDIR = 'models/scpo-mlp-policy';
export const TINY_POLICY_SUBDIR = 'models/tiny-policy';
const BASE_SUBDIR = 'models/scpo-glove-rm';
const MANIFEST = '.build.json';

/** Training recipe of the bundled policy (also the session's defaults, so --policy train reproduces it). */
export const BUNDLED_POLICY_RECIPE = { data: 'synthetic:0', ...DEFAULT_POLICY_SESSION.policy, seed: 0 };

async function fingerprintOf(dir: string): Promise<string | null> {
  try {
    return (JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as { fingerprint: string }).fingerprint;
  } catch {
    return null;
  }
}

async function upToDate(dir: string, fp: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as { fingerprint: string; files: Record<string, number> };
    if (m.fingerprint !== fp) return false;
    for (const [p, size] of Object.entries(m.files)) if ((await stat(join(dir, p))).size !== size) return false;
    return Object.keys(m.files).length > 0;
  } catch {
    return false;
  }
}

async function writeWithManifest(dir: string, fp: string, files: Record<string, Uint8Array>): Promise<void> {
  await rm(join(dir, MANIFEST), { force: true });
  await mkdir(dir, { recursive: true });
  await writeModelDir(dir, files);
  const sizes = Object.fromEntries(Object.entries(files).map(([p, b]) => [p, b.length]));
  await writeFile(join(dir, MANIFEST), JSON.stringify({ fingerprint: fp, files: sizes, builtAt: new Date().toISOString() }, null, 1) + '\n');
}

export async function buildPolicyModels(publicDir: string, opts: { force?: boolean; log?: (m: string) => void } = {}): Promise<void> {
  const log = opts.log ?? ((m: string) => console.log(`[build-policy] ${m}`));
  const baseDir = join(publicDir, BASE_SUBDIR);
  const baseFp = await fingerprintOf(baseDir);
  if (!baseFp) throw new Error(`build-policy: the bundled RM is missing at ${baseDir} (run build-models first)`);
  const fp = {
    mlp: JSON.stringify({ v: BUILD_VERSION, base: baseFp, recipe: BUNDLED_POLICY_RECIPE }),
    tiny: JSON.stringify({ v: BUILD_VERSION, base: baseFp, dim: 32, seed: 1 }),
  };
  const dirs = { mlp: join(publicDir, MLP_POLICY_SUBDIR), tiny: join(publicDir, TINY_POLICY_SUBDIR) };
  const todo = { mlp: opts.force || !(await upToDate(dirs.mlp, fp.mlp)), tiny: opts.force || !(await upToDate(dirs.tiny, fp.tiny)) };
  if (!todo.mlp && !todo.tiny) {
    log('policy models up to date');
    return;
  }
  const t0 = performance.now();
  const model = await loadBagRM(dirReader(baseDir));
  const rmVocab = tokenizerVocab(model.tokenizerJson);
  const data = await loadSynthetic(0);
  const encoded = encodeItems(model.tokenizer, data.items, model.params.config);
  const corpus = buildCorpus(encoded, rmVocab);
  if (todo.tiny) {
    const words = corpus.vocab.outWords.slice(2);
    const D = model.params.config.dim;
    const vectors = new Float32Array(words.length * D);
    const rmId = new Map(rmVocab.map((w, i) => [w, i] as const));
    words.forEach((w, i) => vectors.set(model.params.E.subarray(rmId.get(w)! * D, rmId.get(w)! * D + D), i * D));
    const files = buildTinyGpt2Files({ words, vectors, sourceDim: D, dim: 32, seed: 1 });
    await writeWithManifest(dirs.tiny, fp.tiny, files);
    log(`tiny-policy: GPT-2-typed 1-layer causal LM over ${words.length} words, ${(files['onnx/model.onnx'].length / 1024).toFixed(0)} KiB`);
  }
  if (todo.mlp) {
    const t = performance.now();
    const r = BUNDLED_POLICY_RECIPE;
    const init = initPolicyFromRM(corpus, model.params, rmVocab, { hidden: r.hidden, context: r.context }, r.seed);
    const trainer = new CpuPolicyTrainer(init, { ...DEFAULT_POLICY_OPTIMIZER, lr: r.lr });
    const trainItems = [...new Set(data.pairs.filter((p) => p.split === 'train').flatMap((p) => [p.chosen, p.rejected]))].sort((a, b) => a - b);
    const testItems = [...new Set(data.pairs.filter((p) => p.split === 'test').flatMap((p) => [p.chosen, p.rejected]))].slice(0, 200);
    const losses = await trainPolicyLM(trainer, corpus, trainItems, { steps: r.steps, batch: r.batch, seed: hashSeed(r.seed, 'policy') }, init.config, (s, l) => {
      if (s % 100 === 0) log(`  policy step ${s}/${r.steps} loss ${l.toFixed(3)}`);
    });
    const nll = await evaluateNll(trainer, corpus, testItems, init.config.context, init.config.maxPromptTokens);
    const params = await trainer.params();
    const files = policyFiles(params, corpus.vocab, { recipe: r, heldOutNll: nll, lossFirst: losses[0], note: 'bundled SCPO policy (scripts/build-policy.ts)' });
    await writeWithManifest(dirs.mlp, fp.mlp, files);
    log(`scpo-mlp-policy: ${r.steps} steps in ${((performance.now() - t) / 1000).toFixed(1)} s, held-out NLL ${nll.toFixed(3)} nats/token, ${(files['onnx/model.onnx'].length / 1024).toFixed(0)} KiB`);
  }
  log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const force = process.argv.includes('--force');
  const i = process.argv.indexOf('--public');
  const publicDir = i > 0 ? resolve(process.argv[i + 1] ?? '') : join(ROOT, 'public');
  buildPolicyModels(publicDir, { force }).catch((e: unknown) => {
    console.error(`[build-policy] ${(e as Error).message}`);
    process.exit(1);
  });
}

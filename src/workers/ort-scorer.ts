// Global-RM scoring with onnxruntime-web: one InferenceSession per scorer, execution provider chosen by probing
// (webgpu first, wasm fallback, with the reason), items scored in length-sorted batches via encodeForOnnx, calls
// serialised. Runs wherever onnxruntime-web does: the scoring worker, inline in the experiment worker, Node (wasm).
import type * as Ort from 'onnxruntime-web';
import { encodeForOnnx, ONNX_OUTPUT } from '../pipeline/rm/onnx.ts';
import type { EncodedItems } from '../pipeline/rm/types.ts';
import { USE_ONNX_EMBEDDING } from '../pipeline/rm/use-lite/onnx.ts';
import { jointIds, jointLength, USE_PAD_ID } from '../pipeline/rm/use-lite/tokenizer.ts';

/**
 * How a model's ONNX inputs are built from EncodedItems: the bag RM takes prompt (type 0) then response (type 1)
 * tokens; USE-lite takes the joint sequence prompt [SEP] response (truncated to maxLen, prompt first) and also
 * outputs the 512-d embedding (`embed`).
 */
export type OrtModelKind = { kind: 'bag' } | { kind: 'use-lite'; maxLen: number };

export type OrtEp = 'webgpu' | 'wasm';
/** 'auto': webgpu on a hardware adapter, wasm otherwise (a software adapter such as SwiftShader is slower than wasm). */
export type OrtPreference = 'auto' | 'webgpu' | 'wasm';

export interface OrtScorerOptions {
  prefer?: OrtPreference;
  /** URL prefix of ort-wasm-simd-threaded{,.jsep}.{mjs,wasm} (e.g. '/ort/'); unset in Node (files next to the package). */
  wasmPaths?: string;
  /** wasm threads (1 = no pthread workers). Default: ORT's own choice (needs cross-origin isolation). */
  numThreads?: number;
  /** Items per session.run. */
  batchItems?: number;
  /** Accept a software WebGPU adapter for 'auto' (default false). */
  allowFallbackAdapter?: boolean;
  /** The model's input layout (default: the bag RM). */
  model?: OrtModelKind;
}

export interface OrtScorerInfo {
  ep: OrtEp;
  /** Why this execution provider (for the UI's status line). */
  reason: string;
  initMs: number;
  /** The WebGPU adapter when one was found, e.g. "google/swiftshader (fallback)". */
  adapter?: string;
  /** The onnxruntime-web build the session runs in (ortBuild: the wasm-only one unless on WebGPU). */
  build: OrtBuild;
}

type OrtModule = typeof Ort;

/**
 * The onnxruntime-web build for an execution provider. The default build (JSEP: webgpu + wasm) carries a 28 MB
 * wasm; the wasm-only build a 14 MB one. V8 compiles the hot functions of either with its optimizing tier, among them
 * onnxruntime's 1.2-1.6 MB initialisation functions, and that takes CPU seconds and a transient 100-200 MiB of
 * compiler memory, about twice as much for the JSEP build (bench:studio, Chromium 156: the page's load peak was
 * 910 MiB PSS with the JSEP build for the wasm EP). So the JSEP build is loaded only for a WebGPU session, and each
 * build once (a module keeps its own `env`).
 */
export type OrtBuild = 'onnxruntime-web' | 'onnxruntime-web/wasm';
export const ortBuild = (ep: OrtEp): OrtBuild => (ep === 'webgpu' ? 'onnxruntime-web' : 'onnxruntime-web/wasm');
const ortBuilds: Partial<Record<OrtEp, Promise<OrtModule>>> = {};
function ortFor(ep: OrtEp): Promise<OrtModule> {
  // Literal specifiers, so the bundler sees (and splits out) both builds.
  return (ortBuilds[ep] ??= ep === 'webgpu' ? import('onnxruntime-web') : import('onnxruntime-web/wasm'));
}

export const DEFAULT_BATCH_ITEMS = 256;
/** USE-lite batches are [B, T<=128] through a transformer: smaller batches keep activations (~B*T*1536 floats) small. */
export const DEFAULT_USE_LITE_BATCH_ITEMS = 32;

interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  isFallbackAdapter?: boolean;
}

function navigatorGpu(): GPU | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  return nav?.gpu;
}

async function probeAdapter(): Promise<{ adapter: GPUAdapter | null; why: string; label?: string; fallback: boolean }> {
  const gpu = navigatorGpu();
  if (!gpu) return { adapter: null, why: 'navigator.gpu is missing (no WebGPU in this browser/context)', fallback: false };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { adapter: null, why: `requestAdapter() failed: ${(e as Error).message}`, fallback: false };
  }
  if (!adapter) return { adapter: null, why: 'requestAdapter() returned null (WebGPU disabled or no suitable GPU)', fallback: false };
  const info = (adapter as unknown as { info?: AdapterInfoLike }).info ?? {};
  const legacy = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const fallback = Boolean(info.isFallbackAdapter ?? legacy ?? false);
  const label = `${info.vendor || '?'}/${info.architecture || '?'}${fallback ? ' (fallback)' : ''}`;
  return { adapter, why: '', label, fallback };
}

/** A one-item batch: creating a session can succeed on an EP that then fails at run time. */
const WARMUP: EncodedItems = {
  count: 1,
  promptOffsets: Int32Array.of(0, 1),
  promptIds: Int32Array.of(1),
  responseOffsets: Int32Array.of(0, 1),
  responseIds: Int32Array.of(1),
};

function lengthOf(kind: OrtModelKind, items: EncodedItems, k: number): number {
  if (kind.kind === 'use-lite') return jointLength(items, k, kind.maxLen);
  return items.promptOffsets[k + 1] - items.promptOffsets[k] + items.responseOffsets[k + 1] - items.responseOffsets[k];
}

/** USE-lite feeds: joint ids right-padded to the batch's longest sequence (never to maxLen), mask 1 on tokens. */
function useLiteFeeds(items: EncodedItems, sel: Int32Array, maxLen: number): { dims: number[]; ids: BigInt64Array; mask: BigInt64Array } {
  let T = 1;
  for (const k of sel) T = Math.max(T, jointLength(items, k, maxLen));
  const ids = new BigInt64Array(sel.length * T).fill(BigInt(USE_PAD_ID));
  const mask = new BigInt64Array(sel.length * T);
  sel.forEach((k, b) => {
    const n = jointIds(items, k, maxLen, ids, b * T);
    mask.fill(1n, b * T, b * T + n);
  });
  return { dims: [sel.length, T], ids, mask };
}

export class OrtScorer {
  private tail: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(
    private readonly ort: OrtModule,
    private session: Ort.InferenceSession,
    readonly info: OrtScorerInfo,
    private readonly batchItems: number,
    readonly kind: OrtModelKind = { kind: 'bag' },
  ) {}

  /** Creates the session on the preferred EP, falling back to wasm (never throws for an unusable GPU). */
  static async create(model: Uint8Array, opts: OrtScorerOptions = {}): Promise<OrtScorer> {
    const t0 = performance.now();
    const load = async (ep: OrtEp): Promise<OrtModule> => {
      const ort = await ortFor(ep);
      if (opts.wasmPaths !== undefined) ort.env.wasm.wasmPaths = opts.wasmPaths;
      if (opts.numThreads !== undefined) ort.env.wasm.numThreads = opts.numThreads;
      // Already off the main thread (or in Node): ORT's own proxy worker would only add a copy.
      ort.env.wasm.proxy = false;
      return ort;
    };
    // (logSeverityLevel 3 below: errors only; the webgpu EP otherwise warns that shape ops run on the CPU, as designed.)
    const prefer = opts.prefer ?? 'auto';
    const kind: OrtModelKind = opts.model ?? { kind: 'bag' };
    const batch = Math.max(1, Math.floor(opts.batchItems ?? (kind.kind === 'use-lite' ? DEFAULT_USE_LITE_BATCH_ITEMS : DEFAULT_BATCH_ITEMS)));
    const reasons: string[] = [];
    let adapterLabel: string | undefined;
    if (prefer !== 'wasm') {
      const probe = await probeAdapter();
      adapterLabel = probe.label;
      if (!probe.adapter) reasons.push(probe.why);
      else if (probe.fallback && prefer === 'auto' && !opts.allowFallbackAdapter) {
        reasons.push(`the only WebGPU adapter is a software fallback (${probe.label}), slower than wasm`);
      } else {
        try {
          const ort = await load('webgpu');
          const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
          const s = new OrtScorer(ort, session, { ep: 'webgpu', reason: '', initMs: 0, adapter: probe.label, build: ortBuild('webgpu') }, batch, kind);
          try {
            await s.runBatch(WARMUP, Int32Array.of(0), ONNX_OUTPUT);
          } catch (e) {
            await session.release().catch(() => {});
            throw e;
          }
          s.info.reason = `webgpu EP on ${probe.label}${prefer === 'webgpu' ? ' (requested)' : ''}`;
          s.info.initMs = Math.round(performance.now() - t0);
          return s;
        } catch (e) {
          reasons.push(`webgpu EP failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    } else {
      reasons.push('wasm requested');
    }
    const ort = await load('wasm');
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], logSeverityLevel: 3 });
    const why = prefer === 'wasm' ? 'wasm requested' : `wasm EP: ${reasons.join('; ')}`;
    return new OrtScorer(ort, session, { ep: 'wasm', reason: why, initMs: Math.round(performance.now() - t0), adapter: adapterLabel, build: ortBuild('wasm') }, batch, kind);
  }

  /** Scores items `indices` (all when omitted), in that order. Calls queue behind each other. */
  score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    const job = this.tail.then(() => this.scoreNow(items, indices, 1, ONNX_OUTPUT));
    this.tail = job.catch(() => {});
    return job;
  }

  /**
   * USE-lite only: the 512-d sentence embeddings of items `indices` (all when omitted), [n, 512] in that order
   * (the frozen-encoder features the reward head trains on).
   */
  embed(items: EncodedItems, indices?: Int32Array, onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
    if (this.kind.kind !== 'use-lite') return Promise.reject(new Error('embed: only the USE-lite model outputs embeddings'));
    const job = this.tail.then(() => this.scoreNow(items, indices, 0, USE_ONNX_EMBEDDING, onProgress));
    this.tail = job.catch(() => {});
    return job;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.tail;
    await this.session.release();
  }

  /** Runs items in length-sorted batches and gathers `output` (`width` floats per item; 0: read it from the output). */
  private async scoreNow(
    items: EncodedItems,
    indices: Int32Array | undefined,
    width: number,
    output: string,
    onProgress?: (done: number, total: number) => void,
  ): Promise<Float32Array> {
    if (this.released) throw new Error('scorer released');
    const n = indices ? indices.length : items.count;
    let out = new Float32Array(width * n);
    // Sorting by length keeps padding (and so the [B, S] work) small; each row's score does not depend on its batch.
    const pos = Int32Array.from({ length: n }, (_, i) => i);
    const idx = (i: number): number => (indices ? indices[i] : i);
    const len = Int32Array.from({ length: n }, (_, i) => lengthOf(this.kind, items, idx(i)));
    pos.sort((a, b) => len[a] - len[b] || a - b);
    for (let start = 0; start < n; start += this.batchItems) {
      const chunk = pos.subarray(start, Math.min(n, start + this.batchItems));
      const sel = Int32Array.from(chunk, (p) => idx(p));
      const s = await this.runBatch(items, sel, output);
      const w = s.length / chunk.length;
      if (width === 0) {
        width = w;
        out = new Float32Array(width * n);
      }
      if (w !== width) throw new Error(`model output ${output} has ${s.length} values for a batch of ${chunk.length}`);
      for (let i = 0; i < chunk.length; i++) out.set(s.subarray(i * w, (i + 1) * w), chunk[i] * w);
      onProgress?.(Math.min(n, start + this.batchItems), n);
    }
    return out;
  }

  private async runBatch(items: EncodedItems, sel: Int32Array, output: string): Promise<Float32Array> {
    const ort = this.ort;
    let feeds: Record<string, Ort.Tensor>;
    if (this.kind.kind === 'use-lite') {
      const f = useLiteFeeds(items, sel, this.kind.maxLen);
      feeds = { input_ids: new ort.Tensor('int64', f.ids, f.dims), attention_mask: new ort.Tensor('int64', f.mask, f.dims) };
    } else {
      const b = encodeForOnnx(items, sel);
      const dims = [b.batch, b.seq];
      feeds = {
        input_ids: new ort.Tensor('int64', b.input_ids, dims),
        attention_mask: new ort.Tensor('int64', b.attention_mask, dims),
        token_type_ids: new ort.Tensor('int64', b.token_type_ids, dims),
      };
    }
    const res = await this.session.run(feeds);
    const t = res[output];
    try {
      if (!t) throw new Error(`the model has no output ${output}`);
      const data = t.location === 'cpu' ? t.data : await t.getData();
      if (!(data instanceof Float32Array) || data.length % sel.length !== 0) {
        throw new Error(`model output ${output} has ${data.length} values for a batch of ${sel.length}`);
      }
      // Copy: the tensor's buffer may belong to ORT's heap.
      return Float32Array.from(data);
    } finally {
      for (const v of Object.values(res)) v.dispose();
    }
  }
}

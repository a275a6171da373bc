// Global-RM scoring with onnxruntime-web: one InferenceSession per scorer, execution provider chosen by probing
// (webgpu first, wasm fallback, with the reason), items scored in length-sorted batches via encodeForOnnx, calls
// serialised. Runs wherever onnxruntime-web does: the scoring worker, inline in the experiment worker, Node (wasm).
import * as ort from 'onnxruntime-web';
import { encodeForOnnx, ONNX_OUTPUT } from '../pipeline/rm/onnx.ts';
import type { EncodedItems } from '../pipeline/rm/types.ts';

export type OrtEp = 'webgpu' | 'wasm';
/** 'auto': webgpu on a hardware adapter, wasm otherwise (a software adapter such as SwiftShader is slower than wasm). */
export type OrtPreference = 'auto' | 'webgpu' | 'wasm';

export interface OrtScorerOptions {
  prefer?: OrtPreference;
  /** URL prefix of ort-wasm-simd-threaded.jsep.{mjs,wasm} (e.g. '/ort/'); unset in Node (files next to the package). */
  wasmPaths?: string;
  /** wasm threads (1 = no pthread workers). Default: ORT's own choice (needs cross-origin isolation). */
  numThreads?: number;
  /** Items per session.run. */
  batchItems?: number;
  /** Accept a software WebGPU adapter for 'auto' (default false). */
  allowFallbackAdapter?: boolean;
}

export interface OrtScorerInfo {
  ep: OrtEp;
  /** Why this execution provider (for the UI's status line). */
  reason: string;
  initMs: number;
  /** The WebGPU adapter when one was found, e.g. "google/swiftshader (fallback)". */
  adapter?: string;
}

export const DEFAULT_BATCH_ITEMS = 256;

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

function lengthOf(items: EncodedItems, k: number): number {
  return items.promptOffsets[k + 1] - items.promptOffsets[k] + items.responseOffsets[k + 1] - items.responseOffsets[k];
}

export class OrtScorer {
  private tail: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(
    private session: ort.InferenceSession,
    readonly info: OrtScorerInfo,
    private readonly batchItems: number,
  ) {}

  /** Creates the session on the preferred EP, falling back to wasm (never throws for an unusable GPU). */
  static async create(model: Uint8Array, opts: OrtScorerOptions = {}): Promise<OrtScorer> {
    const t0 = performance.now();
    if (opts.wasmPaths !== undefined) ort.env.wasm.wasmPaths = opts.wasmPaths;
    if (opts.numThreads !== undefined) ort.env.wasm.numThreads = opts.numThreads;
    // Already off the main thread (or in Node): ORT's own proxy worker would only add a copy.
    ort.env.wasm.proxy = false;
    // (logSeverityLevel 3 below: errors only; the webgpu EP otherwise warns that shape ops run on the CPU, as designed.)
    const prefer = opts.prefer ?? 'auto';
    const batch = Math.max(1, Math.floor(opts.batchItems ?? DEFAULT_BATCH_ITEMS));
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
          const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
          const s = new OrtScorer(session, { ep: 'webgpu', reason: '', initMs: 0, adapter: probe.label }, batch);
          try {
            await s.runBatch(WARMUP, Int32Array.of(0), new Float32Array(1));
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
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], logSeverityLevel: 3 });
    const why = prefer === 'wasm' ? 'wasm requested' : `wasm EP: ${reasons.join('; ')}`;
    return new OrtScorer(session, { ep: 'wasm', reason: why, initMs: Math.round(performance.now() - t0), adapter: adapterLabel }, batch);
  }

  /** Scores items `indices` (all when omitted), in that order. Calls queue behind each other. */
  score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    const job = this.tail.then(() => this.scoreNow(items, indices));
    this.tail = job.catch(() => {});
    return job;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.tail;
    await this.session.release();
  }

  private async scoreNow(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    if (this.released) throw new Error('scorer released');
    const n = indices ? indices.length : items.count;
    const out = new Float32Array(n);
    // Sorting by length keeps padding (and so the [B, S] work) small; each row's score does not depend on its batch.
    const pos = Int32Array.from({ length: n }, (_, i) => i);
    const idx = (i: number): number => (indices ? indices[i] : i);
    const len = Int32Array.from({ length: n }, (_, i) => lengthOf(items, idx(i)));
    pos.sort((a, b) => len[a] - len[b] || a - b);
    for (let start = 0; start < n; start += this.batchItems) {
      const chunk = pos.subarray(start, Math.min(n, start + this.batchItems));
      const sel = Int32Array.from(chunk, (p) => idx(p));
      const s = new Float32Array(chunk.length);
      await this.runBatch(items, sel, s);
      for (let i = 0; i < chunk.length; i++) out[chunk[i]] = s[i];
    }
    return out;
  }

  private async runBatch(items: EncodedItems, sel: Int32Array, into: Float32Array): Promise<void> {
    const b = encodeForOnnx(items, sel);
    const dims = [b.batch, b.seq];
    const feeds = {
      input_ids: new ort.Tensor('int64', b.input_ids, dims),
      attention_mask: new ort.Tensor('int64', b.attention_mask, dims),
      token_type_ids: new ort.Tensor('int64', b.token_type_ids, dims),
    };
    const res = await this.session.run(feeds);
    const logits = res[ONNX_OUTPUT];
    try {
      const data = logits.location === 'cpu' ? logits.data : await logits.getData();
      if (!(data instanceof Float32Array) || data.length !== b.batch) {
        throw new Error(`model output ${ONNX_OUTPUT} has ${data.length} values for a batch of ${b.batch}`);
      }
      into.set(data);
    } finally {
      logits.dispose();
    }
  }
}

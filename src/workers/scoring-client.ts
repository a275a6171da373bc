// Client of the scoring worker, usable from the page or from another worker (the experiment worker spawns it as
// a nested worker): typed requests, validated replies, one call at a time, buffers transferred both ways.
import type { ItemScorer } from '../pipeline/experiment.ts';
import { selectEncoded } from '../pipeline/rm/tokenizer.ts';
import type { EncodedItems } from '../pipeline/rm/types.ts';
import type { OrtEp, OrtModelKind, OrtPreference } from './ort-scorer.ts';
import { encodedBuffers, parseFromScoring } from './scoring-protocol.ts';
import type { FromScoring, ToScoring } from './scoring-protocol.ts';

/** The part of a Worker this client uses (a Worker, or a test double). */
export interface ScoringEndpoint {
  postMessage(msg: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<unknown>) => void) | null;
  onerror: ((ev: ErrorEvent) => void) | null;
  terminate(): void;
}

export interface ScoringReady {
  ep: OrtEp;
  reason: string;
  initMs: number;
  adapter?: string;
}

export interface ScoringInitOptions {
  prefer?: OrtPreference;
  /** Where onnxruntime-web's wasm files are served (default "/ort/" under the app's base). */
  wasmPaths: string;
  numThreads?: number;
  batchItems?: number;
  /** The model's input layout (default: the bag RM). */
  modelKind?: OrtModelKind;
}

type Pending = { resolve: (m: FromScoring) => void; reject: (e: Error) => void };

/** An ArrayBuffer holding exactly `bytes`: the underlying buffer when the view covers it (no copy), else a copy. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const b = bytes.buffer;
  if (b instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === b.byteLength) return b;
  // new Uint8Array(view) copies (Node's Buffer#slice would not).
  return new Uint8Array(bytes).buffer as ArrayBuffer;
}

export class ScoringClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private tail: Promise<unknown> = Promise.resolve();
  private dead: Error | null = null;
  /** Set by init(). */
  ready: ScoringReady | null = null;

  constructor(private readonly endpoint: ScoringEndpoint) {
    endpoint.onmessage = (ev) => {
      const msg = parseFromScoring(ev.data);
      if (!msg) {
        this.fail(new Error('malformed message from the scoring worker'));
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'error') p.reject(new Error(msg.message));
      else p.resolve(msg);
    };
    endpoint.onerror = (ev) => {
      ev.preventDefault?.();
      this.fail(new Error(`scoring worker failed: ${ev.message || 'could not start'}`));
    };
  }

  /** Starts the scoring worker (module worker; nested workers are fine in Chromium). */
  static spawn(): ScoringClient {
    const w = new Worker(new URL('./scoring.worker.ts', import.meta.url), { type: 'module', name: 'scpo-scoring' });
    return new ScoringClient(w as unknown as ScoringEndpoint);
  }

  private fail(e: Error): void {
    this.dead = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Sends one request after the previous one has been answered (calls on the session are serialised). */
  private request(make: (id: number) => { msg: ToScoring; transfer: Transferable[] }): Promise<FromScoring> {
    const job = this.tail.then(
      () =>
        new Promise<FromScoring>((resolve, reject) => {
          if (this.dead) return reject(this.dead);
          const id = this.nextId++;
          this.pending.set(id, { resolve, reject });
          const { msg, transfer } = make(id);
          try {
            this.endpoint.postMessage(msg, transfer);
          } catch (e) {
            this.pending.delete(id);
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        }),
    );
    this.tail = job.catch(() => {});
    return job;
  }

  /**
   * Loads the model: its bytes (the buffer is transferred, detached here, when the view covers all of it), or the
   * absolute URL of the ONNX file, which the scoring worker fetches itself.
   */
  async init(model: Uint8Array | { url: string }, opts: ScoringInitOptions): Promise<ScoringReady> {
    const buf = model instanceof Uint8Array ? ownBuffer(model) : { url: model.url };
    const r = await this.request((id) => ({
      msg: { type: 'init', id, model: buf, prefer: opts.prefer ?? 'auto', wasmPaths: opts.wasmPaths, numThreads: opts.numThreads, batchItems: opts.batchItems, ...(opts.modelKind ? { modelKind: opts.modelKind } : {}) },
      transfer: buf instanceof ArrayBuffer ? [buf] : [],
    }));
    if (r.type !== 'ready') throw new Error(`scoring worker answered ${r.type} to init`);
    this.ready = { ep: r.ep, reason: r.reason, initMs: r.initMs, adapter: r.adapter };
    return this.ready;
  }

  /**
   * Scores `indices` of `items` (all when omitted), in order. The selected items are copied into fresh arrays
   * (the caller keeps its own) whose buffers are then transferred, as is the reply.
   */
  async score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    const sub = selectEncoded(items, indices ?? Int32Array.from({ length: items.count }, (_, i) => i));
    const r = await this.request((id) => ({ msg: { type: 'score', id, items: sub }, transfer: encodedBuffers(sub) }));
    if (r.type !== 'scores') throw new Error(`scoring worker answered ${r.type} to score`);
    if (r.scores.length !== sub.count) throw new Error(`scoring worker returned ${r.scores.length} scores for ${sub.count} items`);
    return r.scores;
  }

  /** USE-lite: [n, 512] embeddings of `indices` of `items`, in order (same copying/transfer as score). */
  async embed(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    const sub = selectEncoded(items, indices ?? Int32Array.from({ length: items.count }, (_, i) => i));
    const r = await this.request((id) => ({ msg: { type: 'embed', id, items: sub }, transfer: encodedBuffers(sub) }));
    if (r.type !== 'embeddings') throw new Error(`scoring worker answered ${r.type} to embed`);
    if (r.embeddings.length % Math.max(sub.count, 1) !== 0) throw new Error(`scoring worker returned ${r.embeddings.length} values for ${sub.count} items`);
    return r.embeddings;
  }

  /** The experiment's global-RM scorer. */
  get scorer(): ItemScorer {
    return (encoded, indices) => this.score(encoded, indices);
  }

  async release(): Promise<void> {
    await this.request((id) => ({ msg: { type: 'release', id }, transfer: [] }));
  }

  dispose(): void {
    this.fail(new Error('scoring client disposed'));
    this.endpoint.terminate();
  }
}

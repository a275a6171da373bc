// Data parallelism for the USE-lite cpu trainer: the protocol between a trainer and its peers, and the peer side.
//
// Why: splitting each gemm over two threads (src/gpu/wasm/threads.ts) leaves the JavaScript between gemms (layer
// norm, softmax, residuals, copies in and out of wasm memory) and the small attention/LoRA gemms serial, and costs
// hundreds of thread hand-offs per step. A peer instead runs whole micro-batches (forward and backward, the same
// UseLiteCpuTrainer code) on its own thread and wasm instance: one exchange per step, everything parallel except
// the AdamW update of the (small) trained tensors.
//
// A peer is anything that answers PeerRequests: a worker thread (data-parallel.node.ts) or, in tests, this thread
// (inProcessPeer). Frozen tensors and item sets travel once per peer and are cached there by the trainer's ids; the
// trained values travel with every request. The peer keeps a trainer per requesting trainer (a few, LRU).
import type { MatOps } from '../../../gpu/matops.ts';
import type { EncodedItems, PairBatch } from '../types.ts';
import type { LoraConfig, TuneMode, UseLiteConfig } from './spec.ts';
import { UseLiteCpuTrainer } from './train.ts';

/** One peer: answers requests one at a time, in order. */
export interface GradPeer {
  readonly name: string;
  request(req: PeerRequest): Promise<PeerReply>;
  /** The requesting trainer `key` is done (disposed): the peer drops its trainer and activations. No answer. */
  release?(key: string): void;
  dispose(): void;
}

/** What a peer does: the gradients of some micro-batches, or scores / embeddings of some items. */
export type PeerTask =
  | {
      kind: 'grads';
      batch: PairBatch;
      /** Flat [first pair, pairs] of the micro-batches to run, in this order. */
      ranges: Int32Array;
      /** Pairs in the whole batch (the loss is their weighted mean). */
      total: number;
    }
  | { kind: 'encode'; idx: Int32Array; want: 'scores' | 'emb' };

/** Settings of the requesting trainer (the peer builds the same trainer around the frozen tensors). */
export interface PeerTrainerSpec {
  key: string;
  config: UseLiteConfig;
  tune: TuneMode;
  loraConfig: LoraConfig;
  seed: number;
  sepId: number;
  microBatch: number;
  scoreBatch: number;
  cacheBytes: number;
}

export interface PeerRequest {
  trainer: PeerTrainerSpec;
  /** Frozen tensors: name -> id (the same array has the same id for every trainer of this thread). */
  frozen: Record<string, number>;
  /** Frozen tensors by id: those this peer has not been sent before (all of them after a "miss"). */
  tensors: Record<number, Float32Array>;
  itemsKey: number;
  /** The item set, when this peer has not been sent it before. */
  items?: EncodedItems;
  /** Current values of the trained tensors by gradient name ('head.w', 'L0.qkv.W.A', ...). */
  trained: Record<string, Float32Array>;
  task: PeerTask;
}

export type PeerReply =
  | { kind: 'grads'; losses: Float64Array; grads: Record<string, Float32Array> }
  | { kind: 'encode'; values: Float32Array }
  /** The peer dropped (or never got) frozen tensors or items: send the request again with everything. */
  | { kind: 'miss'; what: string }
  | { kind: 'error'; message: string };

/** Messages to a peer thread (worker_threads in Node, a Web Worker in the browser) and back. */
export type ToPeer = { id: number; req: PeerRequest } | { release: string };
export type FromPeer = { type: 'ready' } | { type: 'fatal'; message: string } | { type: 'reply'; id: number; reply: PeerReply };

/** The buffers a reply can hand over instead of copying (each reply's arrays are its own). */
export function replyTransfer(reply: PeerReply): ArrayBuffer[] {
  if (reply.kind === 'grads') return [reply.losses.buffer as ArrayBuffer, ...Object.values(reply.grads).map((g) => g.buffer as ArrayBuffer)];
  if (reply.kind === 'encode') return [reply.values.buffer as ArrayBuffer];
  return [];
}

/** Serves one message on a peer thread; returns the answer to post (with its transfer list), or null for none. */
export function servePeerMessage(state: PeerState, m: ToPeer): { msg: FromPeer; transfer: ArrayBuffer[] } | null {
  if ('release' in m) {
    state.release(m.release);
    return null;
  }
  const reply = state.handle(m.req);
  return { msg: { type: 'reply', id: m.id, reply }, transfer: replyTransfer(reply) };
}

const MAX_TRAINERS = 4;
const MAX_ITEM_SETS = 2;

/** The peer side: caches and one trainer per requesting trainer, over this thread's MatOps (one thread). */
export class PeerState {
  private readonly tensors = new Map<number, Float32Array>();
  private readonly items = new Map<number, EncodedItems>();
  private readonly trainers = new Map<string, { trainer: UseLiteCpuTrainer; ids: number[] }>();

  constructor(private readonly ops: MatOps) {}

  handle(req: PeerRequest): PeerReply {
    try {
      for (const [id, t] of Object.entries(req.tensors)) this.tensors.set(Number(id), t);
      if (req.items) {
        this.items.delete(req.itemsKey);
        this.items.set(req.itemsKey, req.items);
        while (this.items.size > MAX_ITEM_SETS) this.items.delete(this.items.keys().next().value as number);
      }
      const items = this.items.get(req.itemsKey);
      if (!items) return { kind: 'miss', what: `item set ${req.itemsKey}` };
      const trainer = this.trainerFor(req);
      if (!trainer) return { kind: 'miss', what: 'frozen tensors' };
      return trainer.servePeerTask(req.trained, items, req.task);
    } catch (e) {
      return { kind: 'error', message: (e as Error).message };
    }
  }

  /** Drops the trainer of a disposed requesting trainer (its activations, gradients, caches' users). */
  release(key: string): void {
    const t = this.trainers.get(key);
    if (!t) return;
    t.trainer.dispose();
    this.trainers.delete(key);
    this.dropUnused();
  }

  /** How many requesting trainers this peer holds a trainer for (tests). */
  get trainerCount(): number {
    return this.trainers.size;
  }

  private dropUnused(): void {
    // Frozen tensors no live trainer uses are dropped (a later request that needs them gets "miss").
    const live = new Set<number>();
    for (const t of this.trainers.values()) for (const id of t.ids) live.add(id);
    for (const id of [...this.tensors.keys()]) if (!live.has(id)) this.tensors.delete(id);
  }

  private trainerFor(req: PeerRequest): UseLiteCpuTrainer | null {
    const s = req.trainer;
    const ids = Object.values(req.frozen);
    const hit = this.trainers.get(s.key);
    if (hit && hit.ids.length === ids.length && hit.ids.every((id, i) => id === ids[i])) {
      this.trainers.delete(s.key);
      this.trainers.set(s.key, hit);
      return hit.trainer;
    }
    const tensors: Record<string, Float32Array> = {};
    for (const [n, id] of Object.entries(req.frozen)) {
      const t = this.tensors.get(id);
      if (!t) return null;
      tensors[n] = t;
    }
    // Trained base tensors (head, or layer 1 in tune top) start from the request's values; adapters are drawn from
    // the seed for their shapes and overwritten by every request.
    for (const [n, v] of Object.entries(req.trained)) if (!/\.[AB]$/.test(n)) tensors[n] = v;
    const trainer = new UseLiteCpuTrainer(
      { kind: 'use-lite', model: { config: s.config, tensors }, tune: s.tune, lora: null, loraConfig: s.loraConfig, seed: s.seed },
      { lr: 0, beta1: 0, beta2: 0, eps: 1, weightDecay: 0, freezeEmbeddings: true },
      { ops: this.ops, microBatch: s.microBatch, scoreBatch: s.scoreBatch, cacheBytes: s.cacheBytes, sepId: s.sepId },
    );
    hit?.trainer.dispose();
    this.trainers.delete(s.key);
    this.trainers.set(s.key, { trainer, ids });
    while (this.trainers.size > MAX_TRAINERS) {
      const k = this.trainers.keys().next().value as string;
      this.trainers.get(k)!.trainer.dispose();
      this.trainers.delete(k);
    }
    this.dropUnused();
    return trainer;
  }
}

/**
 * A peer on this thread (tests, and a reference for the worker): requests and replies are structured-cloned as a
 * worker's messages would be, so nothing is shared by accident.
 */
export function inProcessPeer(ops: MatOps, name = 'in-process', state = new PeerState(ops)): GradPeer {
  return {
    name,
    async request(req) {
      return structuredClone(state.handle(structuredClone(req)));
    },
    release: (key) => state.release(key),
    dispose() {},
  };
}

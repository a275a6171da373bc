// The CPU trainer of the USE-lite reward model (Trainer<UseLiteRM> of src/gpu/backend.ts): weighted BT loss,
// AdamW with the bag trainer's semantics (decoupled decay on every trained element, bias correction by the
// global step), tune modes lora (adapters on qkv/out/ff1/ff2 of both layers + the head), top (layer 1, tanh
// layer, head) and head. Written over MatOps: wasmMatOps for speed, jsMatOps as the reference.
//
// Memory: a step runs its batch in micro-batches of `microBatch` pairs; activations exist for one micro-batch
// at a time (gradients are sums over micro-batches, so the result does not depend on the split beyond float
// rounding order). Frozen parts are computed once per item and cached where that is valid and cheaper:
//   tune head: the l2-normalised sentence embedding per item (modelDim floats): the whole encoder is frozen;
//   tune top:  layer 0's output per item (tokens x modelDim floats), within `cacheBytes`.
// The cache belongs to the init's base tensors (the global RM every country run starts from), so the runs of one
// experiment share it; frozen tensors are never written (trainable ones are copied per trainer).
import type { Backend, StepResult, Trainer, TrainerCheckpoint } from '../../../gpu/backend.ts';
import { adamw, BiasCorrection, type AdamHyper } from '../../../gpu/cpu/ops.ts';
import { jsMatOps, type MatOps } from '../../../gpu/matops.ts';
import type { EncodedItems, OptimizerConfig, PairBatch } from '../types.ts';
import type { GradPeer, PeerReply, PeerRequest, PeerTask } from './data-parallel.ts';
import { allocGrads, btLoss, embedForward, headForward, layerForward, modelBackward, modelForward, Scratch, type GradMap, type GradPlan, type ModelView, type SeqLayout } from './grad.ts';
import { checkLoraConfig, gradPlan, initLora, mergeLora } from './lora.ts';
import { jointLength, USE_SEP_ID } from './tokenizer.ts';
import { checkParams, DEFAULT_LORA, TUNE_MODES, type LoraConfig, type LoraParams, type TuneMode, type UseLiteParams } from './spec.ts';

/** The params a USE-lite trainer starts from and checkpoints: base weights, tune mode, adapters. */
export interface UseLiteRM {
  kind: 'use-lite';
  model: UseLiteParams;
  tune: TuneMode;
  /** The adapters (tune lora). Null on a fresh init: the trainer draws them from loraConfig and seed. */
  lora: LoraParams | null;
  loraConfig: LoraConfig;
  /** Seed of a fresh adapter init. */
  seed: number;
}

export function isUseLiteRM(x: unknown): x is UseLiteRM {
  return (x as UseLiteRM | null)?.kind === 'use-lite';
}

export interface UseLiteTrainerOptions {
  ops?: MatOps;
  /** Pairs per micro-batch (activations are kept for one at a time). Default 8. */
  microBatch?: number;
  /** Items per forward when scoring. Default 32. */
  scoreBatch?: number;
  /** Budget of the tune-top layer-0 output cache. Default 512 MiB. */
  cacheBytes?: number;
  /** Separator id of the joint sequence (default JOINT_SEP_ID; tests with tiny vocabularies pick another). */
  sepId?: number;
  /**
   * Data parallelism: other threads (data-parallel.ts; e.g. startUseLitePeers in Node) that each run the same
   * forward/backward on their own wasm instance. A step gives each thread a contiguous share of the batch with about
   * the same number of tokens (this thread the first), run in micro-batches of `microBatch` pairs at most, sums the
   * gradients in a fixed order (own, then peer 1, 2, ...) and makes one AdamW update here. Scoring deals out chunks
   * of `scoreBatch` items. Losses differ from one thread only by float rounding (the micro-batch split); scores are
   * the same bits. Give `ops` one thread then: the peers are the other cores.
   */
  peers?: readonly GradPeer[];
}

/** The separator between prompt and response in the joint sequence (the tokenizer's, the pretrained piece "▁|"). */
export const JOINT_SEP_ID = USE_SEP_ID;

/**
 * The tokenizer's joint sequence (jointIds: `prompt [SEP] response`, the prompt cut first, then the response's
 * end) with a choosable separator id, for tiny test vocabularies; train.test.ts checks it equals jointIds. Writes
 * into out from 0, returns the length (jointLength).
 */
export function jointSequence(items: EncodedItems, k: number, maxLen: number, sepId: number, out: Int32Array): number {
  const p0 = items.promptOffsets[k];
  const r0 = items.responseOffsets[k];
  const rLen = Math.min(items.responseOffsets[k + 1] - r0, Math.max(0, maxLen - 1));
  const pLen = Math.min(items.promptOffsets[k + 1] - p0, Math.max(0, maxLen - 1 - rLen));
  let o = 0;
  for (let q = 0; q < pLen; q++) out[o++] = items.promptIds[p0 + q];
  out[o++] = sepId;
  for (let q = 0; q < rLen; q++) out[o++] = items.responseIds[r0 + q];
  return o;
}

interface FrozenCache {
  /** tune head: emb per item. */
  emb: Map<number, Float32Array>;
  /** tune top: layer-0 output per item [len, modelDim]. */
  x2: Map<number, Float32Array>;
  x2Bytes: number;
}

/**
 * Frozen outputs are valid for one set of frozen tensors (by identity: they are never written), one EncodedItems
 * and one maxLen. A small LRU of such caches: the country runs of an experiment share the global RM's frozen
 * tensors, so they share one; an exported or merged model (new arrays) gets its own.
 */
const tensorIds = new WeakMap<Float32Array, number>();
const itemsIds = new WeakMap<EncodedItems, number>();
let nextId = 1;
const caches = new Map<string, FrozenCache>();
const MAX_CACHES = 3;

function idOf<K extends object>(m: WeakMap<K, number>, k: K): number {
  let id = m.get(k);
  if (id === undefined) {
    id = nextId++;
    m.set(k, id);
  }
  return id;
}

function cacheFor(tensors: Record<string, Float32Array>, frozen: readonly string[], items: EncodedItems, maxLen: number, sepId: number): FrozenCache {
  const key = `${idOf(itemsIds, items)}:${maxLen}:${sepId}:${frozen.map((n) => idOf(tensorIds, tensors[n])).join(',')}`;
  let c = caches.get(key);
  if (c) {
    caches.delete(key);
  } else {
    c = { emb: new Map(), x2: new Map(), x2Bytes: 0 };
    while (caches.size >= MAX_CACHES) caches.delete(caches.keys().next().value as string);
  }
  caches.set(key, c);
  return c;
}

/** Drops every cached frozen output (e.g. when a session ends). */
export function clearFrozenCaches(): void {
  caches.clear();
}

function validateOptimizer(opt: OptimizerConfig): void {
  const bad = (k: string, v: unknown): never => {
    throw new Error(`optimizer: ${k} is invalid (${String(v)})`);
  };
  if (!(opt.lr >= 0) || !Number.isFinite(opt.lr)) bad('lr', opt.lr);
  if (!(opt.beta1 >= 0 && opt.beta1 < 1)) bad('beta1', opt.beta1);
  if (!(opt.beta2 >= 0 && opt.beta2 < 1)) bad('beta2', opt.beta2);
  if (!(opt.eps > 0)) bad('eps', opt.eps);
  if (!(opt.weightDecay >= 0) || !Number.isFinite(opt.weightDecay)) bad('weightDecay', opt.weightDecay);
}

function isCheckpoint(x: UseLiteRM | TrainerCheckpoint<UseLiteRM>): x is TrainerCheckpoint<UseLiteRM> {
  return (x as TrainerCheckpoint<UseLiteRM>).params !== undefined && (x as TrainerCheckpoint<UseLiteRM>).step !== undefined;
}

function checkBatch(batch: PairBatch): number {
  const B = batch.chosen.length;
  if (batch.rejected.length !== B || batch.weight.length !== B) {
    throw new Error(`batch: chosen/rejected/weight lengths differ (${B}, ${batch.rejected.length}, ${batch.weight.length})`);
  }
  return B;
}

export class UseLiteCpuTrainer implements Trainer<UseLiteRM> {
  readonly backend = 'cpu' as const;
  private readonly ops: MatOps;
  private readonly view: ModelView;
  private readonly rm: UseLiteRM;
  private readonly plan: GradPlan;
  /** Trained tensors by gradient name ('head.w', 'L1.qkv.W', 'L0.qkv.W.A', ...): the arrays the optimizer updates. */
  private readonly trained: Record<string, Float32Array> = {};
  private readonly m: Record<string, Float32Array> = {};
  private readonly v: Record<string, Float32Array> = {};
  private readonly grads: GradMap;
  private g64 = new Float64Array(0);
  private stepCount: number;
  private readonly hyper: AdamHyper;
  private readonly bc1: BiasCorrection;
  private readonly bc2: BiasCorrection;
  private readonly sc = new Scratch();
  private readonly microBatch: number;
  private readonly scoreBatch: number;
  private readonly cacheBytes: number;
  private readonly sepId: number;
  /** Frozen tensors below the trained ones (the frozen-output cache's key). */
  private readonly frozenNames: string[];
  private seqBuf: Int32Array;
  private disposed = false;
  private readonly peers: readonly GradPeer[];
  private readonly key = `t${nextId++}`;
  private readonly seed: number;
  /** Peak bytes of activations + scratch seen (for the memory report). */
  peakScratchBytes = 0;

  constructor(init: UseLiteRM | TrainerCheckpoint<UseLiteRM>, opt: OptimizerConfig, o: UseLiteTrainerOptions = {}) {
    validateOptimizer(opt);
    this.ops = o.ops ?? jsMatOps;
    this.microBatch = Math.max(1, Math.floor(o.microBatch ?? 8));
    this.scoreBatch = Math.max(1, Math.floor(o.scoreBatch ?? 32));
    this.cacheBytes = o.cacheBytes ?? 512 * 2 ** 20;
    this.sepId = o.sepId ?? JOINT_SEP_ID;
    this.peers = o.peers ?? [];
    this.hyper = { lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay };
    this.bc1 = new BiasCorrection(opt.beta1);
    this.bc2 = new BiasCorrection(opt.beta2);
    const ck = isCheckpoint(init) ? init : null;
    const src = ck ? ck.params : (init as UseLiteRM);
    if (!isUseLiteRM(src)) throw new Error('use-lite trainer: init is not a USE-lite reward model');
    checkParams(src.model);
    if (!TUNE_MODES.includes(src.tune)) throw new Error(`use-lite trainer: unknown tune mode "${String(src.tune)}"; modes are ${TUNE_MODES.join(', ')}`);
    checkLoraConfig(src.loraConfig);
    const c = src.model.config;
    if (!(c.maxLen >= 1 && c.maxLen <= c.maxPositions)) throw new Error(`use-lite trainer: maxLen ${c.maxLen} must be in [1, ${c.maxPositions}]`);
    this.plan = gradPlan(c, src.tune);
    // Trainable base tensors are copied (the init is never written); the rest are shared read-only.
    const tensors = { ...src.model.tensors };
    for (const n of this.plan.tensors) tensors[n] = tensors[n].slice();
    let lora: LoraParams | null = null;
    if (src.tune === 'lora') {
      const l = src.lora ?? initLora(c, src.loraConfig, src.seed);
      lora = { config: { ...l.config }, A: {}, B: {} };
      for (const k of Object.keys(l.A)) {
        lora.A[k] = l.A[k].slice();
        lora.B[k] = l.B[k].slice();
      }
    }
    this.view = { config: c, tensors, lora };
    this.seed = src.seed;
    this.rm = { kind: 'use-lite', model: { config: c, tensors }, tune: src.tune, lora, loraConfig: { ...src.loraConfig }, seed: src.seed };
    for (const n of this.plan.tensors) this.trained[n] = tensors[n];
    if (lora) {
      for (const k of Object.keys(lora.A)) {
        this.trained[`${k}.A`] = lora.A[k];
        this.trained[`${k}.B`] = lora.B[k];
      }
    }
    for (const [n, a] of Object.entries(this.trained)) {
      if (ck) {
        const mm = ck.m[n];
        const vv = ck.v[n];
        if (!(mm instanceof Float32Array) || mm.length !== a.length) throw new Error(`checkpoint: m.${n} is missing or has the wrong length`);
        if (!(vv instanceof Float32Array) || vv.length !== a.length) throw new Error(`checkpoint: v.${n} is missing or has the wrong length`);
        this.m[n] = mm.slice();
        this.v[n] = vv.slice();
      } else {
        this.m[n] = new Float32Array(a.length);
        this.v[n] = new Float32Array(a.length);
      }
    }
    if (ck && (!Number.isInteger(ck.step) || ck.step < 0)) throw new Error(`checkpoint: step is invalid (${ck.step})`);
    this.stepCount = ck ? ck.step : 0;
    this.grads = allocGrads(this.view, this.plan);
    // What the cached outputs depend on: head caches embeddings (everything below the head), top caches layer 0's output.
    this.frozenNames = Object.keys(tensors).filter((n) =>
      src.tune === 'head' ? !this.plan.tensors.has(n) : n === 'E' || n === 'timescales' || n.startsWith('L0.'),
    );
    for (const [n, a] of Object.entries(tensors)) if (!this.plan.tensors.has(n)) this.ops.pin?.(a);
    this.seqBuf = new Int32Array(c.maxLen);
  }

  get steps(): number {
    return this.stepCount;
  }

  get tune(): TuneMode {
    return this.rm.tune;
  }

  async step(items: EncodedItems, batch: PairBatch): Promise<StepResult> {
    if (this.peers.length === 0) return this.stepSync(items, batch);
    this.checkAlive();
    const B = checkBatch(batch);
    if (B === 0) return { loss: 0 };
    if (this.rm.tune === 'head') {
      // The head's step is tiny once the frozen embeddings are cached: only their encoding is shared out.
      const idx = new Int32Array(2 * B);
      idx.set(batch.chosen);
      idx.set(batch.rejected, B);
      await this.prefetchEmbeddings(items, idx);
      return this.stepSync(items, batch);
    }
    const loss = await this.forwardBackwardParallel(items, batch);
    this.update();
    return { loss };
  }

  stepSync(items: EncodedItems, batch: PairBatch): StepResult {
    this.checkAlive();
    const B = checkBatch(batch);
    if (B === 0) return { loss: 0 };
    const loss = this.forwardBackward(items, batch);
    this.update();
    return { loss };
  }

  /** One AdamW update of every trained tensor from this.grads. */
  private update(): void {
    const t = ++this.stepCount;
    const c1 = this.bc1.at(t);
    const c2 = this.bc2.at(t);
    for (const [n, p] of Object.entries(this.trained)) {
      const g = this.grads[n];
      if (this.g64.length < g.length) this.g64 = new Float64Array(g.length);
      for (let i = 0; i < g.length; i++) this.g64[i] = g[i];
      adamw(p, this.m[n], this.v[n], 0, p.length, this.g64, 0, c1, c2, this.hyper);
    }
  }

  /** Loss and gradients of a batch at the current weights (copies), without updating: for checks and parity. */
  gradients(items: EncodedItems, batch: PairBatch): { loss: number; grads: GradMap } {
    this.checkAlive();
    const B = checkBatch(batch);
    if (B === 0) return { loss: 0, grads: Object.fromEntries(Object.entries(this.grads).map(([k, g]) => [k, new Float32Array(g.length)])) };
    const loss = this.forwardBackward(items, batch);
    return { loss, grads: Object.fromEntries(Object.entries(this.grads).map(([k, g]) => [k, g.slice()])) };
  }

  private forwardBackward(items: EncodedItems, batch: PairBatch): number {
    const B = batch.chosen.length;
    const losses = this.accumulateGrads(items, batch, microRanges(B, this.microBatch), B);
    let loss = 0;
    for (const l of losses) loss += l;
    return loss;
  }

  /**
   * Zeroes the gradients, then runs the micro-batches `ranges` (flat [first pair, pairs] of `batch`) in order,
   * accumulating their gradients; returns each micro-batch's loss (its share of the mean over `total` pairs).
   */
  private accumulateGrads(items: EncodedItems, batch: PairBatch, ranges: Int32Array, total: number): Float64Array {
    for (const g of Object.values(this.grads)) g.fill(0);
    const losses = new Float64Array(ranges.length / 2);
    for (let q = 0; q < losses.length; q++) {
      const p0 = ranges[2 * q];
      const n = ranges[2 * q + 1];
      const idx = new Int32Array(2 * n);
      for (let i = 0; i < n; i++) {
        idx[2 * i] = batch.chosen[p0 + i];
        idx[2 * i + 1] = batch.rejected[p0 + i];
      }
      const ds = this.sc.get('ds', 2 * n);
      const w = batch.weight.subarray(p0, p0 + n);
      if (this.rm.tune === 'head') {
        const emb = this.embeddings(items, idx);
        const d = this.view.config.modelDim;
        const scores = this.sc.get('hs', 2 * n);
        headForward(2 * n, d, emb, this.view.tensors['head.w'], this.view.tensors['head.b'][0], scores);
        losses[q] = btLoss(scores, w, n, total, ds);
        const gw = this.grads['head.w'];
        for (let s = 0; s < 2 * n; s++) for (let j = 0; j < d; j++) gw[j] += ds[s] * emb[s * d + j];
        let gb = 0;
        for (let s = 0; s < 2 * n; s++) gb += ds[s];
        this.grads['head.b'][0] += gb;
        continue;
      }
      const acts = this.forwardItems(items, idx);
      losses[q] = btLoss(acts.scores, w, n, total, ds);
      modelBackward(this.ops, this.view, acts, ds, this.plan, this.grads, this.sc);
      this.peakScratchBytes = Math.max(this.peakScratchBytes, this.sc.bytes());
    }
    return losses;
  }

  /**
   * forwardBackward over this thread and the peers: each takes a contiguous share of the pairs with about the same
   * number of tokens, in micro-batches of at most `microBatch` pairs; gradients summed own + peer 1 + peer 2 ... (a
   * fixed order: the same bits whatever the timing); the loss summed over micro-batches in batch order.
   */
  private async forwardBackwardParallel(items: EncodedItems, batch: PairBatch): Promise<number> {
    const B = batch.chosen.length;
    const P = 1 + this.peers.length;
    // Thread g takes the contiguous pairs [cut[g], cut[g+1]), cut where the tokens (the work) split most evenly, in
    // micro-batches of at most microBatch pairs. Losses are summed in batch order, gradients own + peer 1 + ...
    const maxLen = this.view.config.maxLen;
    const cum = new Float64Array(B + 1);
    for (let i = 0; i < B; i++) cum[i + 1] = cum[i] + jointLength(items, batch.chosen[i], maxLen) + jointLength(items, batch.rejected[i], maxLen);
    const cut = new Int32Array(P + 1);
    cut[P] = B;
    for (let g = 1; g < P; g++) {
      const goal = (cum[B] * g) / P;
      let best = Math.min(B, cut[g - 1] + 1);
      for (let i = best; i <= B - (P - g); i++) if (Math.abs(cum[i] - goal) < Math.abs(cum[best] - goal)) best = i;
      cut[g] = best;
    }
    const groups = Array.from({ length: P }, (_, g) => {
      const r = microRanges(cut[g + 1] - cut[g], this.microBatch);
      for (let q = 0; q < r.length; q += 2) r[q] += cut[g];
      return r;
    });
    const first = new Int32Array(P + 1);
    for (let g = 0; g < P; g++) first[g + 1] = first[g] + groups[g].length / 2;
    const nmb = first[P];
    const trained = this.trainedValues();
    const pending = this.peers.map((peer, i) =>
      groups[i + 1].length ? this.ask(peer, trained, { kind: 'grads', batch, ranges: groups[i + 1], total: B }, items) : null,
    );
    let own: Float64Array;
    try {
      own = this.accumulateGrads(items, batch, groups[0], B);
    } catch (e) {
      await Promise.allSettled(pending);
      throw e;
    }
    const losses = new Float64Array(nmb);
    losses.set(own, 0);
    // Promise.all handles every peer's rejection at once (awaiting them one by one would leave a later one unhandled).
    const replies = await Promise.all(pending);
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i];
      if (!r) continue;
      if (r.kind !== 'grads') throw new Error(`use-lite data-parallel: peer ${i + 1} answered "${r.kind}" to a gradient request`);
      if (r.losses.length !== groups[i + 1].length / 2) throw new Error(`use-lite data-parallel: peer ${i + 1} sent ${r.losses.length} losses for ${groups[i + 1].length / 2} micro-batches`);
      losses.set(r.losses, first[i + 1]);
      for (const [n, g] of Object.entries(this.grads)) {
        const pg = r.grads[n];
        if (!pg || pg.length !== g.length) throw new Error(`use-lite data-parallel: peer ${i + 1} sent no gradient for ${n}`);
        for (let k = 0; k < g.length; k++) g[k] += pg[k];
      }
    }
    let loss = 0;
    for (const l of losses) loss += l;
    return loss;
  }

  /** The current values of the trained tensors by gradient name (what a peer needs besides the frozen tensors). */
  private trainedValues(): Record<string, Float32Array> {
    return { ...this.trained };
  }

  /**
   * One request to a peer: the frozen tensors, items and trainer settings travel once per peer (the peer caches them
   * by key and answers "miss" when it dropped them; then they are sent again), the trained values every time.
   */
  private async ask(peer: GradPeer, trained: Record<string, Float32Array>, task: PeerTask, items: EncodedItems): Promise<PeerReply> {
    const known = peerKnows(peer);
    const frozen: Record<string, number> = {};
    for (const [n, a] of Object.entries(this.view.tensors)) if (!this.plan.tensors.has(n)) frozen[n] = idOf(tensorIds, a);
    const itemsKey = idOf(itemsIds, items);
    const build = (full: boolean): PeerRequest => {
      const tensors: Record<number, Float32Array> = {};
      for (const [n, id] of Object.entries(frozen)) if (full || !known.has(`T${id}`)) tensors[id] = this.view.tensors[n];
      return {
        trainer: {
          key: this.key,
          config: this.view.config,
          tune: this.rm.tune,
          loraConfig: this.rm.loraConfig,
          seed: this.seed,
          sepId: this.sepId,
          microBatch: this.microBatch,
          scoreBatch: this.scoreBatch,
          cacheBytes: this.cacheBytes,
        },
        frozen,
        tensors,
        itemsKey,
        items: full || !known.has(`I${itemsKey}`) ? items : undefined,
        trained,
        task,
      };
    };
    let req = build(false);
    let r = await peer.request(req);
    if (r.kind === 'miss') {
      req = build(true);
      r = await peer.request(req);
    }
    if (r.kind === 'error') throw new Error(`use-lite data-parallel peer ${peer.name}: ${r.message}`);
    if (r.kind === 'miss') throw new Error(`use-lite data-parallel peer ${peer.name}: still missing ${r.what} after it was sent`);
    for (const id of Object.keys(req.tensors)) known.add(`T${id}`);
    if (req.items) known.add(`I${itemsKey}`);
    return r;
  }

  /**
   * Scores (and embeddings) of idx by forward passes in chunks of `scoreBatch`, dealt round-robin over this thread
   * and the peers. Each sequence's forward does not depend on the others in its chunk, so the result is the same
   * bits as one thread's.
   */
  private async encodeParallel(items: EncodedItems, idx: Int32Array, want: 'scores' | 'emb'): Promise<Float32Array> {
    const d = this.view.config.modelDim;
    const per = want === 'emb' ? d : 1;
    const out = new Float32Array(idx.length * per);
    const P = 1 + this.peers.length;
    // Chunks of scoreBatch items, smaller when there are too few for every thread to get one (e.g. a head-training
    // batch of 64 new items over 2 threads); a sequence's forward does not depend on its chunk.
    const cb = Math.min(this.scoreBatch, Math.ceil(idx.length / P));
    const chunks = Math.ceil(idx.length / cb);
    const take = (g: number): Int32Array => {
      const r: number[] = [];
      for (let c = g; c < chunks; c += P) for (let i = c * cb; i < Math.min(idx.length, (c + 1) * cb); i++) r.push(idx[i]);
      return Int32Array.from(r);
    };
    const put = (g: number, vals: Float32Array): void => {
      let o = 0;
      for (let c = g; c < chunks; c += P) {
        const n = Math.min(idx.length, (c + 1) * cb) - c * cb;
        out.set(vals.subarray(o, o + n * per), c * cb * per);
        o += n * per;
      }
    };
    const trained = this.trainedValues();
    const pending = this.peers.map((peer, i) => {
      const sub = take(i + 1);
      return sub.length ? this.ask(peer, trained, { kind: 'encode', idx: sub, want }, items) : null;
    });
    try {
      put(0, this.encode(items, take(0), want));
    } catch (e) {
      await Promise.allSettled(pending);
      throw e;
    }
    const replies = await Promise.all(pending);
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i];
      if (!r) continue;
      if (r.kind !== 'encode') throw new Error(`use-lite data-parallel: peer ${i + 1} answered "${r.kind}" to an encode request`);
      put(i + 1, r.values);
    }
    return out;
  }

  /** Scores or embeddings of idx on this thread, in chunks of scoreBatch (the tune mode's forward, caches included). */
  private encode(items: EncodedItems, idx: Int32Array, want: 'scores' | 'emb'): Float32Array {
    const d = this.view.config.modelDim;
    const per = want === 'emb' ? d : 1;
    const out = new Float32Array(idx.length * per);
    for (let i0 = 0; i0 < idx.length; i0 += this.scoreBatch) {
      const part = idx.subarray(i0, Math.min(idx.length, i0 + this.scoreBatch));
      const acts = this.rm.tune === 'top' ? this.forwardItems(items, part) : this.forwardFull(items, part);
      out.set(want === 'emb' ? acts.emb.subarray(0, part.length * d) : acts.scores.subarray(0, part.length), i0 * per);
    }
    return out;
  }

  /** tune head: encodes the items of idx missing from the embedding cache, over this thread and the peers. */
  private async prefetchEmbeddings(items: EncodedItems, idx: Int32Array): Promise<void> {
    const cache = cacheFor(this.view.tensors, this.frozenNames, items, this.view.config.maxLen, this.sepId);
    const missing = Int32Array.from(new Set(Array.from(idx).filter((k) => !cache.emb.has(k))));
    if (missing.length < 2) return;
    const emb = await this.encodeParallel(items, missing, 'emb');
    const d = this.view.config.modelDim;
    missing.forEach((k, i) => cache.emb.set(k, emb.slice(i * d, (i + 1) * d)));
  }

  /**
   * The peer side of data parallelism (data-parallel.ts's PeerState): sets the trained values, then runs a task on
   * this thread and returns what the requesting trainer merges.
   */
  servePeerTask(trained: Record<string, Float32Array>, items: EncodedItems, task: PeerTask): PeerReply {
    this.checkAlive();
    for (const [n, a] of Object.entries(this.trained)) {
      const v = trained[n];
      if (!v || v.length !== a.length) throw new Error(`trained tensor ${n} is missing or has the wrong length`);
      a.set(v);
    }
    if (task.kind === 'encode') return { kind: 'encode', values: this.encode(items, task.idx, task.want) };
    const losses = this.accumulateGrads(items, task.batch, task.ranges, task.total);
    const grads: Record<string, Float32Array> = {};
    for (const [n, g] of Object.entries(this.grads)) grads[n] = g.slice();
    return { kind: 'grads', losses, grads };
  }

  /** Forward over the items `idx` as one packed micro-batch (from cached layer-0 outputs in tune top). */
  private forwardItems(items: EncodedItems, idx: Int32Array) {
    const c = this.view.config;
    const n = idx.length;
    const starts = new Int32Array(n);
    const lens = new Int32Array(n);
    let rows = 0;
    for (let s = 0; s < n; s++) {
      starts[s] = rows;
      lens[s] = jointLength(items, idx[s], c.maxLen);
      rows += lens[s];
    }
    const layout: SeqLayout = { rows, starts, lens };
    if (this.rm.tune === 'top') {
      const x2 = this.sc.get('x2in', rows * c.modelDim);
      this.layer0Outputs(items, idx, layout, x2);
      return modelForward(this.ops, this.view, layout, { x2 }, this.sc);
    }
    const ids = new Int32Array(rows);
    for (let s = 0; s < n; s++) {
      const L = jointSequence(items, idx[s], c.maxLen, this.sepId, this.seqBuf);
      ids.set(this.seqBuf.subarray(0, L), starts[s]);
    }
    return modelForward(this.ops, this.view, layout, { ids }, this.sc);
  }

  /** Layer-0 outputs of items (cached per item within the byte budget), packed as `layout` into x2. */
  private layer0Outputs(items: EncodedItems, idx: Int32Array, layout: SeqLayout, x2: Float32Array): void {
    const c = this.view.config;
    const d = c.modelDim;
    const cache = cacheFor(this.view.tensors, this.frozenNames, items, this.view.config.maxLen, this.sepId);
    const missing: number[] = [];
    for (let s = 0; s < idx.length; s++) {
      const hit = cache.x2.get(idx[s]);
      if (hit) x2.set(hit, layout.starts[s] * d);
      else missing.push(s);
    }
    if (missing.length === 0) return;
    // Layer 0 on the missing items only (a separate scratch: the caller's activations live in this.sc).
    const sub = new Scratch();
    const starts = new Int32Array(missing.length);
    const lens = new Int32Array(missing.length);
    let rows = 0;
    missing.forEach((s, i) => {
      starts[i] = rows;
      lens[i] = layout.lens[s];
      rows += lens[i];
    });
    const ids = new Int32Array(rows);
    missing.forEach((s, i) => {
      const L = jointSequence(items, idx[s], c.maxLen, this.sepId, this.seqBuf);
      ids.set(this.seqBuf.subarray(0, L), starts[i]);
    });
    const out = layer0Forward(this.ops, this.view, { rows, starts, lens }, ids, sub);
    missing.forEach((s, i) => {
      const block = out.subarray(starts[i] * d, (starts[i] + lens[i]) * d);
      x2.set(block, layout.starts[s] * d);
      if (cache.x2Bytes + block.byteLength <= this.cacheBytes) {
        cache.x2.set(idx[s], block.slice());
        cache.x2Bytes += block.byteLength;
      }
    });
  }

  /** Sentence embeddings [idx.length, modelDim] of items under the frozen encoder (tune head; cached per item). */
  private embeddings(items: EncodedItems, idx: Int32Array): Float32Array {
    const d = this.view.config.modelDim;
    const out = this.sc.get('embIn', idx.length * d);
    const cache = cacheFor(this.view.tensors, this.frozenNames, items, this.view.config.maxLen, this.sepId);
    const missing: number[] = [];
    for (let s = 0; s < idx.length; s++) {
      const hit = cache.emb.get(idx[s]);
      if (hit) out.set(hit, s * d);
      else missing.push(s);
    }
    for (let i0 = 0; i0 < missing.length; i0 += this.scoreBatch) {
      const part = missing.slice(i0, i0 + this.scoreBatch);
      const sub = Int32Array.from(part, (s) => idx[s]);
      const acts = this.forwardFull(items, sub);
      part.forEach((s, i) => {
        const e = acts.emb.slice(i * d, (i + 1) * d);
        cache.emb.set(idx[s], e);
        out.set(e, s * d);
      });
    }
    return out;
  }

  /** The full forward from token ids (whatever the tune mode), on a private scratch. */
  private forwardFull(items: EncodedItems, idx: Int32Array) {
    const c = this.view.config;
    const seqs: Int32Array[] = [];
    for (const k of idx) {
      const L = jointSequence(items, k, c.maxLen, this.sepId, this.seqBuf);
      seqs.push(this.seqBuf.slice(0, L));
    }
    const starts = new Int32Array(seqs.length);
    const lens = Int32Array.from(seqs, (s) => s.length);
    let rows = 0;
    for (let s = 0; s < seqs.length; s++) {
      starts[s] = rows;
      rows += lens[s];
    }
    const ids = new Int32Array(rows);
    seqs.forEach((s, i) => ids.set(s, starts[i]));
    return modelForward(this.ops, this.view, { rows, starts, lens }, { ids }, this.scoreScratch);
  }

  private readonly scoreScratch = new Scratch();

  async score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    this.checkAlive();
    const idx = indices ?? Int32Array.from({ length: items.count }, (_, i) => i);
    const out = new Float32Array(idx.length);
    const d = this.view.config.modelDim;
    if (this.peers.length > 0 && idx.length > 1) {
      if (this.rm.tune !== 'head') return this.encodeParallel(items, idx, 'scores');
      await this.prefetchEmbeddings(items, idx);
    }
    for (let i0 = 0; i0 < idx.length; i0 += this.scoreBatch) {
      const part = idx.subarray(i0, Math.min(idx.length, i0 + this.scoreBatch));
      if (this.rm.tune === 'head') {
        const emb = this.embeddings(items, part).slice(0, part.length * d);
        headForward(part.length, d, emb, this.view.tensors['head.w'], this.view.tensors['head.b'][0], out.subarray(i0));
      } else {
        const acts = this.rm.tune === 'top' ? this.forwardItems(items, part) : this.forwardFull(items, part);
        out.set(acts.scores.subarray(0, part.length), i0);
      }
    }
    return out;
  }

  async checkpoint(): Promise<TrainerCheckpoint<UseLiteRM>> {
    this.checkAlive();
    return { params: this.snapshot(), m: copyAll(this.m), v: copyAll(this.v), rowStep: new Int32Array(0), step: this.stepCount };
  }

  /** The current RM: trained tensors and adapters copied, frozen tensors shared (read-only by convention). */
  snapshot(): UseLiteRM {
    const tensors = { ...this.view.tensors };
    for (const n of this.plan.tensors) tensors[n] = tensors[n].slice();
    const l = this.view.lora;
    const lora = l ? { config: { ...l.config }, A: copyAll(l.A), B: copyAll(l.B) } : null;
    return { ...this.rm, model: { config: this.view.config, tensors }, lora, loraConfig: { ...this.rm.loraConfig } };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // Peers hold a trainer (activations, gradients) per requesting trainer: let them drop ours.
    for (const p of this.peers) p.release?.(this.key);
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('use-lite trainer: used after dispose()');
  }
}

/** Layer 0 alone over a packed layout: returns x2 [rows, modelDim] (a view into `sc`). */
function layer0Forward(ops: MatOps, m: ModelView, layout: SeqLayout, ids: Int32Array, sc: Scratch): Float32Array {
  const c = m.config;
  const x0 = sc.get('x0', layout.rows * c.embedDim);
  embedForward(c, m.tensors.E, m.tensors.timescales, ids, layout, x0);
  const x2 = sc.get('x2', layout.rows * c.modelDim);
  layerForward(ops, m, 0, layout, x0, x2, sc, m.lora?.config.rank ?? 0);
  return x2;
}

/** Flat [first pair, pairs] of consecutive micro-batches of at most mb pairs covering B pairs. */
function microRanges(B: number, mb: number): Int32Array {
  const r: number[] = [];
  for (let p0 = 0; p0 < B; p0 += mb) r.push(p0, Math.min(mb, B - p0));
  return Int32Array.from(r);
}

/** What each peer has been sent (frozen tensors `T<id>`, item sets `I<id>`), so a request carries only what is new. */
const sentToPeer = new WeakMap<GradPeer, Set<string>>();
function peerKnows(peer: GradPeer): Set<string> {
  let s = sentToPeer.get(peer);
  if (!s) sentToPeer.set(peer, (s = new Set()));
  return s;
}

function copyAll(r: Record<string, Float32Array>): Record<string, Float32Array> {
  const o: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(r)) o[k] = v.slice();
  return o;
}

/** A fresh USE-lite RM to train from the given weights (adapters drawn by the trainer from loraConfig + seed). */
export function useLiteRM(model: UseLiteParams, tune: TuneMode = 'lora', loraConfig: LoraConfig = DEFAULT_LORA, seed = 0): UseLiteRM {
  return { kind: 'use-lite', model, tune, lora: null, loraConfig: { ...loraConfig }, seed };
}

/** The 'cpu' backend for USE-lite RMs over the given MatOps. */
export function useLiteCpuBackend(o: UseLiteTrainerOptions = {}): Backend<UseLiteRM> {
  const ops = o.ops ?? jsMatOps;
  return {
    name: 'cpu',
    info: `CPU (${ops.name === 'js' ? 'JavaScript reference matmul' : `${ops.name} matmul`}; USE-lite trainer)`,
    async createTrainer(init, opt) {
      return new UseLiteCpuTrainer(init, opt, o);
    },
  };
}

/** The weights a trained RM exports: adapters merged into their projections (plain USE-lite layout, no LoRA ops). */
export function exportParams(rm: UseLiteRM): UseLiteParams {
  return rm.lora ? mergeLora(rm.model, rm.lora) : rm.model;
}

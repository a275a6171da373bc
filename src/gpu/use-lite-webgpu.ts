// The USE-lite reward model on WebGPU: an encoder (sentence embeddings and scores of token sequences) and a
// Trainer<UseLiteRM> with the CPU trainer's step semantics (src/pipeline/rm/use-lite/train.ts: joint sequence
// `prompt [SEP] response`, tune lora/top/head, weighted BT loss averaged over the batch's pairs, AdamW with
// decoupled decay and bias correction by the global step), both running the plans of use-lite-webgpu-plan.ts on
// a PlanExecutor: the GPU (GpuPlanExecutor) or, for tests without a GPU, the kernels' CPU twins (TwinExecutor).
//
// Differences from the CPU trainer that do not change the math: a micro-batch (default 16 pairs; gradients add up
// over a step's micro-batches, activations exist for one at a time) is padded to its longest sequence (the CPU
// packs sequences back to back), and nothing is cached per item (the CPU caches frozen layer-0 outputs in tune top
// and embeddings in tune head); sums run in other orders, so results agree to float32 rounding, not bit for bit. Checkpoints have the CPU trainer's layout (moments keyed by
// the same gradient names), so a run moves between backends (FailoverTrainer: device lost -> cpu).
import type { Backend, StepResult, Trainer, TrainerCheckpoint } from './backend.ts';
import { acquireDevice, describeReport, navigatorGpu, type CapabilityReport, type GpuContext } from './device.ts';
import { selectFrom, type BackendPreference, type BackendSelection } from './select.ts';
import { DeviceCalls, neverLost, type LostState } from './device-calls.ts';
import { validateHyper, type AdamHyperparams } from './kernels/adamwDense.ts';
import type { TypedArray } from './kernels/kernel.ts';
import { TwinExecutor, type PlanExecutor } from './kernels/plan.ts';
import { PipelineCache } from './kernels/runtime.ts';
import { timingSignal } from './kernels/useEmbedding.ts';
import { GpuPlanExecutor } from './webgpu.ts';
import { useLiteForwardSteps, useLitePlanLayout, useLiteTrainSteps, type UseLitePlanLayout } from './use-lite-webgpu-plan.ts';
import type { EncodedItems, OptimizerConfig, PairBatch } from '../pipeline/rm/types.ts';
import { checkLoraConfig, gradPlan, initLora } from '../pipeline/rm/use-lite/lora.ts';
import { checkParams, TUNE_MODES, type LoraParams, type UseLiteParams } from '../pipeline/rm/use-lite/spec.ts';
import { isUseLiteRM, JOINT_SEP_ID, jointSequence, type UseLiteRM } from '../pipeline/rm/use-lite/train.ts';

/** A padded batch of token sequences: ids [seqs * T] (row-major, zeros after each length), lens [seqs]. */
export interface PaddedBatch {
  ids: Int32Array;
  lens: Int32Array;
  T: number;
}

/** Pads sequences to the longest (at least 1, so every buffer is non-empty), checking ids and lengths. */
export function padSequences(seqs: readonly Int32Array[], vocab: number, maxPositions: number): PaddedBatch {
  let T = 1;
  for (const s of seqs) T = Math.max(T, s.length);
  if (T > maxPositions) throw new RangeError(`a sequence has ${T} tokens; the model takes at most ${maxPositions}`);
  const ids = new Int32Array(seqs.length * T);
  const lens = new Int32Array(seqs.length);
  seqs.forEach((s, i) => {
    for (let t = 0; t < s.length; t++) {
      const id = s[t];
      if (!(Number.isInteger(id) && id >= 0 && id < vocab)) throw new RangeError(`sequence ${i}: token id ${id} is outside 0..${vocab - 1}`);
    }
    ids.set(s, i * T);
    lens[i] = s.length;
  });
  return { ids, lens, T };
}

/** Uploads the frozen tensors and the timing-signal table; trained tensors are the caller's (packed P). */
function uploadFrozen(exec: PlanExecutor, L: UseLitePlanLayout, tensors: Record<string, Float32Array>): void {
  for (const [name, ref] of Object.entries(L.refs)) {
    if (typeof ref !== 'string') continue;
    const t = tensors[name];
    if (!t) throw new Error(`use-lite webgpu: tensor ${name} is missing`);
    exec.upload(ref, t);
  }
  const c = L.config;
  exec.upload('PE', timingSignal(tensors.timescales, c.maxPositions));
}

function qScales(tensors: Record<string, Float32Array>): [number, number] {
  return [tensors['L0.qScale'][0], tensors['L1.qScale'][0]];
}

/**
 * The encoder forward on a PlanExecutor: sentence embeddings (l2-normalised, [n, modelDim]) and reward-head
 * scores of token sequences, optionally with LoRA adapters applied (not merged).
 */
export class UseLiteWebGpuEncoder {
  private readonly layout: UseLitePlanLayout;
  private readonly calls: DeviceCalls;

  constructor(
    private readonly exec: PlanExecutor,
    private readonly params: UseLiteParams,
    lora: LoraParams | null = null,
    lostState: LostState = neverLost(),
  ) {
    checkParams(params);
    const trained: string[] = [];
    if (lora) for (const k of Object.keys(lora.A)) trained.push(`${k}.A`, `${k}.B`);
    this.layout = useLitePlanLayout(params.config, trained, lora ? lora.config : null, qScales(params.tensors), exec.offsetAlignment / 4);
    uploadFrozen(exec, this.layout, params.tensors);
    // Adapters sit in P like a trainer's (the plan reads them from there); an adapter-free encoder gets 1 element.
    const P = new Float32Array(this.layout.packedTotal);
    if (lora) for (const p of this.layout.packed) P.set(p.name.endsWith('.A') ? lora.A[p.name.slice(0, -2)] : lora.B[p.name.slice(0, -2)], p.offset);
    exec.upload('P', P);
    this.calls = new DeviceCalls(lostState, 'use-lite webgpu encoder');
  }

  /** Embeddings [n * modelDim] and scores [n] of the sequences, in batches of `batch`. */
  encode(seqs: readonly Int32Array[], batch = 32): Promise<{ emb: Float32Array; scores: Float32Array }> {
    const copies = seqs.map((s) => s.slice());
    return this.calls.run(async () => {
      const c = this.params.config;
      const d = c.modelDim;
      const emb = new Float32Array(copies.length * d);
      const scores = new Float32Array(copies.length);
      for (let i0 = 0; i0 < copies.length; i0 += batch) {
        const part = copies.slice(i0, i0 + batch);
        const pb = padSequences(part, c.vocabSize, c.maxPositions);
        this.exec.upload('ids', pb.ids);
        this.exec.upload('lens', pb.lens);
        const s = await this.exec.execute(useLiteForwardSteps(this.layout, { seqs: part.length, T: pb.T }), { buffer: 'scores', elements: part.length });
        scores.set(new Float32Array(s!), i0);
        const e = await this.exec.execute([], { buffer: 'emb', elements: part.length * d });
        emb.set(new Float32Array(e!), i0 * d);
      }
      return { emb, scores };
    });
  }

  dispose(): void {
    this.calls.disposed = true;
    this.exec.dispose();
  }
}

export interface UseLiteWebGpuTrainerOptions {
  /**
   * Read the loss back every `readEvery` steps (default 1: every step). Steps in between resolve at once with
   * loss NaN (no CPU-GPU round trip, so the host prepares the next step while the GPU runs); the losses of all
   * steps still arrive, in order, through `onLosses` at each readback and flushLosses() (the bag trainer's option).
   */
  readEvery?: number;
  onLosses?: (firstStep: number, losses: Float32Array) => void;
  /**
   * Pairs per micro-batch (default 16): a step's activations exist for one micro-batch at a time, gradients add
   * up across them (the CPU trainer's option; ~60 KB of activations per token). A micro-batched step reads its
   * loss back at its end (after delivering any losses still unread).
   */
  microBatch?: number;
  /** Items per forward when scoring. Default 32. */
  scoreBatch?: number;
  /** Separator id of the joint sequence (the CPU trainer's default). */
  sepId?: number;
}

function isCheckpoint(x: UseLiteRM | TrainerCheckpoint<UseLiteRM>): x is TrainerCheckpoint<UseLiteRM> {
  return (x as TrainerCheckpoint<UseLiteRM>).params !== undefined && (x as TrainerCheckpoint<UseLiteRM>).step !== undefined;
}

/** Trainer<UseLiteRM> on a PlanExecutor (see the file comment for the semantics). */
export class UseLiteWebGpuTrainer implements Trainer<UseLiteRM> {
  readonly backend = 'webgpu' as const;
  private readonly layout: UseLitePlanLayout;
  private readonly rm: UseLiteRM;
  private readonly hyper: AdamHyperparams;
  private readonly calls: DeviceCalls;
  private readonly scoreBatch: number;
  private readonly sepId: number;
  private readonly seqBuf: Int32Array;
  private readonly readEvery: number;
  private readonly microBatch: number;
  private readonly onLosses?: (firstStep: number, losses: Float32Array) => void;
  private stepCount: number;
  /** Steps whose loss sits in the ring unread. */
  private unread = 0;

  constructor(
    private readonly exec: PlanExecutor,
    lostState: LostState,
    init: UseLiteRM | TrainerCheckpoint<UseLiteRM>,
    opt: OptimizerConfig,
    o: UseLiteWebGpuTrainerOptions = {},
  ) {
    validateHyper(opt);
    this.hyper = { lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay };
    this.scoreBatch = Math.max(1, Math.floor(o.scoreBatch ?? 32));
    this.sepId = o.sepId ?? JOINT_SEP_ID;
    this.readEvery = Math.max(1, Math.floor(o.readEvery ?? 1));
    this.microBatch = Math.max(1, Math.floor(o.microBatch ?? 16));
    this.onLosses = o.onLosses;
    const ck = isCheckpoint(init) ? init : null;
    const src = ck ? ck.params : (init as UseLiteRM);
    if (!isUseLiteRM(src)) throw new Error('use-lite webgpu trainer: init is not a USE-lite reward model');
    checkParams(src.model);
    if (!TUNE_MODES.includes(src.tune)) throw new Error(`use-lite webgpu trainer: unknown tune mode "${String(src.tune)}"`);
    checkLoraConfig(src.loraConfig);
    const c = src.model.config;
    if (!(c.maxLen >= 1 && c.maxLen <= c.maxPositions)) throw new Error(`use-lite webgpu trainer: maxLen ${c.maxLen} must be in [1, ${c.maxPositions}]`);
    const plan = gradPlan(c, src.tune);
    let lora: LoraParams | null = null;
    if (src.tune === 'lora') lora = src.lora ?? initLora(c, src.loraConfig, src.seed);
    // Trained names and their current values, in the CPU trainer's naming.
    const values: Record<string, Float32Array> = {};
    for (const n of plan.tensors) values[n] = src.model.tensors[n];
    if (lora) {
      for (const k of Object.keys(lora.A)) {
        values[`${k}.A`] = lora.A[k];
        values[`${k}.B`] = lora.B[k];
      }
    }
    this.layout = useLitePlanLayout(c, Object.keys(values), lora ? lora.config : null, qScales(src.model.tensors), exec.offsetAlignment / 4);
    this.rm = { kind: 'use-lite', model: src.model, tune: src.tune, lora, loraConfig: { ...src.loraConfig }, seed: src.seed };
    const pack = (get: (name: string, len: number) => Float32Array | null) => {
      const out = new Float32Array(this.layout.packedTotal);
      for (const p of this.layout.packed) {
        const a = get(p.name, p.length);
        if (a) out.set(a, p.offset);
      }
      return out;
    };
    const moment = (which: 'm' | 'v') => (name: string, len: number) => {
      if (!ck) return null;
      const a = ck[which][name];
      if (!(a instanceof Float32Array) || a.length !== len) throw new Error(`checkpoint: ${which}.${name} is missing or has the wrong length`);
      return a;
    };
    if (ck && (!Number.isInteger(ck.step) || ck.step < 0)) throw new Error(`checkpoint: step is invalid (${ck.step})`);
    this.stepCount = ck ? ck.step : 0;
    uploadFrozen(exec, this.layout, src.model.tensors);
    exec.upload('P', pack((n) => values[n]));
    exec.upload('M', pack(moment('m')));
    exec.upload('V', pack(moment('v')));
    exec.upload('G', new Float32Array(this.layout.packedTotal));
    exec.upload('loss', new Float32Array(this.readEvery));
    this.seqBuf = new Int32Array(c.maxLen);
    this.calls = new DeviceCalls(lostState, 'use-lite webgpu trainer');
  }

  get steps(): number {
    return this.stepCount;
  }

  /** Where the tensors live (for FLOP counts of this trainer's plans). */
  get planLayout(): UseLitePlanLayout {
    return this.layout;
  }

  /** Joint sequences of items idx, padded (the CPU trainer's jointSequence, truncating the prompt first). */
  private joint(items: EncodedItems, idx: ArrayLike<number>): PaddedBatch {
    const c = this.layout.config;
    const seqs: Int32Array[] = [];
    for (let i = 0; i < idx.length; i++) {
      const k = idx[i];
      if (!(Number.isInteger(k) && k >= 0 && k < items.count)) throw new RangeError(`batch: item index ${k} is outside 0..${items.count - 1}`);
      const L = jointSequence(items, k, c.maxLen, this.sepId, this.seqBuf);
      seqs.push(this.seqBuf.slice(0, L));
    }
    return padSequences(seqs, c.vocabSize, c.maxPositions);
  }

  step(items: EncodedItems, batch: PairBatch): Promise<StepResult> {
    const B = batch.chosen.length;
    if (batch.rejected.length !== B || batch.weight.length !== B) {
      return Promise.reject(new Error(`batch: chosen/rejected/weight lengths differ (${B}, ${batch.rejected.length}, ${batch.weight.length})`));
    }
    const idx = new Int32Array(2 * B);
    for (let i = 0; i < B; i++) {
      idx[2 * i] = batch.chosen[i];
      idx[2 * i + 1] = batch.rejected[i];
    }
    const weight = batch.weight.slice();
    return this.calls.run(async () => {
      if (B === 0) return { loss: 0 };
      const t = this.stepCount + 1;
      if (B > this.microBatch) {
        const pending = await this.readPending();
        const loss = await this.microBatches(items, idx, weight, t);
        this.stepCount = t;
        if (pending) this.onLosses?.(t - pending.length, pending);
        this.onLosses?.(t, Float32Array.of(loss));
        return { loss };
      }
      const pb = this.joint(items, idx);
      this.upload('ids', pb.ids);
      this.upload('lens', pb.lens);
      this.upload('w', weight);
      const slot = this.unread;
      const steps = useLiteTrainSteps(this.layout, { B, T: pb.T, slot, slots: this.readEvery, t, hyper: this.hyper });
      const read = slot + 1 === this.readEvery;
      const losses = await this.exec.execute(steps, read ? { buffer: 'loss', elements: this.readEvery } : null);
      this.stepCount = t;
      this.unread++;
      if (!losses) return { loss: Number.NaN };
      this.unread = 0;
      const ring = new Float32Array(losses);
      this.onLosses?.(t - this.readEvery + 1, ring);
      return { loss: ring[this.readEvery - 1] };
    });
  }

  /**
   * The step's pairs (idx: 2i chosen, 2i+1 rejected) in micro-batches of `microBatch` pairs, each padded to its
   * own longest sequence, gradients accumulated in G; AdamW after the last when `t` is given. Weights are scaled
   * by n_mb / B so every micro-batch's mean is a share of the step's mean. Returns the step's loss.
   */
  private async microBatches(items: EncodedItems, idx: Int32Array, weight: Float32Array, t: number | null): Promise<number> {
    const B = weight.length;
    const mb = this.microBatch;
    const parts = Math.ceil(B / mb);
    let out: ArrayBuffer | null = null;
    for (let i = 0; i < parts; i++) {
      const p0 = i * mb;
      const n = Math.min(mb, B - p0);
      const pb = this.joint(items, idx.subarray(2 * p0, 2 * (p0 + n)));
      this.upload('ids', pb.ids);
      this.upload('lens', pb.lens);
      this.upload('w', Float32Array.from(weight.subarray(p0, p0 + n), (w) => (w * n) / B));
      const last = i === parts - 1;
      const steps = useLiteTrainSteps(this.layout, {
        B: n,
        T: pb.T,
        slot: i,
        slots: parts,
        t: t ?? 1,
        hyper: this.hyper,
        lossBuffer: 'mbLoss',
        accumulate: i > 0,
        update: t !== null && last,
      });
      out = await this.exec.execute(steps, last ? { buffer: 'mbLoss', elements: parts } : null);
    }
    let loss = 0;
    for (const l of new Float32Array(out!)) loss += l;
    return loss;
  }

  /** The ring's unread losses (read now, ring reset), or null when none. */
  private async readPending(): Promise<Float32Array | null> {
    if (this.unread === 0) return null;
    const n = this.unread;
    const out = new Float32Array((await this.exec.execute([], { buffer: 'loss', elements: n }))!);
    this.unread = 0;
    return out;
  }

  /** Reads the losses of steps not yet read back (readEvery > 1), oldest first; [] when none. */
  flushLosses(): Promise<Float32Array> {
    return this.calls.run(async () => {
      const n = this.unread;
      const out = await this.readPending();
      if (!out) return new Float32Array(0);
      this.onLosses?.(this.stepCount - n + 1, out);
      return out;
    });
  }

  /**
   * Loss and gradients of a batch at the current weights, without updating (the CPU trainer's `gradients`):
   * gradients by the CPU trainer's names, for checks and parity.
   */
  gradients(items: EncodedItems, batch: PairBatch): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
    const B = batch.chosen.length;
    const idx = new Int32Array(2 * B);
    for (let i = 0; i < B; i++) {
      idx[2 * i] = batch.chosen[i];
      idx[2 * i + 1] = batch.rejected[i];
    }
    const weight = batch.weight.slice();
    return this.calls.run(async () => {
      // Its own loss buffer ('mbLoss'): the training loss ring may hold unread steps.
      const loss = await this.microBatches(items, idx, weight, null);
      const G = new Float32Array((await this.exec.execute([], { buffer: 'G', elements: this.layout.packedTotal }))!);
      return { loss, grads: Object.fromEntries(this.layout.packed.map((p) => [p.name, G.slice(p.offset, p.offset + p.length)])) };
    });
  }

  score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    const idx = indices ? indices.slice() : Int32Array.from({ length: items.count }, (_, i) => i);
    return this.calls.run(async () => {
      const out = new Float32Array(idx.length);
      for (let i0 = 0; i0 < idx.length; i0 += this.scoreBatch) {
        const part = idx.subarray(i0, Math.min(idx.length, i0 + this.scoreBatch));
        const pb = this.joint(items, part);
        this.upload('ids', pb.ids);
        this.upload('lens', pb.lens);
        const s = await this.exec.execute(useLiteForwardSteps(this.layout, { seqs: part.length, T: pb.T }), { buffer: 'scores', elements: part.length });
        out.set(new Float32Array(s!), i0);
      }
      return out;
    });
  }

  checkpoint(): Promise<TrainerCheckpoint<UseLiteRM>> {
    return this.calls.run(async () => {
      const total = this.layout.packedTotal;
      const read = async (name: string) => new Float32Array((await this.exec.execute([], { buffer: name, elements: total }))!);
      const [P, M, V] = [await read('P'), await read('M'), await read('V')];
      const cut = (a: Float32Array) => Object.fromEntries(this.layout.packed.map((p) => [p.name, a.slice(p.offset, p.offset + p.length)]));
      const values = cut(P);
      const tensors = { ...this.rm.model.tensors };
      for (const n of this.layout.trainedTensors) tensors[n] = values[n];
      let lora: LoraParams | null = null;
      if (this.rm.lora) {
        lora = { config: { ...this.rm.lora.config }, A: {}, B: {} };
        for (const k of Object.keys(this.rm.lora.A)) {
          lora.A[k] = values[`${k}.A`];
          lora.B[k] = values[`${k}.B`];
        }
      }
      return {
        params: { ...this.rm, model: { config: this.rm.model.config, tensors }, lora, loraConfig: { ...this.rm.loraConfig } },
        m: cut(M),
        v: cut(V),
        rowStep: new Int32Array(0),
        step: this.stepCount,
      };
    });
  }

  dispose(): void {
    if (this.calls.disposed) return;
    this.calls.disposed = true;
    this.exec.dispose();
  }

  private upload(name: string, data: TypedArray): void {
    this.exec.upload(name, data);
  }
}

/** The 'webgpu' backend for USE-lite RMs on a device (`ctx` is read by FailoverTrainer's loss check). */
export class UseLiteWebGpuBackend implements Backend<UseLiteRM> {
  readonly name = 'webgpu' as const;
  readonly info: string;
  private readonly cache: PipelineCache;

  constructor(
    readonly ctx: GpuContext,
    private readonly options: UseLiteWebGpuTrainerOptions = {},
  ) {
    this.info = `${describeReport(ctx.report)}; USE-lite trainer`;
    this.cache = new PipelineCache(ctx.device);
  }

  async createTrainer(init: UseLiteRM | TrainerCheckpoint<UseLiteRM>, opt: OptimizerConfig, options?: UseLiteWebGpuTrainerOptions): Promise<UseLiteWebGpuTrainer> {
    if (this.ctx.lostError) throw this.ctx.lostError;
    const exec = new GpuPlanExecutor(this.ctx.device, this.cache);
    try {
      return new UseLiteWebGpuTrainer(exec, this.ctx, init, opt, { ...this.options, ...options });
    } catch (e) {
      exec.dispose();
      throw e;
    }
  }

  get report(): CapabilityReport {
    return this.ctx.report;
  }

  /** An encoder on the same device (scoring / embeddings with the given weights and adapters). */
  encoder(params: UseLiteParams, lora: LoraParams | null = null): UseLiteWebGpuEncoder {
    return new UseLiteWebGpuEncoder(new GpuPlanExecutor(this.ctx.device, this.cache), params, lora, this.ctx);
  }

  dispose(): void {
    this.ctx.destroy();
  }
}

/** The USE-lite webgpu backend on `gpu` (navigator.gpu when omitted); throws GpuUnavailableError with the reason. */
export async function createUseLiteWebGpuBackend(gpu?: GPU | null, options: UseLiteWebGpuTrainerOptions = {}): Promise<UseLiteWebGpuBackend> {
  const ctx = await acquireDevice(gpu === undefined ? navigatorGpu() : gpu, { label: 'scpo-use-lite' });
  return new UseLiteWebGpuBackend(ctx, options);
}

/**
 * The USE-lite RM's backend by preference, with selectBackend's fallback order and reasons (webgpu -> `cpu`, the
 * caller's cpu backend, e.g. useLiteCpuBackend over the wasm MatOps). `gpu` defaults to navigator.gpu.
 */
export function selectUseLiteBackend(
  pref: BackendPreference,
  cpu: Backend<UseLiteRM>,
  gpu?: GPU | null,
  opts: UseLiteWebGpuTrainerOptions & { allowFallbackAdapter?: boolean } = {},
): Promise<BackendSelection<UseLiteRM>> {
  const { allowFallbackAdapter, ...options } = opts;
  return selectFrom(pref, () => createUseLiteWebGpuBackend(gpu, options), cpu, { allowFallbackAdapter });
}

/** The same trainer with its plans run by the kernels' CPU twins (tests of the plan without a GPU; slow). */
export function createUseLiteTwinTrainer(
  init: UseLiteRM | TrainerCheckpoint<UseLiteRM>,
  opt: OptimizerConfig,
  o?: UseLiteWebGpuTrainerOptions,
): UseLiteWebGpuTrainer {
  return new UseLiteWebGpuTrainer(new TwinExecutor(), neverLost(), init, opt, o);
}

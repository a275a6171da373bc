// The 'cpu' Backend: a deterministic Float32Array bag-RM trainer (weighted BT loss, dense AdamW on the MLP, lazy AdamW on E).
//
// Optimizer semantics (the webgpu backend must match them):
// - MLP tensors (W1, b1, W2, b2): AdamW with decoupled weight decay on every element, bias correction by the
//   global step count `step` (PyTorch torch.optim.AdamW with one param group).
// - Embedding table E: "lazy" row-wise AdamW. Only the rows whose token ids occur in the batch (each row once,
//   even if it occurs many times; explicit-zero gradients still count) are updated: their moments, their weight
//   decay, and their own step counter rowStep[row], which is what their bias correction uses. Rows the batch does
//   not touch are left exactly as they are: no moment decay and no weight decay, however many steps pass. This is
//   not PyTorch's SparseAdam, which keeps one step count per tensor (not per row) and has no weight decay; it
//   equals dense AdamW only for rows touched at every step (docs/FAITHFULNESS.md).
// - freezeEmbeddings: E, its moments and rowStep never change and no embedding gradient is computed. A trainer
//   that starts frozen and has no E moments keeps them as empty arrays (length 0, meaning "all zeros") so a
//   frozen backbone table with one row per item does not cost two more copies; checkpoints then carry empty
//   m.E / v.E, and resuming such a checkpoint unfrozen allocates zeros.
// - A batch of 0 pairs changes nothing (step is not incremented) and reports loss 0.
// Loss: -(1/B) sum_i w_i log sigmoid(s_chosen - s_rejected) (mean over pairs, not over the weight sum), with
// log sigmoid(d) = -softplus(-d) so |d| up to 1e4 and beyond stays finite.
// Numerics: parameters and moments are Float32Array; activations, gradients and the loss are accumulated in f64
// in a fixed order, so a given JS engine reproduces a run bit for bit (and checkpoint/resume is exact); exp/log1p
// are engine-defined in JS, so different engines may differ in the last bits.
// Two paths, the same bits (tested): with an arena (createBagArena in ./bag-wasm.ts, what cpuBackend makes when this
// thread can load the kernels) the whole step runs on wasm-SIMD kernels; without one, on the JS twins in ./ops.ts.
import type { Backend, StepResult, Trainer, TrainerCheckpoint } from '../backend.ts';
import { cloneParams, scoreItems, TENSOR_NAMES, tensorSizes, validateParams } from '../../pipeline/rm/bag.ts';
import type { BagRMParams, EncodedItems, OptimizerConfig, PairBatch } from '../../pipeline/rm/types.ts';
import {
  accumulateXtDZDense,
  adamw,
  backpropInput2x2,
  BiasCorrection,
  headBackward,
  headForward,
  linearForwardT,
  logSigmoid,
  poolItems,
  sigmoid,
  transposeToF64,
  type AdamHyper,
} from './ops.ts';
import { bagWasm, createBagArena, enableBagWasm, type ArenaShape, type ArenaViews, type BagArena, type StepViews } from './bag-wasm.ts';

/** Items per block when a trainer with an arena scores. */
const SCORE_BLOCK = 256;

type Moments = Record<'E' | 'W1' | 'b1' | 'W2' | 'b2', Float32Array>;

function isCheckpoint(x: BagRMParams | TrainerCheckpoint): x is TrainerCheckpoint {
  return (x as TrainerCheckpoint).params !== undefined && (x as TrainerCheckpoint).rowStep !== undefined;
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

export class CpuTrainer implements Trainer {
  readonly backend = 'cpu' as const;
  private p: BagRMParams;
  private m: Moments;
  private v: Moments;
  private rowStep: Int32Array;
  private stepCount: number;
  private readonly opt: OptimizerConfig;
  private readonly hyper: AdamHyper;

  // Scratch, grown on demand.
  private xs = new Float64Array(0);
  private zs = new Float64Array(0);
  private ss = new Float64Array(0);
  private ds = new Float64Array(0);
  private dzs = new Float64Array(0);
  private dxs = new Float64Array(0);
  private readonly bc1: BiasCorrection;
  private readonly bc2: BiasCorrection;
  private gW1: Float64Array;
  private gb1: Float64Array;
  private gW2: Float64Array;
  private gb2: Float64Array;
  /** The wasm arena holding this trainer's state (null: plain typed arrays and the JS twins; same bits). */
  private readonly arena: BagArena | null;
  private arenaViews: ArenaViews | null = null;
  /** W1 transposed to f64 ([H, 2D]), refreshed at each forward pass for linearForwardT. */
  private readonly w1t: Float64Array;
  /** dx / n of the item half being scattered into gE. */
  private readonly dxScaled: Float64Array;
  // Sparse embedding gradient: slotOf[row] = slot in gE (or -1), touched[0..nTouched) = rows in first-seen order.
  private readonly slotOf: Int32Array;
  private touched: Int32Array = new Int32Array(0);
  private gE: Float64Array = new Float64Array(0);
  private disposed = false;

  /**
   * `arena` (from createBagArena, of this model's shape) puts the state in wasm memory and runs the whole step on the
   * wasm kernels; without it, plain typed arrays and the JS twins. The two give the same bits.
   */
  constructor(init: BagRMParams | TrainerCheckpoint, opt: OptimizerConfig, arena: BagArena | null = null) {
    validateOptimizer(opt);
    this.opt = { ...opt };
    this.hyper = { lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay };
    const params = isCheckpoint(init) ? init.params : init;
    validateParams(params, 'trainer init');
    const cfg = params.config;
    const sizes = tensorSizes(cfg);
    const needE = !opt.freezeEmbeddings;
    if (arena && !arena.sameShape(arenaShape(init, opt))) throw new Error('cpu trainer: the arena was made for another model shape');
    this.arena = arena;
    // The embedding-sized buffers of a disposed trainer of the same shape, overwritten below (see BufferPool).
    const reuse = arena ? null : pool.take(sizes.E, cfg.vocabSize, needE);
    // With an arena, the state is copied straight into its views (no intermediate copies: 36 MB per trainer for the
    // bundled RM).
    const av = arena?.views() ?? null;
    if (av) {
      for (const k of TENSOR_NAMES) av.p[k].set(params[k]);
      this.p = { config: { ...cfg }, E: av.p.E, W1: av.p.W1, b1: av.p.b1, W2: av.p.W2, b2: av.p.b2 };
    } else this.p = cloneParams(params, reuse?.E);
    if (isCheckpoint(init)) {
      this.m = loadMoments(init.m, sizes, needE, 'm', av?.m);
      this.v = loadMoments(init.v, sizes, needE, 'v', av?.v);
      if (!(init.rowStep instanceof Int32Array) || init.rowStep.length !== cfg.vocabSize) {
        throw new Error(`checkpoint: rowStep must be an Int32Array of length ${cfg.vocabSize}`);
      }
      if (!Number.isInteger(init.step) || init.step < 0) throw new Error(`checkpoint: step is invalid (${init.step})`);
      this.rowStep = init.rowStep.slice();
      this.stepCount = init.step;
    } else {
      this.m = av ? fillZero(av.m) : zeroMoments(sizes, needE, reuse?.mE);
      this.v = av ? fillZero(av.v) : zeroMoments(sizes, needE, reuse?.vE);
      this.rowStep = reuse ? reuse.rowStep.fill(0) : new Int32Array(cfg.vocabSize);
      this.stepCount = 0;
    }
    const K = 2 * cfg.dim;
    const H = cfg.hidden;
    this.bc1 = new BiasCorrection(opt.beta1);
    this.bc2 = new BiasCorrection(opt.beta2);
    this.gW1 = new Float64Array(K * H);
    this.gb1 = new Float64Array(H);
    this.gW2 = new Float64Array(H);
    this.gb2 = new Float64Array(1);
    this.w1t = new Float64Array(K * H);
    this.dxScaled = new Float64Array(cfg.dim);
    this.slotOf = reuse?.slotOf && needE ? reuse.slotOf.fill(-1) : new Int32Array(needE ? cfg.vocabSize : 0).fill(-1);
    // The sparse-gradient scratch grown by an earlier trainer (fully overwritten before it is read).
    if (reuse && reuse.gE.length === reuse.touched.length * cfg.dim) (this.touched = reuse.touched), (this.gE = reuse.gE);
    if (av) this.bindArena(av);
  }

  /** Points the state fields at the arena's (current) views. */
  private bindArena(av: ArenaViews): void {
    this.arenaViews = av;
    this.p = { config: this.p.config, E: av.p.E, W1: av.p.W1, b1: av.p.b1, W2: av.p.W2, b2: av.p.b2 };
    this.m = av.m;
    this.v = av.v;
    this.gW1 = av.gW1;
    this.gb1 = av.gb1;
    this.gW2 = av.gW2;
    this.gb2 = av.gb2;
  }

  /** Optimizer steps taken so far (0-pair batches do not count). */
  get steps(): number {
    return this.stepCount;
  }

  async step(items: EncodedItems, batch: PairBatch): Promise<StepResult> {
    return this.stepSync(items, batch);
  }

  /** The synchronous core of step(), for benchmarks and workers that do not want a microtask per step. */
  stepSync(items: EncodedItems, batch: PairBatch): StepResult {
    this.checkAlive();
    const B = checkBatch(batch);
    if (B === 0) return { loss: 0 };
    const { loss, nTouched } = this.forwardBackward(items, batch);
    const p = this.p;
    const { dim: D, hidden: H } = p.config;
    const t = ++this.stepCount;
    const h = this.hyper;
    const { bc1, bc2 } = this;
    const c1 = bc1.at(t);
    const c2 = bc2.at(t);
    if (this.arena) {
      this.arena.adamDense(c1, c2, h);
      const { touched, slotOf, rowStep, stepBcs: bcs } = this;
      for (let s = 0; s < nTouched; s++) {
        const row = touched[s];
        const rt = ++rowStep[row];
        bcs[2 * s] = bc1.at(rt);
        bcs[2 * s + 1] = bc2.at(rt);
        slotOf[row] = -1;
      }
      this.arena.adamRows(nTouched, h);
      return { loss };
    }
    adamw(p.W1, this.m.W1, this.v.W1, 0, this.gW1.length, this.gW1, 0, c1, c2, h);
    adamw(p.b1, this.m.b1, this.v.b1, 0, H, this.gb1, 0, c1, c2, h);
    adamw(p.W2, this.m.W2, this.v.W2, 0, H, this.gW2, 0, c1, c2, h);
    adamw(p.b2, this.m.b2, this.v.b2, 0, 1, this.gb2, 0, c1, c2, h);
    const { touched, gE, slotOf, rowStep } = this;
    for (let s = 0; s < nTouched; s++) {
      const row = touched[s];
      const rt = ++rowStep[row];
      adamw(p.E, this.m.E, this.v.E, row * D, D, gE, s * D, bc1.at(rt), bc2.at(rt), h);
      slotOf[row] = -1;
    }
    return { loss };
  }

  /**
   * Loss and gradients of a batch at the current parameters, without updating anything: dense f64 gradients
   * of the MLP tensors and the sparse gradient of E (`rows` in first-seen order, `E` = [rows.length, D]).
   * For gradient checks and for comparing other backends against this reference.
   */
  gradients(items: EncodedItems, batch: PairBatch): BatchGradients {
    this.checkAlive();
    const B = checkBatch(batch);
    const { dim: D, hidden: H } = this.p.config;
    if (B === 0) {
      const z = new Float64Array(0);
      return { loss: 0, W1: new Float64Array(2 * D * H), b1: new Float64Array(H), W2: new Float64Array(H), b2: new Float64Array(1), rows: new Int32Array(0), E: z };
    }
    const { loss, nTouched } = this.forwardBackward(items, batch);
    const rows = this.touched.slice(0, nTouched);
    for (const r of rows) this.slotOf[r] = -1;
    return {
      loss,
      W1: this.gW1.slice(),
      b1: this.gb1.slice(),
      W2: this.gW2.slice(),
      b2: this.gb2.slice(),
      rows,
      E: this.gE.slice(0, nTouched * D),
    };
  }

  /**
   * Fills gW1/gb1/gW2/gb2 and, unless E is frozen, gE for the touched rows (slotOf is left set for them:
   * the caller must reset it). Returns the batch loss and the number of touched rows.
   */
  private forwardBackward(items: EncodedItems, batch: PairBatch): { loss: number; nTouched: number } {
    if (this.arena) return this.forwardBackwardArena(this.arena, items, batch);
    const B = batch.chosen.length;
    const p = this.p;
    const { dim: D, hidden: H, vocabSize: V } = p.config;
    const K = 2 * D;
    const S = 2 * B; // item slots: 2i = chosen of pair i, 2i+1 = rejected
    this.ensureSlots(S, K, H);
    const { xs, zs, ss, ds, dzs, dxs } = this;
    const itemAt = (j: number): number => ((j & 1) === 0 ? batch.chosen[j >> 1] : batch.rejected[j >> 1]);

    poolItems(p.E, D, V, items, S, itemAt, xs);
    transposeToF64(p.W1, K, H, this.w1t);
    linearForwardT(xs, S, K, this.w1t, p.b1, H, zs);
    const loss = this.headLossBackward(batch, zs, ss, ds, dzs);
    accumulateXtDZDense(xs, S, K, dzs, H, this.gW1);
    if (this.opt.freezeEmbeddings) return { loss, nTouched: 0 };

    backpropInput2x2(dzs, S, H, p.W1, K, dxs);
    let nTouched = 0;
    for (let j = 0; j < S; j++) {
      const k = itemAt(j);
      nTouched = this.scatter(items.responseIds, items.responseOffsets[k], items.responseOffsets[k + 1], dxs, j * K, D, nTouched);
      nTouched = this.scatter(items.promptIds, items.promptOffsets[k], items.promptOffsets[k + 1], dxs, j * K + D, D, nTouched);
    }
    return { loss, nTouched };
  }

  /**
   * The part of a step both paths share, after the layer's forward (zs = pre-activations of the 2B item slots): the
   * head's scores (ss), the weighted BT loss (returned), its score gradients (ds), and the head's backward into the
   * zeroed MLP gradients (gW2, gb1, gb2; gW1 zeroed for the caller's weight gradient) and dzs.
   */
  private headLossBackward(batch: PairBatch, zs: Float64Array, ss: Float64Array, ds: Float64Array, dzs: Float64Array): number {
    const B = batch.chosen.length;
    const S = 2 * B;
    const p = this.p;
    const H = p.config.hidden;
    headForward(zs, S, H, p.W2, p.b2, ss);
    let loss = 0;
    for (let i = 0; i < B; i++) {
      const w = batch.weight[i];
      const d = ss[2 * i] - ss[2 * i + 1];
      loss -= w * logSigmoid(d);
      // dL/dd = -(w/B) * sigmoid(-d)
      const g = (-w / B) * sigmoid(-d);
      ds[2 * i] = g;
      ds[2 * i + 1] = -g;
    }
    const { gW1, gb1, gW2, gb2 } = this;
    gW1.fill(0);
    gb1.fill(0);
    gW2.fill(0);
    gb2.fill(0);
    headBackward(zs, ds, S, H, p.W2, gW2, gb1, gb2, dzs);
    return loss / B;
  }

  /** bag-wasm.ts's per-step bias corrections of the touched rows (a view into the arena, set by forwardBackwardArena). */
  private stepBcs: Float64Array = new Float64Array(0);

  /**
   * forwardBackward on the arena: the same computation, step by step, as the JS path above (pooling, layer, head,
   * loss, head backward, weight gradient, input gradient, table-gradient scatter), with the matrix and table work in
   * wasm and the small per-item parts (head, loss, slot assignment) here.
   */
  private forwardBackwardArena(arena: BagArena, items: EncodedItems, batch: PairBatch): { loss: number; nTouched: number } {
    const B = batch.chosen.length;
    const H = this.p.config.hidden;
    const S = 2 * B;
    const itemAt = (j: number): number => ((j & 1) === 0 ? batch.chosen[j >> 1] : batch.rejected[j >> 1]);
    const { sv, T: t } = this.poolArena(arena, items, S, itemAt, true);
    const { ids, zs, ss, ds, dzs } = sv;
    arena.forward(S);
    const loss = this.headLossBackward(batch, zs, ss, ds, dzs);
    arena.weightGrad(S);
    if (this.opt.freezeEmbeddings) return { loss, nTouched: 0 };

    arena.backprop(S);
    // Gradient rows in first-seen token order, as scatter() assigns them.
    const { slots, touched } = sv;
    const slotOf = this.slotOf;
    let nTouched = 0;
    for (let q = 0; q < t; q++) {
      const row = ids[q];
      let slot = slotOf[row];
      if (slot < 0) {
        slot = nTouched++;
        slotOf[row] = slot;
        touched[slot] = row;
      }
      slots[q] = slot;
    }
    arena.scatter(S, nTouched);
    this.touched = touched;
    this.gE = sv.gE;
    this.stepBcs = sv.bcs;
    return { loss, nTouched };
  }

  /**
   * Lays out a step of S item slots in the arena (item itemAt(j) in slot j), gathers their token ids (checked like
   * meanPool checks them) and pools them into xs. Rebinds the state views when the arena grew. T: the token count.
   */
  private poolArena(arena: BagArena, items: EncodedItems, S: number, itemAt: (j: number) => number, train: boolean): { sv: StepViews; T: number } {
    const V = this.p.config.vocabSize;
    const { responseIds, responseOffsets, promptIds, promptOffsets } = items;
    let T = 0;
    for (let j = 0; j < S; j++) {
      const k = itemAt(j);
      if (!(k >= 0 && k < items.count)) throw new RangeError(`item index ${k} is outside 0..${items.count - 1}`);
      T += Math.max(0, responseOffsets[k + 1] - responseOffsets[k]) + Math.max(0, promptOffsets[k + 1] - promptOffsets[k]);
    }
    const sv = arena.prepare(S, T, train);
    if (arena.stale(this.arenaViews!)) this.bindArena(arena.views());
    const { ids, seg } = sv;
    // Segment 2j: item j's response tokens, 2j+1: its prompt tokens (xs row j = [response mean | prompt mean]).
    let t = 0;
    seg[0] = 0;
    const copy = (src: Int32Array, a: number, b: number): void => {
      for (let q = a; q < b; q++) {
        const id = src[q];
        if (!(id >= 0 && id < V)) throw new RangeError(`token id ${id} is outside the embedding table (${V} rows)`);
        ids[t++] = id;
      }
    };
    for (let j = 0; j < S; j++) {
      const k = itemAt(j);
      copy(responseIds, responseOffsets[k], responseOffsets[k + 1]);
      seg[2 * j + 1] = t;
      copy(promptIds, promptOffsets[k], promptOffsets[k + 1]);
      seg[2 * j + 2] = t;
    }
    arena.pool(S);
    return { sv, T: t };
  }

  /** scoreItems on the arena (the same bits: pooling, layer and head as there), in blocks of 256 items. */
  private scoreArena(arena: BagArena, items: EncodedItems, indices?: Int32Array): Float32Array {
    const n = indices ? indices.length : items.count;
    const out = new Float32Array(n);
    const H = this.p.config.hidden;
    for (let start = 0; start < n; start += SCORE_BLOCK) {
      const S = Math.min(SCORE_BLOCK, n - start);
      const { sv } = this.poolArena(arena, items, S, indices ? (i) => indices[start + i] : (i) => start + i, false);
      arena.forward(S);
      headForward(sv.zs, S, H, this.p.W2, this.p.b2, sv.ss);
      for (let i = 0; i < S; i++) out[start + i] = sv.ss[i];
    }
    return out;
  }

  /** Adds dx[dxOff .. dxOff+D) / n to the gradient of each of the n rows ids[start..end). */
  private scatter(ids: Int32Array, start: number, end: number, dx: Float64Array, dxOff: number, D: number, nTouched: number): number {
    const n = end - start;
    if (n <= 0) return nTouched;
    const inv = 1 / n;
    // dx * inv once per item half (the same products the per-token loop would form, so the same bits).
    const sc = this.dxScaled;
    for (let d = 0; d < D; d++) sc[d] = dx[dxOff + d] * inv;
    const slotOf = this.slotOf;
    const D4 = D - (D % 4);
    for (let q = start; q < end; q++) {
      const row = ids[q];
      let slot = slotOf[row];
      if (slot < 0) {
        slot = nTouched++;
        if (slot >= this.touched.length) this.growTouched(slot + 1, D);
        slotOf[row] = slot;
        this.touched[slot] = row;
        this.gE.fill(0, slot * D, slot * D + D);
      }
      const gE = this.gE;
      const o = slot * D;
      let d = 0;
      for (; d < D4; d += 4) {
        gE[o + d] += sc[d];
        gE[o + d + 1] += sc[d + 1];
        gE[o + d + 2] += sc[d + 2];
        gE[o + d + 3] += sc[d + 3];
      }
      for (; d < D; d++) gE[o + d] += sc[d];
    }
    return nTouched;
  }

  private growTouched(min: number, D: number): void {
    const cap = Math.max(min, this.touched.length * 2, 256);
    const t = new Int32Array(cap);
    t.set(this.touched);
    this.touched = t;
    const g = new Float64Array(cap * D);
    g.set(this.gE);
    this.gE = g;
  }

  private ensureSlots(S: number, K: number, H: number): void {
    if (this.ss.length >= S) return;
    const cap = Math.max(S, this.ss.length * 2);
    this.xs = new Float64Array(cap * K);
    this.zs = new Float64Array(cap * H);
    this.ss = new Float64Array(cap);
    this.ds = new Float64Array(cap);
    this.dzs = new Float64Array(cap * H);
    this.dxs = new Float64Array(cap * K);
  }

  async score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    this.checkAlive();
    return this.arena ? this.scoreArena(this.arena, items, indices) : scoreItems(this.p, items, indices);
  }

  async checkpoint(): Promise<TrainerCheckpoint> {
    this.checkAlive();
    return {
      params: cloneParams(this.p),
      m: copyMoments(this.m),
      v: copyMoments(this.v),
      rowStep: this.rowStep.slice(),
      step: this.stepCount,
    };
  }

  /** A copy of the current parameters (checkpoint().params without copying the optimizer state). */
  async params(): Promise<BagRMParams> {
    this.checkAlive();
    return cloneParams(this.p);
  }

  /** Current parameters without copying (read-only by convention, valid until dispose()), for hot loops such as evaluation. */
  peekParams(): BagRMParams {
    return this.p;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.arena) {
      arenas.give(this.arena);
      return;
    }
    // Nothing of this trainer is handed out uncopied (checkpoint() and params() copy), so its big buffers can serve
    // the next trainer.
    pool.give({ E: this.p.E, mE: this.m.E, vE: this.v.E, rowStep: this.rowStep, slotOf: this.slotOf, touched: this.touched, gE: this.gE });
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('cpu trainer: used after dispose()');
  }
}

export interface BatchGradients {
  loss: number;
  W1: Float64Array;
  b1: Float64Array;
  W2: Float64Array;
  b2: Float64Array;
  /** Embedding rows the batch touches, in first-seen order. */
  rows: Int32Array;
  /** [rows.length, dim]: gradient of each touched row. Empty when E is frozen. */
  E: Float64Array;
}

function checkBatch(batch: PairBatch): number {
  const B = batch.chosen.length;
  if (batch.rejected.length !== B || batch.weight.length !== B) {
    throw new Error(`batch: chosen/rejected/weight lengths differ (${B}, ${batch.rejected.length}, ${batch.weight.length})`);
  }
  return B;
}

function zeroMoments(sizes: Record<string, number>, needE: boolean, reuseE?: Float32Array): Moments {
  return {
    E: needE ? (reuseE?.fill(0) ?? new Float32Array(sizes.E)) : new Float32Array(0),
    W1: new Float32Array(sizes.W1),
    b1: new Float32Array(sizes.b1),
    W2: new Float32Array(sizes.W2),
    b2: new Float32Array(sizes.b2),
  };
}

function fillZero(m: Moments): Moments {
  for (const k of TENSOR_NAMES) m[k].fill(0);
  return m;
}

/** Validated copies of a checkpoint's moments (into `into`, an arena's views of the right sizes, when given). */
function loadMoments(src: Record<string, Float32Array>, sizes: Record<string, number>, needE: boolean, what: string, into?: Moments): Moments {
  const out = {} as Moments;
  for (const k of TENSOR_NAMES) {
    const a = src[k];
    if (!(a instanceof Float32Array)) throw new Error(`checkpoint: ${what}.${k} is missing`);
    if (k === 'E' && a.length === 0) {
      out.E = into ? into.E.fill(0) : new Float32Array(needE ? sizes.E : 0);
      continue;
    }
    if (a.length !== sizes[k]) throw new Error(`checkpoint: ${what}.${k} has ${a.length} values, expected ${sizes[k]}`);
    out[k] = into ? (into[k].set(a), into[k]) : a.slice();
  }
  return out;
}

function copyMoments(m: Moments): Record<string, Float32Array> {
  return { E: m.E.slice(), W1: m.W1.slice(), b1: m.b1.slice(), W2: m.W2.slice(), b2: m.b2.slice() };
}

/** The embedding-sized buffers of one trainer: the table, its Adam moments, the row step counts and slots. */
interface BigBuffers {
  E: Float32Array;
  mE: Float32Array;
  vE: Float32Array;
  rowStep: Int32Array;
  slotOf: Int32Array;
  /** The sparse gradient's rows and values (grown on demand; any size). */
  touched: Int32Array;
  gE: Float64Array;
}

/**
 * Buffers of disposed trainers, for the next trainer of the same shape. An experiment makes one trainer per run (60+
 * in a row, each with a 12 MB table and 24 MB of moments for the bundled RM); fresh ones each time left hundreds of
 * MB of garbage for V8 to collect, which raised the studio's peak memory and its GC work (bench:studio). A trainer
 * overwrites everything it takes (table copied from its init, moments and counters reset), so reuse changes no bit.
 */
class BufferPool {
  private free: BigBuffers[] = [];
  constructor(private readonly max: number) {}

  give(b: BigBuffers): void {
    if (this.free.length < this.max && b.E.length > 0) this.free.push(b);
  }

  /** A set whose table has `eSize` values and whose counters have `vocab` entries (moments too when `needE`). */
  take(eSize: number, vocab: number, needE: boolean): BigBuffers | null {
    const i = this.free.findIndex((b) => b.E.length === eSize && b.rowStep.length === vocab && (!needE || (b.mE.length === eSize && b.vE.length === eSize && b.slotOf.length === vocab)));
    return i < 0 ? null : this.free.splice(i, 1)[0];
  }
}

// One set: runs make their trainers one after another (each disposed before the next is made).
const pool = new BufferPool(1);

/** The arena a trainer needs: table moments unless frozen, or when a checkpoint brings them (they are kept). */
function arenaShape(init: BagRMParams | TrainerCheckpoint, opt: OptimizerConfig): ArenaShape {
  const cfg = (isCheckpoint(init) ? init.params : init).config;
  const carried = isCheckpoint(init) && init.m.E instanceof Float32Array && init.m.E.length > 0;
  return { vocabSize: cfg.vocabSize, dim: cfg.dim, hidden: cfg.hidden, needE: !opt.freezeEmbeddings || carried };
}

/** The arenas of disposed trainers (wasm memories cannot shrink or be freed, only dropped): one kept, as above. */
const arenas = {
  free: [] as BagArena[],
  give(a: BagArena): void {
    if (this.free.length < 1) this.free.push(a);
  },
  take(shape: ArenaShape): BagArena | null {
    const i = this.free.findIndex((a) => a.sameShape(shape));
    return i < 0 ? null : this.free.splice(i, 1)[0];
  },
};

export const cpuBackend: Backend = {
  name: 'cpu',
  get info() {
    return bagWasm()
      ? 'CPU (wasm SIMD kernels, f64; bit-identical to the JavaScript reference)'
      : 'CPU (JavaScript, Float32Array; deterministic reference backend)';
  },
  async prepare() {
    await enableBagWasm();
  },
  async createTrainer(init, opt) {
    // The wasm arena when this thread can load the kernels (same bits as without, see bag-wasm.ts).
    const shape = arenaShape(init, opt);
    return new CpuTrainer(init, opt, arenas.take(shape) ?? (await createBagArena(shape)));
  },
};

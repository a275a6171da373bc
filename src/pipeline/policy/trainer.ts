// Training the bundled policy (lm.ts): the PolicyTrainer interface both backends implement and the 'cpu' one,
// a deterministic Float32Array trainer built from the bag-RM trainer's CPU ops.
//
// One step = weighted softmax cross-entropy + AdamW, the same semantics as the bag-RM trainers:
//   loss = sum_i w_i * (logsumexp(z_i) - z_i[y_i])     (the weights carry any normalisation; they may be negative)
//   dz_i = w_i * (softmax(z_i) - onehot(y_i))
// so supervised training (w = 1/n) and PPO (w_i = -dObjective/dlogpi_i, see ppo.ts) share one step.
// Optimizer: dense AdamW on W1, b1, W2, b2 by the global step; lazy AdamW on the embedding rows the batch touches
// (context and prompt tokens), each row with its own step count, as in src/gpu/cpu/trainer.ts.
import { accumulateXtDZ, adamw, backpropInput, BiasCorrection, type AdamHyper } from '../../gpu/cpu/ops.ts';
import type { OptimizerConfig } from '../rm/types.ts';
import { checkLmBatch, cloneLm, lmForward, lmLogits, LmScratch, lmSizes, validateLmParams, type LmBatch, type MlpLmParams } from './lm.ts';

export type PolicyBackendName = 'cpu' | 'webgpu';

export interface PolicyStepResult {
  /** The weighted loss sum (meaningful as a loss only when the weights are positive). */
  loss: number;
}

export interface PolicyTrainer {
  readonly backend: PolicyBackendName;
  /** Optimizer steps taken. */
  readonly steps: number;
  /** Logits [n, vocabOut] at the current parameters. */
  logits(batch: LmBatch): Promise<Float32Array>;
  /** One optimizer step on the batch (n = 0: no-op, loss 0). */
  step(batch: LmBatch): Promise<PolicyStepResult>;
  /** A copy of the current parameters. */
  params(): Promise<MlpLmParams>;
  dispose(): void;
}

export const DEFAULT_POLICY_OPTIMIZER: OptimizerConfig = {
  lr: 3e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  freezeEmbeddings: false,
};

/** Weighted softmax cross-entropy of logits rows: fills dL (may alias nothing) and returns the weighted loss sum. */
export function softmaxXentBackward(L: Float64Array | Float32Array, S: number, C: number, target: Int32Array, weight: Float32Array, start: number, dL: Float64Array): number {
  let loss = 0;
  for (let s = 0; s < S; s++) {
    const o = s * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (L[o + c] > m) m = L[o + c];
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(L[o + c] - m);
    const lse = m + Math.log(sum);
    const y = target[start + s];
    const w = weight[start + s];
    loss += w * (lse - L[o + y]);
    for (let c = 0; c < C; c++) dL[o + c] = w * Math.exp(L[o + c] - lse);
    dL[o + y] -= w;
  }
  return loss;
}

export class CpuPolicyTrainer implements PolicyTrainer {
  readonly backend = 'cpu' as const;
  private p: MlpLmParams;
  private readonly m: Record<'E' | 'W1' | 'b1' | 'W2' | 'b2', Float32Array>;
  private readonly v: Record<'E' | 'W1' | 'b1' | 'W2' | 'b2', Float32Array>;
  private readonly rowStep: Int32Array;
  private stepCount = 0;
  private readonly hyper: AdamHyper;
  private readonly trainE: boolean;
  private readonly bc1: BiasCorrection;
  private readonly bc2: BiasCorrection;
  private readonly s: LmScratch;
  private dL = new Float64Array(0);
  private dHh = new Float64Array(0);
  private dZ = new Float64Array(0);
  private dX = new Float64Array(0);
  private readonly gW1: Float64Array;
  private readonly gb1: Float64Array;
  private readonly gW2: Float64Array;
  private readonly gb2: Float64Array;
  private readonly slotOf: Int32Array;
  private touched = new Int32Array(0);
  private gE = new Float64Array(0);
  private disposed = false;

  constructor(init: MlpLmParams, opt: OptimizerConfig = DEFAULT_POLICY_OPTIMIZER) {
    validateLmParams(init, 'policy trainer init');
    this.p = cloneLm(init);
    const sizes = lmSizes(this.p.config);
    const z = (n: number) => new Float32Array(n);
    this.trainE = !opt.freezeEmbeddings;
    this.m = { E: z(this.trainE ? sizes.E : 0), W1: z(sizes.W1), b1: z(sizes.b1), W2: z(sizes.W2), b2: z(sizes.b2) };
    this.v = { E: z(this.trainE ? sizes.E : 0), W1: z(sizes.W1), b1: z(sizes.b1), W2: z(sizes.W2), b2: z(sizes.b2) };
    this.rowStep = new Int32Array(this.p.config.vocabIn);
    this.hyper = { lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay };
    this.bc1 = new BiasCorrection(opt.beta1);
    this.bc2 = new BiasCorrection(opt.beta2);
    this.s = new LmScratch(this.p.config, 256);
    this.gW1 = new Float64Array(sizes.W1);
    this.gb1 = new Float64Array(sizes.b1);
    this.gW2 = new Float64Array(sizes.W2);
    this.gb2 = new Float64Array(sizes.b2);
    this.slotOf = new Int32Array(this.p.config.vocabIn).fill(-1);
  }

  get steps(): number {
    return this.stepCount;
  }

  /** Current parameters without copying (read-only by convention): samplers use them between steps. */
  peek(): MlpLmParams {
    return this.p;
  }

  async logits(batch: LmBatch): Promise<Float32Array> {
    this.alive();
    checkLmBatch(this.p.config, batch);
    return lmLogits(this.p, batch, this.s);
  }

  async step(batch: LmBatch): Promise<PolicyStepResult> {
    return this.stepSync(batch);
  }

  stepSync(batch: LmBatch): PolicyStepResult {
    this.alive();
    const c = this.p.config;
    checkLmBatch(c, batch);
    const S = batch.n;
    if (S === 0) return { loss: 0 };
    const { dim: D, context: k, hidden: H, vocabOut: Vo } = c;
    const K = (k + 1) * D;
    const s = this.s;
    lmForward(this.p, batch, 0, S, s);
    if (this.dL.length < S * Vo) this.dL = new Float64Array(S * Vo);
    if (this.dHh.length < S * H) {
      this.dHh = new Float64Array(S * H);
      this.dZ = new Float64Array(S * H);
    }
    if (this.dX.length < S * K) this.dX = new Float64Array(S * K);
    const { dL, dHh, dZ, dX, gW1, gb1, gW2, gb2 } = this;
    const loss = softmaxXentBackward(s.L, S, Vo, batch.target, batch.weight, 0, dL);

    gW2.fill(0);
    gb2.fill(0);
    gW1.fill(0);
    gb1.fill(0);
    accumulateXtDZ(s.Hh, S, H, dL, Vo, gW2);
    for (let i = 0; i < S; i++) for (let o = 0; o < Vo; o++) gb2[o] += dL[i * Vo + o];
    backpropInput(dL, S, Vo, this.p.W2, H, dHh);
    for (let i = 0; i < S * H; i++) dZ[i] = s.Z[i] > 0 ? dHh[i] : 0;
    accumulateXtDZ(s.X, S, K, dZ, H, gW1);
    for (let i = 0; i < S; i++) for (let j = 0; j < H; j++) gb1[j] += dZ[i * H + j];

    let nTouched = 0;
    if (this.trainE) {
      backpropInput(dZ, S, H, this.p.W1, K, dX);
      // (bag, position) order: example i's k context bags, then its prompt bag.
      for (let i = 0; i < S; i++) {
        for (let cc = 0; cc < k; cc++) nTouched = this.scatter(batch.ctx, i * k + cc, i * k + cc + 1, dX, i * K + cc * D, D, nTouched);
        nTouched = this.scatter(batch.promptIds, batch.promptOffsets[i], batch.promptOffsets[i + 1], dX, i * K + k * D, D, nTouched);
      }
    }

    const t = ++this.stepCount;
    const h = this.hyper;
    const c1 = this.bc1.at(t);
    const c2 = this.bc2.at(t);
    const p = this.p;
    adamw(p.W1, this.m.W1, this.v.W1, 0, gW1.length, gW1, 0, c1, c2, h);
    adamw(p.b1, this.m.b1, this.v.b1, 0, H, gb1, 0, c1, c2, h);
    adamw(p.W2, this.m.W2, this.v.W2, 0, gW2.length, gW2, 0, c1, c2, h);
    adamw(p.b2, this.m.b2, this.v.b2, 0, Vo, gb2, 0, c1, c2, h);
    for (let u = 0; u < nTouched; u++) {
      const row = this.touched[u];
      const rt = ++this.rowStep[row];
      adamw(p.E, this.m.E, this.v.E, row * D, D, this.gE, u * D, this.bc1.at(rt), this.bc2.at(rt), h);
      this.slotOf[row] = -1;
    }
    return { loss };
  }

  private scatter(ids: Int32Array, start: number, end: number, dx: Float64Array, dxOff: number, D: number, nTouched: number): number {
    const n = end - start;
    if (n <= 0) return nTouched;
    const inv = 1 / n;
    for (let q = start; q < end; q++) {
      const row = ids[q];
      let slot = this.slotOf[row];
      if (slot < 0) {
        slot = nTouched++;
        if (slot >= this.touched.length) {
          const cap = Math.max(slot + 1, this.touched.length * 2, 256);
          const t = new Int32Array(cap);
          t.set(this.touched);
          this.touched = t;
          const g = new Float64Array(cap * D);
          g.set(this.gE);
          this.gE = g;
        }
        this.slotOf[row] = slot;
        this.touched[slot] = row;
        this.gE.fill(0, slot * D, slot * D + D);
      }
      const o = slot * D;
      for (let d = 0; d < D; d++) this.gE[o + d] += dx[dxOff + d] * inv;
    }
    return nTouched;
  }

  async params(): Promise<MlpLmParams> {
    this.alive();
    return cloneLm(this.p);
  }

  dispose(): void {
    this.disposed = true;
  }

  private alive(): void {
    if (this.disposed) throw new Error('cpu policy trainer: used after dispose()');
  }
}

// The 'webgpu' policy trainer: the bundled policy's training step as a plan of the existing WGSL kernels
// (embeddingBagForward/Backward for the context and prompt embeddings, denseForward/Backward + relu for the MLP,
// adamwDense + adamwSparse) plus softmaxCrossEntropy, run by the bag-RM trainer's GpuPlanExecutor. The same plan
// runs on the kernels' CPU twins (TwinExecutor) for tests without a GPU. Semantics match CpuPolicyTrainer.
//
// Bags: example j has k+1 bags, j(k+1)+c = {context token c} and j(k+1)+k = its prompt, so the bag output
// [n(k+1), D] is the MLP input X [n, (k+1)D].
import type { GpuContext } from '../../gpu/device.ts';
import { adamwDense, type AdamHyperparams } from '../../gpu/kernels/adamwDense.ts';
import { adamwSparse, sparseRowCoefficients } from '../../gpu/kernels/adamwSparse.ts';
import { denseBackward } from '../../gpu/kernels/denseBackward.ts';
import { denseForward } from '../../gpu/kernels/denseForward.ts';
import { buildRowContributions, embeddingBagBackward } from '../../gpu/kernels/embeddingBagBackward.ts';
import { embeddingBagForward } from '../../gpu/kernels/embeddingBagForward.ts';
import type { PlanExecutor, PlanStep, Range, TensorRef } from '../../gpu/kernels/plan.ts';
import { reluBackward } from '../../gpu/kernels/reluBackward.ts';
import { reluForward } from '../../gpu/kernels/reluForward.ts';
import { PipelineCache } from '../../gpu/kernels/runtime.ts';
import { softmaxCrossEntropy } from '../../gpu/kernels/softmaxCrossEntropy.ts';
import { GpuPlanExecutor } from '../../gpu/webgpu.ts';
import type { OptimizerConfig } from '../rm/types.ts';
import { checkLmBatch, lmSizes, validateLmParams, type LmBatch, type MlpLmConfig, type MlpLmParams } from './lm.ts';
import type { PolicyStepResult, PolicyTrainer } from './trainer.ts';
import type { PolicyTrainerFactory } from './backends.ts';

export interface PolicyLayout {
  Vin: number;
  D: number;
  k: number;
  K: number;
  H: number;
  Vo: number;
  W1: Range;
  b1: Range;
  W2: Range;
  b2: Range;
  denseTotal: number;
}

/** Packed dense tensors (one AdamW dispatch), offsets aligned to the device's storage offset alignment. */
export function policyLayout(c: MlpLmConfig, alignBytes = 256): PolicyLayout {
  const a = Math.max(1, alignBytes / 4);
  const up = (x: number) => Math.ceil(x / a) * a;
  const K = (c.context + 1) * c.dim;
  const W1 = { offset: 0, length: K * c.hidden };
  const b1 = { offset: up(W1.length), length: c.hidden };
  const W2 = { offset: up(b1.offset + b1.length), length: c.hidden * c.vocabOut };
  const b2 = { offset: up(W2.offset + W2.length), length: c.vocabOut };
  return { Vin: c.vocabIn, D: c.dim, k: c.context, K, H: c.hidden, Vo: c.vocabOut, W1, b1, W2, b2, denseTotal: up(b2.offset + b2.length) };
}

const at = (buffer: string, r: Range): TensorRef => ({ buffer, offset: r.offset, length: r.length });

/** Forward of n examples with nnz bag tokens: X = bags(E), Z = X W1 + b1, Hh = relu(Z), L = Hh W2 + b2. */
export function policyForwardSteps(L: PolicyLayout, n: number, nnz: number): PlanStep[] {
  return [
    { kernel: embeddingBagForward, dims: { vocab: L.Vin, dim: L.D, bags: n * (L.k + 1), nnz }, bind: { E: 'E', offsets: 'bagOffsets', ids: 'bagIds', out: 'X' } },
    { kernel: denseForward, dims: { M: n, K: L.K, N: L.H }, bind: { X: 'X', W: at('P', L.W1), b: at('P', L.b1), Y: 'Z' } },
    { kernel: reluForward, dims: { n: n * L.H }, bind: { X: 'Z', Y: 'Hh' } },
    { kernel: denseForward, dims: { M: n, K: L.H, N: L.Vo }, bind: { X: 'Hh', W: at('P', L.W2), b: at('P', L.b2), Y: 'L' } },
  ];
}

/** One optimizer step: forward, weighted softmax cross-entropy, backward, AdamW (dense) + lazy AdamW (E rows). */
export function policyTrainSteps(L: PolicyLayout, s: { n: number; nnz: number; U: number; trainE: boolean; t: number; hyper: AdamHyperparams }): PlanStep[] {
  const steps = policyForwardSteps(L, s.n, s.nnz);
  steps.push(
    { kernel: softmaxCrossEntropy, dims: { N: s.n, C: L.Vo, slots: 1, slot: 0 }, bind: { Z: 'L', y: 'y', w: 'w', lse: 'lse', dZ: 'dL', loss: 'loss' } },
    {
      kernel: denseBackward,
      dims: { M: s.n, K: L.H, N: L.Vo, inputGrad: true },
      bind: { X: 'Hh', W: at('P', L.W2), dY: 'dL', dX: 'dHh', dW: at('G', L.W2), db: at('G', L.b2) },
    },
    { kernel: reluBackward, dims: { n: s.n * L.H }, bind: { Z: 'Z', dY: 'dHh', dZ: 'dZ' } },
    {
      kernel: denseBackward,
      dims: { M: s.n, K: L.K, N: L.H, inputGrad: s.trainE },
      bind: { X: 'X', W: at('P', L.W1), dY: 'dZ', dX: 'dX', dW: at('G', L.W1), db: at('G', L.b1) },
    },
  );
  if (s.trainE && s.U > 0) {
    steps.push({
      kernel: embeddingBagBackward,
      dims: { dim: L.D, bags: s.n * (L.k + 1), rows: s.U, nnz: s.nnz },
      bind: { dX: 'dX', bagOffsets: 'bagOffsets', rowOffsets: 'rowOffsets', contribBag: 'contribBag', gRows: 'gRows' },
    });
  }
  steps.push({ kernel: adamwDense, dims: { n: L.denseTotal, t: s.t, ...s.hyper }, bind: { P: 'P', M: 'M', V: 'V', G: 'G' } });
  if (s.trainE && s.U > 0) {
    steps.push({
      kernel: adamwSparse,
      dims: { vocab: L.Vin, dim: L.D, rows: s.U, ...s.hyper },
      bind: { P: 'E', M: 'mE', V: 'vE', G: 'gRows', rowIds: 'rowIds', rowCoef: 'rowCoef' },
    });
  }
  return steps;
}

/** The bags of a batch: per example its k one-token context bags, then its prompt bag. */
export function packPolicyBags(b: LmBatch, k: number): { bagOffsets: Int32Array; bagIds: Int32Array } {
  const bagOffsets = new Int32Array(b.n * (k + 1) + 1);
  const bagIds = new Int32Array(b.n * k + b.promptIds.length);
  let q = 0;
  for (let i = 0; i < b.n; i++) {
    for (let c = 0; c < k; c++) {
      bagIds[q++] = b.ctx[i * k + c];
      bagOffsets[i * (k + 1) + c + 1] = q;
    }
    for (let t = b.promptOffsets[i]; t < b.promptOffsets[i + 1]; t++) bagIds[q++] = b.promptIds[t];
    bagOffsets[i * (k + 1) + k + 1] = q;
  }
  return { bagOffsets, bagIds };
}

export class WebGpuPolicyTrainer implements PolicyTrainer {
  readonly backend = 'webgpu' as const;
  private readonly L: PolicyLayout;
  private readonly cfg: MlpLmConfig;
  private readonly hyper: AdamHyperparams;
  private readonly trainE: boolean;
  private readonly rowStep: Int32Array;
  private readonly slotScratch: Int32Array;
  private stepCount = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(
    private readonly exec: PlanExecutor,
    init: MlpLmParams,
    opt: OptimizerConfig,
  ) {
    validateLmParams(init, 'webgpu policy trainer init');
    this.cfg = { ...init.config };
    this.hyper = { lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay };
    this.trainE = !opt.freezeEmbeddings;
    this.L = policyLayout(this.cfg, exec.offsetAlignment);
    this.rowStep = new Int32Array(this.cfg.vocabIn);
    this.slotScratch = new Int32Array(this.cfg.vocabIn).fill(-1);
    const L = this.L;
    const packed = new Float32Array(L.denseTotal);
    packed.set(init.W1, L.W1.offset);
    packed.set(init.b1, L.b1.offset);
    packed.set(init.W2, L.W2.offset);
    packed.set(init.b2, L.b2.offset);
    const sizes = lmSizes(this.cfg);
    exec.upload('E', init.E);
    exec.upload('P', packed);
    exec.upload('M', new Float32Array(L.denseTotal));
    exec.upload('V', new Float32Array(L.denseTotal));
    exec.upload('G', new Float32Array(L.denseTotal));
    if (this.trainE) {
      exec.upload('mE', new Float32Array(sizes.E));
      exec.upload('vE', new Float32Array(sizes.E));
    }
    exec.upload('loss', new Float32Array(1));
  }

  get steps(): number {
    return this.stepCount;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.disposed) throw new Error('webgpu policy trainer: used after dispose()');
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private uploadBatch(b: LmBatch): number {
    const { bagOffsets, bagIds } = packPolicyBags(b, this.cfg.context);
    this.exec.upload('bagOffsets', bagOffsets);
    this.exec.upload('bagIds', bagIds);
    return bagIds.length;
  }

  logits(batch: LmBatch): Promise<Float32Array> {
    checkLmBatch(this.cfg, batch);
    const b = copyBatch(batch);
    return this.serial(async () => {
      if (b.n === 0) return new Float32Array(0);
      const nnz = this.uploadBatch(b);
      const out = await this.exec.execute(policyForwardSteps(this.L, b.n, nnz), { buffer: 'L', elements: b.n * this.L.Vo });
      return new Float32Array(out!);
    });
  }

  step(batch: LmBatch): Promise<PolicyStepResult> {
    checkLmBatch(this.cfg, batch);
    const b = copyBatch(batch);
    return this.serial(async () => {
      if (b.n === 0) return { loss: 0 };
      const { bagOffsets, bagIds } = packPolicyBags(b, this.cfg.context);
      this.exec.upload('bagOffsets', bagOffsets);
      this.exec.upload('bagIds', bagIds);
      let U = 0;
      if (this.trainE) {
        const rc = buildRowContributions(bagOffsets, bagIds, this.cfg.vocabIn, this.slotScratch);
        U = rc.rows.length;
        this.exec.upload('rowOffsets', rc.rowOffsets);
        this.exec.upload('contribBag', rc.contribBag);
        this.exec.upload('rowIds', rc.rows);
        this.exec.upload('rowCoef', sparseRowCoefficients(this.hyper, rc.rows, this.rowStep));
      }
      this.exec.upload('y', b.target);
      this.exec.upload('w', b.weight);
      const t = ++this.stepCount;
      const steps = policyTrainSteps(this.L, { n: b.n, nnz: bagIds.length, U, trainE: this.trainE, t, hyper: this.hyper });
      const out = await this.exec.execute(steps, { buffer: 'loss', elements: 1 });
      return { loss: new Float32Array(out!)[0] };
    });
  }

  params(): Promise<MlpLmParams> {
    return this.serial(async () => {
      const L = this.L;
      const E = new Float32Array((await this.exec.execute([], { buffer: 'E', elements: L.Vin * L.D }))!);
      const P = new Float32Array((await this.exec.execute([], { buffer: 'P', elements: L.denseTotal }))!);
      const cut = (r: Range) => P.slice(r.offset, r.offset + r.length);
      return { config: { ...this.cfg }, E, W1: cut(L.W1), b1: cut(L.b1), W2: cut(L.W2), b2: cut(L.b2) };
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.exec.dispose();
  }
}

function copyBatch(b: LmBatch): LmBatch {
  return { n: b.n, ctx: b.ctx.slice(), promptOffsets: b.promptOffsets.slice(), promptIds: b.promptIds.slice(), target: b.target.slice(), weight: b.weight.slice() };
}

/** A factory of webgpu policy trainers on one device (pipelines shared across trainers). */
export function webGpuPolicyTrainerFactory(ctx: GpuContext): PolicyTrainerFactory {
  const cache = new PipelineCache(ctx.device);
  return async (init, opt) => new WebGpuPolicyTrainer(new GpuPlanExecutor(ctx.device, cache), init, opt);
}

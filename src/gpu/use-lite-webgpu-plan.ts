// The USE-lite reward model as plans of WGSL kernel invocations over named buffers (kernels/plan.ts): the
// encoder forward (scoring, sentence embeddings) and one training step (forward, weighted BT loss, backward
// into the trained tensors, AdamW). The same computation as src/pipeline/rm/use-lite/grad.ts (the CPU
// trainer's modelForward/modelBackward; the order of ops and the LoRA formulation are the same), but over a
// padded batch: sequence s occupies rows s*T .. s*T + lens[s] of every [seqs * T, width] activation, T being
// the batch's longest sequence (padding per batch, not to the maximum). Padded rows hold zeros or harmless
// values and never reach a valid row (attention masks them as keys, pooling skips them); their gradients are 0.
//
// Buffers: frozen tensors live in one buffer each (`W:<spec name>`); the trained ones (adapters, head, and in
// tune 'top' layer 1 and the tanh layer) are packed into P with their AdamW moments M, V and gradients G at the
// same offsets (aligned to the device's storage offset alignment), so one adamwDense dispatch updates all.
// Trained names follow the CPU trainer's gradient names: spec names, and `${target}.A` / `${target}.B` for LoRA.
import { adamwDense, type AdamHyperparams } from './kernels/adamwDense.ts';
import { add } from './kernels/add.ts';
import { attentionBackward } from './kernels/attentionBackward.ts';
import { attentionForward } from './kernels/attentionForward.ts';
import { biasGrad } from './kernels/biasGrad.ts';
import { btLossBackward } from './kernels/btLossBackward.ts';
import { btLossForward } from './kernels/btLossForward.ts';
import { l2NormBackward } from './kernels/l2NormBackward.ts';
import { l2NormForward } from './kernels/l2NormForward.ts';
import { layerNormBackward } from './kernels/layerNormBackward.ts';
import { layerNormForward } from './kernels/layerNormForward.ts';
import { matmul } from './kernels/matmul.ts';
import { meanPoolBackward } from './kernels/meanPoolBackward.ts';
import { meanPoolForward } from './kernels/meanPoolForward.ts';
import type { PlanStep, TensorRef } from './kernels/plan.ts';
import { reluBackward } from './kernels/reluBackward.ts';
import { reluForward } from './kernels/reluForward.ts';
import { tanhBackward } from './kernels/tanhBackward.ts';
import { tanhForward } from './kernels/tanhForward.ts';
import { useEmbedding } from './kernels/useEmbedding.ts';
import { attentionShape, loraTargets, tensorSize, tensorSpecs, type UseLiteConfig } from '../pipeline/rm/use-lite/spec.ts';

/** Where the model's tensors live and which are trained. */
export interface UseLitePlanLayout {
  config: UseLiteConfig;
  /** LoRA rank and scale alpha / r (rank 0: no adapters). */
  rank: number;
  loraScale: number;
  /** Base tensors with their gradient computed (spec names). */
  trainedTensors: ReadonlySet<string>;
  /** Every tensor by name (spec names and `${target}.A/.B`): its buffer or its range of P. */
  refs: Record<string, string | TensorRef>;
  /** Trained names in packing order, with their ranges (elements) in P/M/V/G. */
  packed: { name: string; offset: number; length: number }[];
  /** Elements of P (and M, V, G), padding included. */
  packedTotal: number;
  /** The attention score scales of layers 0 and 1 (the frozen L0.qScale / L1.qScale tensors, read on the host). */
  qScale: [number, number];
}

/**
 * Lays out the tensors: `trained` (gradient names, as the CPU trainer's `trained`) packed into P at
 * `alignElements` boundaries; every other spec tensor in its own buffer `W:<name>`. `lora` lists the adapter
 * targets (empty for tune top/head).
 */
export function useLitePlanLayout(
  config: UseLiteConfig,
  trained: readonly string[],
  lora: { rank: number; alpha: number } | null,
  qScale: [number, number],
  alignElements = 64,
): UseLitePlanLayout {
  const refs: Record<string, string | TensorRef> = {};
  const sizes = new Map<string, number>();
  for (const t of tensorSpecs(config)) sizes.set(t.name, tensorSize(t));
  if (lora) {
    for (const t of loraTargets(config)) {
      sizes.set(`${t.name}.A`, t.inDim * lora.rank);
      sizes.set(`${t.name}.B`, lora.rank * t.outDim);
    }
  }
  const packed: UseLitePlanLayout['packed'] = [];
  let off = 0;
  const up = (x: number) => Math.ceil(x / alignElements) * alignElements;
  for (const name of trained) {
    const n = sizes.get(name);
    if (n === undefined) throw new Error(`use-lite plan: unknown trained tensor '${name}'`);
    packed.push({ name, offset: off, length: n });
    refs[name] = { buffer: 'P', offset: off, length: n };
    off = up(off + n);
  }
  for (const t of tensorSpecs(config)) if (!(t.name in refs)) refs[t.name] = `W:${t.name}`;
  if (lora) {
    for (const t of loraTargets(config)) {
      for (const ab of ['A', 'B']) {
        const k = `${t.name}.${ab}`;
        if (!(k in refs)) throw new Error(`use-lite plan: adapter ${k} must be trained (packed)`);
      }
    }
  }
  const trainedTensors = new Set(trained.filter((n) => tensorSpecs(config).some((t) => t.name === n)));
  return { config, rank: lora?.rank ?? 0, loraScale: lora ? lora.alpha / lora.rank : 0, trainedTensors, refs, packed, packedTotal: Math.max(off, 1), qScale };
}

/** A padded batch: `seqs` sequences of at most T tokens (ids [seqs * T], lens [seqs] uploaded by the caller). */
export interface PlanBatch {
  seqs: number;
  T: number;
}

const LAYERS = ['L0', 'L1'] as const;

/** Builds the steps; `g(name)` is the gradient range of a trained tensor. */
class Builder {
  readonly steps: PlanStep[] = [];
  constructor(
    readonly L: UseLitePlanLayout,
    readonly b: PlanBatch,
    /** Gradients add into G (a step's later micro-batches) instead of overwriting it. */
    readonly gradAcc = false,
  ) {}

  get N(): number {
    return this.b.seqs * this.b.T;
  }

  w(name: string): string | TensorRef {
    const r = this.L.refs[name];
    if (r === undefined) throw new Error(`use-lite plan: no tensor '${name}'`);
    return r;
  }

  trained(name: string): boolean {
    return this.L.packed.some((p) => p.name === name);
  }

  g(name: string): TensorRef {
    const p = this.L.packed.find((q) => q.name === name);
    if (!p) throw new Error(`use-lite plan: '${name}' is not trained`);
    return { buffer: 'G', offset: p.offset, length: p.length };
  }

  hasLora(target: string): boolean {
    return this.L.rank > 0 && `${target}.A` in this.L.refs;
  }

  mm(dims: Record<string, unknown>, bind: Record<string, string | TensorRef>): void {
    this.steps.push({ kernel: matmul, dims, bind });
  }

  /** y = x W + b (+ scale (x A) B); us = scale x A kept for backward. `accumulate`: y += instead. */
  linear(M: number, inDim: number, outDim: number, x: string, target: string, bias: string, y: string, accumulate = false): void {
    this.mm({ M, N: outDim, K: inDim, bias: true, accumulate }, { A: x, B: this.w(target), bias: this.w(bias), C: y });
    if (this.hasLora(target)) {
      const r = this.L.rank;
      const us = `${target}.us`;
      this.mm({ M, N: r, K: inDim, alpha: this.L.loraScale }, { A: x, B: this.w(`${target}.A`), C: us });
      this.mm({ M, N: outDim, K: r, accumulate: true }, { A: us, B: this.w(`${target}.B`), C: y });
    }
  }

  /**
   * Backward of `linear`: gradients of the trained among W, b, A, B (written), and dx = dy W^T
   * (+ gs A^T, gs = scale dy B^T) into `dx` when given.
   */
  linearBack(M: number, inDim: number, outDim: number, x: string, target: string, bias: string, dy: string, dx: string | null): void {
    const acc = this.gradAcc;
    if (this.trained(bias)) this.steps.push({ kernel: biasGrad, dims: { M, N: outDim, accumulate: acc }, bind: { dY: dy, db: this.g(bias) } });
    if (this.trained(target)) this.mm({ M: inDim, N: outDim, K: M, transA: true, accumulate: acc }, { A: x, B: dy, C: this.g(target) });
    const lora = this.hasLora(target);
    const r = this.L.rank;
    if (lora) {
      this.mm({ M: r, N: outDim, K: M, transA: true, accumulate: acc }, { A: `${target}.us`, B: dy, C: this.g(`${target}.B`) });
      this.mm({ M, N: r, K: outDim, transB: true, alpha: this.L.loraScale }, { A: dy, B: this.w(`${target}.B`), C: 'd.gs' });
      this.mm({ M: inDim, N: r, K: M, transA: true, accumulate: acc }, { A: x, B: 'd.gs', C: this.g(`${target}.A`) });
    }
    if (dx) {
      this.mm({ M, N: inDim, K: outDim, transB: true }, { A: dy, B: this.w(target), C: dx });
      if (lora) this.mm({ M, N: inDim, K: r, transB: true, accumulate: true }, { A: 'd.gs', B: this.w(`${target}.A`), C: dx });
    }
  }

  ln(rows: number, W: number, x: string, prefix: string, y: string): void {
    this.steps.push({
      kernel: layerNormForward,
      dims: { rows, W, eps: this.L.config.lnEps },
      bind: { X: x, gamma: this.w(`${prefix}.g`), beta: this.w(`${prefix}.b`), Y: y, mean: `${prefix}.mean`, rstd: `${prefix}.rstd` },
    });
  }

  /** LN backward: dx written, or added into `dx` (accumulate); dgamma/dbeta when trained. */
  lnBack(rows: number, W: number, x: string, prefix: string, dy: string, dx: string, accumulate: boolean): void {
    const paramGrad = this.trained(`${prefix}.g`);
    this.steps.push({
      kernel: layerNormBackward,
      dims: { rows, W, accumulate, paramGrad, paramAccumulate: paramGrad && this.gradAcc },
      bind: {
        X: x,
        gamma: this.w(`${prefix}.g`),
        mean: `${prefix}.mean`,
        rstd: `${prefix}.rstd`,
        dY: dy,
        dX: dx,
        // Unused (0-element) bindings still need buffers of their own: two writable bindings may not alias.
        dgamma: paramGrad ? this.g(`${prefix}.g`) : 'd.none.g',
        dbeta: paramGrad ? this.g(`${prefix}.b`) : 'd.none.b',
      },
    });
  }

  attnDims(layer: 0 | 1) {
    const c = this.L.config;
    const { headDim } = attentionShape(c, layer);
    return { seqs: this.b.seqs, T: this.b.T, heads: c.heads, headDim, scale: this.L.qScale[layer] };
  }
}

/** The forward's steps from ids/lens to `scores` (and `emb`, the l2-normalised sentence embedding). */
function forward(B: Builder): void {
  const c = B.L.config;
  const N = B.N;
  const { seqs, T } = B.b;
  B.steps.push({
    kernel: useEmbedding,
    dims: { seqs, T, vocab: c.vocabSize, W: c.embedDim, maxPositions: c.maxPositions },
    bind: { E: B.w('E'), PE: 'PE', ids: 'ids', lens: 'lens', X: 'x0' },
  });
  let xin = 'x0';
  for (const layer of [0, 1] as const) {
    const P = LAYERS[layer];
    const { width: w } = attentionShape(c, layer);
    const d = c.modelDim;
    const f = c.ffnDim;
    B.ln(N, w, xin, `${P}.ln1`, `${P}.ln1.y`);
    B.linear(N, w, 3 * w, `${P}.ln1.y`, `${P}.qkv.W`, `${P}.qkv.b`, `${P}.qkv`);
    B.steps.push({ kernel: attentionForward, dims: B.attnDims(layer), bind: { qkv: `${P}.qkv`, lens: 'lens', A: `${P}.att`, P: `${P}.probs` } });
    if (layer === 0) {
      // x1 = (x0 res.W + res.b) + (att out.W + out.b): the residual projection, then the output accumulated.
      B.mm({ M: N, N: d, K: w, bias: true }, { A: xin, B: B.w('L0.res.W'), bias: B.w('L0.res.b'), C: `${P}.x1` });
      B.linear(N, w, d, `${P}.att`, `${P}.out.W`, `${P}.out.b`, `${P}.x1`, true);
    } else {
      B.linear(N, w, d, `${P}.att`, `${P}.out.W`, `${P}.out.b`, `${P}.o`);
      B.steps.push({ kernel: add, dims: { n: N * d }, bind: { A: xin, B: `${P}.o`, Y: `${P}.x1` } });
    }
    B.ln(N, d, `${P}.x1`, `${P}.ln2`, `${P}.ln2.y`);
    B.linear(N, d, f, `${P}.ln2.y`, `${P}.ff1.W`, `${P}.ff1.b`, `${P}.ff1.z`);
    B.steps.push({ kernel: reluForward, dims: { n: N * f }, bind: { X: `${P}.ff1.z`, Y: `${P}.ff1.y` } });
    B.linear(N, f, d, `${P}.ff1.y`, `${P}.ff2.W`, `${P}.ff2.b`, `${P}.ff2.y`);
    const xout = layer === 0 ? 'x2' : 'x4';
    B.steps.push({ kernel: add, dims: { n: N * d }, bind: { A: `${P}.x1`, B: `${P}.ff2.y`, Y: xout } });
    xin = xout;
  }
  const d = c.modelDim;
  B.steps.push({ kernel: meanPoolForward, dims: { seqs, T, W: d }, bind: { X: 'x4', lens: 'lens', out: 'pooled' } });
  B.mm({ M: seqs, N: d, K: d, bias: true }, { A: 'pooled', B: B.w('tanh.W'), bias: B.w('tanh.b'), C: 'tanh.z' });
  B.steps.push({ kernel: tanhForward, dims: { n: seqs * d }, bind: { X: 'tanh.z', Y: 'tanh.y' } });
  B.steps.push({ kernel: l2NormForward, dims: { rows: seqs, W: d }, bind: { X: 'tanh.y', Y: 'emb' } });
  B.mm({ M: seqs, N: 1, K: d, bias: true }, { A: 'emb', B: B.w('head.w'), bias: B.w('head.b'), C: 'scores' });
}

/** Backward from dS (the loss gradient per sequence) into G, stopping below the lowest trained op. */
function backward(B: Builder): void {
  const c = B.L.config;
  const { seqs, T } = B.b;
  const N = B.N;
  const d = c.modelDim;
  const lora = B.L.rank > 0;
  if (B.trained('head.w')) B.mm({ M: d, N: 1, K: seqs, transA: true, accumulate: B.gradAcc }, { A: 'emb', B: 'dS', C: B.g('head.w') });
  if (B.trained('head.b')) B.steps.push({ kernel: biasGrad, dims: { M: seqs, N: 1, accumulate: B.gradAcc }, bind: { dY: 'dS', db: B.g('head.b') } });
  const belowHead = lora || [...B.L.trainedTensors].some((n) => n !== 'head.w' && n !== 'head.b');
  if (!belowHead) return;
  B.mm({ M: seqs, N: d, K: 1, transB: true }, { A: 'dS', B: B.w('head.w'), C: 'd.emb' });
  B.steps.push({ kernel: l2NormBackward, dims: { rows: seqs, W: d }, bind: { X: 'tanh.y', dY: 'd.emb', dX: 'd.tanh' } });
  B.steps.push({ kernel: tanhBackward, dims: { n: seqs * d }, bind: { Y: 'tanh.y', dY: 'd.tanh', dX: 'd.tanhz' } });
  const needLayers = lora || [...B.L.trainedTensors].some((n) => n.startsWith('L'));
  B.linearBack(seqs, d, d, 'pooled', 'tanh.W', 'tanh.b', 'd.tanhz', needLayers ? 'd.pooled' : null);
  if (!needLayers) return;
  B.steps.push({ kernel: meanPoolBackward, dims: { seqs, T, W: d }, bind: { dOut: 'd.pooled', lens: 'lens', dX: 'd.res' } });
  const needL0 = lora || [...B.L.trainedTensors].some((n) => n.startsWith('L0.'));
  for (const layer of needL0 ? ([1, 0] as const) : ([1] as const)) {
    const P = LAYERS[layer];
    const { width: w } = attentionShape(c, layer);
    const f = c.ffnDim;
    // FFN block: d.res = dxout on entry, dx1 after the LN backward adds into it.
    B.linearBack(N, f, d, `${P}.ff1.y`, `${P}.ff2.W`, `${P}.ff2.b`, 'd.res', 'd.h');
    B.steps.push({ kernel: reluBackward, dims: { n: N * f }, bind: { Z: `${P}.ff1.z`, dY: 'd.h', dZ: 'd.hz' } });
    B.linearBack(N, d, f, `${P}.ln2.y`, `${P}.ff1.W`, `${P}.ff1.b`, 'd.hz', 'd.ln');
    B.lnBack(N, d, `${P}.x1`, `${P}.ln2`, 'd.ln', 'd.res', true);
    // Attention block.
    B.linearBack(N, w, d, `${P}.att`, `${P}.out.W`, `${P}.out.b`, 'd.res', 'd.att');
    B.steps.push({
      kernel: attentionBackward,
      dims: B.attnDims(layer),
      bind: { qkv: `${P}.qkv`, lens: 'lens', P: `${P}.probs`, A: `${P}.att`, dA: 'd.att', dqkv: 'd.qkv', dS: 'd.scores' },
    });
    const ln1Trained = B.trained(`${P}.ln1.g`);
    const needDx = layer === 1 && needL0;
    const needDln1 = needDx || ln1Trained;
    B.linearBack(N, w, 3 * w, `${P}.ln1.y`, `${P}.qkv.W`, `${P}.qkv.b`, 'd.qkv', needDln1 ? 'd.ln1' : null);
    if (!needDln1) continue;
    const xin = layer === 0 ? 'x0' : 'x2';
    // Layer 1's input gradient = dx1 (residual, already in d.res) + LN1's backward; layer 0's goes nowhere.
    if (needDx) B.lnBack(N, w, xin, `${P}.ln1`, 'd.ln1', 'd.res', true);
    else B.lnBack(N, w, xin, `${P}.ln1`, 'd.ln1', 'd.sink', false);
  }
}

/** Encoder forward over a padded batch: writes `emb` [seqs, modelDim] and `scores` [seqs]. */
export function useLiteForwardSteps(L: UseLitePlanLayout, b: PlanBatch): PlanStep[] {
  const B = new Builder(L, b);
  forward(B);
  return B.steps;
}

export interface UseLiteTrainShape {
  /** Pairs: sequences 2i (chosen) and 2i+1 (rejected); `w` [B] uploaded by the caller. */
  B: number;
  T: number;
  slot: number;
  slots: number;
  /** 1-based global AdamW step. */
  t: number;
  hyper: AdamHyperparams;
  /** The loss ring's buffer (default 'loss'). */
  lossBuffer?: string;
  /**
   * Micro-batches: gradients add into G (every micro-batch of a step but the first), and the AdamW update is
   * left out (every micro-batch but the last). Weights `w` are then pre-scaled by the host (w * B_mb / B_step),
   * so the loss and gradients are sums of the step's mean.
   */
  accumulate?: boolean;
  update?: boolean;
}

/** One training step: forward, loss into loss[slot], backward into G, AdamW on P/M/V. */
export function useLiteTrainSteps(L: UseLitePlanLayout, s: UseLiteTrainShape): PlanStep[] {
  const B = new Builder(L, { seqs: 2 * s.B, T: s.T }, !!s.accumulate);
  forward(B);
  B.steps.push(
    { kernel: btLossForward, dims: { B: s.B, slots: s.slots, slot: s.slot }, bind: { S: 'scores', w: 'w', loss: s.lossBuffer ?? 'loss' } },
    { kernel: btLossBackward, dims: { B: s.B }, bind: { S: 'scores', w: 'w', dS: 'dS' } },
  );
  backward(B);
  if (s.update !== false) B.steps.push({ kernel: adamwDense, dims: { n: L.packedTotal, t: s.t, ...s.hyper }, bind: { P: 'P', M: 'M', V: 'V', G: 'G' } });
  return B.steps;
}

/** Forward + loss + backward only (gradients in G, no update): for gradient checks. */
export function useLiteGradientSteps(L: UseLitePlanLayout, s: Omit<UseLiteTrainShape, 't' | 'hyper' | 'update'>): PlanStep[] {
  return useLiteTrainSteps(L, { ...s, t: 1, hyper: { lr: 0, beta1: 0, beta2: 0, eps: 1, weightDecay: 0 }, update: false });
}

/**
 * Floating-point operations of a plan, counted like bench/use-lite-train.ts counts the CPU trainer's (2mnk per
 * matrix product, elementwise work not counted): matmul 2MNK; attention as its four (forward: scores, P V) or
 * eight (backward: dV, dP, dq, dk) products of 2 T^2 headDim per sequence and head. Padded rows count (they run).
 */
export function planFlops(steps: readonly PlanStep[]): number {
  let f = 0;
  for (const s of steps) {
    const d = s.dims as Record<string, number>;
    if (s.kernel === matmul) f += 2 * d.M * d.N * d.K;
    else if (s.kernel === attentionForward) f += 4 * d.seqs * d.heads * d.T * d.T * d.headDim;
    else if (s.kernel === attentionBackward) f += 8 * d.seqs * d.heads * d.T * d.T * d.headDim;
  }
  return f;
}

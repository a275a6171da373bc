// The bundled policy: a fixed-context MLP language model over a restricted word vocabulary.
//
// Architecture (one source of truth; the CPU trainer, the WebGPU plan and the ONNX export follow it):
//   c_1..c_k = input ids of the k previous response tokens, oldest first ([SEP] = beginning of response pads the start)
//   p  = mean_{t in prompt tokens} E[t]                  (D)   zero vector for an empty prompt
//   x  = concat(E[c_1], ..., E[c_k], p)                  ((k+1)D)
//   z  = x @ W1 + b1;  h = relu(z)                       (H)   W1 row-major [(k+1)D, H]
//   logits = h @ W2 + b2                                 (Vout) W2 row-major [H, Vout]
// Seen as embedding bags, example j has k+1 bags: bag j(k+1)+c = {c_c} (a one-token bag) and bag j(k+1)+k = the
// prompt, so x is exactly the existing embedding-bag kernel's output viewed as [n, (k+1)D].
import { linearForward, meanPool } from '../../gpu/cpu/ops.ts';
import { Rng } from '../rng.ts';
import { BOS_IN, EOS_OUT, type PolicyVocab } from './vocab.ts';

export interface MlpLmConfig {
  vocabIn: number;
  vocabOut: number;
  dim: number;
  /** k: previous tokens the model sees. */
  context: number;
  hidden: number;
  /** Prompt tokens kept (from the left). */
  maxPromptTokens: number;
}

export interface MlpLmParams {
  config: MlpLmConfig;
  /** [vocabIn, dim] */
  E: Float32Array;
  /** [(context+1)*dim, hidden] */
  W1: Float32Array;
  b1: Float32Array;
  /** [hidden, vocabOut] */
  W2: Float32Array;
  b2: Float32Array;
}

export const LM_TENSORS = ['E', 'W1', 'b1', 'W2', 'b2'] as const;
export type LmTensor = (typeof LM_TENSORS)[number];

export function lmShapes(c: MlpLmConfig): Record<LmTensor, number[]> {
  return {
    E: [c.vocabIn, c.dim],
    W1: [(c.context + 1) * c.dim, c.hidden],
    b1: [c.hidden],
    W2: [c.hidden, c.vocabOut],
    b2: [c.vocabOut],
  };
}

export function lmSizes(c: MlpLmConfig): Record<LmTensor, number> {
  const s = lmShapes(c);
  const out = {} as Record<LmTensor, number>;
  for (const k of LM_TENSORS) out[k] = s[k].reduce((a, b) => a * b, 1);
  return out;
}

export function validateLmConfig(c: MlpLmConfig, where = 'policy config'): void {
  for (const k of ['vocabIn', 'vocabOut', 'dim', 'context', 'hidden', 'maxPromptTokens'] as const) {
    const v = c?.[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (k === 'maxPromptTokens' ? 0 : 1)) {
      throw new Error(`${where}: ${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (c.vocabIn <= BOS_IN) throw new Error(`${where}: vocabIn must include the special tokens`);
  if (c.vocabOut < 2) throw new Error(`${where}: vocabOut must include [EOS] and [UNK]`);
}

export function validateLmParams(p: MlpLmParams, where = 'policy params'): void {
  validateLmConfig(p.config, where);
  const sizes = lmSizes(p.config);
  for (const k of LM_TENSORS) {
    const t = p[k];
    if (!(t instanceof Float32Array)) throw new Error(`${where}: ${k} is not a Float32Array`);
    if (t.length !== sizes[k]) throw new Error(`${where}: ${k} has ${t.length} values, expected [${lmShapes(p.config)[k].join(', ')}]`);
  }
}

export function cloneLm(p: MlpLmParams): MlpLmParams {
  return { config: { ...p.config }, E: p.E.slice(), W1: p.W1.slice(), b1: p.b1.slice(), W2: p.W2.slice(), b2: p.b2.slice() };
}

export const DEFAULT_LM_SHAPE = { context: 3, hidden: 128, maxPromptTokens: 64 } as const;

/**
 * A fresh model. `embeddings(word)` gives a pretrained row (e.g. the bundled RM's GloVe row) or null; rows
 * without one (and [SEP] = beginning of response) start at N(0, 0.1^2). W1 is He-initialised, W2 small, so
 * the first distribution is near uniform; b2 starts at log unigram frequencies when `unigram` is given.
 */
export function initMlpLm(
  vocab: PolicyVocab,
  shape: { dim: number; context?: number; hidden?: number; maxPromptTokens?: number },
  seed: number,
  embeddings?: (word: string) => ArrayLike<number> | null,
  unigram?: ArrayLike<number>,
): MlpLmParams {
  const config: MlpLmConfig = {
    vocabIn: vocab.inWords.length,
    vocabOut: vocab.outWords.length,
    dim: shape.dim,
    context: shape.context ?? DEFAULT_LM_SHAPE.context,
    hidden: shape.hidden ?? DEFAULT_LM_SHAPE.hidden,
    maxPromptTokens: shape.maxPromptTokens ?? DEFAULT_LM_SHAPE.maxPromptTokens,
  };
  validateLmConfig(config);
  const rng = new Rng(seed);
  const { dim: D, hidden: H, vocabOut: Vo } = config;
  const E = new Float32Array(config.vocabIn * D);
  vocab.inWords.forEach((w, i) => {
    const row = i === 0 ? null : (embeddings?.(w) ?? null);
    for (let d = 0; d < D; d++) E[i * D + d] = i === 0 ? 0 : row ? row[d] : rng.normal() * 0.1;
  });
  const K = (config.context + 1) * D;
  const W1 = new Float32Array(K * H);
  const s1 = Math.sqrt(2 / K);
  for (let i = 0; i < W1.length; i++) W1[i] = rng.normal() * s1;
  const W2 = new Float32Array(H * Vo);
  const s2 = 0.1 / Math.sqrt(H);
  for (let i = 0; i < W2.length; i++) W2[i] = rng.normal() * s2;
  const b2 = new Float32Array(Vo);
  if (unigram) {
    let total = 0;
    for (let o = 0; o < Vo; o++) total += unigram[o] ?? 0;
    for (let o = 0; o < Vo; o++) b2[o] = Math.log(((unigram[o] ?? 0) + 0.5) / (total + 0.5 * Vo));
  }
  return { config, E, W1, b1: new Float32Array(H), W2, b2 };
}

/**
 * Token-level examples in CSR layout: example i predicts target[i] from ctx[i*k .. i*k+k) and the prompt tokens
 * promptIds[promptOffsets[i] .. promptOffsets[i+1]) (input ids). weight[i] scales its loss term (the loss is a
 * plain weighted sum: pass 1/n for a mean; PPO passes per-token coefficients, which may be negative).
 */
export interface LmBatch {
  n: number;
  ctx: Int32Array;
  promptOffsets: Int32Array;
  promptIds: Int32Array;
  target: Int32Array;
  weight: Float32Array;
}

export function checkLmBatch(c: MlpLmConfig, b: LmBatch): void {
  const k = c.context;
  if (b.ctx.length !== b.n * k) throw new Error(`policy batch: ctx has ${b.ctx.length} ids, expected ${b.n} x ${k}`);
  if (b.promptOffsets.length !== b.n + 1) throw new Error('policy batch: promptOffsets must have n+1 entries');
  if (b.target.length !== b.n || b.weight.length !== b.n) throw new Error('policy batch: target/weight must have n entries');
  for (let i = 0; i < b.ctx.length; i++) {
    if (!(b.ctx[i] >= 0 && b.ctx[i] < c.vocabIn)) throw new RangeError(`policy batch: context id ${b.ctx[i]} is outside 0..${c.vocabIn - 1}`);
  }
  for (let i = 0; i < b.promptIds.length; i++) {
    if (!(b.promptIds[i] >= 0 && b.promptIds[i] < c.vocabIn)) throw new RangeError(`policy batch: prompt id ${b.promptIds[i]} is outside 0..${c.vocabIn - 1}`);
  }
  for (let i = 0; i < b.n; i++) {
    if (!(b.target[i] >= 0 && b.target[i] < c.vocabOut)) throw new RangeError(`policy batch: target ${b.target[i]} is outside 0..${c.vocabOut - 1}`);
  }
}

/** X[s] = concat(E[ctx rows], mean prompt) for examples start..start+S of the batch; X is [S, (k+1)D]. */
export function gatherInputs(p: MlpLmParams, b: LmBatch, start: number, S: number, X: Float64Array): void {
  const { dim: D, context: k, vocabIn: V } = p.config;
  const K = (k + 1) * D;
  for (let s = 0; s < S; s++) {
    const i = start + s;
    const xo = s * K;
    for (let c = 0; c < k; c++) {
      const row = b.ctx[i * k + c] * D;
      const o = xo + c * D;
      for (let d = 0; d < D; d++) X[o + d] = p.E[row + d];
    }
    meanPool(p.E, D, V, b.promptIds, b.promptOffsets[i], b.promptOffsets[i + 1], X, xo + k * D);
  }
}

/** Scratch of the CPU forward pass for up to `cap` examples. */
export class LmScratch {
  X: Float64Array;
  Z: Float64Array;
  Hh: Float64Array;
  L: Float64Array;
  constructor(
    readonly config: MlpLmConfig,
    public cap = 64,
  ) {
    const K = (config.context + 1) * config.dim;
    this.X = new Float64Array(cap * K);
    this.Z = new Float64Array(cap * config.hidden);
    this.Hh = new Float64Array(cap * config.hidden);
    this.L = new Float64Array(cap * config.vocabOut);
  }
  ensure(n: number): void {
    if (n <= this.cap) return;
    const s = new LmScratch(this.config, Math.max(n, this.cap * 2));
    Object.assign(this, { cap: s.cap, X: s.X, Z: s.Z, Hh: s.Hh, L: s.L });
  }
}

/** Forward of examples start..start+S into scratch (X, Z, Hh = relu(Z), L = logits). */
export function lmForward(p: MlpLmParams, b: LmBatch, start: number, S: number, s: LmScratch): void {
  s.ensure(S);
  const { dim: D, context: k, hidden: H, vocabOut: Vo } = p.config;
  gatherInputs(p, b, start, S, s.X);
  linearForward(s.X, S, (k + 1) * D, p.W1, p.b1, H, s.Z);
  for (let i = 0; i < S * H; i++) s.Hh[i] = s.Z[i] > 0 ? s.Z[i] : 0;
  linearForward(s.Hh, S, H, p.W2, p.b2, Vo, s.L);
}

/** Logits [n, vocabOut] of every example of a batch (f32, like the GPU's). */
export function lmLogits(p: MlpLmParams, b: LmBatch, scratch?: LmScratch): Float32Array {
  const Vo = p.config.vocabOut;
  const out = new Float32Array(b.n * Vo);
  const s = scratch ?? new LmScratch(p.config, Math.min(Math.max(b.n, 1), 256));
  for (let start = 0; start < b.n; start += s.cap) {
    const S = Math.min(s.cap, b.n - start);
    lmForward(p, b, start, S, s);
    for (let i = 0; i < S * Vo; i++) out[start * Vo + i] = s.L[i];
  }
  return out;
}

/**
 * Training examples of one response: output ids `resp` (ending with [EOS] when `withEos`) after prompt input ids
 * `prompt`; contexts are the previous k tokens mapped to input ids, [SEP] before the start.
 */
export function appendResponseExamples(
  vocab: PolicyVocab,
  k: number,
  prompt: ArrayLike<number>,
  resp: ArrayLike<number>,
  out: { ctx: number[]; promptOffsets: number[]; promptIds: number[]; target: number[] },
): void {
  for (let t = 0; t < resp.length; t++) {
    for (let c = 0; c < k; c++) {
      const j = t - k + c;
      out.ctx.push(j < 0 ? BOS_IN : vocab.outIn[resp[j]]);
    }
    for (let q = 0; q < prompt.length; q++) out.promptIds.push(prompt[q]);
    out.promptOffsets.push(out.promptIds.length);
    out.target.push(resp[t]);
  }
}

export function toLmBatch(e: { ctx: number[]; promptOffsets: number[]; promptIds: number[]; target: number[] }, weight?: number[] | Float32Array): LmBatch {
  const n = e.target.length;
  return {
    n,
    ctx: Int32Array.from(e.ctx),
    promptOffsets: Int32Array.from(e.promptOffsets),
    promptIds: Int32Array.from(e.promptIds),
    target: Int32Array.from(e.target),
    weight: weight ? Float32Array.from(weight) : new Float32Array(n).fill(n ? 1 / n : 0),
  };
}

export function emptyExamples(): { ctx: number[]; promptOffsets: number[]; promptIds: number[]; target: number[] } {
  return { ctx: [], promptOffsets: [0], promptIds: [], target: [] };
}

export { EOS_OUT };

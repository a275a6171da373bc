// Bag RM parameters: seeded initialization, shape validation, copies, and the CPU forward pass (scoring).
import { headForward, linearForward, linearForwardT, poolItems, transposeToF64 } from '../../gpu/cpu/ops.ts';
import { bagWasm } from '../../gpu/cpu/bag-wasm.ts';
import { Rng } from '../rng.ts';
import type { BagRMConfig, BagRMParams, EncodedItems } from './types.ts';

export const TENSOR_NAMES = ['E', 'W1', 'b1', 'W2', 'b2'] as const;
export type TensorName = (typeof TENSOR_NAMES)[number];

export function tensorShapes(cfg: BagRMConfig): Record<TensorName, number[]> {
  return {
    E: [cfg.vocabSize, cfg.dim],
    W1: [2 * cfg.dim, cfg.hidden],
    b1: [cfg.hidden],
    W2: [cfg.hidden],
    b2: [1],
  };
}

export function tensorSizes(cfg: BagRMConfig): Record<TensorName, number> {
  const s = tensorShapes(cfg);
  const out = {} as Record<TensorName, number>;
  for (const k of TENSOR_NAMES) out[k] = s[k].reduce((a, b) => a * b, 1);
  return out;
}

export function validateConfig(cfg: BagRMConfig, where = 'config'): void {
  for (const k of ['vocabSize', 'dim', 'hidden', 'maxPromptTokens', 'maxResponseTokens'] as const) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (k !== 'maxPromptTokens' && k !== 'maxResponseTokens' && v < 1)) {
      throw new Error(`${where}: ${k} must be a positive integer, got ${String(v)}`);
    }
  }
}

/** Throws an error naming the tensor when a parameter's length does not match the config. */
export function validateParams(p: BagRMParams, where = 'params'): void {
  validateConfig(p.config, where);
  const sizes = tensorSizes(p.config);
  const shapes = tensorShapes(p.config);
  for (const k of TENSOR_NAMES) {
    const t = p[k];
    if (!(t instanceof Float32Array)) throw new Error(`${where}: ${k} is not a Float32Array`);
    if (t.length !== sizes[k]) {
      throw new Error(`${where}: ${k} has ${t.length} values, expected [${shapes[k].join(', ')}] = ${sizes[k]}`);
    }
  }
}

/** A copy of `p`; `intoE`, when given (same length as p.E), receives the table instead of a new array. */
export function cloneParams(p: BagRMParams, intoE?: Float32Array): BagRMParams {
  if (intoE && intoE.length !== p.E.length) throw new Error(`cloneParams: target table has ${intoE.length} values, expected ${p.E.length}`);
  return {
    config: { ...p.config },
    E: intoE ? (intoE.set(p.E), intoE) : p.E.slice(),
    W1: p.W1.slice(),
    b1: p.b1.slice(),
    W2: p.W2.slice(),
    b2: p.b2.slice(),
  };
}

/**
 * A fresh bag RM around the embedding table `E` (used as is, not copied). The MLP is He-initialized
 * (W1 ~ N(0, 2/2D), ReLU follows) and W2 ~ N(0, 1/H) so initial scores are O(1); biases start at 0.
 */
export function initBagRM(E: Float32Array, cfg: BagRMConfig, seed: number): BagRMParams {
  validateConfig(cfg);
  if (E.length !== cfg.vocabSize * cfg.dim) {
    throw new Error(`initBagRM: E has ${E.length} values, expected [${cfg.vocabSize}, ${cfg.dim}]`);
  }
  const rng = new Rng(seed);
  const K = 2 * cfg.dim;
  const H = cfg.hidden;
  const W1 = new Float32Array(K * H);
  const s1 = Math.sqrt(2 / K);
  for (let i = 0; i < W1.length; i++) W1[i] = rng.normal() * s1;
  const W2 = new Float32Array(H);
  const s2 = Math.sqrt(1 / H);
  for (let i = 0; i < H; i++) W2[i] = rng.normal() * s2;
  return { config: { ...cfg }, E, W1, b1: new Float32Array(H), W2, b2: new Float32Array(1) };
}

/** Scratch for scoring up to `chunk` items at a time. */
export class ScoreScratch {
  readonly chunk: number;
  readonly X: Float64Array;
  readonly Z: Float64Array;
  readonly out: Float64Array;
  constructor(cfg: BagRMConfig, chunk = 64) {
    this.chunk = chunk;
    this.X = new Float64Array(chunk * 2 * cfg.dim);
    this.Z = new Float64Array(chunk * cfg.hidden);
    this.out = new Float64Array(chunk);
  }
}

/** Score of item k as an f64 (the training forward pass gives the same bits). */
export function scoreItem(p: BagRMParams, items: EncodedItems, k: number, s: ScoreScratch): number {
  const { dim: D, hidden: H, vocabSize: V } = p.config;
  poolItems(p.E, D, V, items, 1, () => k, s.X);
  linearForward(s.X, 1, 2 * D, p.W1, p.b1, H, s.Z);
  headForward(s.Z, 1, H, p.W2, p.b2, s.out);
  return s.out[0];
}

/** Scores of `indices` (all items when omitted), in that order. Same bits as scoreItem and the training forward. */
/**
 * scoreItems' scratch, kept for the next call of the same shape: an experiment scores a few hundred times (live
 * evaluations, final scoring), and fresh buffers each time were garbage for the GC. scoreItems is synchronous, so
 * one set per thread is never shared by two calls.
 */
let scratch: { dim: number; hidden: number; s: ScoreScratch; WT: Float64Array } | null = null;

function scoreScratch(cfg: BagRMConfig): { s: ScoreScratch; WT: Float64Array } {
  if (!scratch || scratch.dim !== cfg.dim || scratch.hidden !== cfg.hidden) {
    scratch = { dim: cfg.dim, hidden: cfg.hidden, s: new ScoreScratch(cfg), WT: new Float64Array(2 * cfg.dim * cfg.hidden) };
  }
  return scratch;
}

export function scoreItems(p: BagRMParams, items: EncodedItems, indices?: Int32Array): Float32Array {
  const { dim: D, hidden: H, vocabSize: V } = p.config;
  const K = 2 * D;
  const n = indices ? indices.length : items.count;
  const out = new Float32Array(n);
  if (n === 0) return out;
  const { s, WT } = scoreScratch(p.config);
  // The layer loaded into the wasm kernels (same bits), or W1 transposed to f64 once per call, so each block of
  // items is a small matmul with contiguous weight rows.
  const wasm = bagWasm();
  if (wasm) wasm.loadLayer(p.W1, p.b1, K, H);
  else transposeToF64(p.W1, K, H, WT);
  let start = 0;
  const itemAt = indices ? (i: number) => indices[start + i] : (i: number) => start + i;
  for (; start < n; start += s.chunk) {
    const S = Math.min(s.chunk, n - start);
    poolItems(p.E, D, V, items, S, itemAt, s.X);
    if (wasm) wasm.forward(s.X, S, s.Z);
    else linearForwardT(s.X, S, K, WT, p.b1, H, s.Z);
    headForward(s.Z, S, H, p.W2, p.b2, s.out);
    for (let i = 0; i < S; i++) out[start + i] = s.out[i];
  }
  return out;
}

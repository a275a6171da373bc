// The reference forward of the USE-lite reward model (spec.ts) over the MatOps interface: one sequence at a time,
// no padding, written as small exported per-layer functions that can keep their intermediate activations, so the
// backward (grad.ts, helper "lora") walks the same structure in reverse. jsMatOps gives the readable twin used by
// the tests; any MatOps (wasm SIMD) gives the same numbers faster.
//
// Cache layout of one transformer layer (LayerCache; T tokens, Win = input width, W = attention width = Win,
// D = modelDim, F = ffnDim, H = heads, all row-major):
//   input  [T,Win]  the layer's input x                     ln1   [T,Win] LN(x)  (ln1Mean, ln1Rstd [T])
//   qkv    [T,3W]   q | k | v before the q scale            probs [H,T,T] softmax rows (query t, key s)
//   ctx    [T,W]    attention output, heads concatenated     mid   [T,D]  x after the attention residual
//   ln2    [T,D]    LN(mid) (ln2Mean, ln2Rstd [T])           ff1   [T,F]  relu(ln2 @ ff1.W + ff1.b)
//   out    [T,D]    mid + ff1 @ ff2.W + ff2.b (the layer's output)
// Layer 0's attention residual is input @ res.W + res.b (256 -> 512); layer 1's is the input itself.
import type { MatOps } from '../../../gpu/matops.ts';
import { attentionShape, type UseLiteConfig, type UseLiteParams } from './spec.ts';

export interface LayerCache {
  input: Float32Array;
  ln1: Float32Array;
  ln1Mean: Float32Array;
  ln1Rstd: Float32Array;
  qkv: Float32Array;
  probs: Float32Array;
  ctx: Float32Array;
  mid: Float32Array;
  ln2: Float32Array;
  ln2Mean: Float32Array;
  ln2Rstd: Float32Array;
  ff1: Float32Array;
  out: Float32Array;
}

/** Everything a backward pass needs for one sequence. */
export interface EncodeCache {
  ids: Int32Array;
  x0: Float32Array; // [T,embedDim] embedding input
  layers: [LayerCache, LayerCache];
  pooled: Float32Array; // [D] masked mean of layer 1's output
  tanh: Float32Array; // [D] tanh(pooled @ tanh.W + tanh.b)
  invNorm: number; // 1 / max(|tanh|, 1e-6): emb = tanh * invNorm
}

export interface EncodeResult {
  /** l2-normalised sentence embedding [D]. */
  emb: Float32Array;
  cache?: EncodeCache;
}

/** x0 = 2 * E[id_t] + PE(t): the graph adds the scattered embedding to (embedding + timing signal). */
export function embed(p: UseLiteParams, ids: Int32Array): Float32Array {
  const c = p.config;
  const e = c.embedDim;
  const half = e / 2;
  const T = ids.length;
  if (T > c.maxPositions) throw new Error(`use-lite: ${T} tokens exceed the ${c.maxPositions} positions of the timing signal`);
  const E = p.tensors.E;
  const ts = p.tensors.timescales;
  const x = new Float32Array(T * e);
  for (let t = 0; t < T; t++) {
    const id = ids[t];
    if (!(id >= 0 && id < c.vocabSize)) throw new Error(`use-lite: token id ${id} at position ${t} is outside 0..${c.vocabSize - 1}`);
    const row = id * e;
    for (let i = 0; i < half; i++) {
      // TF multiplies in f32 before sin/cos; fround keeps the argument identical.
      const a = Math.fround(t * ts[i]);
      x[t * e + i] = 2 * E[row + i] + Math.sin(a);
      x[t * e + half + i] = 2 * E[row + half + i] + Math.cos(a);
    }
  }
  return x;
}

/** out = g * (x - mean) / sqrt(var + eps) + b per row (biased variance); mean/rstd per row are kept for the backward. */
export function layerNorm(
  x: Float32Array,
  T: number,
  W: number,
  g: Float32Array,
  b: Float32Array,
  eps: number,
  out: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * W;
    let s = 0;
    for (let i = 0; i < W; i++) s += x[o + i];
    const mu = s / W;
    let v = 0;
    for (let i = 0; i < W; i++) {
      const d = x[o + i] - mu;
      v += d * d;
    }
    const r = 1 / Math.sqrt(v / W + eps);
    mean[t] = mu;
    rstd[t] = r;
    for (let i = 0; i < W; i++) out[o + i] = g[i] * (x[o + i] - mu) * r + b[i];
  }
}

/**
 * Multi-head self-attention over one unpadded sequence: qkv [T,3W] (q | k | v, head h = columns h*dh..),
 * probs [H,T,T] = softmax((q * qScale) k^T), ctx [T,W] = probs v with heads concatenated.
 */
export function attention(ops: MatOps, qkv: Float32Array, T: number, W: number, heads: number, qScale: number, probs: Float32Array, ctx: Float32Array): void {
  const dh = W / heads;
  const q = new Float32Array(T * dh);
  const k = new Float32Array(T * dh);
  const v = new Float32Array(T * dh);
  const o = new Float32Array(T * dh);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < T; t++) {
      const row = t * 3 * W + h * dh;
      for (let i = 0; i < dh; i++) {
        q[t * dh + i] = qkv[row + i] * qScale;
        k[t * dh + i] = qkv[row + W + i];
        v[t * dh + i] = qkv[row + 2 * W + i];
      }
    }
    const P = probs.subarray(h * T * T, (h + 1) * T * T);
    ops.gemm(T, T, dh, q, k, P, { transB: true });
    for (let t = 0; t < T; t++) {
      const r = t * T;
      let m = -Infinity;
      for (let s = 0; s < T; s++) if (P[r + s] > m) m = P[r + s];
      let z = 0;
      for (let s = 0; s < T; s++) {
        const e = Math.exp(P[r + s] - m);
        P[r + s] = e;
        z += e;
      }
      for (let s = 0; s < T; s++) P[r + s] /= z;
    }
    ops.gemm(T, dh, T, P, v, o);
    for (let t = 0; t < T; t++) for (let i = 0; i < dh; i++) ctx[t * W + h * dh + i] = o[t * dh + i];
  }
}

function addBias(x: Float32Array, T: number, n: number, b: Float32Array): void {
  for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) x[t * n + j] += b[j];
}

/** One transformer layer (pre-LN attention block, then pre-LN ReLU FFN block); returns its cache (out = output). */
export function transformerLayer(ops: MatOps, p: UseLiteParams, layer: 0 | 1, x: Float32Array, T: number): LayerCache {
  const c = p.config;
  const P = (n: string): Float32Array => p.tensors[`L${layer}.${n}`];
  const { width: W } = attentionShape(c, layer);
  const D = c.modelDim;
  const F = c.ffnDim;
  const H = c.heads;
  const ln1 = new Float32Array(T * W);
  const ln1Mean = new Float32Array(T);
  const ln1Rstd = new Float32Array(T);
  layerNorm(x, T, W, P('ln1.g'), P('ln1.b'), c.lnEps, ln1, ln1Mean, ln1Rstd);
  const qkv = new Float32Array(T * 3 * W);
  ops.gemm(T, 3 * W, W, ln1, P('qkv.W'), qkv, { bias: P('qkv.b') });
  const probs = new Float32Array(H * T * T);
  const ctx = new Float32Array(T * W);
  attention(ops, qkv, T, W, H, P('qScale')[0], probs, ctx);
  const mid = new Float32Array(T * D);
  if (layer === 0) {
    ops.gemm(T, D, W, x, P('res.W'), mid, { bias: P('res.b') });
  } else {
    mid.set(x);
  }
  ops.gemm(T, D, W, ctx, P('out.W'), mid, { accumulate: true });
  addBias(mid, T, D, P('out.b'));
  const ln2 = new Float32Array(T * D);
  const ln2Mean = new Float32Array(T);
  const ln2Rstd = new Float32Array(T);
  layerNorm(mid, T, D, P('ln2.g'), P('ln2.b'), c.lnEps, ln2, ln2Mean, ln2Rstd);
  const ff1 = new Float32Array(T * F);
  ops.gemm(T, F, D, ln2, P('ff1.W'), ff1, { bias: P('ff1.b') });
  for (let i = 0; i < ff1.length; i++) if (ff1[i] < 0) ff1[i] = 0;
  const out = new Float32Array(T * D);
  out.set(mid);
  ops.gemm(T, D, F, ff1, P('ff2.W'), out, { accumulate: true });
  addBias(out, T, D, P('ff2.b'));
  return { input: x, ln1, ln1Mean, ln1Rstd, qkv, probs, ctx, mid, ln2, ln2Mean, ln2Rstd, ff1, out };
}

/** Mean over the T tokens (sum / max(T, 1)): an empty sequence pools to zeros, as in USE. */
export function meanPool(x: Float32Array, T: number, D: number): Float32Array {
  const out = new Float32Array(D);
  for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) out[i] += x[t * D + i];
  const inv = 1 / Math.max(T, 1);
  for (let i = 0; i < D; i++) out[i] *= inv;
  return out;
}

/** tanh layer then l2 normalisation y * rsqrt(max(sum y^2, 1e-12)). */
export function sentenceHead(ops: MatOps, p: UseLiteParams, pooled: Float32Array): { tanh: Float32Array; emb: Float32Array; invNorm: number } {
  const D = p.config.modelDim;
  const y = new Float32Array(D);
  ops.gemm(1, D, D, pooled, p.tensors['tanh.W'], y, { bias: p.tensors['tanh.b'] });
  let ss = 0;
  for (let i = 0; i < D; i++) {
    y[i] = Math.tanh(y[i]);
    ss += y[i] * y[i];
  }
  const invNorm = 1 / Math.sqrt(Math.max(ss, 1e-12));
  const emb = new Float32Array(D);
  for (let i = 0; i < D; i++) emb[i] = y[i] * invNorm;
  return { tanh: y, emb, invNorm };
}

/** The 512-d sentence embedding of one token sequence (<= maxPositions ids); with keepCache, every activation. */
export function encode(ops: MatOps, p: UseLiteParams, ids: Int32Array, keepCache = false): EncodeResult {
  const T = ids.length;
  const D = p.config.modelDim;
  let pooled: Float32Array;
  let x0 = new Float32Array(0);
  let l0: LayerCache | undefined;
  let l1: LayerCache | undefined;
  if (T === 0) {
    pooled = new Float32Array(D);
  } else {
    x0 = embed(p, ids);
    l0 = transformerLayer(ops, p, 0, x0, T);
    l1 = transformerLayer(ops, p, 1, l0.out, T);
    pooled = meanPool(l1.out, T, D);
  }
  const h = sentenceHead(ops, p, pooled);
  if (!keepCache) return { emb: h.emb };
  if (!l0 || !l1) throw new Error('use-lite: no cache for an empty sequence (nothing to differentiate through the layers)');
  return { emb: h.emb, cache: { ids, x0, layers: [l0, l1], pooled, tanh: h.tanh, invNorm: h.invNorm } };
}

/** The linear reward head of the spec: emb . head.w + head.b. */
export function headScore(p: UseLiteParams, emb: Float32Array): number {
  const w = p.tensors['head.w'];
  let s = p.tensors['head.b'][0];
  for (let i = 0; i < emb.length; i++) s += emb[i] * w[i];
  return s;
}

/** Sentence embeddings of many sequences, [n, D] row-major. */
export function encodeMany(ops: MatOps, p: UseLiteParams, seqs: readonly Int32Array[], onProgress?: (done: number) => void): Float32Array {
  const D = p.config.modelDim;
  const out = new Float32Array(seqs.length * D);
  seqs.forEach((s, i) => {
    out.set(encode(ops, p, s).emb, i * D);
    onProgress?.(i + 1);
  });
  return out;
}

export type { UseLiteConfig };

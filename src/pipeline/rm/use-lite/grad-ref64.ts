// Float64 reference of the USE-lite reward model, written independently of grad.ts (plain loops, one sequence at a
// time, no MatOps, no layouts), so finite differences of it check grad.ts's backward passes and its forward.
// Tests only: slow by design.
import { attentionShape, type UseLiteConfig } from './spec.ts';

export type T64 = Record<string, Float64Array>;

export function toF64(t: Record<string, Float32Array>): T64 {
  const out: T64 = {};
  for (const [k, v] of Object.entries(t)) out[k] = Float64Array.from(v);
  return out;
}

/** y [n, out] = x [n, in] W [in, out] + b (+ scale * x A B). */
export function linear64(x: Float64Array, n: number, inDim: number, outDim: number, W: Float64Array, b: Float64Array | null, lora?: { A: Float64Array; B: Float64Array; r: number; scale: number }): Float64Array {
  const y = new Float64Array(n * outDim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < outDim; j++) {
      let s = b ? b[j] : 0;
      for (let p = 0; p < inDim; p++) s += x[i * inDim + p] * W[p * outDim + j];
      y[i * outDim + j] = s;
    }
    if (lora) {
      const u = new Float64Array(lora.r);
      for (let q = 0; q < lora.r; q++) for (let p = 0; p < inDim; p++) u[q] += x[i * inDim + p] * lora.A[p * lora.r + q];
      for (let j = 0; j < outDim; j++) {
        let s = 0;
        for (let q = 0; q < lora.r; q++) s += u[q] * lora.B[q * outDim + j];
        y[i * outDim + j] += lora.scale * s;
      }
    }
  }
  return y;
}

export function layerNorm64(x: Float64Array, n: number, D: number, g: Float64Array, b: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(n * D);
  for (let i = 0; i < n; i++) {
    let mu = 0;
    for (let j = 0; j < D; j++) mu += x[i * D + j];
    mu /= D;
    let v = 0;
    for (let j = 0; j < D; j++) v += (x[i * D + j] - mu) ** 2;
    v /= D;
    for (let j = 0; j < D; j++) y[i * D + j] = (g[j] * (x[i * D + j] - mu)) / Math.sqrt(v + eps) + b[j];
  }
  return y;
}

/** One sequence of L tokens: qkv [L, 3w] -> [L, w]. */
export function attention64(qkv: Float64Array, L: number, w: number, heads: number, qScale: number): Float64Array {
  const hd = w / heads;
  const out = new Float64Array(L * w);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < L; i++) {
      const s = new Float64Array(L);
      let mx = -Infinity;
      for (let j = 0; j < L; j++) {
        let a = 0;
        for (let t = 0; t < hd; t++) a += qkv[i * 3 * w + h * hd + t] * qScale * qkv[j * 3 * w + w + h * hd + t];
        s[j] = a;
        mx = Math.max(mx, a);
      }
      let z = 0;
      for (let j = 0; j < L; j++) z += (s[j] = Math.exp(s[j] - mx));
      for (let t = 0; t < hd; t++) {
        let o = 0;
        for (let j = 0; j < L; j++) o += (s[j] / z) * qkv[j * 3 * w + 2 * w + h * hd + t];
        out[i * w + h * hd + t] = o;
      }
    }
  }
  return out;
}

export interface Lora64 {
  r: number;
  scale: number;
  A: T64;
  B: T64;
}

function lora(l: Lora64 | undefined, name: string) {
  if (!l || !l.A[name]) return undefined;
  return { A: l.A[name], B: l.B[name], r: l.r, scale: l.scale };
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]);
}

function layer64(c: UseLiteConfig, T: T64, L: Lora64 | undefined, layer: 0 | 1, x: Float64Array, n: number): Float64Array {
  const P = `L${layer}`;
  const { width: w } = attentionShape(c, layer);
  const d = c.modelDim;
  const f = c.ffnDim;
  const h = layerNorm64(x, n, w, T[`${P}.ln1.g`], T[`${P}.ln1.b`], c.lnEps);
  const qkv = linear64(h, n, w, 3 * w, T[`${P}.qkv.W`], T[`${P}.qkv.b`], lora(L, `${P}.qkv.W`));
  const a = attention64(qkv, n, w, c.heads, T[`${P}.qScale`][0]);
  const o = linear64(a, n, w, d, T[`${P}.out.W`], T[`${P}.out.b`], lora(L, `${P}.out.W`));
  const x1 = layer === 0 ? add(linear64(x, n, w, d, T['L0.res.W'], T['L0.res.b']), o) : add(x, o);
  const h2 = layerNorm64(x1, n, d, T[`${P}.ln2.g`], T[`${P}.ln2.b`], c.lnEps);
  const z = linear64(h2, n, d, f, T[`${P}.ff1.W`], T[`${P}.ff1.b`], lora(L, `${P}.ff1.W`)).map((v) => Math.max(v, 0));
  return add(x1, linear64(z, n, f, d, T[`${P}.ff2.W`], T[`${P}.ff2.b`], lora(L, `${P}.ff2.W`)));
}

/** Layer-0 input of one sequence: 2 E[id] + sin || cos(pos * ts). */
export function embed64(c: UseLiteConfig, T: T64, ids: ArrayLike<number>): Float64Array {
  const e = c.embedDim;
  const half = e / 2;
  const x = new Float64Array(ids.length * e);
  for (let t = 0; t < ids.length; t++) {
    for (let j = 0; j < half; j++) {
      x[t * e + j] = 2 * T.E[ids[t] * e + j] + Math.sin(t * T.timescales[j]);
      x[t * e + half + j] = 2 * T.E[ids[t] * e + half + j] + Math.cos(t * T.timescales[j]);
    }
  }
  return x;
}

/** Mean pool -> tanh layer -> l2 norm -> head, from the last layer's output of one sequence. */
export function top64(c: UseLiteConfig, T: T64, x4: Float64Array, n: number): number {
  const d = c.modelDim;
  const pooled = new Float64Array(d);
  for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) pooled[j] += x4[t * d + j];
  for (let j = 0; j < d; j++) pooled[j] /= Math.max(n, 1);
  const y = linear64(pooled, 1, d, d, T['tanh.W'], T['tanh.b']).map(Math.tanh);
  let ss = 0;
  for (const v of y) ss += v * v;
  const inv = 1 / Math.sqrt(Math.max(ss, 1e-12));
  let s = T['head.b'][0];
  for (let j = 0; j < d; j++) s += y[j] * inv * T['head.w'][j];
  return s;
}

/** The reward of one token sequence. */
export function score64(c: UseLiteConfig, T: T64, L: Lora64 | undefined, ids: ArrayLike<number>): number {
  const n = ids.length;
  const x2 = layer64(c, T, L, 0, embed64(c, T, ids), n);
  return top64(c, T, layer64(c, T, L, 1, x2, n), n);
}

export function logSigmoid64(d: number): number {
  return d >= 0 ? -Math.log1p(Math.exp(-d)) : d - Math.log1p(Math.exp(d));
}

/** Weighted BT loss over pairs of sequences: -(1/B) sum w log sigmoid(s_c - s_r). */
export function loss64(
  c: UseLiteConfig,
  T: T64,
  L: Lora64 | undefined,
  pairs: { chosen: ArrayLike<number>; rejected: ArrayLike<number>; w: number }[],
): number {
  let loss = 0;
  for (const p of pairs) loss -= p.w * logSigmoid64(score64(c, T, L, p.chosen) - score64(c, T, L, p.rejected));
  return loss / pairs.length;
}

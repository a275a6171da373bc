// CPU kernels of the bag RM on typed arrays: mean pooling, blocked MLP forward/backward, stable BT loss terms, AdamW updates.
// Scratch and gradients are Float64Array (JS arithmetic is f64 anyway); parameters and moments stay Float32Array.
// The matrix kernels keep several accumulators in locals instead of read-modify-writing memory per multiply-add:
// in V8 that is 2-3x faster than the naive loops (measured ~0.5-0.9 ns per multiply-add vs ~1.5).
import type { EncodedItems } from '../../pipeline/rm/types.ts';

/** log(sigmoid(x)) = -softplus(-x), finite for any finite x (no exp overflow). */
export function logSigmoid(x: number): number {
  return -(Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x))));
}

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * out[outOff .. outOff+D) = mean of rows ids[start..end) of E (zeros when empty). Returns the token count.
 * Throws on an id outside the table, because a typed-array read out of range would silently give NaN.
 */
export function meanPool(
  E: Float32Array,
  D: number,
  vocabSize: number,
  ids: Int32Array,
  start: number,
  end: number,
  out: Float64Array,
  outOff: number,
): number {
  const n = end - start;
  if (n <= 0) {
    for (let d = 0; d < D; d++) out[outOff + d] = 0;
    return 0;
  }
  for (let t = start; t < end; t++) {
    const id = ids[t];
    if (!(id >= 0 && id < vocabSize)) throw new RangeError(`token id ${id} is outside the embedding table (${vocabSize} rows)`);
  }
  // Column blocks of 8 (then 4, then 1) dims summed over the tokens in registers: each element is still
  // 0 + E[t0] + E[t1] + ... in token order, then divided by n (not multiplied by 1/n, like the ONNX graph's Div),
  // so the bits equal the plain token-outer loop's; ~3x faster than read-modify-writing `out` per token.
  let d = 0;
  for (; d + 8 <= D; d += 8) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (let t = start; t < end; t++) {
      const r = ids[t] * D + d;
      a0 += E[r]; a1 += E[r + 1]; a2 += E[r + 2]; a3 += E[r + 3];
      a4 += E[r + 4]; a5 += E[r + 5]; a6 += E[r + 6]; a7 += E[r + 7];
    }
    const o = outOff + d;
    out[o] = a0 / n; out[o + 1] = a1 / n; out[o + 2] = a2 / n; out[o + 3] = a3 / n;
    out[o + 4] = a4 / n; out[o + 5] = a5 / n; out[o + 6] = a6 / n; out[o + 7] = a7 / n;
  }
  for (; d + 4 <= D; d += 4) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let t = start; t < end; t++) {
      const r = ids[t] * D + d;
      a0 += E[r]; a1 += E[r + 1]; a2 += E[r + 2]; a3 += E[r + 3];
    }
    const o = outOff + d;
    out[o] = a0 / n; out[o + 1] = a1 / n; out[o + 2] = a2 / n; out[o + 3] = a3 / n;
  }
  for (; d < D; d++) {
    let a = 0;
    for (let t = start; t < end; t++) a += E[ids[t] * D + d];
    out[outOff + d] = a / n;
  }
  return n;
}

/** X[s] = concat(mean response embedding, mean prompt embedding) of item itemAt(s), for s < S. X is [S, 2D]. */
export function poolItems(
  E: Float32Array,
  D: number,
  vocabSize: number,
  items: EncodedItems,
  S: number,
  itemAt: (s: number) => number,
  X: Float64Array,
): void {
  const K = 2 * D;
  for (let s = 0; s < S; s++) {
    const k = itemAt(s);
    if (!(k >= 0 && k < items.count)) throw new RangeError(`item index ${k} is outside 0..${items.count - 1}`);
    meanPool(E, D, vocabSize, items.responseIds, items.responseOffsets[k], items.responseOffsets[k + 1], X, s * K);
    meanPool(E, D, vocabSize, items.promptIds, items.promptOffsets[k], items.promptOffsets[k + 1], X, s * K + D);
  }
}

/**
 * Z[s, j] = b[j] + sum_k X[s, k] W[k, j] for X [S, K], W [K, H] row-major, Z [S, H].
 * Every element is summed as b, then k = 0, 1, ... in order, whatever the blocking, so a row's result does
 * not depend on which other rows share the call (scoring and training give identical bits).
 */
export function linearForward(X: Float64Array, S: number, K: number, W: Float32Array, b: Float32Array, H: number, Z: Float64Array): void {
  const H4 = H - (H % 4);
  let s = 0;
  for (; s + 2 <= S; s += 2) {
    const x0 = s * K;
    const x1 = x0 + K;
    for (let j = 0; j < H4; j += 4) {
      let a0 = b[j], a1 = b[j + 1], a2 = b[j + 2], a3 = b[j + 3];
      let c0 = a0, c1 = a1, c2 = a2, c3 = a3;
      for (let k = 0, q = j; k < K; k++, q += H) {
        const u = X[x0 + k];
        const v = X[x1 + k];
        const w0 = W[q], w1 = W[q + 1], w2 = W[q + 2], w3 = W[q + 3];
        a0 += u * w0; a1 += u * w1; a2 += u * w2; a3 += u * w3;
        c0 += v * w0; c1 += v * w1; c2 += v * w2; c3 += v * w3;
      }
      const z0 = s * H + j;
      const z1 = z0 + H;
      Z[z0] = a0; Z[z0 + 1] = a1; Z[z0 + 2] = a2; Z[z0 + 3] = a3;
      Z[z1] = c0; Z[z1 + 1] = c1; Z[z1 + 2] = c2; Z[z1 + 3] = c3;
    }
    for (let j = H4; j < H; j++) {
      let a = b[j];
      let c = a;
      for (let k = 0, q = j; k < K; k++, q += H) {
        a += X[x0 + k] * W[q];
        c += X[x1 + k] * W[q];
      }
      Z[s * H + j] = a;
      Z[(s + 1) * H + j] = c;
    }
  }
  for (; s < S; s++) {
    const x0 = s * K;
    for (let j = 0; j < H4; j += 4) {
      let a0 = b[j], a1 = b[j + 1], a2 = b[j + 2], a3 = b[j + 3];
      for (let k = 0, q = j; k < K; k++, q += H) {
        const u = X[x0 + k];
        a0 += u * W[q]; a1 += u * W[q + 1]; a2 += u * W[q + 2]; a3 += u * W[q + 3];
      }
      const z0 = s * H + j;
      Z[z0] = a0; Z[z0 + 1] = a1; Z[z0 + 2] = a2; Z[z0 + 3] = a3;
    }
    for (let j = H4; j < H; j++) {
      let a = b[j];
      for (let k = 0, q = j; k < K; k++, q += H) a += X[x0 + k] * W[q];
      Z[s * H + j] = a;
    }
  }
}

/** WT[j, k] = W[k, j] as f64: W [K, H] row-major, WT [H, K]. */
export function transposeToF64(W: Float32Array, K: number, H: number, WT: Float64Array): void {
  for (let k = 0; k < K; k++) {
    const row = k * H;
    for (let j = 0, q = k; j < H; j++, q += K) WT[q] = W[row + j];
  }
}

/**
 * linearForward with the weights given transposed and in f64 (WT [H, K], see transposeToF64): the same sums in
 * the same order (b, then k = 0, 1, ...), so the same bits, but with contiguous weight rows and no f32->f64
 * conversion in the inner loop (~1.7x faster). Blocks of 2 rows x 4 outputs keep 8 accumulators in registers;
 * the odd row and the last H % 4 outputs go to a separate function (in the same function they cost V8 ~30%).
 */
export function linearForwardT(X: Float64Array, S: number, K: number, WT: Float64Array, b: Float32Array, H: number, Z: Float64Array): void {
  const S2 = S - (S % 2);
  const H4 = H - (H % 4);
  linearT2x4(X, S2, K, WT, b, H, H4, Z);
  if (S2 < S || H4 < H) linearTRest(X, S, S2, K, WT, b, H, H4, Z);
}

function linearT2x4(X: Float64Array, S2: number, K: number, WT: Float64Array, b: Float32Array, H: number, H4: number, Z: Float64Array): void {
  for (let s = 0; s < S2; s += 2) {
    const x0 = s * K;
    const x1 = x0 + K;
    for (let j = 0; j < H4; j += 4) {
      let a0 = b[j], a1 = b[j + 1], a2 = b[j + 2], a3 = b[j + 3];
      let c0 = a0, c1 = a1, c2 = a2, c3 = a3;
      const r0 = j * K, r1 = r0 + K, r2 = r1 + K, r3 = r2 + K;
      for (let k = 0; k < K; k++) {
        const u = X[x0 + k];
        const v = X[x1 + k];
        const w0 = WT[r0 + k], w1 = WT[r1 + k], w2 = WT[r2 + k], w3 = WT[r3 + k];
        a0 += u * w0; a1 += u * w1; a2 += u * w2; a3 += u * w3;
        c0 += v * w0; c1 += v * w1; c2 += v * w2; c3 += v * w3;
      }
      const z = s * H + j;
      Z[z] = a0; Z[z + 1] = a1; Z[z + 2] = a2; Z[z + 3] = a3;
      Z[z + H] = c0; Z[z + H + 1] = c1; Z[z + H + 2] = c2; Z[z + H + 3] = c3;
    }
  }
}

/** The outputs linearT2x4 leaves: columns H4.. of rows < S2, and every column of rows S2.. . */
function linearTRest(X: Float64Array, S: number, S2: number, K: number, WT: Float64Array, b: Float32Array, H: number, H4: number, Z: Float64Array): void {
  for (let s = 0; s < S; s++) {
    const x0 = s * K;
    for (let j = s < S2 ? H4 : 0; j < H; j++) {
      let a = b[j];
      const r = j * K;
      for (let k = 0; k < K; k++) a += X[x0 + k] * WT[r + k];
      Z[s * H + j] = a;
    }
  }
}

/** out[s] = b2 + sum_j relu(Z[s, j]) W2[j]. */
export function headForward(Z: Float64Array, S: number, H: number, W2: Float32Array, b2: Float32Array, out: Float64Array | Float32Array): void {
  for (let s = 0; s < S; s++) {
    let acc = b2[0];
    const o = s * H;
    for (let j = 0; j < H; j++) {
      const z = Z[o + j];
      if (z > 0) acc += z * W2[j];
    }
    out[s] = acc;
  }
}

/**
 * Backward through the head for S items with score gradients dS: accumulates gW2, gb1, gb2 and writes
 * DZ[s, j] = dS[s] W2[j] [Z > 0] (the gradient at the pre-activations).
 */
export function headBackward(
  Z: Float64Array,
  dS: Float64Array,
  S: number,
  H: number,
  W2: Float32Array,
  gW2: Float64Array,
  gb1: Float64Array,
  gb2: Float64Array,
  DZ: Float64Array,
): void {
  for (let s = 0; s < S; s++) {
    const ds = dS[s];
    gb2[0] += ds;
    const o = s * H;
    for (let j = 0; j < H; j++) {
      const z = Z[o + j];
      if (z > 0) {
        gW2[j] += ds * z;
        const g = ds * W2[j];
        DZ[o + j] = g;
        gb1[j] += g;
      } else {
        DZ[o + j] = 0;
      }
    }
  }
}

/** G[k, j] += sum_s X[s, k] DZ[s, j]: X [S, K], DZ [S, H], G [K, H]. */
export function accumulateXtDZ(X: Float64Array, S: number, K: number, DZ: Float64Array, H: number, G: Float64Array): void {
  const H4 = H - (H % 4);
  for (let k = 0; k < K; k++) {
    const row = k * H;
    for (let j = 0; j < H4; j += 4) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let s = 0, xo = k, zo = j; s < S; s++, xo += K, zo += H) {
        const u = X[xo];
        if (u === 0) continue;
        a0 += u * DZ[zo]; a1 += u * DZ[zo + 1]; a2 += u * DZ[zo + 2]; a3 += u * DZ[zo + 3];
      }
      G[row + j] += a0; G[row + j + 1] += a1; G[row + j + 2] += a2; G[row + j + 3] += a3;
    }
    for (let j = H4; j < H; j++) {
      let a = 0;
      for (let s = 0; s < S; s++) a += X[s * K + k] * DZ[s * H + j];
      G[row + j] += a;
    }
  }
}

/** DX[s, k] = sum_j DZ[s, j] W[k, j]: DZ [S, H], W [K, H], DX [S, K]. */
export function backpropInput(DZ: Float64Array, S: number, H: number, W: Float32Array, K: number, DX: Float64Array): void {
  const H2 = H - (H % 2);
  let s = 0;
  for (; s + 2 <= S; s += 2) {
    const o0 = s * H;
    const o1 = o0 + H;
    for (let k = 0; k < K; k++) {
      const row = k * H;
      let a0 = 0, a1 = 0, c0 = 0, c1 = 0;
      for (let j = 0; j < H2; j += 2) {
        const w0 = W[row + j];
        const w1 = W[row + j + 1];
        a0 += w0 * DZ[o0 + j]; a1 += w1 * DZ[o0 + j + 1];
        c0 += w0 * DZ[o1 + j]; c1 += w1 * DZ[o1 + j + 1];
      }
      if (H2 < H) {
        a0 += W[row + H2] * DZ[o0 + H2];
        c0 += W[row + H2] * DZ[o1 + H2];
      }
      DX[s * K + k] = a0 + a1;
      DX[(s + 1) * K + k] = c0 + c1;
    }
  }
  for (; s < S; s++) {
    const o0 = s * H;
    for (let k = 0; k < K; k++) {
      const row = k * H;
      let a0 = 0, a1 = 0;
      for (let j = 0; j < H2; j += 2) {
        a0 += W[row + j] * DZ[o0 + j];
        a1 += W[row + j + 1] * DZ[o0 + j + 1];
      }
      if (H2 < H) a0 += W[row + H2] * DZ[o0 + H2];
      DX[s * K + k] = a0 + a1;
    }
  }
}

let xtScratch = new Float64Array(0);
let dztScratch = new Float64Array(0);

/** A[j, s] = M[s, j] for M [S, C] (C columns): A is [C, S]. */
function transposeF64(M: Float64Array, S: number, C: number, A: Float64Array): void {
  for (let s = 0; s < S; s++) {
    const o = s * C;
    for (let j = 0, q = s; j < C; j++, q += S) A[q] = M[o + j];
  }
}

/**
 * accumulateXtDZ for dense X (the bag RM's pooled inputs), by contiguous dot products over the rows of X and DZ
 * transposed into module scratch; 2 x 4 blocks of G keep 8 accumulators in registers. Each element is summed
 * 0 + s = 0, 1, ... in order like accumulateXtDZ (which also skips exact zeros of X; adding those products
 * changes nothing for finite DZ), so the bits are the same, ~2x faster.
 */
export function accumulateXtDZDense(X: Float64Array, S: number, K: number, DZ: Float64Array, H: number, G: Float64Array): void {
  if (xtScratch.length < S * K) xtScratch = new Float64Array(S * K);
  if (dztScratch.length < S * H) dztScratch = new Float64Array(S * H);
  const XT = xtScratch;
  const DT = dztScratch;
  transposeF64(X, S, K, XT);
  transposeF64(DZ, S, H, DT);
  const K2 = K - (K % 2);
  const H4 = H - (H % 4);
  xtdz2x4(XT, DT, S, K2, H, H4, G);
  if (K2 < K || H4 < H) xtdzRest(XT, DT, S, K, K2, H, H4, G);
}

function xtdz2x4(XT: Float64Array, DT: Float64Array, S: number, K2: number, H: number, H4: number, G: Float64Array): void {
  for (let k = 0; k < K2; k += 2) {
    const x0 = k * S;
    const x1 = x0 + S;
    const g0 = k * H;
    const g1 = g0 + H;
    for (let j = 0; j < H4; j += 4) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      const r0 = j * S, r1 = r0 + S, r2 = r1 + S, r3 = r2 + S;
      for (let s = 0; s < S; s++) {
        const u = XT[x0 + s];
        const v = XT[x1 + s];
        const d0 = DT[r0 + s], d1 = DT[r1 + s], d2 = DT[r2 + s], d3 = DT[r3 + s];
        a0 += u * d0; a1 += u * d1; a2 += u * d2; a3 += u * d3;
        c0 += v * d0; c1 += v * d1; c2 += v * d2; c3 += v * d3;
      }
      G[g0 + j] += a0; G[g0 + j + 1] += a1; G[g0 + j + 2] += a2; G[g0 + j + 3] += a3;
      G[g1 + j] += c0; G[g1 + j + 1] += c1; G[g1 + j + 2] += c2; G[g1 + j + 3] += c3;
    }
  }
}

function xtdzRest(XT: Float64Array, DT: Float64Array, S: number, K: number, K2: number, H: number, H4: number, G: Float64Array): void {
  for (let k = 0; k < K; k++) {
    const x0 = k * S;
    for (let j = k < K2 ? H4 : 0; j < H; j++) {
      const r = j * S;
      let a = 0;
      for (let s = 0; s < S; s++) a += XT[x0 + s] * DT[r + s];
      G[k * H + j] += a;
    }
  }
}

/**
 * backpropInput in blocks of 2 rows x 2 inputs (8 accumulators: each output keeps backpropInput's even / odd
 * partial sums, in the same order, so the same bits), ~1.5x fewer loads per multiply-add.
 */
export function backpropInput2x2(DZ: Float64Array, S: number, H: number, W: Float32Array, K: number, DX: Float64Array): void {
  const S2 = S - (S % 2);
  const K2 = K - (K % 2);
  if (H % 2 === 0) bp2x2(DZ, S2, H, W, K2, K, DX);
  else backpropInput(DZ, S2, H, W, K, DX);
  if (K2 < K && H % 2 === 0) bpRest(DZ, S2, H, W, K2, K, DX);
  if (S2 < S) backpropInput(DZ.subarray(S2 * H), S - S2, H, W, K, DX.subarray(S2 * K));
}

function bp2x2(DZ: Float64Array, S2: number, H: number, W: Float32Array, K2: number, K: number, DX: Float64Array): void {
  for (let s = 0; s < S2; s += 2) {
    const o0 = s * H;
    const o1 = o0 + H;
    const d0 = s * K;
    const d1 = d0 + K;
    for (let k = 0; k < K2; k += 2) {
      const w0 = k * H;
      const w1 = w0 + H;
      let a0 = 0, a1 = 0, b0 = 0, b1 = 0, c0 = 0, c1 = 0, e0 = 0, e1 = 0;
      for (let j = 0; j < H; j += 2) {
        const p0 = W[w0 + j], p1 = W[w0 + j + 1];
        const q0 = W[w1 + j], q1 = W[w1 + j + 1];
        const u0 = DZ[o0 + j], u1 = DZ[o0 + j + 1];
        const v0 = DZ[o1 + j], v1 = DZ[o1 + j + 1];
        a0 += p0 * u0; a1 += p1 * u1;
        b0 += q0 * u0; b1 += q1 * u1;
        c0 += p0 * v0; c1 += p1 * v1;
        e0 += q0 * v0; e1 += q1 * v1;
      }
      DX[d0 + k] = a0 + a1;
      DX[d0 + k + 1] = b0 + b1;
      DX[d1 + k] = c0 + c1;
      DX[d1 + k + 1] = e0 + e1;
    }
  }
}

/** The last (odd) input column of bp2x2's rows, H even. */
function bpRest(DZ: Float64Array, S2: number, H: number, W: Float32Array, K2: number, K: number, DX: Float64Array): void {
  for (let s = 0; s < S2; s++) {
    const o = s * H;
    for (let k = K2; k < K; k++) {
      const row = k * H;
      let a0 = 0, a1 = 0;
      for (let j = 0; j < H; j += 2) {
        a0 += W[row + j] * DZ[o + j];
        a1 += W[row + j + 1] * DZ[o + j + 1];
      }
      DX[s * K + k] = a0 + a1;
    }
  }
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** 1 - beta^t for t = 0, 1, ..., memoized: lazy Adam needs one per touched row per step. */
export class BiasCorrection {
  private table = new Float64Array(0);
  constructor(private readonly beta: number) {}
  at(t: number): number {
    if (t >= this.table.length) {
      const next = new Float64Array(Math.max(t + 1, this.table.length * 2, 1024));
      next.set(this.table);
      for (let i = this.table.length; i < next.length; i++) next[i] = 1 - Math.pow(this.beta, i);
      this.table = next;
    }
    return this.table[t];
  }
}

/**
 * One AdamW step (decoupled weight decay, PyTorch's formula) on p[off .. off+n) with gradient g[gOff ..),
 * given the bias corrections bc1 = 1 - beta1^t and bc2 = 1 - beta2^t of this tensor's (or row's) step t.
 */
export function adamw(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  off: number,
  n: number,
  g: Float64Array,
  gOff: number,
  bc1: number,
  bc2: number,
  h: AdamHyper,
): void {
  // lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) rewritten with one division per element.
  const sqrtBc2 = Math.sqrt(bc2);
  const stepSize = (h.lr / bc1) * sqrtBc2;
  const epsHat = h.eps * sqrtBc2;
  const decay = 1 - h.lr * h.weightDecay;
  const b1 = h.beta1;
  const b2 = h.beta2;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let i = 0; i < n; i++) {
    const q = off + i;
    const gi = g[gOff + i];
    const mi = b1 * m[q] + c1 * gi;
    const vi = b2 * v[q] + c2 * gi * gi;
    m[q] = mi;
    v[q] = vi;
    p[q] = p[q] * decay - (stepSize * mi) / (Math.sqrt(vi) + epsHat);
  }
}

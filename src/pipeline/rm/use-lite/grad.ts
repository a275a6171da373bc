// The USE-lite reward model's ops with their backward passes side by side (forward and gradient of each op
// reviewed in one place), and the model-level forward/backward over one micro-batch that the LoRA/top/head
// trainers run. Everything is written over MatOps, so the same code runs on the plain-TS reference (jsMatOps,
// tests) and on the wasm-SIMD kernels (the fast CPU path); the float64 twin in grad-ref64.ts is what the
// finite-difference checks compare against.
//
// Layout: the tokens of a micro-batch are rows of [rows, width] matrices. Sequence s occupies rows
// starts[s] .. starts[s] + lens[s]; rows outside every sequence are padding: they may hold anything, never
// reach a valid row (attention masks them as keys, pooling skips them) and get zero gradient. The trainer
// packs sequences back to back (no padding rows, no wasted FLOPs); the padded [B, T] layout of the WGSL and
// ONNX executors is the special case starts[s] = s * T, and the gradient checks run both.
//
// Numerics: activations and gradients are Float32Array (what gemm produces); reductions inside an op (layer
// norm statistics, softmax, pooling, bias gradients, the loss) accumulate in float64 in a fixed order, so a run
// is deterministic for a given MatOps.
import type { MatOps } from '../../../gpu/matops.ts';
import { attentionShape, type LoraConfig, type UseLiteConfig } from './spec.ts';

export interface SeqLayout {
  /** Rows of the activation matrices (valid tokens plus any padding rows). */
  rows: number;
  starts: Int32Array;
  lens: Int32Array;
}

/** Growable scratch buffers by key, so a trainer allocates once per shape high-water mark, not per step. */
export class Scratch {
  private bufs = new Map<string, Float32Array>();
  get(key: string, n: number): Float32Array {
    let b = this.bufs.get(key);
    if (!b || b.length < n) {
      b = new Float32Array(Math.max(n, Math.ceil((b?.length ?? 0) * 1.5)));
      this.bufs.set(key, b);
    }
    return b;
  }
  /** Bytes held (for the memory report). */
  bytes(): number {
    let s = 0;
    for (const b of this.bufs.values()) s += b.byteLength;
    return s;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Linear (+ LoRA): y = x W + b + scale * (x A) B, W [in,out], A [in,r], B [r,out].

export interface LoraSlot {
  A: Float32Array;
  B: Float32Array;
  rank: number;
  scale: number;
}

/** `us` [N, r] receives scale * (x A), kept for the backward pass. */
export function linearForward(
  ops: MatOps,
  N: number,
  inDim: number,
  outDim: number,
  x: Float32Array,
  W: Float32Array,
  b: Float32Array | null,
  y: Float32Array,
  lora?: LoraSlot,
  us?: Float32Array,
): void {
  ops.gemm(N, outDim, inDim, x, W, y, b ? { bias: b } : {});
  if (lora) {
    if (!us) throw new Error('linearForward: LoRA needs a us buffer');
    const r = lora.rank;
    ops.gemm(N, r, inDim, x, lora.A, us);
    scaleInPlace(us, N * r, lora.scale);
    ops.gemm(N, outDim, r, us, lora.B, y, { accumulate: true });
  }
}

export interface LinearGrads {
  W?: Float32Array | null;
  b?: Float32Array | null;
  A?: Float32Array | null;
  B?: Float32Array | null;
}

/**
 * Accumulates into the given gradients (W [in,out], b [out], A [in,r], B [r,out]) and writes (or with
 * `accumulateDx` adds) dx = dy W^T + scale * (dy B^T) A^T when dx is given. `gs` is [N, r] scratch.
 */
export function linearBackward(
  ops: MatOps,
  N: number,
  inDim: number,
  outDim: number,
  x: Float32Array,
  W: Float32Array,
  dy: Float32Array,
  dx: Float32Array | null,
  accumulateDx: boolean,
  g: LinearGrads,
  lora?: LoraSlot,
  us?: Float32Array,
  gs?: Float32Array,
): void {
  if (g.b) addColumnSums(dy, N, outDim, g.b);
  if (g.W) ops.gemm(inDim, outDim, N, x, dy, g.W, { transA: true, accumulate: true });
  if (lora) {
    if (!us || !gs) throw new Error('linearBackward: LoRA needs us and gs buffers');
    const r = lora.rank;
    if (g.B) ops.gemm(r, outDim, N, us, dy, g.B, { transA: true, accumulate: true });
    ops.gemm(N, r, outDim, dy, lora.B, gs, { transB: true });
    scaleInPlace(gs, N * r, lora.scale);
    if (g.A) {
      // dA^T = gs^T x ([r, in]), then transposed into dA: the plain x^T gs would transpose all of x (N x in) in the
      // kernel, and with only r output columns that costs more than the product (measured 1.2 vs ~20 GFLOP/s).
      const t = new Float32Array(r * inDim);
      ops.gemm(r, inDim, N, gs, x, t, { transA: true });
      const gA = g.A;
      for (let q = 0; q < r; q++) for (let i = 0; i < inDim; i++) gA[i * r + q] += t[q * inDim + i];
    }
  }
  if (dx) {
    ops.gemm(N, inDim, outDim, dy, W, dx, { transB: true, accumulate: accumulateDx });
    if (lora) ops.gemm(N, inDim, lora.rank, gs!, lora.A, dx, { transB: true, accumulate: true });
  }
}

export function scaleInPlace(a: Float32Array, n: number, s: number): void {
  if (s === 1) return;
  for (let i = 0; i < n; i++) a[i] *= s;
}

/** g[j] += sum_i a[i, j] (float64 per column, rows in order). */
export function addColumnSums(a: Float32Array, N: number, D: number, g: Float32Array): void {
  const acc = new Float64Array(D);
  for (let i = 0; i < N; i++) {
    const o = i * D;
    for (let j = 0; j < D; j++) acc[j] += a[o + j];
  }
  for (let j = 0; j < D; j++) g[j] += acc[j];
}

// ---------------------------------------------------------------------------------------------------------
// Layer norm over the last dim: y = g * (x - mu) * rstd + b, rstd = 1 / sqrt(var + eps), biased variance.

export function layerNormForward(
  N: number,
  D: number,
  x: Float32Array,
  g: Float32Array,
  b: Float32Array,
  eps: number,
  y: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
): void {
  for (let i = 0; i < N; i++) {
    const o = i * D;
    let s = 0;
    for (let j = 0; j < D; j++) s += x[o + j];
    const mu = s / D;
    let v = 0;
    for (let j = 0; j < D; j++) {
      const t = x[o + j] - mu;
      v += t * t;
    }
    const r = 1 / Math.sqrt(v / D + eps);
    mean[i] = mu;
    rstd[i] = r;
    for (let j = 0; j < D; j++) y[o + j] = g[j] * (x[o + j] - mu) * r + b[j];
  }
}

/**
 * dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = dy * g (written, or added with
 * accumulateDx); dg += sum dy * xhat, db += sum dy. Uses the mean/rstd the forward stored.
 */
export function layerNormBackward(
  N: number,
  D: number,
  x: Float32Array,
  g: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  dy: Float32Array,
  dx: Float32Array | null,
  accumulateDx: boolean,
  dg: Float32Array | null,
  db: Float32Array | null,
): void {
  const ag = dg ? new Float64Array(D) : null;
  const ab = db ? new Float64Array(D) : null;
  for (let i = 0; i < N; i++) {
    const o = i * D;
    const mu = mean[i];
    const r = rstd[i];
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < D; j++) {
      const xh = (x[o + j] - mu) * r;
      const dxh = dy[o + j] * g[j];
      s1 += dxh;
      s2 += dxh * xh;
      if (ag) ag[j] += dy[o + j] * xh;
      if (ab) ab[j] += dy[o + j];
    }
    if (!dx) continue;
    const m1 = s1 / D;
    const m2 = s2 / D;
    for (let j = 0; j < D; j++) {
      const xh = (x[o + j] - mu) * r;
      const v = r * (dy[o + j] * g[j] - m1 - xh * m2);
      if (accumulateDx) dx[o + j] += v;
      else dx[o + j] = v;
    }
  }
  if (dg && ag) for (let j = 0; j < D; j++) dg[j] += ag[j];
  if (db && ab) for (let j = 0; j < D; j++) db[j] += ab[j];
}

// ---------------------------------------------------------------------------------------------------------
// Multi-head softmax attention over each sequence, from a fused qkv [rows, 3w] (q | k | v, heads of w / H):
// out_h = softmax((q_h * qScale) k_h^T) v_h. Keys are only the sequence's own valid rows (masking padding is
// the same as USE's -1e9 key bias: exp underflows to exactly 0). Padding rows of `out` are set to 0.

/** Offset of each sequence's probabilities [heads, len, len] in the probs buffer, and the total. */
export function probOffsets(layout: SeqLayout, heads: number): { offsets: Int32Array; total: number } {
  const n = layout.lens.length;
  const offsets = new Int32Array(n);
  let t = 0;
  for (let s = 0; s < n; s++) {
    offsets[s] = t;
    t += heads * layout.lens[s] * layout.lens[s];
  }
  return { offsets, total: t };
}

function gatherHead(src: Float32Array, start: number, L: number, stride: number, col: number, hd: number, dst: Float32Array, scale: number): void {
  for (let t = 0; t < L; t++) {
    const o = (start + t) * stride + col;
    const d = t * hd;
    for (let j = 0; j < hd; j++) dst[d + j] = src[o + j] * scale;
  }
}

function scatterHead(src: Float32Array, L: number, hd: number, dst: Float32Array, start: number, stride: number, col: number, scale: number): void {
  for (let t = 0; t < L; t++) {
    const o = (start + t) * stride + col;
    const d = t * hd;
    for (let j = 0; j < hd; j++) dst[o + j] = src[d + j] * scale;
  }
}

export function attentionForward(
  ops: MatOps,
  layout: SeqLayout,
  width: number,
  heads: number,
  qScale: number,
  qkv: Float32Array,
  out: Float32Array,
  probs: Float32Array,
  scratch: Scratch,
): void {
  // The fused kernel when the MatOps has one (wasm: no per-head gathers, packing or copies); this JS is its twin.
  if (ops.attention?.forward(layout.rows, layout.starts, layout.lens, width, heads, qScale, qkv, out, probs)) return;
  const hd = width / heads;
  const stride = 3 * width;
  out.fill(0, 0, layout.rows * width);
  const { offsets } = probOffsets(layout, heads);
  let maxL = 0;
  for (const L of layout.lens) maxL = Math.max(maxL, L);
  const Q = scratch.get('att.q', maxL * hd);
  const K = scratch.get('att.k', maxL * hd);
  const V = scratch.get('att.v', maxL * hd);
  const O = scratch.get('att.o', maxL * hd);
  for (let s = 0; s < layout.lens.length; s++) {
    const L = layout.lens[s];
    if (L === 0) continue;
    const st = layout.starts[s];
    for (let h = 0; h < heads; h++) {
      gatherHead(qkv, st, L, stride, h * hd, hd, Q, qScale);
      gatherHead(qkv, st, L, stride, width + h * hd, hd, K, 1);
      gatherHead(qkv, st, L, stride, 2 * width + h * hd, hd, V, 1);
      const P = probs.subarray(offsets[s] + h * L * L, offsets[s] + (h + 1) * L * L);
      ops.gemm(L, L, hd, Q, K, P, { transB: true });
      softmaxRows(P, L, L);
      ops.gemm(L, hd, L, P, V, O);
      scatterHead(O, L, hd, out, st, width, h * hd, 1);
    }
  }
}

function softmaxRows(P: Float32Array, R: number, C: number): void {
  for (let i = 0; i < R; i++) {
    const o = i * C;
    let mx = -Infinity;
    for (let j = 0; j < C; j++) if (P[o + j] > mx) mx = P[o + j];
    let sum = 0;
    for (let j = 0; j < C; j++) {
      const e = Math.exp(P[o + j] - mx);
      P[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < C; j++) P[o + j] *= inv;
  }
}

/** dqkv [rows, 3w] (written; padding rows 0) from dout [rows, w], the stored probs and qkv. */
export function attentionBackward(
  ops: MatOps,
  layout: SeqLayout,
  width: number,
  heads: number,
  qScale: number,
  qkv: Float32Array,
  probs: Float32Array,
  dout: Float32Array,
  dqkv: Float32Array,
  scratch: Scratch,
): void {
  if (ops.attention?.backward(layout.rows, layout.starts, layout.lens, width, heads, qScale, qkv, probs, dout, dqkv)) return;
  const hd = width / heads;
  const stride = 3 * width;
  dqkv.fill(0, 0, layout.rows * stride);
  const { offsets } = probOffsets(layout, heads);
  let maxL = 0;
  for (const L of layout.lens) maxL = Math.max(maxL, L);
  const Q = scratch.get('att.q', maxL * hd);
  const K = scratch.get('att.k', maxL * hd);
  const V = scratch.get('att.v', maxL * hd);
  const dO = scratch.get('att.o', maxL * hd);
  const dP = scratch.get('att.dp', maxL * maxL);
  const dX = scratch.get('att.dx', maxL * hd);
  for (let s = 0; s < layout.lens.length; s++) {
    const L = layout.lens[s];
    if (L === 0) continue;
    const st = layout.starts[s];
    for (let h = 0; h < heads; h++) {
      gatherHead(qkv, st, L, stride, h * hd, hd, Q, qScale);
      gatherHead(qkv, st, L, stride, width + h * hd, hd, K, 1);
      gatherHead(qkv, st, L, stride, 2 * width + h * hd, hd, V, 1);
      gatherHead(dout, st, L, width, h * hd, hd, dO, 1);
      const P = probs.subarray(offsets[s] + h * L * L, offsets[s] + (h + 1) * L * L);
      // dV = P^T dO
      ops.gemm(L, hd, L, P, dO, dX, { transA: true });
      scatterHead(dX, L, hd, dqkv, st, stride, 2 * width + h * hd, 1);
      // dP = dO V^T, then dS = P * (dP - rowsum(dP * P))
      ops.gemm(L, L, hd, dO, V, dP, { transB: true });
      for (let i = 0; i < L; i++) {
        const o = i * L;
        let dot = 0;
        for (let j = 0; j < L; j++) dot += dP[o + j] * P[o + j];
        for (let j = 0; j < L; j++) dP[o + j] = P[o + j] * (dP[o + j] - dot);
      }
      // dq = qScale * dS K ; dk = dS^T (q * qScale)
      ops.gemm(L, hd, L, dP, K, dX);
      scatterHead(dX, L, hd, dqkv, st, stride, h * hd, qScale);
      ops.gemm(L, hd, L, dP, Q, dX, { transA: true });
      scatterHead(dX, L, hd, dqkv, st, stride, width + h * hd, 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Elementwise and pooling.

// Written as a multiply by 0 or 1, not a branch: the sign of a pre-activation is a coin flip, and the mispredicted
// branch made these loops ~4x slower (measured 9 vs 2 ms per 1.5M floats, ~5% of a training step). Same values as
// `a < 0 ? 0 : a` except that negative inputs give -0 (no sum or product downstream can tell) and -Infinity NaN.

export function reluInPlace(a: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = a[i];
    a[i] = v * +(v > 0);
  }
}

/** dy *= (y > 0), y being relu's output. */
export function reluBackwardInPlace(y: Float32Array, dy: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dy[i] *= +(y[i] > 0);
}

/** pooled[s] = sum over the sequence's rows / max(len, 1). */
export function meanPoolForward(layout: SeqLayout, D: number, x: Float32Array, pooled: Float32Array): void {
  const acc = new Float64Array(D);
  for (let s = 0; s < layout.lens.length; s++) {
    const L = layout.lens[s];
    acc.fill(0);
    for (let t = 0; t < L; t++) {
      const o = (layout.starts[s] + t) * D;
      for (let j = 0; j < D; j++) acc[j] += x[o + j];
    }
    const inv = 1 / Math.max(L, 1);
    for (let j = 0; j < D; j++) pooled[s * D + j] = acc[j] * inv;
  }
}

/** dx (all rows written; padding rows 0) from dpooled. */
export function meanPoolBackward(layout: SeqLayout, D: number, dpooled: Float32Array, dx: Float32Array): void {
  dx.fill(0, 0, layout.rows * D);
  for (let s = 0; s < layout.lens.length; s++) {
    const L = layout.lens[s];
    const inv = 1 / Math.max(L, 1);
    for (let t = 0; t < L; t++) {
      const o = (layout.starts[s] + t) * D;
      for (let j = 0; j < D; j++) dx[o + j] = dpooled[s * D + j] * inv;
    }
  }
}

export function tanhInPlace(a: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) a[i] = Math.tanh(a[i]);
}

/** dy *= 1 - y^2, y being tanh's output. */
export function tanhBackwardInPlace(y: Float32Array, dy: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dy[i] *= 1 - y[i] * y[i];
}

/** e = y * rsqrt(max(sum y^2, 1e-12)) per row; norms[i] receives the rsqrt factor. */
export function l2NormForward(N: number, D: number, y: Float32Array, e: Float32Array, inv: Float32Array): void {
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += y[i * D + j] * y[i * D + j];
    const r = 1 / Math.sqrt(Math.max(s, 1e-12));
    inv[i] = r;
    for (let j = 0; j < D; j++) e[i * D + j] = y[i * D + j] * r;
  }
}

/** dy = r * (de - e (e . de)) where the clamp is inactive, r * de where it is (the factor is then constant). */
export function l2NormBackward(N: number, D: number, y: Float32Array, inv: Float32Array, de: Float32Array, dy: Float32Array): void {
  for (let i = 0; i < N; i++) {
    const r = inv[i];
    let s = 0;
    for (let j = 0; j < D; j++) s += y[i * D + j] * y[i * D + j];
    const clamped = s < 1e-12;
    let dot = 0;
    if (!clamped) for (let j = 0; j < D; j++) dot += y[i * D + j] * r * de[i * D + j];
    for (let j = 0; j < D; j++) dy[i * D + j] = r * (de[i * D + j] - (clamped ? 0 : y[i * D + j] * r * dot));
  }
}

/** BT loss -(1/B) sum w log sigmoid(s_c - s_r) with scores laid out chosen/rejected per pair; fills dscores. */
export function btLoss(scores: Float32Array | Float64Array, weight: Float32Array, B: number, total: number, dscores: Float32Array): number {
  let loss = 0;
  for (let i = 0; i < B; i++) {
    const d = scores[2 * i] - scores[2 * i + 1];
    const w = weight[i];
    loss -= w * logSigmoid(d);
    const g = (-w / total) * sigmoid(-d);
    dscores[2 * i] = g;
    dscores[2 * i + 1] = -g;
  }
  return loss / total;
}

export function logSigmoid(d: number): number {
  // -softplus(-d), stable for large |d|.
  return d >= 0 ? -Math.log1p(Math.exp(-d)) : d - Math.log1p(Math.exp(d));
}

export function sigmoid(d: number): number {
  return d >= 0 ? 1 / (1 + Math.exp(-d)) : Math.exp(d) / (1 + Math.exp(d));
}

// ---------------------------------------------------------------------------------------------------------
// Embedding + timing signal: x0 = 2 * E[id] + PE(pos), PE = sin(pos * ts_i) || cos(pos * ts_i), i < embedDim / 2.

export function embedForward(
  c: UseLiteConfig,
  E: Float32Array,
  timescales: Float32Array,
  ids: Int32Array,
  layout: SeqLayout,
  x0: Float32Array,
): void {
  const e = c.embedDim;
  const half = e / 2;
  x0.fill(0, 0, layout.rows * e);
  for (let s = 0; s < layout.lens.length; s++) {
    for (let t = 0; t < layout.lens[s]; t++) {
      const row = layout.starts[s] + t;
      const id = ids[row];
      if (!(id >= 0 && id < c.vocabSize)) throw new Error(`use-lite: token id ${id} out of range [0, ${c.vocabSize})`);
      const eo = id * e;
      const o = row * e;
      for (let j = 0; j < half; j++) {
        const a = t * timescales[j];
        x0[o + j] = 2 * E[eo + j] + Math.sin(a);
        x0[o + half + j] = 2 * E[eo + half + j] + Math.cos(a);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The model over one micro-batch: forward keeping what backward needs, backward into the trainable tensors.

/** The weights the executor reads: base tensors by spec name, optional LoRA adapters by target name. */
export interface ModelView {
  config: UseLiteConfig;
  tensors: Record<string, Float32Array>;
  lora?: { config: LoraConfig; A: Record<string, Float32Array>; B: Record<string, Float32Array> } | null;
}

/** Where the forward starts: token ids (full model), layer-0 outputs x2 (frozen layer 0 cached), or nothing. */
export type ForwardFrom = { ids: Int32Array } | { x2: Float32Array };

/** Which gradients a backward computes: names of base tensors and 'lora' for every adapter. */
export interface GradPlan {
  /** Base tensors to differentiate (spec names). */
  tensors: ReadonlySet<string>;
  lora: boolean;
}

/** Gradients by name: base tensors by spec name, adapters as `${target}.A` / `${target}.B`. */
export type GradMap = Record<string, Float32Array>;

function slot(m: ModelView, name: string): LoraSlot | undefined {
  const l = m.lora;
  if (!l || !l.A[name]) return undefined;
  return { A: l.A[name], B: l.B[name], rank: l.config.rank, scale: l.config.alpha / l.config.rank };
}

/** Activations of one micro-batch (views into a Scratch), kept for the backward pass. */
export interface Acts {
  layout: SeqLayout;
  nSeq: number;
  /** Layer-0 input (null when the forward started from cached x2) and layer-1 input. */
  x0: Float32Array | null;
  x2: Float32Array;
  /** Per-sequence outputs. */
  pooled: Float32Array;
  tanhOut: Float32Array;
  emb: Float32Array;
  l2inv: Float32Array;
  scores: Float32Array;
}

const LAYER_NAMES = ['L0', 'L1'] as const;

/**
 * Forward over a micro-batch: fills the Acts (per-layer buffers live in `sc` under their names) and returns
 * them; scores[s] is the reward of sequence s. `from.x2` skips layer 0 (rows laid out as `layout`).
 */
export function modelForward(ops: MatOps, m: ModelView, layout: SeqLayout, from: ForwardFrom, sc: Scratch): Acts {
  const c = m.config;
  const T = m.tensors;
  const N = layout.rows;
  const nSeq = layout.lens.length;
  const e = c.embedDim;
  const d = c.modelDim;
  const r = m.lora?.config.rank ?? 0;
  let x2: Float32Array;
  let x0: Float32Array | null = null;
  if ('ids' in from) {
    x0 = sc.get('x0', N * e);
    embedForward(c, T.E, T.timescales, from.ids, layout, x0);
    x2 = sc.get('x2', N * d);
    layerForward(ops, m, 0, layout, x0, x2, sc, r);
  } else {
    x2 = from.x2;
  }
  const x4 = sc.get('x4', N * d);
  layerForward(ops, m, 1, layout, x2, x4, sc, r);
  const pooled = sc.get('pooled', nSeq * d);
  meanPoolForward(layout, d, x4, pooled);
  const tanhOut = sc.get('tanhOut', nSeq * d);
  linearForward(ops, nSeq, d, d, pooled, T['tanh.W'], T['tanh.b'], tanhOut);
  tanhInPlace(tanhOut, nSeq * d);
  const emb = sc.get('emb', nSeq * d);
  const l2inv = sc.get('l2inv', nSeq);
  l2NormForward(nSeq, d, tanhOut, emb, l2inv);
  const scores = sc.get('scores', nSeq);
  headForward(nSeq, d, emb, T['head.w'], T['head.b'][0], scores);
  return { layout, nSeq, x0, x2, pooled, tanhOut, emb, l2inv, scores };
}

export function headForward(n: number, d: number, emb: Float32Array, w: Float32Array, b: number, scores: Float32Array): void {
  for (let s = 0; s < n; s++) {
    let acc = 0;
    for (let j = 0; j < d; j++) acc += emb[s * d + j] * w[j];
    scores[s] = acc + b;
  }
}

/** One pre-LN transformer layer: xin [N, win] -> xout [N, d]. Buffers in `sc` are keyed `L{layer}.*`. */
export function layerForward(ops: MatOps, m: ModelView, layer: 0 | 1, layout: SeqLayout, xin: Float32Array, xout: Float32Array, sc: Scratch, r: number): void {
  const c = m.config;
  const T = m.tensors;
  const P = LAYER_NAMES[layer];
  const N = layout.rows;
  const { width: w } = attentionShape(c, layer);
  const d = c.modelDim;
  const f = c.ffnDim;
  const ln1 = sc.get(`${P}.ln1.y`, N * w);
  const ln1m = sc.get(`${P}.ln1.mean`, N);
  const ln1r = sc.get(`${P}.ln1.rstd`, N);
  layerNormForward(N, w, xin, T[`${P}.ln1.g`], T[`${P}.ln1.b`], c.lnEps, ln1, ln1m, ln1r);
  const qkv = sc.get(`${P}.qkv`, N * 3 * w);
  linearForward(ops, N, w, 3 * w, ln1, T[`${P}.qkv.W`], T[`${P}.qkv.b`], qkv, slot(m, `${P}.qkv.W`), sc.get(`${P}.qkv.us`, N * r));
  const probs = sc.get(`${P}.probs`, probOffsets(layout, c.heads).total);
  const att = sc.get(`${P}.att`, N * w);
  attentionForward(ops, layout, w, c.heads, T[`${P}.qScale`][0], qkv, att, probs, sc);
  // x1 = residual + attention output projection (layer 0 projects the residual 256 -> 512).
  const x1 = sc.get(`${P}.x1`, N * d);
  if (layer === 0) {
    ops.gemm(N, d, w, xin, T['L0.res.W'], x1, { bias: T['L0.res.b'] });
    const o = sc.get('L0.outTmp', N * d);
    linearForward(ops, N, w, d, att, T['L0.out.W'], T['L0.out.b'], o, slot(m, 'L0.out.W'), sc.get('L0.out.us', N * r));
    for (let i = 0; i < N * d; i++) x1[i] += o[i];
  } else {
    linearForward(ops, N, w, d, att, T[`${P}.out.W`], T[`${P}.out.b`], x1, slot(m, `${P}.out.W`), sc.get(`${P}.out.us`, N * r));
    for (let i = 0; i < N * d; i++) x1[i] += xin[i];
  }
  const ln2 = sc.get(`${P}.ln2.y`, N * d);
  const ln2m = sc.get(`${P}.ln2.mean`, N);
  const ln2r = sc.get(`${P}.ln2.rstd`, N);
  layerNormForward(N, d, x1, T[`${P}.ln2.g`], T[`${P}.ln2.b`], c.lnEps, ln2, ln2m, ln2r);
  const h = sc.get(`${P}.ff1.y`, N * f);
  linearForward(ops, N, d, f, ln2, T[`${P}.ff1.W`], T[`${P}.ff1.b`], h, slot(m, `${P}.ff1.W`), sc.get(`${P}.ff1.us`, N * r));
  reluInPlace(h, N * f);
  linearForward(ops, N, f, d, h, T[`${P}.ff2.W`], T[`${P}.ff2.b`], xout, slot(m, `${P}.ff2.W`), sc.get(`${P}.ff2.us`, N * r));
  for (let i = 0; i < N * d; i++) xout[i] += x1[i];
}

/**
 * Backward of a micro-batch from dscores [nSeq] (the loss gradient per sequence), accumulating into `grads`
 * (pre-sized, zeroed by the caller once per optimizer step) the tensors of `plan`. Stops at the lowest trainable
 * op: no work below it. Must follow modelForward on the same Scratch.
 */
export function modelBackward(ops: MatOps, m: ModelView, acts: Acts, dscores: Float32Array, plan: GradPlan, grads: GradMap, sc: Scratch): void {
  const c = m.config;
  const T = m.tensors;
  const { layout, nSeq } = acts;
  const d = c.modelDim;
  const want = (n: string): Float32Array | null => (plan.tensors.has(n) ? grads[n] : null);
  // head: s = emb . w + b
  const gw = want('head.w');
  const gb = want('head.b');
  const demb = sc.get('d.emb', nSeq * d);
  let gbAcc = 0;
  for (let s = 0; s < nSeq; s++) {
    const ds = dscores[s];
    gbAcc += ds;
    for (let j = 0; j < d; j++) {
      if (gw) gw[j] += ds * acts.emb[s * d + j];
      demb[s * d + j] = ds * T['head.w'][j];
    }
  }
  if (gb) gb[0] += gbAcc;
  const belowHead = plan.lora || [...plan.tensors].some((n) => n !== 'head.w' && n !== 'head.b');
  if (!belowHead) return;
  const dt = sc.get('d.tanh', nSeq * d);
  l2NormBackward(nSeq, d, acts.tanhOut, acts.l2inv, demb, dt);
  tanhBackwardInPlace(acts.tanhOut, dt, nSeq * d);
  const needLayers = plan.lora || [...plan.tensors].some((n) => n.startsWith('L'));
  const dpooled = needLayers ? sc.get('d.pooled', nSeq * d) : null;
  linearBackward(ops, nSeq, d, d, acts.pooled, T['tanh.W'], dt, dpooled, false, { W: want('tanh.W'), b: want('tanh.b') });
  if (!dpooled) return;
  const N = layout.rows;
  const dres = sc.get('d.res', N * d);
  meanPoolBackward(layout, d, dpooled, dres);
  const needL0 = plan.lora || [...plan.tensors].some((n) => n.startsWith('L0.'));
  layerBackward(ops, m, 1, layout, acts.x2, dres, needL0, plan, grads, sc);
  if (needL0) {
    if (!acts.x0) throw new Error('modelBackward: layer 0 needs gradients but the forward started from cached layer-0 outputs');
    layerBackward(ops, m, 0, layout, acts.x0, dres, false, plan, grads, sc);
  }
}

/** dres: gradient of the layer's output on entry, of its input on exit (when needDx; layer 0 never has one). */
function layerBackward(
  ops: MatOps,
  m: ModelView,
  layer: 0 | 1,
  layout: SeqLayout,
  xin: Float32Array,
  dres: Float32Array,
  needDx: boolean,
  plan: GradPlan,
  grads: GradMap,
  sc: Scratch,
): void {
  const c = m.config;
  const T = m.tensors;
  const P = LAYER_NAMES[layer];
  const N = layout.rows;
  const { width: w } = attentionShape(c, layer);
  const d = c.modelDim;
  const f = c.ffnDim;
  const r = m.lora?.config.rank ?? 0;
  const want = (n: string): Float32Array | null => (plan.tensors.has(n) ? grads[n] : null);
  const lg = (name: string, b: string): LinearGrads => ({
    W: want(`${name}.W`),
    b: want(`${name}.${b}`),
    A: plan.lora && m.lora?.A[`${name}.W`] ? grads[`${name}.W.A`] : null,
    B: plan.lora && m.lora?.A[`${name}.W`] ? grads[`${name}.W.B`] : null,
  });
  const gs = sc.get('d.gs', N * Math.max(r, 1));
  // FFN block: xout = x1 + ff2(relu(ff1(ln2(x1)))); dres is dxout, becomes dx1.
  const h = sc.get(`${P}.ff1.y`, N * f);
  const dh = sc.get('d.h', N * f);
  linearBackward(ops, N, f, d, h, T[`${P}.ff2.W`], dres, dh, false, lg(`${P}.ff2`, 'b'), slot(m, `${P}.ff2.W`), sc.get(`${P}.ff2.us`, N * r), gs);
  reluBackwardInPlace(h, dh, N * f);
  const ln2 = sc.get(`${P}.ln2.y`, N * d);
  const dln = sc.get('d.ln', N * d);
  linearBackward(ops, N, d, f, ln2, T[`${P}.ff1.W`], dh, dln, false, lg(`${P}.ff1`, 'b'), slot(m, `${P}.ff1.W`), sc.get(`${P}.ff1.us`, N * r), gs);
  const x1 = sc.get(`${P}.x1`, N * d);
  layerNormBackward(N, d, x1, T[`${P}.ln2.g`], sc.get(`${P}.ln2.mean`, N), sc.get(`${P}.ln2.rstd`, N), dln, dres, true, want(`${P}.ln2.g`), want(`${P}.ln2.b`));
  // Attention block: x1 = res(xin) + out(att(qkv(ln1(xin)))); dres is dx1.
  const att = sc.get(`${P}.att`, N * w);
  const datt = sc.get('d.att', N * w);
  linearBackward(ops, N, w, d, att, T[`${P}.out.W`], dres, datt, false, lg(`${P}.out`, 'b'), slot(m, `${P}.out.W`), sc.get(`${P}.out.us`, N * r), gs);
  const qkv = sc.get(`${P}.qkv`, N * 3 * w);
  const dqkv = sc.get('d.qkv', N * 3 * w);
  attentionBackward(ops, layout, w, c.heads, T[`${P}.qScale`][0], qkv, sc.get(`${P}.probs`, probOffsets(layout, c.heads).total), datt, dqkv, sc);
  const g1 = want(`${P}.ln1.g`);
  const b1 = want(`${P}.ln1.b`);
  const needDln1 = needDx || g1 !== null || b1 !== null;
  const ln1 = sc.get(`${P}.ln1.y`, N * w);
  const dln1 = needDln1 ? sc.get('d.ln1', N * w) : null;
  linearBackward(ops, N, w, 3 * w, ln1, T[`${P}.qkv.W`], dqkv, dln1, false, lg(`${P}.qkv`, 'b'), slot(m, `${P}.qkv.W`), sc.get(`${P}.qkv.us`, N * r), gs);
  if (layer === 0) {
    // Layer 0's input is the frozen embedding: the residual projection and ln1 have nothing trainable below.
    if (dln1) layerNormBackward(N, w, xin, T[`${P}.ln1.g`], sc.get(`${P}.ln1.mean`, N), sc.get(`${P}.ln1.rstd`, N), dln1, null, false, g1, b1);
    return;
  }
  if (dln1) layerNormBackward(N, w, xin, T[`${P}.ln1.g`], sc.get(`${P}.ln1.mean`, N), sc.get(`${P}.ln1.rstd`, N), dln1, needDx ? dres : null, true, g1, b1);
}

/** Zeroed gradient buffers for a plan: one per planned base tensor, `${target}.A` / `.B` per adapter when plan.lora. */
export function allocGrads(m: ModelView, plan: GradPlan): GradMap {
  const g: GradMap = {};
  for (const n of plan.tensors) {
    const t = m.tensors[n];
    if (!t) throw new Error(`allocGrads: tensor ${n} is missing`);
    g[n] = new Float32Array(t.length);
  }
  if (plan.lora) {
    if (!m.lora) throw new Error('allocGrads: the plan trains LoRA but the model has no adapters');
    for (const k of Object.keys(m.lora.A)) {
      g[`${k}.A`] = new Float32Array(m.lora.A[k].length);
      g[`${k}.B`] = new Float32Array(m.lora.B[k].length);
    }
  }
  return g;
}

/** Packs token sequences back to back (no padding rows). */
export function packSequences(seqs: readonly Int32Array[]): { ids: Int32Array; layout: SeqLayout } {
  const starts = new Int32Array(seqs.length);
  const lens = new Int32Array(seqs.length);
  let n = 0;
  seqs.forEach((s, i) => {
    starts[i] = n;
    lens[i] = s.length;
    n += s.length;
  });
  const ids = new Int32Array(n);
  seqs.forEach((s, i) => ids.set(s, starts[i]));
  return { ids, layout: { rows: n, starts, lens } };
}

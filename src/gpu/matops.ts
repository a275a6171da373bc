// Dense matrix products behind one interface, so the transformer RM's forward and backward are written once
// and run on the plain-TS reference (tests, the readable twin) or on the wasm-SIMD kernels (the fast CPU path).
// All matrices are row-major Float32Array views; offsets are expressed with subarray().

export interface GemmOptions {
  /** A is stored [k,m] and used transposed. */
  transA?: boolean;
  /** B is stored [n,k] and used transposed. */
  transB?: boolean;
  /** C += result instead of C = result. */
  accumulate?: boolean;
  /** Bias [n] added to every row of the result (ignored with accumulate). */
  bias?: Float32Array;
}

export interface MatOps {
  readonly name: string;
  /** C[m,n] = op(A)[m,k] @ op(B)[k,n] (+ bias, or += C). */
  gemm(m: number, n: number, k: number, A: Float32Array, B: Float32Array, C: Float32Array, opts?: GemmOptions): void;
  /**
   * Hint that `a` is a frozen weight reused by many calls (its contents never change afterwards), so an
   * implementation may keep a copy resident (e.g. in wasm memory). Optional to honour.
   */
  pin?(a: Float32Array): void;
  dispose?(): void;
  /** Fused attention kernels, when the implementation has them (the wasm one); grad.ts runs its JS twin otherwise. */
  attention?: AttentionOps;
}

/**
 * Masked multi-head softmax attention over packed sequences (the layout of src/pipeline/rm/use-lite/grad.ts: sequence
 * s is rows starts[s] .. starts[s] + lens[s] of qkv [rows, 3 width] = q | k | v; probs holds each sequence's
 * [heads, L, L] back to back). Each returns false, doing nothing, for shapes it does not cover (the caller then runs
 * the JS twin: attentionForward/Backward in grad.ts, which is the reference in tests).
 */
export interface AttentionOps {
  /** out [rows, width] (padding rows 0) = softmax(qScale q k^T) v per sequence and head; probs receives the softmax. */
  forward(rows: number, starts: Int32Array, lens: Int32Array, width: number, heads: number, qScale: number, qkv: Float32Array, out: Float32Array, probs: Float32Array): boolean;
  /** dqkv [rows, 3 width] (written; padding rows 0) from dout [rows, width], the forward's probs and qkv. */
  backward(rows: number, starts: Int32Array, lens: Int32Array, width: number, heads: number, qScale: number, qkv: Float32Array, probs: Float32Array, dout: Float32Array, dqkv: Float32Array): boolean;
}

/** The reference: straightforward loops, f64 accumulation, deterministic. Slow (~1.7 GFLOP/s here); tests and twins. */
export const jsMatOps: MatOps = {
  name: 'js',
  gemm(m, n, k, A, B, C, opts = {}) {
    const { transA = false, transB = false, accumulate = false, bias } = opts;
    if (A.length < m * k || B.length < k * n || C.length < m * n) {
      throw new Error(`gemm: operand too small for m=${m} n=${n} k=${k} (A ${A.length}, B ${B.length}, C ${C.length})`);
    }
    if (bias && bias.length < n) throw new Error(`gemm: bias has ${bias.length} values, expected ${n}`);
    // Every C[i,j] is the float64 sum over p = 0..k-1 in that order, as in the textbook triple loop (so results are
    // identical to it), but the loops run along rows: with B transposed a row of A dots a row of B; otherwise a
    // float64 accumulator row takes a * B[p, :] for each p. ~3-5x faster than walking B by columns.
    if (transB) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          const bo = j * k;
          if (transA) for (let p = 0; p < k; p++) acc += A[p * m + i] * B[bo + p];
          else {
            const ao = i * k;
            for (let p = 0; p < k; p++) acc += A[ao + p] * B[bo + p];
          }
          if (accumulate) C[i * n + j] += acc;
          else C[i * n + j] = bias ? acc + bias[j] : acc;
        }
      }
      return;
    }
    const acc = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      for (let p = 0; p < k; p++) {
        const a = transA ? A[p * m + i] : A[i * k + p];
        const o = p * n;
        for (let j = 0; j < n; j++) acc[j] += a * B[o + j];
      }
      const row = i * n;
      for (let j = 0; j < n; j++) {
        if (accumulate) C[row + j] += acc[j];
        else C[row + j] = bias ? acc[j] + bias[j] : acc[j];
      }
    }
  },
};

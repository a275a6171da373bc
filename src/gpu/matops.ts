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
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const a = transA ? A[p * m + i] : A[i * k + p];
          const b = transB ? B[j * k + p] : B[p * n + j];
          s += a * b;
        }
        if (accumulate) C[i * n + j] += s;
        else C[i * n + j] = bias ? s + bias[j] : s;
      }
    }
  },
};

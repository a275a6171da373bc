// AssemblyScript (not TypeScript: excluded from tsc and vitest) compiled to WebAssembly SIMD by
// scripts/build-wasm.ts. The fast CPU path of the transformer RM: src/gpu/wasm/matops.ts calls these on raw pointers
// into one linear memory that the JS side owns and lays out (no AssemblyScript runtime, no static data, no
// allocations here), so the same module runs single-threaded or on a shared memory with worker threads.
//
// Layout conventions (all f32, row-major, byte pointers):
//   A   [m, lda]    the left operand, rows used [i0, i1), columns [0, k); or with transA stored [k, lda], used
//                   transposed in place
//   Bp  packed B:   panels of NR = 16 columns; panel j holds B[0..k, 16j..16j+16) contiguously (k rows of 16),
//                   zero-padded past n. Built once per call by packB, or once per pinned weight and kept.
//   C   [m, ldc]    ldc a multiple of 16 (padded), so the micro-kernel writes whole 16-wide blocks.
//
// Determinism: every C element is computed as ((init + a0*b0) + a1*b1) + ... in increasing p, with separate f32
// multiply and add (no FMA: wasm SIMD has none outside relaxed-simd, whose results vary by CPU). Blocking over
// rows or panels never changes that order, so any split of rows/panels between threads gives bit-identical C.

const NR: i32 = 16;

/**
 * The calling convention of these exports. Bump on any change of a signature or layout, together with
 * KERNEL_ABI in ../files.ts: a stale build (public/wasm/ older than the sources) then fails to load with a clear
 * error instead of silently misreading its arguments.
 */
export function abi(): i32 {
  return 5;
}

@inline function madd(c: v128, a: v128, b: v128): v128 {
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * C[i0..i1, panels j0..j1) = init + op(A)[i0..i1, 0..k) @ B[0..k, panels j0..j1).
 * init: 0 zeros, 1 the padded bias row at `bias`, 2 the current contents of C (accumulate).
 * B: panel j's row p at bp + j * bps + p * brs (bytes): packed (bps = k * 64, brs = 64) or B itself row-major
 * (bps = 64, brs = 4n; its last partial panel reads past column n into padding columns of C, never used).
 * Row-major B measured ~30% slower per flop than packed, so it only pays when few rows share the packing cost.
 * Register block 2 rows x 16 columns: 8 accumulators + 4 B vectors + 1 broadcast fit V8's 15 usable xmm registers.
 * Measured per CPU second on the USE-lite shapes (EPYC Zen 4, Node 20): 2x16 ~40 GFLOP/s, 4x8 ~37, 3x8 ~36,
 * 3x16 ~27 and 5x8 ~23 (those two spill). A row past i1 in the last block repeats row i1-1 (same value written
 * twice, the real row last), so there is no remainder code path.
 */
export function gemm(
  a: usize, lda: i32, transA: i32, bp: usize, bps: i32, brsBytes: i32, k: i32, c: usize, ldc: i32,
  i0: i32, i1: i32, j0: i32, j1: i32, init: i32, bias: usize,
): void {
  if (i1 <= i0 || j1 <= j0) return;
  // A[i, p] sits at a + i * rs + p * ps: rows contiguous (rs = lda floats, ps = 1) or, with transA, A stored
  // [k, lda] and read in place (rs = 1, ps = lda), so A^T @ B needs no transpose copy.
  const rs: usize = transA ? 4 : <usize>lda << 2;
  const ps: usize = transA ? <usize>lda << 2 : 4;
  const lc = <usize>ldc << 2;
  const kb = <usize>k * ps;
  const brs: usize = <usize>brsBytes;
  const last = i1 - 1;
  for (let j = j0; j < j1; j++) {
    const pj = bp + <usize>j * <usize>bps;
    const cj = c + (<usize>j << 6);
    const bj = bias + (<usize>j << 6);
    for (let i = i0; i < i1; i += 2) {
      const r1 = min(i + 1, last);
      let a0 = a + <usize>i * rs;
      let a1 = a + <usize>r1 * rs;
      const c0 = cj + <usize>i * lc;
      const c1 = cj + <usize>r1 * lc;
      let x00: v128, x01: v128, x02: v128, x03: v128, x10: v128, x11: v128, x12: v128, x13: v128;
      if (init == 2) {
        x00 = v128.load(c0); x01 = v128.load(c0, 16); x02 = v128.load(c0, 32); x03 = v128.load(c0, 48);
        x10 = v128.load(c1); x11 = v128.load(c1, 16); x12 = v128.load(c1, 32); x13 = v128.load(c1, 48);
      } else if (init == 1) {
        x00 = v128.load(bj); x01 = v128.load(bj, 16); x02 = v128.load(bj, 32); x03 = v128.load(bj, 48);
        x10 = x00; x11 = x01; x12 = x02; x13 = x03;
      } else {
        x00 = f32x4.splat(0); x01 = x00; x02 = x00; x03 = x00; x10 = x00; x11 = x00; x12 = x00; x13 = x00;
      }
      let p = pj;
      const end = a0 + kb;
      while (a0 < end) {
        const b0 = v128.load(p);
        const b1 = v128.load(p, 16);
        const b2 = v128.load(p, 32);
        const b3 = v128.load(p, 48);
        let s = v128.load32_splat(a0);
        x00 = madd(x00, s, b0); x01 = madd(x01, s, b1); x02 = madd(x02, s, b2); x03 = madd(x03, s, b3);
        s = v128.load32_splat(a1);
        x10 = madd(x10, s, b0); x11 = madd(x11, s, b1); x12 = madd(x12, s, b2); x13 = madd(x13, s, b3);
        a0 += ps; a1 += ps; p += brs;
      }
      // The duplicated row first, row i last: both hold their own row's value either way.
      v128.store(c1, x10); v128.store(c1, x11, 16); v128.store(c1, x12, 32); v128.store(c1, x13, 48);
      v128.store(c0, x00); v128.store(c0, x01, 16); v128.store(c0, x02, 32); v128.store(c0, x03, 48);
    }
  }
}

/**
 * Packs B into 16-column panels at dst (ceil(n/16) * k * 16 floats, zero-padded columns).
 * trans 0: B stored [k, n] (a weight W[in,out] used as x @ W). trans 1: B stored [n, k] (used as x @ B^T).
 */
export function packB(b: usize, k: i32, n: i32, trans: i32, dst: usize): void {
  const panels = (n + NR - 1) / NR;
  const full = n / NR;
  let d = dst;
  if (trans == 0) {
    const ln = <usize>n << 2;
    for (let j = 0; j < panels; j++) {
      let s = b + (<usize>(j * NR) << 2);
      if (j < full) {
        for (let p = 0; p < k; p++) {
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
          v128.store(d, v128.load(s, 32), 32);
          v128.store(d, v128.load(s, 48), 48);
          s += ln; d += 64;
        }
      } else {
        const w = n - j * NR;
        for (let p = 0; p < k; p++) {
          for (let q = 0; q < NR; q++) store<f32>(d + (<usize>q << 2), q < w ? load<f32>(s + (<usize>q << 2)) : 0);
          s += ln; d += 64;
        }
      }
    }
  } else {
    const lk = <usize>k << 2;
    for (let j = 0; j < panels; j++) {
      const w = min(NR, n - j * NR);
      const s = b + <usize>(j * NR) * lk;
      for (let p = 0; p < k; p++) {
        const sp = s + (<usize>p << 2);
        for (let q = 0; q < NR; q++) store<f32>(d + (<usize>q << 2), q < w ? load<f32>(sp + <usize>q * lk) : 0);
        d += 64;
      }
    }
  }
}

/** dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols (a transpose), in 8x8 tiles so both sides stay in cache. */
export function transpose(src: usize, rows: i32, cols: i32, lds: i32, dst: usize, ldd: i32): void {
  for (let r0 = 0; r0 < rows; r0 += 8) {
    const r1 = min(r0 + 8, rows);
    for (let c0 = 0; c0 < cols; c0 += 8) {
      const c1 = min(c0 + 8, cols);
      for (let r = r0; r < r1; r++) {
        const s = src + ((<usize>r * <usize>lds) << 2);
        for (let q = c0; q < c1; q++) store<f32>(dst + ((<usize>q * <usize>ldd + <usize>r) << 2), load<f32>(s + (<usize>q << 2)));
      }
    }
  }
}

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
 * error instead of silently misreading its arguments. New exports do not bump it: the JS side feature-detects
 * them (attnForward/attnBackward; an older build runs attention in JavaScript).
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

// ---------------------------------------------------------------------------------------------------------
// Masked multi-head softmax attention of the transformer RM, fused (the JS twin is attentionForward/Backward in
// src/pipeline/rm/use-lite/grad.ts, the reference in tests). One call covers every (sequence, head) of a layer: no
// per-head gathers, packing or copies. qkv [rows, 3w] holds q | k | v, head h at columns h*hd of each third; sequence
// s is rows starts[s] .. starts[s] + lens[s]; rows outside every sequence are padding (written 0 in out / dqkv).
// probs: each sequence's [heads, L, L] back to back, in sequence order (grad.ts probOffsets).
// Sums run in f32 in a fixed order (4 SIMD lanes over the head dimension, then the lanes), so results are
// deterministic; against the JS twin (f64 softmax statistics, gemm order) they differ by float rounding.

/** e^x for x <= 0 (a softmax's x - max): Cody-Waite reduction by ln 2 and a degree-6 Taylor polynomial on |r| <= ln2/2
 * (relative error ~1.2e-7, about 1 ulp); 0 below -87 (where e^x underflows f32's normal range). Plain f32
 * arithmetic, no tables and no FMA: the same bits on every CPU. */
@inline function expNeg(x: f32): f32 {
  if (x < -87.0) return 0;
  const n = f32.nearest(x * 1.4426950408889634);
  const r = x - n * <f32>0.693145751953125 - n * <f32>1.428606765330187e-6;
  let p: f32 = <f32>(1.0 / 720.0);
  p = p * r + <f32>(1.0 / 120.0);
  p = p * r + <f32>(1.0 / 24.0);
  p = p * r + <f32>(1.0 / 6.0);
  p = p * r + <f32>0.5;
  p = p * r + <f32>1.0;
  p = p * r + <f32>1.0;
  return p * reinterpret<f32>((<i32>n + 127) << 23);
}

/** sum_d a[d] * b[d] over hd floats (hd a multiple of 4): 4 lanes, then lane 0 + 1 + 2 + 3. */
@inline function dot(a: usize, b: usize, hd: i32): f32 {
  let acc = f32x4.splat(0);
  const end = a + (<usize>hd << 2);
  while (a < end) {
    acc = madd(acc, v128.load(a), v128.load(b));
    a += 16;
    b += 16;
  }
  return f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * dst[j] = scale * dot(a, b + j * bs) for j < n (rows of b bs bytes apart), four rows at a time sharing the loads of
 * a; each value summed exactly as dot() sums it.
 */
@inline function dots(a: usize, b: usize, bs: usize, n: i32, hd: i32, scale: f32, dst: usize): void {
  const hb = <usize>hd << 2;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    let b0 = b + <usize>j * bs;
    let b1 = b0 + bs;
    let b2 = b1 + bs;
    let b3 = b2 + bs;
    let c0 = f32x4.splat(0);
    let c1 = c0;
    let c2 = c0;
    let c3 = c0;
    let p = a;
    const end = a + hb;
    while (p < end) {
      const x = v128.load(p);
      c0 = madd(c0, x, v128.load(b0));
      c1 = madd(c1, x, v128.load(b1));
      c2 = madd(c2, x, v128.load(b2));
      c3 = madd(c3, x, v128.load(b3));
      p += 16;
      b0 += 16;
      b1 += 16;
      b2 += 16;
      b3 += 16;
    }
    const o = dst + (<usize>j << 2);
    store<f32>(o, hsum(c0) * scale);
    store<f32>(o, hsum(c1) * scale, 4);
    store<f32>(o, hsum(c2) * scale, 8);
    store<f32>(o, hsum(c3) * scale, 12);
  }
  for (; j < n; j++) store<f32>(dst + (<usize>j << 2), dot(a, b + <usize>j * bs, hd) * scale);
}

/**
 * dst row (hd floats) = scale * sum_j coef(j) * src row j, j < L, coef(j) = c[j * cs] (bytes: c + j * cs), src row j at
 * src + j * ss bytes. 16 floats at a time (4 accumulators), j in increasing order.
 */
@inline function combine(dst: usize, c: usize, cs: usize, src: usize, ss: usize, L: i32, hd: i32, scale: f32): void {
  const sc = f32x4.splat(scale);
  for (let d = 0; d < hd; d += 16) {
    const off = <usize>d << 2;
    let a0 = f32x4.splat(0);
    let a1 = a0;
    let a2 = a0;
    let a3 = a0;
    let cp = c;
    let sp = src + off;
    for (let j = 0; j < L; j++) {
      const w = v128.load32_splat(cp);
      a0 = madd(a0, w, v128.load(sp));
      a1 = madd(a1, w, v128.load(sp, 16));
      a2 = madd(a2, w, v128.load(sp, 32));
      a3 = madd(a3, w, v128.load(sp, 48));
      cp += cs;
      sp += ss;
    }
    v128.store(dst + off, f32x4.mul(a0, sc));
    v128.store(dst + off, f32x4.mul(a1, sc), 16);
    v128.store(dst + off, f32x4.mul(a2, sc), 32);
    v128.store(dst + off, f32x4.mul(a3, sc), 48);
  }
}

/**
 * combine() for two destination rows at once, coefficient sets c and c + cstep (bytes), sharing the loads of src (the
 * 2-row register block of gemm: 8 accumulators). Each row is summed exactly as combine() sums it.
 */
@inline function combine2(dst0: usize, dst1: usize, c: usize, cstep: usize, cs: usize, src: usize, ss: usize, L: i32, hd: i32, scale: f32): void {
  const sc = f32x4.splat(scale);
  for (let d = 0; d < hd; d += 16) {
    const off = <usize>d << 2;
    let a0 = f32x4.splat(0);
    let a1 = a0;
    let a2 = a0;
    let a3 = a0;
    let e0 = a0;
    let e1 = a0;
    let e2 = a0;
    let e3 = a0;
    let cp = c;
    let sp = src + off;
    for (let j = 0; j < L; j++) {
      const x0 = v128.load(sp);
      const x1 = v128.load(sp, 16);
      const x2 = v128.load(sp, 32);
      const x3 = v128.load(sp, 48);
      let w = v128.load32_splat(cp);
      a0 = madd(a0, w, x0);
      a1 = madd(a1, w, x1);
      a2 = madd(a2, w, x2);
      a3 = madd(a3, w, x3);
      w = v128.load32_splat(cp + cstep);
      e0 = madd(e0, w, x0);
      e1 = madd(e1, w, x1);
      e2 = madd(e2, w, x2);
      e3 = madd(e3, w, x3);
      cp += cs;
      sp += ss;
    }
    v128.store(dst0 + off, f32x4.mul(a0, sc));
    v128.store(dst0 + off, f32x4.mul(a1, sc), 16);
    v128.store(dst0 + off, f32x4.mul(a2, sc), 32);
    v128.store(dst0 + off, f32x4.mul(a3, sc), 48);
    v128.store(dst1 + off, f32x4.mul(e0, sc));
    v128.store(dst1 + off, f32x4.mul(e1, sc), 16);
    v128.store(dst1 + off, f32x4.mul(e2, sc), 32);
    v128.store(dst1 + off, f32x4.mul(e3, sc), 48);
  }
}

/**
 * Rows r < n of a combine: dst row r (at dst + r * ds) from coefficients at c + r * cr, in pairs (combine2), the odd
 * last one alone.
 */
@inline function combineRows(n: i32, dst: usize, ds: usize, c: usize, cr: usize, cs: usize, src: usize, ss: usize, L: i32, hd: i32, scale: f32): void {
  let r = 0;
  for (; r + 2 <= n; r += 2) combine2(dst + <usize>r * ds, dst + <usize>(r + 1) * ds, c + <usize>r * cr, cr, cs, src, ss, L, hd, scale);
  if (r < n) combine(dst + <usize>r * ds, c + <usize>r * cr, cs, src, ss, L, hd, scale);
}

/**
 * out [rows, w] = per sequence and head softmax(qScale q k^T) v; probs receives the softmax. hd = w / heads must be a
 * multiple of 16 (the JS side checks; USE-lite: 64 and 128).
 */
export function attnForward(qkv: usize, rows: i32, w: i32, heads: i32, qScale: f32, starts: usize, lens: usize, nSeq: i32, out: usize, probs: usize): void {
  memory.fill(out, 0, (<usize>rows * <usize>w) << 2);
  const hd = w / heads;
  const rs = (<usize>(3 * w)) << 2;
  const os = (<usize>w) << 2;
  let pp = probs;
  for (let s = 0; s < nSeq; s++) {
    const st = load<i32>(starts + (<usize>s << 2));
    const L = load<i32>(lens + (<usize>s << 2));
    if (L <= 0) continue;
    const base = qkv + <usize>st * rs;
    for (let h = 0; h < heads; h++) {
      const qc = (<usize>(h * hd)) << 2;
      const kc = (<usize>(w + h * hd)) << 2;
      const vc = (<usize>(2 * w + h * hd)) << 2;
      for (let i = 0; i < L; i++) {
        const row = pp + ((<usize>i * <usize>L) << 2);
        const qi = base + <usize>i * rs + qc;
        dots(qi, base + kc, rs, L, hd, qScale, row);
        let mx: f32 = -Infinity;
        for (let j = 0; j < L; j++) mx = max(mx, load<f32>(row + (<usize>j << 2)));
        let sum: f32 = 0;
        for (let j = 0; j < L; j++) {
          const e = expNeg(load<f32>(row + (<usize>j << 2)) - mx);
          store<f32>(row + (<usize>j << 2), e);
          sum += e;
        }
        const inv: f32 = 1 / sum;
        for (let j = 0; j < L; j++) store<f32>(row + (<usize>j << 2), load<f32>(row + (<usize>j << 2)) * inv);
      }
      // out_i = sum_j P[i, j] v_j
      combineRows(L, out + <usize>st * os + qc, os, pp, (<usize>L) << 2, 4, base + vc, rs, L, hd, 1);
      pp += (<usize>L * <usize>L) << 2;
    }
  }
}

/**
 * dqkv [rows, 3w] (written; padding rows 0) from dout [rows, w], the forward's probs and qkv: dv = P^T do,
 * dS = P * (do v^T - rowsum(P * do v^T)), dq = qScale dS k, dk = qScale dS^T q. ds: L*L floats of scratch.
 */
export function attnBackward(qkv: usize, rows: i32, w: i32, heads: i32, qScale: f32, starts: usize, lens: usize, nSeq: i32, probs: usize, dout: usize, dqkv: usize, ds: usize): void {
  memory.fill(dqkv, 0, (<usize>rows * <usize>(3 * w)) << 2);
  const hd = w / heads;
  const rs = (<usize>(3 * w)) << 2;
  const os = (<usize>w) << 2;
  let pp = probs;
  for (let s = 0; s < nSeq; s++) {
    const st = load<i32>(starts + (<usize>s << 2));
    const L = load<i32>(lens + (<usize>s << 2));
    if (L <= 0) continue;
    const base = qkv + <usize>st * rs;
    const dbase = dqkv + <usize>st * rs;
    const obase = dout + <usize>st * os;
    const lb = (<usize>L) << 2;
    for (let h = 0; h < heads; h++) {
      const qc = (<usize>(h * hd)) << 2;
      const kc = (<usize>(w + h * hd)) << 2;
      const vc = (<usize>(2 * w + h * hd)) << 2;
      const oc = (<usize>(h * hd)) << 2;
      // dv_j = sum_i P[i, j] do_i (column j of P: stride L floats)
      combineRows(L, dbase + vc, rs, pp, 4, lb, obase + oc, os, L, hd, 1);
      // dS
      for (let i = 0; i < L; i++) {
        const prow = pp + <usize>i * lb;
        const drow = ds + <usize>i * lb;
        const oi = obase + <usize>i * os + oc;
        dots(oi, base + vc, rs, L, hd, 1, drow);
        let rsum: f32 = 0;
        for (let j = 0; j < L; j++) rsum += load<f32>(drow + (<usize>j << 2)) * load<f32>(prow + (<usize>j << 2));
        for (let j = 0; j < L; j++) {
          const a = drow + (<usize>j << 2);
          store<f32>(a, load<f32>(prow + (<usize>j << 2)) * (load<f32>(a) - rsum));
        }
      }
      // dq_i = qScale sum_j dS[i, j] k_j ; dk_j = qScale sum_i dS[i, j] q_i
      combineRows(L, dbase + qc, rs, ds, lb, 4, base + kc, rs, L, hd, qScale);
      combineRows(L, dbase + kc, rs, ds, 4, lb, base + qc, rs, L, hd, qScale);
      pp += <usize>L * lb;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The bag RM's MLP layer in f64 (src/gpu/cpu/bag-wasm.ts drives them; the JS twins are linearForward,
// accumulateXtDZ and backpropInput in src/gpu/cpu/ops.ts, the reference in tests). SIMD lanes run across output
// columns (2 f64 per v128), never across a sum, and wasm has no FMA: every output element is the same sequence of
// f64 multiplies and adds, in the same order, as its JS twin, so the results are bit-identical to it (tested).
// All operands f64, row-major, byte pointers; the layer's f32 weights are widened once by f32ToF64 (exact).

@inline function madd2(c: v128, a: v128, b: v128): v128 {
  return f64x2.add(c, f64x2.mul(a, b));
}

/** dst[i] = f64(src[i]) for i < n (f32 -> f64 is exact). */
export function f32ToF64(src: usize, n: i32, dst: usize): void {
  for (let i = 0; i < n; i++) store<f64>(dst + (<usize>i << 3), <f64>load<f32>(src + (<usize>i << 2)));
}

/**
 * Z[s, j] = b[j] + X[s, 0] W[0, j] + X[s, 1] W[1, j] + ... (k increasing) for X [S, K], W [K, H], b [H], Z [S, H].
 * Blocks of 2 rows x 8 columns (8 accumulators), then 2-column and 1-column tails, then a last odd row.
 */
export function bagLinear(x: usize, S: i32, K: i32, w: usize, b: usize, H: i32, z: usize): void {
  const lk = <usize>K << 3;
  const lh = <usize>H << 3;
  let s = 0;
  for (; s + 2 <= S; s += 2) {
    const x0 = x + <usize>s * lk;
    const x1 = x0 + lk;
    const z0 = z + <usize>s * lh;
    const z1 = z0 + lh;
    let j = 0;
    for (; j + 8 <= H; j += 8) {
      const jb = <usize>j << 3;
      let a0 = v128.load(b + jb), a1 = v128.load(b + jb, 16), a2 = v128.load(b + jb, 32), a3 = v128.load(b + jb, 48);
      let c0 = a0, c1 = a1, c2 = a2, c3 = a3;
      let wp = w + jb;
      for (let k = 0; k < K; k++) {
        const kb = <usize>k << 3;
        const u = v128.load64_splat(x0 + kb);
        const v = v128.load64_splat(x1 + kb);
        const w0 = v128.load(wp), w1 = v128.load(wp, 16), w2 = v128.load(wp, 32), w3 = v128.load(wp, 48);
        a0 = madd2(a0, u, w0); a1 = madd2(a1, u, w1); a2 = madd2(a2, u, w2); a3 = madd2(a3, u, w3);
        c0 = madd2(c0, v, w0); c1 = madd2(c1, v, w1); c2 = madd2(c2, v, w2); c3 = madd2(c3, v, w3);
        wp += lh;
      }
      v128.store(z0 + jb, a0); v128.store(z0 + jb, a1, 16); v128.store(z0 + jb, a2, 32); v128.store(z0 + jb, a3, 48);
      v128.store(z1 + jb, c0); v128.store(z1 + jb, c1, 16); v128.store(z1 + jb, c2, 32); v128.store(z1 + jb, c3, 48);
    }
    for (; j + 2 <= H; j += 2) {
      const jb = <usize>j << 3;
      let a = v128.load(b + jb);
      let c = a;
      let wp = w + jb;
      for (let k = 0; k < K; k++) {
        const kb = <usize>k << 3;
        const wv = v128.load(wp);
        a = madd2(a, v128.load64_splat(x0 + kb), wv);
        c = madd2(c, v128.load64_splat(x1 + kb), wv);
        wp += lh;
      }
      v128.store(z0 + jb, a);
      v128.store(z1 + jb, c);
    }
    if (j < H) {
      const jb = <usize>j << 3;
      let a = load<f64>(b + jb);
      let c = a;
      for (let k = 0; k < K; k++) {
        const kb = <usize>k << 3;
        const wv = load<f64>(w + <usize>k * lh + jb);
        a += load<f64>(x0 + kb) * wv;
        c += load<f64>(x1 + kb) * wv;
      }
      store<f64>(z0 + jb, a);
      store<f64>(z1 + jb, c);
    }
  }
  if (s < S) {
    const x0 = x + <usize>s * lk;
    const z0 = z + <usize>s * lh;
    let j = 0;
    for (; j + 2 <= H; j += 2) {
      const jb = <usize>j << 3;
      let a = v128.load(b + jb);
      let wp = w + jb;
      for (let k = 0; k < K; k++) {
        a = madd2(a, v128.load64_splat(x0 + (<usize>k << 3)), v128.load(wp));
        wp += lh;
      }
      v128.store(z0 + jb, a);
    }
    if (j < H) {
      const jb = <usize>j << 3;
      let a = load<f64>(b + jb);
      for (let k = 0; k < K; k++) a += load<f64>(x0 + (<usize>k << 3)) * load<f64>(w + <usize>k * lh + jb);
      store<f64>(z0 + jb, a);
    }
  }
}

/**
 * G[k, j] += (0 + X[0, k] D[0, j] + X[1, k] D[1, j] + ...) (s increasing) for X [S, K], D [S, H], G [K, H]: the
 * weight gradient X^T D of a layer. Blocks of 2 rows of G x 8 columns, then tails.
 */
export function bagXtDZ(x: usize, S: i32, K: i32, d: usize, H: i32, g: usize): void {
  const lk = <usize>K << 3;
  const lh = <usize>H << 3;
  let k = 0;
  for (; k + 2 <= K; k += 2) {
    const g0 = g + <usize>k * lh;
    const g1 = g0 + lh;
    const xk = x + (<usize>k << 3);
    let j = 0;
    for (; j + 8 <= H; j += 8) {
      const jb = <usize>j << 3;
      const zero = f64x2.splat(0);
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero, c0 = zero, c1 = zero, c2 = zero, c3 = zero;
      let xp = xk;
      let dp = d + jb;
      for (let s = 0; s < S; s++) {
        const u = v128.load64_splat(xp);
        const v = v128.load64_splat(xp, 8);
        const d0 = v128.load(dp), d1 = v128.load(dp, 16), d2 = v128.load(dp, 32), d3 = v128.load(dp, 48);
        a0 = madd2(a0, u, d0); a1 = madd2(a1, u, d1); a2 = madd2(a2, u, d2); a3 = madd2(a3, u, d3);
        c0 = madd2(c0, v, d0); c1 = madd2(c1, v, d1); c2 = madd2(c2, v, d2); c3 = madd2(c3, v, d3);
        xp += lk;
        dp += lh;
      }
      const p = g0 + jb;
      const q = g1 + jb;
      v128.store(p, f64x2.add(v128.load(p), a0)); v128.store(p, f64x2.add(v128.load(p, 16), a1), 16);
      v128.store(p, f64x2.add(v128.load(p, 32), a2), 32); v128.store(p, f64x2.add(v128.load(p, 48), a3), 48);
      v128.store(q, f64x2.add(v128.load(q), c0)); v128.store(q, f64x2.add(v128.load(q, 16), c1), 16);
      v128.store(q, f64x2.add(v128.load(q, 32), c2), 32); v128.store(q, f64x2.add(v128.load(q, 48), c3), 48);
    }
    for (; j < H; j++) {
      const jb = <usize>j << 3;
      let a: f64 = 0, c: f64 = 0;
      for (let s = 0; s < S; s++) {
        const dv = load<f64>(d + <usize>s * lh + jb);
        const xs = xk + <usize>s * lk;
        a += load<f64>(xs) * dv;
        c += load<f64>(xs, 8) * dv;
      }
      store<f64>(g0 + jb, load<f64>(g0 + jb) + a);
      store<f64>(g1 + jb, load<f64>(g1 + jb) + c);
    }
  }
  if (k < K) {
    const g0 = g + <usize>k * lh;
    const xk = x + (<usize>k << 3);
    let j = 0;
    for (; j + 2 <= H; j += 2) {
      const jb = <usize>j << 3;
      let a = f64x2.splat(0);
      for (let s = 0; s < S; s++) a = madd2(a, v128.load64_splat(xk + <usize>s * lk), v128.load(d + <usize>s * lh + jb));
      v128.store(g0 + jb, f64x2.add(v128.load(g0 + jb), a));
    }
    if (j < H) {
      const jb = <usize>j << 3;
      let a: f64 = 0;
      for (let s = 0; s < S; s++) a += load<f64>(xk + <usize>s * lk) * load<f64>(d + <usize>s * lh + jb);
      store<f64>(g0 + jb, load<f64>(g0 + jb) + a);
    }
  }
}

/**
 * DX[s, k] = E + O for D [S, H], W [K, H], DX [S, K], where E sums W[k, j] D[s, j] over the even j and O over the odd
 * j, each in increasing j, and with H odd the last column is added to E after the pairs: the two lanes of one f64x2
 * accumulator are exactly backpropInput's a0 / a1 partial sums. Blocks of 2 rows x 2 inputs, then tails.
 */
export function bagBackprop(d: usize, S: i32, H: i32, w: usize, K: i32, dx: usize): void {
  const lk = <usize>K << 3;
  const lh = <usize>H << 3;
  const H2 = H & ~1;
  const odd = H2 < H;
  const hb = <usize>H2 << 3;
  let s = 0;
  for (; s + 2 <= S; s += 2) {
    const d0 = d + <usize>s * lh;
    const d1 = d0 + lh;
    const o0 = dx + <usize>s * lk;
    const o1 = o0 + lk;
    let k = 0;
    for (; k + 2 <= K; k += 2) {
      const w0 = w + <usize>k * lh;
      const w1 = w0 + lh;
      const zero = f64x2.splat(0);
      let a = zero, bb = zero, c = zero, e = zero;
      for (let jb: usize = 0; jb < hb; jb += 16) {
        const p = v128.load(w0 + jb), q = v128.load(w1 + jb);
        const u = v128.load(d0 + jb), v = v128.load(d1 + jb);
        a = madd2(a, p, u); bb = madd2(bb, q, u); c = madd2(c, p, v); e = madd2(e, q, v);
      }
      let a0 = f64x2.extract_lane(a, 0), b0 = f64x2.extract_lane(bb, 0), c0 = f64x2.extract_lane(c, 0), e0 = f64x2.extract_lane(e, 0);
      if (odd) {
        const p = load<f64>(w0 + hb), q = load<f64>(w1 + hb), u = load<f64>(d0 + hb), v = load<f64>(d1 + hb);
        a0 += p * u; b0 += q * u; c0 += p * v; e0 += q * v;
      }
      const kb = <usize>k << 3;
      store<f64>(o0 + kb, a0 + f64x2.extract_lane(a, 1));
      store<f64>(o0 + kb, b0 + f64x2.extract_lane(bb, 1), 8);
      store<f64>(o1 + kb, c0 + f64x2.extract_lane(c, 1));
      store<f64>(o1 + kb, e0 + f64x2.extract_lane(e, 1), 8);
    }
    for (; k < K; k++) {
      const w0 = w + <usize>k * lh;
      let a = f64x2.splat(0), c = f64x2.splat(0);
      for (let jb: usize = 0; jb < hb; jb += 16) {
        const p = v128.load(w0 + jb);
        a = madd2(a, p, v128.load(d0 + jb));
        c = madd2(c, p, v128.load(d1 + jb));
      }
      let a0 = f64x2.extract_lane(a, 0), c0 = f64x2.extract_lane(c, 0);
      if (odd) {
        const p = load<f64>(w0 + hb);
        a0 += p * load<f64>(d0 + hb);
        c0 += p * load<f64>(d1 + hb);
      }
      store<f64>(o0 + (<usize>k << 3), a0 + f64x2.extract_lane(a, 1));
      store<f64>(o1 + (<usize>k << 3), c0 + f64x2.extract_lane(c, 1));
    }
  }
  if (s < S) {
    const d0 = d + <usize>s * lh;
    const o0 = dx + <usize>s * lk;
    for (let k = 0; k < K; k++) {
      const w0 = w + <usize>k * lh;
      let a = f64x2.splat(0);
      for (let jb: usize = 0; jb < hb; jb += 16) a = madd2(a, v128.load(w0 + jb), v128.load(d0 + jb));
      let a0 = f64x2.extract_lane(a, 0);
      if (odd) a0 += load<f64>(w0 + hb) * load<f64>(d0 + hb);
      store<f64>(o0 + (<usize>k << 3), a0 + f64x2.extract_lane(a, 1));
    }
  }
}

// The rest of the bag RM's training step, on a trainer's resident table (JS twins: meanPool, CpuTrainer.scatter and
// adamw in src/gpu/cpu/; same bits, same reasons as above: lanes across the embedding dimension, f64 arithmetic in
// the JS order, f32 storage rounded as a Float32Array store rounds).

/** Two f32 at p widened to an f64x2 (exact). */
@inline function ld2f32(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

/**
 * out[g] = (0 + E[ids[t0]] + E[ids[t1]] + ...) / n for the n tokens t of segment g = seg[g] .. seg[g+1] of ids (zeros
 * when n = 0): E f32 [V, D], ids and seg i32, out f64 [nSeg, D]. Columns in blocks of 8, then 2, then 1.
 */
export function bagPool(e: usize, D: i32, ids: usize, seg: usize, nSeg: i32, out: usize): void {
  const ld = <usize>D << 2;
  for (let g = 0; g < nSeg; g++) {
    const t0 = load<i32>(seg + (<usize>g << 2));
    const t1 = load<i32>(seg + (<usize>g << 2), 4);
    const o = out + <usize>g * (<usize>D << 3);
    const n = t1 - t0;
    if (n <= 0) {
      memory.fill(o, 0, <usize>D << 3);
      continue;
    }
    const nn = f64x2.splat(<f64>n);
    const tEnd = ids + (<usize>t1 << 2);
    let d = 0;
    for (; d + 8 <= D; d += 8) {
      const zero = f64x2.splat(0);
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      const db = <usize>d << 2;
      for (let t = ids + (<usize>t0 << 2); t < tEnd; t += 4) {
        const r = e + <usize>load<i32>(t) * ld + db;
        a0 = f64x2.add(a0, ld2f32(r));
        a1 = f64x2.add(a1, ld2f32(r + 8));
        a2 = f64x2.add(a2, ld2f32(r + 16));
        a3 = f64x2.add(a3, ld2f32(r + 24));
      }
      const ob = o + (<usize>d << 3);
      v128.store(ob, f64x2.div(a0, nn)); v128.store(ob, f64x2.div(a1, nn), 16);
      v128.store(ob, f64x2.div(a2, nn), 32); v128.store(ob, f64x2.div(a3, nn), 48);
    }
    for (; d + 2 <= D; d += 2) {
      let a = f64x2.splat(0);
      const db = <usize>d << 2;
      for (let t = ids + (<usize>t0 << 2); t < tEnd; t += 4) a = f64x2.add(a, ld2f32(e + <usize>load<i32>(t) * ld + db));
      v128.store(o + (<usize>d << 3), f64x2.div(a, nn));
    }
    if (d < D) {
      let a: f64 = 0;
      const db = <usize>d << 2;
      for (let t = ids + (<usize>t0 << 2); t < tEnd; t += 4) a += <f64>load<f32>(e + <usize>load<i32>(t) * ld + db);
      store<f64>(o + (<usize>d << 3), a / <f64>n);
    }
  }
}

/**
 * The sparse table gradient: gE[0 .. nTouched) = 0, then for each segment g with n > 0 tokens and each of its tokens t in
 * order, gE[slots[t]] += dx[g] * (1 / n) (dx f64 [nSeg, D], the input gradient in bagPool's segment layout; slots i32
 * per token, the gradient row of the token's table row). sc: D f64 of scratch.
 */
export function bagScatter(ge: usize, D: i32, slots: usize, seg: usize, nSeg: i32, dx: usize, nTouched: i32, sc: usize): void {
  const lg = <usize>D << 3;
  memory.fill(ge, 0, <usize>nTouched * lg);
  const D2 = D & ~1;
  for (let g = 0; g < nSeg; g++) {
    const t0 = load<i32>(seg + (<usize>g << 2));
    const t1 = load<i32>(seg + (<usize>g << 2), 4);
    const n = t1 - t0;
    if (n <= 0) continue;
    const inv: f64 = 1 / <f64>n;
    const iv = f64x2.splat(inv);
    const dg = dx + <usize>g * lg;
    for (let d = 0; d < D2; d += 2) v128.store(sc + (<usize>d << 3), f64x2.mul(v128.load(dg + (<usize>d << 3)), iv));
    if (D2 < D) store<f64>(sc + (<usize>D2 << 3), load<f64>(dg + (<usize>D2 << 3)) * inv);
    for (let t = t0; t < t1; t++) {
      const row = ge + <usize>load<i32>(slots + (<usize>t << 2)) * lg;
      let d = 0;
      for (; d + 8 <= D; d += 8) {
        const p = row + (<usize>d << 3);
        const s = sc + (<usize>d << 3);
        v128.store(p, f64x2.add(v128.load(p), v128.load(s)));
        v128.store(p, f64x2.add(v128.load(p, 16), v128.load(s, 16)), 16);
        v128.store(p, f64x2.add(v128.load(p, 32), v128.load(s, 32)), 32);
        v128.store(p, f64x2.add(v128.load(p, 48), v128.load(s, 48)), 48);
      }
      for (; d + 2 <= D; d += 2) {
        const p = row + (<usize>d << 3);
        v128.store(p, f64x2.add(v128.load(p), v128.load(sc + (<usize>d << 3))));
      }
      if (d < D) store<f64>(row + (<usize>d << 3), load<f64>(row + (<usize>d << 3)) + load<f64>(sc + (<usize>d << 3)));
    }
  }
}

/** One AdamW element step, as adamw() in src/gpu/cpu/ops.ts does it (f64, stored as f32). */
@inline function adamOne(pq: usize, mq: usize, vq: usize, gi: f64, b1: f64, c1: f64, b2: f64, c2: f64, decay: f64, stepSize: f64, epsHat: f64): void {
  const mi = b1 * <f64>load<f32>(mq) + c1 * gi;
  const vi = b2 * <f64>load<f32>(vq) + c2 * gi * gi;
  store<f32>(mq, <f32>mi);
  store<f32>(vq, <f32>vi);
  store<f32>(pq, <f32>(<f64>load<f32>(pq) * decay - (stepSize * mi) / (Math.sqrt(vi) + epsHat)));
}

/** adamw() on n elements: p, m, v f32 (updated), g f64, given this tensor's bias corrections bc1, bc2. */
@inline function adamRun(p: usize, m: usize, v: usize, n: i32, g: usize, bc1: f64, bc2: f64, lr: f64, beta1: f64, beta2: f64, eps: f64, wd: f64): void {
  const sqrtBc2 = Math.sqrt(bc2);
  const stepSize = (lr / bc1) * sqrtBc2;
  const epsHat = eps * sqrtBc2;
  const decay = 1 - lr * wd;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const B1 = f64x2.splat(beta1), C1 = f64x2.splat(c1), B2 = f64x2.splat(beta2), C2 = f64x2.splat(c2);
  const DEC = f64x2.splat(decay), SS = f64x2.splat(stepSize), EH = f64x2.splat(epsHat);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o4 = <usize>i << 2;
    const gi = v128.load(g + (<usize>i << 3));
    const mi = f64x2.add(f64x2.mul(B1, ld2f32(m + o4)), f64x2.mul(C1, gi));
    const vi = f64x2.add(f64x2.mul(B2, ld2f32(v + o4)), f64x2.mul(f64x2.mul(C2, gi), gi));
    v128.store64_lane(m + o4, f32x4.demote_f64x2_zero(mi), 0);
    v128.store64_lane(v + o4, f32x4.demote_f64x2_zero(vi), 0);
    const pn = f64x2.sub(f64x2.mul(ld2f32(p + o4), DEC), f64x2.div(f64x2.mul(SS, mi), f64x2.add(f64x2.sqrt(vi), EH)));
    v128.store64_lane(p + o4, f32x4.demote_f64x2_zero(pn), 0);
  }
  if (i < n) {
    const o4 = <usize>i << 2;
    adamOne(p + o4, m + o4, v + o4, load<f64>(g + (<usize>i << 3)), beta1, c1, beta2, c2, decay, stepSize, epsHat);
  }
}

/** AdamW on a dense tensor of n elements (see adamRun). */
export function bagAdam(p: usize, m: usize, v: usize, n: i32, g: usize, bc1: f64, bc2: f64, lr: f64, beta1: f64, beta2: f64, eps: f64, wd: f64): void {
  adamRun(p, m, v, n, g, bc1, bc2, lr, beta1, beta2, eps, wd);
}

/**
 * Lazy row-wise AdamW of the table: for each slot s < nRows, row rows[s] of p/m/v (f32 [V, D]) steps with gradient
 * row s of g (f64 [nRows, D]) and that row's own bias corrections bcs[2s], bcs[2s+1] (f64).
 */
export function bagAdamRows(p: usize, m: usize, v: usize, D: i32, rows: usize, nRows: i32, g: usize, bcs: usize, lr: f64, beta1: f64, beta2: f64, eps: f64, wd: f64): void {
  const lr4 = <usize>D << 2;
  for (let s = 0; s < nRows; s++) {
    const o = <usize>load<i32>(rows + (<usize>s << 2)) * lr4;
    const b = bcs + (<usize>s << 4);
    adamRun(p + o, m + o, v + o, D, g + <usize>s * (<usize>D << 3), load<f64>(b), load<f64>(b, 8), lr, beta1, beta2, eps, wd);
  }
}

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

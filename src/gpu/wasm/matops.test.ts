import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsMatOps } from '../matops.ts';
import type { GemmOptions } from '../matops.ts';
import { WASM_FILES } from './files.ts';
import { loadKernelModule, WasmKernelsError } from './loader.ts';
import { createWasmMatOps, resolveThreads, sharedWasmMatOps } from './matops.ts';
import type { WasmMatOps } from './matops.ts';
import { threadSupport } from './threads.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rand(r: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

type Mode = 'plain' | 'bias' | 'accumulate';
const MODES: Mode[] = ['plain', 'bias', 'accumulate'];

// Odd sizes around the 2-row x 16-column register block, m=1, k=1, n=1, and one USE-lite-like block.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 9, 5],
  [3, 1, 7],
  [5, 13, 1],
  [7, 8, 3],
  [4, 16, 16],
  [9, 23, 17],
  [13, 31, 40],
  [33, 65, 129],
  [64, 96, 256],
  // transA with a narrow result (n <= 16 < m): the C^T = B^T @ A route
  [40, 8, 33],
  [70, 3, 64],
  [129, 16, 20],
];

/**
 * Runs one case on `ops` and on jsMatOps (f64 sums) and returns the largest error in units of the f32 summation
 * bound (k+2) * 2^-24 * (sum_p |a_ip b_pj| + |init_ij|): a correct f32 kernel stays below 1.
 */
function errorInBounds(ops: WasmMatOps, m: number, n: number, k: number, transA: boolean, transB: boolean, mode: Mode, seed: number): number {
  const r = rng(seed);
  const A = rand(r, m * k);
  const B = rand(r, k * n);
  const bias = rand(r, n);
  const C0 = rand(r, m * n);
  const opts: GemmOptions = { transA, transB, accumulate: mode === 'accumulate', bias: mode === 'bias' ? bias : undefined };
  const ref = C0.slice();
  const got = C0.slice();
  jsMatOps.gemm(m, n, k, A, B, ref, opts);
  ops.gemm(m, n, k, A, B, got, opts);
  const absSum = new Float32Array(m * n);
  jsMatOps.gemm(m, n, k, A.map(Math.abs), B.map(Math.abs), absSum, { transA, transB });
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const init = mode === 'accumulate' ? C0[i * n + j] : mode === 'bias' ? bias[j] : 0;
      const bound = (k + 2) * 2 ** -24 * (absSum[i * n + j] + Math.abs(init)) + 1e-30;
      const e = Math.abs(got[i * n + j] - ref[i * n + j]) / bound;
      if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
    }
  }
  return worst;
}

describe('wasm SIMD MatOps', () => {
  let one: WasmMatOps;
  let two: WasmMatOps;
  beforeAll(async () => {
    one = await createWasmMatOps({ threads: 1 });
    // minSplitFlops 0: split even the tiny test shapes, so the threaded path is what runs.
    two = await createWasmMatOps({ threads: 2, minSplitFlops: 0, adaptiveSplit: false });
  });
  afterAll(() => {
    one?.dispose();
    two?.dispose();
  });

  it('starts 2 threads in Node (shared memory + worker_threads)', () => {
    expect(threadSupport()).toBeNull();
    expect(two.threads).toBe(2);
    expect(two.fallback).toBeUndefined();
    expect(two.name).toBe('wasm-2t');
    expect(one.threads).toBe(1);
  });

  it('matches jsMatOps on every variant (A@B, A@B^T, A^T@B, A^T@B^T) x (plain, bias, accumulate), odd shapes', () => {
    let seed = 1;
    const failures: string[] = [];
    for (const [m, n, k] of SHAPES) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const mode of MODES) {
            const e = errorInBounds(one, m, n, k, transA, transB, mode, seed++);
            if (!(e < 1)) failures.push(`m=${m} n=${n} k=${k} transA=${transA} transB=${transB} ${mode}: ${e.toFixed(2)} x bound`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('2 threads give bit-identical results to 1 thread (row split and, for small m, panel split)', () => {
    let seed = 100;
    for (const [m, n, k] of [...SHAPES, [2, 40, 33] as [number, number, number], [130, 24, 70] as [number, number, number]]) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
        for (const mode of MODES) {
          const r = rng(seed++);
          const A = rand(r, m * k);
          const B = rand(r, k * n);
          const bias = rand(r, n);
          const c1 = rand(r, m * n);
          const c2 = c1.slice();
          const opts: GemmOptions = { transA, transB, accumulate: mode === 'accumulate', bias: mode === 'bias' ? bias : undefined };
          one.gemm(m, n, k, A, B, c1, opts);
          two.gemm(m, n, k, A, B, c2, opts);
          expect(new Uint32Array(c2.buffer), `m=${m} n=${n} k=${k} transA=${transA} transB=${transB} ${mode}`).toEqual(new Uint32Array(c1.buffer));
        }
      }
    }
    // Every case with m >= 4 or >= 2 panels was split (m = n = 1 ones cannot be).
    expect(two.threadStats()).toMatchObject({ pauses: 0 });
    expect(two.threadStats().splits).toBeGreaterThan(100);
  });

  it('keeps pinned weights resident: packed once, same results, offsets into one pinned buffer', async () => {
    const ops = await createWasmMatOps({ threads: 1 });
    try {
      const r = rng(7);
      const [m, n, k] = [10, 24, 36];
      const all = rand(r, 5 + 2 * k * n); // two weights in one buffer, the second at an odd offset
      const W1 = all.subarray(5, 5 + k * n);
      const W2 = all.subarray(5 + k * n);
      ops.pin(all);
      const x = rand(r, m * k);
      for (const [W, transB] of [[W1, false], [W2, false], [W2, true], [W1, false]] as const) {
        const got = new Float32Array(m * n);
        const ref = new Float32Array(m * n);
        ops.gemm(m, n, k, x, W, got, { transB });
        one.gemm(m, n, k, x, W.slice(), ref, { transB }); // a copy: not pinned
        expect(got).toEqual(ref);
      }
      // m <= 4 with an unpinned B uses B row-major (no packing): same bits as the packed route.
      const x3 = rand(r, 3 * k);
      const packed = new Float32Array(3 * n);
      const rowMajor = new Float32Array(3 * n);
      ops.gemm(3, n, k, x3, W2, packed);
      one.gemm(3, n, k, x3, W2.slice(), rowMajor);
      expect(new Uint32Array(rowMajor.buffer)).toEqual(new Uint32Array(packed.buffer));
      // W1, W2, W2^T: three packs; the second use of W1 reused its pack.
      expect(ops.residentBytes().packs).toBe(3);
      expect(ops.residentBytes().bytes).toBeGreaterThanOrEqual(3 * k * n * 4);
      // A subarray view built anew each call still hits the same pack.
      ops.gemm(m, n, k, x, all.subarray(5, 5 + k * n), new Float32Array(m * n));
      expect(ops.residentBytes().packs).toBe(3);
      ops.releasePins();
      expect(ops.residentBytes()).toMatchObject({ packs: 0, bytes: 0 });
    } finally {
      ops.dispose();
    }
  });

  it('drops all resident packs past maxResidentBytes and re-makes them on use, with unchanged results', async () => {
    const [m, n, k] = [6, 32, 40];
    const packBytes = n * k * 4;
    const ops = await createWasmMatOps({ threads: 1, maxResidentBytes: 2 * packBytes + 64 });
    try {
      const r = rng(11);
      const Ws = [rand(r, k * n), rand(r, k * n), rand(r, k * n)];
      const x = rand(r, m * k);
      for (const W of Ws) ops.pin(W);
      const refs = Ws.map((W) => {
        const c = new Float32Array(m * n);
        one.gemm(m, n, k, x, W.slice(), c);
        return c;
      });
      const packsAfter: number[] = [];
      for (const i of [0, 1, 2, 0, 1]) {
        const c = new Float32Array(m * n);
        ops.gemm(m, n, k, x, Ws[i], c);
        expect(c).toEqual(refs[i]);
        packsAfter.push(ops.residentBytes().packs);
        expect(ops.residentBytes().bytes).toBeLessThanOrEqual(2 * packBytes + 64);
      }
      // 0, 1 resident; 2 overflows: all dropped, 2 packed; 0 re-packed; 1 overflows again.
      expect(packsAfter).toEqual([1, 2, 1, 2, 1]);
    } finally {
      ops.dispose();
    }
  });

  it('k = 0 gives the bias (or zeros, or leaves C with accumulate); m = 0 or n = 0 is a no-op', () => {
    const bias = Float32Array.of(1, 2, 3);
    const C = new Float32Array(6).fill(9);
    one.gemm(2, 3, 0, new Float32Array(0), new Float32Array(0), C, { bias });
    expect(Array.from(C)).toEqual([1, 2, 3, 1, 2, 3]);
    one.gemm(2, 3, 0, new Float32Array(0), new Float32Array(0), C, { accumulate: true });
    expect(Array.from(C)).toEqual([1, 2, 3, 1, 2, 3]);
    one.gemm(2, 3, 0, new Float32Array(0), new Float32Array(0), C);
    expect(Array.from(C)).toEqual([0, 0, 0, 0, 0, 0]);
    C.fill(5);
    one.gemm(0, 3, 4, new Float32Array(0), new Float32Array(12), C);
    expect(Array.from(C)).toEqual([5, 5, 5, 5, 5, 5]);
  });

  it('sharedWasmMatOps gives one instance per thread count', async () => {
    const a = await sharedWasmMatOps(1);
    expect(await sharedWasmMatOps(1)).toBe(a);
    expect(a.threads).toBe(1);
    const C = new Float32Array(4);
    a.gemm(2, 2, 1, Float32Array.of(1, 2), Float32Array.of(3, 4), C);
    expect(Array.from(C)).toEqual([3, 4, 6, 8]);
  });

  it('rejects bad shapes with the same messages as jsMatOps', () => {
    const a = new Float32Array(6);
    expect(() => one.gemm(2, 3, 4, a, new Float32Array(12), new Float32Array(6))).toThrow(/operand too small for m=2 n=3 k=4 \(A 6/);
    expect(() => one.gemm(2, 3, 3, a, new Float32Array(9), new Float32Array(6), { bias: new Float32Array(2) })).toThrow(/bias has 2 values, expected 3/);
    expect(() => one.gemm(1.5, 3, 3, a, new Float32Array(9), new Float32Array(6))).toThrow(/m must be a non-negative integer/);
    expect(() => resolveThreads(0)).toThrow(/threads must be a positive integer/);
    expect(resolveThreads('auto')).toBeGreaterThanOrEqual(1);
  });
});

describe('wasm kernel loader', () => {
  it('names the missing, wrong or stale file and the build command', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scpo-wasm-'));
    try {
      const p = loadKernelModule('single', { dir });
      await expect(p).rejects.toThrow(WasmKernelsError);
      await expect(p).rejects.toThrow(`${dir}/${WASM_FILES.single} is missing; build it with \`npm run build:wasm\``);
      await expect(createWasmMatOps({ dir })).rejects.toThrow(/scpo-kernels\.wasm is missing/);
      // A server's index.html where the module should be (HTTP 200 on a missing file) is named as such.
      await writeFile(join(dir, WASM_FILES.single), '<!doctype html><html>');
      await expect(loadKernelModule('single', { dir })).rejects.toThrow(/is not a WebAssembly module \(starts with "<!doctype html>/);
      // A build older than the sources (here a hand-made module whose abi() returns 1) must not load.
      const stale = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 2, 15, 1, 3, 0x65, 0x6e, 0x76, 6, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 2, 0, 1,
        3, 2, 1, 0, 7, 7, 1, 3, 0x61, 0x62, 0x69, 0, 0, 10, 6, 1, 4, 0, 0x41, 1, 0x0b];
      await writeFile(join(dir, WASM_FILES.single), Uint8Array.from(stale));
      await expect(loadKernelModule('single', { dir })).rejects.toThrow(/is a stale build \(calling convention 1, expected \d+\); rebuild with `npm run build:wasm`/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('wasm fused attention (twin: attentionForward/Backward in grad.ts on jsMatOps)', () => {
  // Packed sequences of lengths 1, 3, 17 and 64 with padding rows between them, 2-4 heads of 16-128 floats.
  const cases: { width: number; heads: number; lens: number[] }[] = [
    { width: 32, heads: 2, lens: [1, 3, 17] },
    { width: 256, heads: 4, lens: [64, 1, 5] },
    { width: 512, heads: 4, lens: [7, 33] },
  ];
  for (const { width, heads, lens } of cases) {
    it(`width ${width}, ${heads} heads, lengths ${lens.join('/')}: forward and backward within float rounding of the twin`, async () => {
      const { attentionForward, attentionBackward, probOffsets, Scratch } = await import('../../pipeline/rm/use-lite/grad.ts');
      const ops = await createWasmMatOps({ threads: 1 });
      try {
        expect(ops.attention).toBeDefined();
        const starts = new Int32Array(lens.length);
        let rows = 1; // a padding row first, one after every sequence
        lens.forEach((L, s) => {
          starts[s] = rows;
          rows += L + 1;
        });
        const layout = { rows, starts, lens: Int32Array.from(lens) };
        const r = rng(width + heads);
        const qkv = rand(r, rows * 3 * width).map((x) => 2 * x);
        const dout = rand(r, rows * width);
        const qScale = 1 / Math.sqrt(width / heads);
        const total = probOffsets(layout, heads).total;
        const run = (o: typeof jsMatOps) => {
          const out = new Float32Array(rows * width).fill(7);
          const probs = new Float32Array(total);
          const dqkv = new Float32Array(rows * 3 * width).fill(7);
          attentionForward(o, layout, width, heads, qScale, qkv, out, probs, new Scratch());
          attentionBackward(o, layout, width, heads, qScale, qkv, probs, dout, dqkv, new Scratch());
          return { out, probs, dqkv };
        };
        const a = run(ops);
        const b = run(jsMatOps);
        const close = (x: Float32Array, y: Float32Array, what: string) => {
          let scale = 0;
          for (const v of y) scale = Math.max(scale, Math.abs(v));
          let worst = 0;
          for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
          expect(worst / scale, what).toBeLessThan(2e-6);
          expect(scale, what).toBeGreaterThan(0);
        };
        close(a.out, b.out, 'out');
        close(a.probs, b.probs, 'probs');
        close(a.dqkv, b.dqkv, 'dqkv');
        // Padding rows are written 0 (the buffers started at 7).
        for (const row of [0, starts[0] + lens[0]]) {
          expect(a.out.subarray(row * width, (row + 1) * width).every((v) => v === 0)).toBe(true);
          expect(a.dqkv.subarray(row * 3 * width, (row + 1) * 3 * width).every((v) => v === 0)).toBe(true);
        }
        // A length-1 sequence attends to itself only: probability exactly 1.
        const one = lens.indexOf(1);
        if (one >= 0) expect(a.probs[probOffsets(layout, heads).offsets[one]]).toBe(1);
      } finally {
        ops.dispose();
      }
    });
  }

  it('declines head sizes that are not a multiple of 16 (the JS twin runs) and rejects a layout outside the rows', async () => {
    const ops = await createWasmMatOps({ threads: 1 });
    try {
      const qkv = new Float32Array(4 * 3 * 24);
      expect(ops.attention!.forward(4, Int32Array.of(0), Int32Array.of(4), 24, 2, 1, qkv, new Float32Array(96), new Float32Array(32))).toBe(false);
      expect(() => ops.attention!.forward(4, Int32Array.of(2), Int32Array.of(3), 32, 2, 1, new Float32Array(4 * 96), new Float32Array(128), new Float32Array(18))).toThrow(/sequence 0 \(start 2, length 3\) is outside the 4 rows/);
    } finally {
      ops.dispose();
    }
  });
});

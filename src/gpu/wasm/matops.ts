// MatOps on the WebAssembly SIMD kernels (assembly/kernels.ts): the fast CPU path of the transformer RM, in Node
// and in Web Workers, on 1 thread or on several sharing one memory (threads.ts).
//
// Per call: B is packed into 16-column panels (or taken from the resident cache when it was pinned), A is copied
// in (A^T transposed in wasm; a narrow A^T @ B computed as (B^T @ A)^T), C is computed into a padded buffer and
// copied out. Pinned frozen weights are packed once and stay resident in wasm memory, so a forward copies only
// activations. Memory is one arena owned here: resident packs grow from the bottom, per-call scratch above them
// is reset at every call.
//
// Results: each C element sums its products in increasing k with f32 multiply then add, starting from the bias
// (or 0, or C with accumulate), whatever the blocking, route or thread split, so 1 and N threads give
// bit-identical results. Against the f64-accumulating jsMatOps the difference is f32 rounding, within the
// summation bound (k+2) 2^-24 (sum |a b| + |init|) (tests).
import type { AttentionOps, GemmOptions, MatOps } from '../matops.ts';
import { SHARED_MAX_PAGES } from './files.ts';
import { loadKernelModule } from './loader.ts';
import type { WasmSource } from './loader.ts';
import { OP_GEMM, ThreadPool, threadSupport } from './threads.ts';

interface KernelExports {
  gemm(a: number, lda: number, transA: number, bp: number, bps: number, brs: number, k: number, c: number, ldc: number, i0: number, i1: number, j0: number, j1: number, init: number, bias: number): void;
  packB(b: number, k: number, n: number, trans: number, dst: number): void;
  transpose(src: number, rows: number, cols: number, lds: number, dst: number, ldd: number): void;
  /** Absent in builds older than the fused attention (same ABI: they are feature-detected). */
  attnForward?(qkv: number, rows: number, w: number, heads: number, qScale: number, starts: number, lens: number, nSeq: number, out: number, probs: number): void;
  attnBackward?(qkv: number, rows: number, w: number, heads: number, qScale: number, starts: number, lens: number, nSeq: number, probs: number, dout: number, dqkv: number, ds: number): void;
}

/** Columns per packed panel (the micro-kernel's width). */
const NR = 16;
/** Rows per micro-kernel block; thread splits of rows are multiples of it. */
const MR = 2;
/** First byte the arena hands out (the module has no static data; a margin costs nothing). */
const BASE = 65536;
const PAGE = 65536;
const ALIGN = 64;
/** transA with at most this many output columns (one panel: the LoRA rank products) computes C^T = B^T @ A. */
const NARROW_N = 16;
/**
 * An unpinned, untransposed B is used row-major (no packing) up to this many rows of A. The kernel on row-major B
 * costs ~30% more per flop than on packed panels; measured per call (512x512 B): m=2 75 vs 86 us, m=8 equal,
 * m=16 ~5% slower than packing, so only the thinnest products skip it.
 */
const ROWMAJOR_MAX_M = 4;
/** Adaptive splitting: judge the speedup every this many split gemms; pause splitting for this many gemms. */
const SPLIT_CHECK_EVERY = 8;
const SPLIT_PAUSE_CALLS = 64;

export interface WasmMatOpsOptions extends WasmSource {
  /**
   * Threads including the caller: a number, or 'auto' = the cores (navigator.hardwareConcurrency or
   * os.availableParallelism()) capped at 4. Default 1. Falls back to 1 with `fallback` set when threads are
   * unavailable (no SharedArrayBuffer, a page's main thread, a helper that fails to start).
   */
  threads?: number | 'auto';
  /** Smallest 2*m*n*k worth splitting (waking a helper costs ~10-50 us). Default 2e6. */
  minSplitFlops?: number;
  /**
   * Cap on the wasm memory held by resident packs of pinned weights (default 1 GiB). Packs are never freed one by
   * one (pinned buffers that were garbage-collected leave theirs behind), so past the cap all packs are dropped
   * and re-made on their next use.
   */
  maxResidentBytes?: number;
  /**
   * Pause splitting while it measurably does not pay (helpers waiting for a core on a loaded machine). Default
   * true; tests turn it off so every eligible gemm takes the threaded path.
   */
  adaptiveSplit?: boolean;
}

export interface WasmMatOps extends MatOps {
  /** Threads actually used (1 + helpers). */
  readonly threads: number;
  /** Why fewer threads than asked for are used, if so. */
  readonly fallback?: string;
  /** Bytes of wasm memory in use by resident (pinned) packs, and their count. */
  residentBytes(): { bytes: number; packs: number; memoryBytes: number };
  /** Forgets all pins and frees their resident packs. */
  releasePins(): void;
  pin(a: Float32Array): void;
  /** Stops the helper threads; the object is unusable afterwards. */
  dispose(): void;
  /**
   * Split gemms so far, times splitting was paused because it did not pay (helpers waiting for a core on a
   * loaded machine), and the current estimate of the split speedup (EMA of T x own share time / wall time).
   */
  threadStats(): { splits: number; pauses: number; gain: number };
}

function cores(): number {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  const p = (globalThis as { process?: { getBuiltinModule?: (n: string) => unknown } }).process;
  const os = p?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number; cpus?: () => unknown[] } | undefined;
  return os?.availableParallelism?.() ?? os?.cpus?.().length ?? nav?.hardwareConcurrency ?? 1;
}

/** Resolves the `threads` option to a count >= 1. */
export function resolveThreads(t: WasmMatOpsOptions['threads']): number {
  if (t === undefined) return 1;
  if (t === 'auto') return Math.max(1, Math.min(4, cores()));
  if (!Number.isInteger(t) || t < 1) throw new Error(`wasm matops: threads must be a positive integer or 'auto', got ${String(t)}`);
  return t;
}

/**
 * Creates a wasm MatOps. Compiles the kernels (async: browsers refuse synchronous compiles on the main thread) and
 * starts the helper threads; gemm itself is synchronous.
 */
export async function createWasmMatOps(opts: WasmMatOpsOptions = {}): Promise<WasmMatOps> {
  const want = resolveThreads(opts.threads);
  let fallback: string | undefined;
  if (want > 1) {
    const why = threadSupport();
    if (why) fallback = `wasm matops: using 1 thread instead of ${want}: ${why}`;
    else {
      let memory: WebAssembly.Memory | null = null;
      try {
        memory = new WebAssembly.Memory({ initial: 32, maximum: SHARED_MAX_PAGES, shared: true });
      } catch (e) {
        fallback = `wasm matops: using 1 thread instead of ${want}: cannot create a shared memory (${(e as Error).message})`;
      }
      if (memory) {
        const module = await loadKernelModule('shared', opts);
        const exports = await instantiate(module, memory);
        try {
          const pool = await ThreadPool.start(module, memory, want - 1);
          return new WasmMatOpsImpl(memory, exports, pool, opts, undefined);
        } catch (e) {
          fallback = `wasm matops: using 1 thread instead of ${want}: ${(e as Error).message}`;
        }
      }
    }
  }
  const memory = new WebAssembly.Memory({ initial: 32 });
  const exports = await instantiate(await loadKernelModule('single', opts), memory);
  return new WasmMatOpsImpl(memory, exports, null, opts, fallback);
}

const shared = new Map<number, Promise<WasmMatOps>>();

/**
 * One wasm MatOps per thread count for the whole process/worker (default 'auto'), created on first use: the CLI,
 * a worker's trainer and its scorer then share one memory, one set of resident pinned weights and one set of
 * helper threads instead of each starting their own. Do not dispose() it. Custom sources/options: use
 * createWasmMatOps.
 */
export function sharedWasmMatOps(threads: WasmMatOpsOptions['threads'] = 'auto'): Promise<WasmMatOps> {
  const t = resolveThreads(threads);
  let p = shared.get(t);
  if (!p) {
    p = createWasmMatOps({ threads: t });
    // A failed load is not cached: the next call retries (and reports the error again).
    p.catch(() => shared.delete(t));
    shared.set(t, p);
  }
  return p;
}

async function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<KernelExports> {
  const inst = await WebAssembly.instantiate(module, { env: { memory } });
  return inst.exports as unknown as KernelExports;
}

interface PinEntry {
  /** Byte ranges [start, end) of the buffer promised frozen. */
  ranges: [number, number][];
  /** Resident packs: "byteOffset:k:n:trans" -> wasm pointer, valid while gen is the arena's generation. */
  packs: Map<string, { ptr: number; gen: number }>;
}

class WasmMatOpsImpl implements WasmMatOps {
  readonly name: string;
  readonly threads: number;
  private f32: Float32Array;
  /** End of the resident (pinned) region; per-call scratch starts here. */
  private residentTop = BASE;
  private scratchTop = BASE;
  private packs = 0;
  /** Bumped whenever the resident region is reset: packs of older generations are stale. */
  private gen = 0;
  private pins = new WeakMap<ArrayBufferLike, PinEntry>();
  private disposed = false;
  private readonly minSplitFlops: number;
  /** Adaptive splitting (see run()): EMA of the measured speedup of split gemms, and the pause state. */
  private readonly split = { gain: 1.2, sinceCheck: 0, pausedLeft: 0, splits: 0, pauses: 0 };
  private readonly adaptive: boolean;
  private readonly maxResidentBytes: number;
  readonly attention?: AttentionOps;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly k: KernelExports,
    private readonly pool: ThreadPool | null,
    opts: WasmMatOpsOptions,
    readonly fallback: string | undefined,
  ) {
    this.minSplitFlops = opts.minSplitFlops ?? 2e6;
    this.maxResidentBytes = opts.maxResidentBytes ?? 2 ** 30;
    this.adaptive = opts.adaptiveSplit ?? true;
    this.threads = 1 + (pool?.size ?? 0);
    this.name = this.threads > 1 ? `wasm-${this.threads}t` : 'wasm';
    this.f32 = new Float32Array(memory.buffer);
    if (k.attnForward && k.attnBackward) this.attention = { forward: (...a) => this.attnForward(...a), backward: (...a) => this.attnBackward(...a) };
  }

  /**
   * Checks a packed layout and copies it in: [starts, lens] as int32, the probs' total length and the longest
   * sequence; null when the kernels do not cover the shape (head dim not a multiple of 16).
   */
  private attnLayout(rows: number, starts: Int32Array, lens: Int32Array, width: number, heads: number): { st: number; ln: number; total: number; maxL: number } | null {
    const hd = width / heads;
    if (!Number.isInteger(hd) || hd % 16 !== 0) return null;
    const n = lens.length;
    if (starts.length < n) throw new Error(`attention: ${n} sequence lengths but ${starts.length} starts`);
    let total = 0;
    let maxL = 0;
    for (let s = 0; s < n; s++) {
      const L = lens[s];
      // The kernels write rows starts[s] .. + L of out/dqkv: a bad layout must not reach them.
      if (!(Number.isInteger(L) && L >= 0 && starts[s] >= 0 && starts[s] + L <= rows)) {
        throw new Error(`attention: sequence ${s} (start ${starts[s]}, length ${L}) is outside the ${rows} rows`);
      }
      total += heads * L * L;
      maxL = Math.max(maxL, L);
    }
    this.scratchTop = this.residentTop;
    const st = this.scratch(n * 4);
    const ln = this.scratch(n * 4);
    const i32 = new Int32Array(this.memory.buffer);
    i32.set(starts.subarray(0, n), st >> 2);
    i32.set(lens.subarray(0, n), ln >> 2);
    return { st, ln, total, maxL };
  }

  private attnForward(rows: number, starts: Int32Array, lens: Int32Array, width: number, heads: number, qScale: number, qkv: Float32Array, out: Float32Array, probs: Float32Array): boolean {
    this.checkAlive();
    const lay = this.attnLayout(rows, starts, lens, width, heads);
    if (!lay) return false;
    if (qkv.length < rows * 3 * width || out.length < rows * width || probs.length < lay.total) throw new Error('attention: an operand is too small for the layout');
    const q = this.scratch(rows * 3 * width * 4);
    this.view().set(qkv.subarray(0, rows * 3 * width), q >> 2);
    const o = this.scratch(rows * width * 4);
    const p = this.scratch(lay.total * 4);
    this.k.attnForward!(q, rows, width, heads, qScale, lay.st, lay.ln, lens.length, o, p);
    const v = this.view();
    out.set(v.subarray(o >> 2, (o >> 2) + rows * width));
    probs.set(v.subarray(p >> 2, (p >> 2) + lay.total));
    return true;
  }

  private attnBackward(rows: number, starts: Int32Array, lens: Int32Array, width: number, heads: number, qScale: number, qkv: Float32Array, probs: Float32Array, dout: Float32Array, dqkv: Float32Array): boolean {
    this.checkAlive();
    const lay = this.attnLayout(rows, starts, lens, width, heads);
    if (!lay) return false;
    if (qkv.length < rows * 3 * width || dout.length < rows * width || dqkv.length < rows * 3 * width || probs.length < lay.total) throw new Error('attention: an operand is too small for the layout');
    const q = this.scratch(rows * 3 * width * 4);
    const p = this.scratch(lay.total * 4);
    const o = this.scratch(rows * width * 4);
    const dq = this.scratch(rows * 3 * width * 4);
    const ds = this.scratch(lay.maxL * lay.maxL * 4);
    const v = this.view();
    v.set(qkv.subarray(0, rows * 3 * width), q >> 2);
    v.set(probs.subarray(0, lay.total), p >> 2);
    v.set(dout.subarray(0, rows * width), o >> 2);
    this.k.attnBackward!(q, rows, width, heads, qScale, lay.st, lay.ln, lens.length, p, o, dq, ds);
    dqkv.set(this.view().subarray(dq >> 2, (dq >> 2) + rows * 3 * width));
    return true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error(`${this.name} matops: used after dispose()`);
  }

  pin(a: Float32Array): void {
    let e = this.pins.get(a.buffer);
    if (!e) this.pins.set(a.buffer, (e = { ranges: [], packs: new Map() }));
    e.ranges.push([a.byteOffset, a.byteOffset + a.byteLength]);
  }

  releasePins(): void {
    this.pins = new WeakMap();
    this.dropPacks();
  }

  private dropPacks(): void {
    this.gen++;
    this.residentTop = this.scratchTop = BASE;
    this.packs = 0;
  }

  residentBytes(): { bytes: number; packs: number; memoryBytes: number } {
    return { bytes: this.residentTop - BASE, packs: this.packs, memoryBytes: this.memory.buffer.byteLength };
  }

  dispose(): void {
    this.disposed = true;
    this.pool?.dispose();
    this.releasePins();
  }

  gemm(m: number, n: number, k: number, A: Float32Array, B: Float32Array, C: Float32Array, opts: GemmOptions = {}): void {
    if (this.disposed) throw new Error(`${this.name} matops: used after dispose()`);
    const { transA = false, transB = false, accumulate = false, bias } = opts;
    for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new Error(`gemm: ${name} must be a non-negative integer, got ${v}`);
    }
    if (A.length < m * k || B.length < k * n || C.length < m * n) {
      throw new Error(`gemm: operand too small for m=${m} n=${n} k=${k} (A ${A.length}, B ${B.length}, C ${C.length})`);
    }
    if (bias && bias.length < n) throw new Error(`gemm: bias has ${bias.length} values, expected ${n}`);
    if (m === 0 || n === 0) return;
    if (k === 0) {
      if (!accumulate) for (let i = 0; i < m; i++) bias ? C.set(bias.subarray(0, n), i * n) : C.fill(0, i * n, i * n + n);
      return;
    }
    this.scratchTop = this.residentTop;
    if (transA && n <= NARROW_N && m > n) {
      this.gemmNarrowT(m, n, k, A, B, C, transB, accumulate, bias);
      return;
    }
    const panels = Math.ceil(n / NR);
    const np = panels * NR;

    // B first: a new resident pack must be allocated before any scratch of this call.
    let bp = this.residentPack(B, k, n, transB);
    let bps = k * NR * 4;
    let brs = NR * 4;
    if (bp === null && !transB && m <= ROWMAJOR_MAX_M) {
      bp = this.scratch(k * n * 4);
      this.view().set(B.subarray(0, k * n), bp >> 2);
      bps = NR * 4;
      brs = n * 4;
    } else if (bp === null) bp = this.packInto(this.scratch(panels * k * NR * 4), B, k, n, transB);
    // A: with transA it is stored [k,m] and transposed here (~0.6 ns per element). Reading it in place instead (the
    // kernel's strided mode) measured ~25% slower per flop at large k, and far worse at power-of-two m, where the
    // k cache lines of a column all map to the same L1 sets.
    const a = this.scratch(m * k * 4);
    if (transA) {
      const mark = this.scratchTop;
      const raw = this.scratch(m * k * 4);
      this.view().set(A.subarray(0, m * k), raw >> 2);
      this.k.transpose(raw, k, m, m, a, k);
      this.scratchTop = mark;
    } else this.view().set(A.subarray(0, m * k), a >> 2);

    const c = this.scratch(m * np * 4);
    let init = 0;
    let biasPtr = 0;
    if (accumulate) {
      init = 2;
      this.copyRows(C, 0, n, this.view(), c >> 2, np, m, n);
    } else if (bias) {
      init = 1;
      biasPtr = this.scratch(np * 4);
      const v = this.view();
      v.set(bias.subarray(0, n), biasPtr >> 2);
      v.fill(0, (biasPtr >> 2) + n, (biasPtr >> 2) + np);
    }
    this.run(a, k, 0, bp, bps, brs, k, c, np, m, panels, init, biasPtr, 2 * m * n * k);
    this.copyRows(this.view(), c >> 2, np, C, 0, n, m, n);
  }

  /**
   * A^T @ B with a narrow result (n <= 16, e.g. the LoRA gradient X^T @ g with g [tokens, rank]): computed as
   * C^T = op(B)^T @ A, so A [k,m] is packed as the wide right operand (rows, sequential) and op(B)^T is the left one
   * (read in place with a stride of n floats, within one cache line), then C^T is transposed back. The 16-column
   * panel of the direct route would be mostly padding and its A^T transpose would cost more than the product.
   * Same products summed in the same order from the same initial value: the result equals the direct route's.
   */
  private gemmNarrowT(m: number, n: number, k: number, A: Float32Array, B: Float32Array, C: Float32Array, transB: boolean, accumulate: boolean, bias: Float32Array | undefined): void {
    const panels = Math.ceil(m / NR);
    const mp = panels * NR;
    const bp = this.packInto(this.scratch(panels * k * NR * 4), A, k, m, false);
    const b = this.scratch(k * n * 4);
    this.view().set(B.subarray(0, k * n), b >> 2);
    const ct = this.scratch(n * mp * 4);
    let init = 0;
    if (accumulate) {
      const mark = this.scratchTop;
      const t = this.scratch(m * n * 4);
      this.view().set(C.subarray(0, m * n), t >> 2);
      this.k.transpose(t, m, n, n, ct, mp);
      this.scratchTop = mark;
      init = 2;
    } else if (bias) {
      const v = this.view();
      for (let j = 0; j < n; j++) v.fill(bias[j], (ct >> 2) + j * mp, (ct >> 2) + j * mp + mp);
      init = 2;
    }
    // op(B)^T [n,k]: B stored [k,n] is read transposed in place (stride n); stored [n,k] (transB) it is rows.
    this.run(b, transB ? k : n, transB ? 0 : 1, bp, k * NR * 4, NR * 4, k, ct, mp, n, panels, init, 0, 2 * m * n * k);
    const out = this.scratch(m * n * 4);
    this.k.transpose(ct, n, m, mp, out, n);
    C.set(this.view().subarray(out >> 2, (out >> 2) + m * n));
  }

  /** Splits the rows (or, for small m, the panels) over the threads; each part is a plain kernel call. */
  private run(a: number, lda: number, transA: number, bp: number, bps: number, brs: number, k: number, c: number, ldc: number, m: number, panels: number, init: number, bias: number, flops: number): void {
    const T = this.threads;
    const parts: number[][] = [];
    const st = this.split;
    if (this.pool && T > 1 && flops >= this.minSplitFlops && !(st.pausedLeft > 0 && st.pausedLeft--)) {
      if (m >= MR * T) {
        const blocks = Math.ceil(m / MR);
        const cut = (t: number): number => Math.min(m, Math.round((blocks * t) / T) * MR);
        for (let t = 0; t < T; t++) parts.push([a, lda, transA, bp, bps, brs, k, c, ldc, cut(t), cut(t + 1), 0, panels, init, bias]);
      } else if (panels >= T) {
        const cut = (t: number): number => Math.round((panels * t) / T);
        for (let t = 0; t < T; t++) parts.push([a, lda, transA, bp, bps, brs, k, c, ldc, 0, m, cut(t), cut(t + 1), init, bias]);
      }
    }
    if (parts.length === 0) {
      this.k.gemm(a, lda, transA, bp, bps, brs, k, c, ldc, 0, m, 0, panels, init, bias);
      return;
    }
    const own = parts[0];
    const t0 = performance.now();
    let tOwn = 0;
    this.pool!.run(OP_GEMM, parts.slice(1), () => {
      this.k.gemm(own[0], own[1], own[2], own[3], own[4], own[5], own[6], own[7], own[8], own[9], own[10], own[11], own[12], own[13], own[14]);
      tOwn = performance.now() - t0;
    });
    // Splitting only pays when the helpers run at the same time as this thread. On an oversubscribed machine they
    // may wait for a core, and every split gemm then waits for them (measured here under a load of ~20 on 2 cores:
    // 0.4-0.9x of one thread). Estimate of this job on one thread: T x our share's time. If the recent splits
    // took longer than that, run unsplit for a while, then try again. Results are the same bits either way.
    const tAll = performance.now() - t0;
    st.splits++;
    st.gain = 0.75 * st.gain + 0.25 * Math.min(4, (T * tOwn) / Math.max(tAll, 1e-3));
    if (this.adaptive && ++st.sinceCheck >= SPLIT_CHECK_EVERY) {
      st.sinceCheck = 0;
      if (st.gain < 1) {
        st.pausedLeft = SPLIT_PAUSE_CALLS;
        st.pauses++;
        st.gain = 1.2;
      }
    }
  }

  threadStats(): { splits: number; pauses: number; gain: number } {
    return { splits: this.split.splits, pauses: this.split.pauses, gain: this.split.gain };
  }

  /** The resident pack of B if B lies inside a pinned range (packed on first use), else null. */
  private residentPack(B: Float32Array, k: number, n: number, trans: boolean): number | null {
    const e = this.pins.get(B.buffer);
    if (!e) return null;
    const start = B.byteOffset;
    const end = start + k * n * 4;
    if (!e.ranges.some(([s, t]) => s <= start && end <= t)) return null;
    const key = `${start}:${k}:${n}:${trans ? 1 : 0}`;
    const hit = e.packs.get(key);
    if (hit && hit.gen === this.gen) return hit.ptr;
    const bytes = Math.ceil(n / NR) * NR * k * 4;
    if (bytes > this.maxResidentBytes) return null; // never resident: packed per call
    if (this.align(this.residentTop) + bytes - BASE > this.maxResidentBytes) this.dropPacks();
    const p = this.align(this.residentTop);
    this.ensure(p + bytes);
    this.residentTop = this.scratchTop = p + bytes;
    this.packInto(p, B, k, n, trans);
    this.scratchTop = this.residentTop;
    e.packs.set(key, { ptr: p, gen: this.gen });
    this.packs++;
    return p;
  }

  private packInto(dst: number, B: Float32Array, k: number, n: number, trans: boolean): number {
    const mark = this.scratchTop;
    const raw = this.scratch(k * n * 4);
    this.view().set(B.subarray(0, k * n), raw >> 2);
    this.k.packB(raw, k, n, trans ? 1 : 0, dst);
    this.scratchTop = mark;
    return dst;
  }

  /** Copies `rows` rows of `cols` floats between buffers with their own row strides (one set() when dense). */
  private copyRows(src: Float32Array, so: number, ls: number, dst: Float32Array, d0: number, ld: number, rows: number, cols: number): void {
    if (ls === cols && ld === cols) {
      dst.set(src.subarray(so, so + rows * cols), d0);
      return;
    }
    for (let i = 0; i < rows; i++) dst.set(src.subarray(so + i * ls, so + i * ls + cols), d0 + i * ld);
  }

  private align(p: number): number {
    return Math.ceil(p / ALIGN) * ALIGN;
  }

  private scratch(bytes: number): number {
    const p = this.align(this.scratchTop);
    // + one vector of slack: the kernels may read 16 bytes past a buffer's last row (never used).
    this.ensure(p + bytes + ALIGN);
    this.scratchTop = p + bytes;
    return p;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new Error(`${this.name} matops: cannot grow wasm memory to ${Math.ceil(end / 2 ** 20)} MiB (${(e as Error).message})`);
    }
  }

  private view(): Float32Array {
    if (this.f32.buffer !== this.memory.buffer || this.f32.byteLength !== this.memory.buffer.byteLength) {
      this.f32 = new Float32Array(this.memory.buffer);
    }
    return this.f32;
  }
}

// The bag RM's three MLP matrix products (layer forward, weight gradient, input gradient) on the wasm-SIMD kernels
// (bagLinear / bagXtDZ / bagBackprop in ../wasm/assembly/kernels.ts), for the cpu trainer and bag scoring.
//
// Bit-identical to the JS twins in ./ops.ts (linearForward, accumulateXtDZ, backpropInput): the kernels vectorize
// across output columns only and do every f64 multiply and add of an output in the JS order (tested on odd shapes),
// so switching between the two never changes a run's result: the wasm path is a pure speed-up (bench/trainer.ts:
// `cpu` vs `cpu-js`), and whatever cannot load it (an old build without these exports, no WebAssembly) keeps the JS
// path with the same numbers.
//
// Two users: BagKernels, one per thread (module state) for scoring any parameters (scoreItems): its own plain wasm
// memory, operands copied in and results copied out per call, so callers keep their own buffers. And BagArena, one
// per cpu trainer: the trainer's whole state (table, MLP, moments, gradients, step scratch) lives in its memory and
// the trainer works on views of it, re-made whenever the memory grows (only in prepare(), at the start of a step or
// a scoring block).
import { loadKernelModule, type WasmSource } from '../wasm/loader.ts';

interface BagExports {
  f32ToF64(src: number, n: number, dst: number): void;
  bagLinear(x: number, S: number, K: number, w: number, b: number, H: number, z: number): void;
  bagXtDZ(x: number, S: number, K: number, d: number, H: number, g: number): void;
  bagBackprop(d: number, S: number, H: number, w: number, K: number, dx: number): void;
  bagPool(e: number, D: number, ids: number, seg: number, nSeg: number, out: number): void;
  bagScatter(ge: number, D: number, slots: number, seg: number, nSeg: number, dx: number, nTouched: number, sc: number): void;
  bagAdam(p: number, m: number, v: number, n: number, g: number, bc1: number, bc2: number, lr: number, beta1: number, beta2: number, eps: number, wd: number): void;
  bagAdamRows(p: number, m: number, v: number, D: number, rows: number, nRows: number, g: number, bcs: number, lr: number, beta1: number, beta2: number, eps: number, wd: number): void;
}

const PAGE = 65536;
/** First byte used (the module has no static data). */
const BASE = 1024;

function hasBagExports(e: WebAssembly.Exports): e is WebAssembly.Exports & BagExports {
  const x = e as Partial<BagExports>;
  return (['f32ToF64', 'bagLinear', 'bagXtDZ', 'bagBackprop', 'bagPool', 'bagScatter', 'bagAdam', 'bagAdamRows'] as const).every((f) => typeof x[f] === 'function');
}

let moduleLoad: Promise<WebAssembly.Module> | null = null;

/** The compiled kernel module of this thread (loaded once). */
function kernelModule(src: WasmSource): Promise<WebAssembly.Module> {
  moduleLoad ??= loadKernelModule('single', src).catch((e: unknown) => {
    moduleLoad = null;
    throw e;
  });
  return moduleLoad;
}

async function instantiate(src: WasmSource, memory: WebAssembly.Memory): Promise<BagExports | null> {
  const inst = await WebAssembly.instantiate(await kernelModule(src), { env: { memory } });
  return hasBagExports(inst.exports) ? inst.exports : null;
}

/**
 * The kernels on one memory. A layer (W [K, H] f32 and b [H] f32) is loaded once with loadLayer and widened to f64
 * there; forward and backprop then use it (a training step loads W1 once for both).
 */
export class BagKernels {
  private bytes: Uint8Array;
  private K = 0;
  private H = 0;
  /** Byte offsets: the layer's f64 weights and bias, then per-call scratch. */
  private wOff = BASE;
  private bOff = BASE;
  private scratch = BASE;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly k: BagExports,
  ) {
    this.bytes = new Uint8Array(memory.buffer);
  }

  static async create(src: WasmSource = {}): Promise<BagKernels | null> {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const k = await instantiate(src, memory);
    return k ? new BagKernels(memory, k) : null;
  }

  /** Makes at least `end` bytes addressable. */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    if (this.bytes.buffer !== this.memory.buffer) this.bytes = new Uint8Array(this.memory.buffer);
  }

  private f64(off: number, n: number): Float64Array {
    return new Float64Array(this.memory.buffer, off, n);
  }

  /** Loads the layer W [K, H], b [H] (f32, widened to f64 exactly) for forward and backprop. */
  loadLayer(W: Float32Array, b: Float32Array, K: number, H: number): void {
    if (W.length < K * H || b.length < H) throw new Error(`bag kernels: layer too small for K=${K} H=${H} (W ${W.length}, b ${b.length})`);
    this.K = K;
    this.H = H;
    this.wOff = BASE;
    this.bOff = this.wOff + K * H * 8;
    this.scratch = this.bOff + H * 8;
    // f32 staging just past the f64 copies (the per-call scratch area, free at this point)
    const stage = this.scratch;
    this.ensure(stage + K * H * 4);
    new Float32Array(this.memory.buffer, stage, K * H).set(W.subarray(0, K * H));
    this.k.f32ToF64(stage, K * H, this.wOff);
    new Float32Array(this.memory.buffer, stage, H).set(b.subarray(0, H));
    this.k.f32ToF64(stage, H, this.bOff);
  }

  private needLayer(K: number, H: number, what: string): void {
    if (K !== this.K || H !== this.H || this.K === 0) throw new Error(`bag kernels: ${what} with K=${K} H=${H} but the loaded layer is K=${this.K} H=${this.H}`);
  }

  /** Z [S, H] = X [S, K] @ W + b with the loaded layer (linearForward's contract and bits). */
  forward(X: Float64Array, S: number, Z: Float64Array): void {
    const { K, H } = this;
    this.needLayer(K, H, 'forward');
    const x = this.scratch;
    const z = x + S * K * 8;
    this.ensure(z + S * H * 8);
    this.f64(x, S * K).set(X.subarray(0, S * K));
    this.k.bagLinear(x, S, K, this.wOff, this.bOff, H, z);
    Z.set(this.f64(z, S * H));
  }

  /** DX [S, K] = DZ [S, H] @ W^T with the loaded layer (backpropInput's contract and bits). */
  backprop(DZ: Float64Array, S: number, DX: Float64Array): void {
    const { K, H } = this;
    this.needLayer(K, H, 'backprop');
    const d = this.scratch;
    const dx = d + S * H * 8;
    this.ensure(dx + S * K * 8);
    this.f64(d, S * H).set(DZ.subarray(0, S * H));
    this.k.bagBackprop(d, S, H, this.wOff, K, dx);
    DX.set(this.f64(dx, S * K));
  }

  /** G [K, H] += X [S, K]^T @ DZ [S, H] (accumulateXtDZ's contract and bits). Independent of the loaded layer. */
  accumulateXtDZ(X: Float64Array, S: number, K: number, DZ: Float64Array, H: number, G: Float64Array): void {
    const x = this.scratch;
    const d = x + S * K * 8;
    const g = d + S * H * 8;
    this.ensure(g + K * H * 8);
    this.f64(x, S * K).set(X.subarray(0, S * K));
    this.f64(d, S * H).set(DZ.subarray(0, S * H));
    const gv = this.f64(g, K * H);
    gv.set(G.subarray(0, K * H));
    this.k.bagXtDZ(x, S, K, d, H, g);
    G.set(gv);
  }
}

let active: BagKernels | null = null;
let loading: Promise<string> | null = null;

/**
 * Loads the kernels for this thread (idempotent; concurrent calls share one load). Returns a line for logs: which
 * path the bag RM's matrix products take. Never throws: without the kernels the JS twins run (same bits).
 */
export function enableBagWasm(src: WasmSource = {}): Promise<string> {
  if (!loading) arenaSource = src;
  loading ??= BagKernels.create(src).then(
    (k) => {
      active = k;
      return k ? 'bag RM matmuls: wasm SIMD (f64, bit-identical to JS)' : 'bag RM matmuls: JS (the wasm kernels predate the bag exports: `npm run build:wasm`)';
    },
    (e: unknown) => {
      loading = null;
      return `bag RM matmuls: JS (${(e as Error).message})`;
    },
  );
  return loading;
}

/** The loaded kernels of this thread, or null (callers then run the JS twins). */
export function bagWasm(): BagKernels | null {
  return active;
}

/** Back to the JS twins (tests and benchmarks compare both paths). */
export function disableBagWasm(): void {
  active = null;
  loading = null;
  arenaSource = null;
  moduleLoad = null;
}

// ---------------------------------------------------------------------------------------------------------------
// A trainer's arena: the whole bag RM training state resident in one wasm memory, so the table-sized work of a step
// (pooling the batch's token rows, scattering their gradient, lazy AdamW on the touched rows) runs in wasm too.

/** What an arena holds: the table (and its moments unless frozen) and the MLP with moments and f64 gradients. */
export interface ArenaShape {
  vocabSize: number;
  dim: number;
  hidden: number;
  /** Table moments present (E trained). */
  needE: boolean;
}

type Tensor = 'E' | 'W1' | 'b1' | 'W2' | 'b2';
const TENSORS: readonly Tensor[] = ['E', 'W1', 'b1', 'W2', 'b2'];

/** Typed-array views of an arena's resident state; re-made after the memory grows (the old ones are detached). */
export interface ArenaViews {
  p: Record<Tensor, Float32Array>;
  m: Record<Tensor, Float32Array>;
  v: Record<Tensor, Float32Array>;
  gW1: Float64Array;
  gb1: Float64Array;
  gW2: Float64Array;
  gb2: Float64Array;
}

/** Per-step scratch views (valid until the next prepare()). */
export interface StepViews {
  xs: Float64Array;
  zs: Float64Array;
  ss: Float64Array;
  ds: Float64Array;
  dzs: Float64Array;
  dxs: Float64Array;
  ids: Int32Array;
  seg: Int32Array;
  slots: Int32Array;
  touched: Int32Array;
  gE: Float64Array;
  bcs: Float64Array;
}

const ALIGN = 16;
const up = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export class BagArena {
  private readonly off: Record<string, number> = {};
  /** First byte of the per-step scratch. */
  private readonly top: number;
  private step: Record<keyof StepViews | 'sc', number> | null = null;
  private stepDims = { S: 0, T: 0, G: 0 };
  private bound: ArenaViews | null = null;
  private boundBuffer: ArrayBuffer | null = null;

  private constructor(
    readonly shape: ArenaShape,
    private readonly memory: WebAssembly.Memory,
    private readonly k: BagExports,
  ) {
    const { vocabSize: V, dim: D, hidden: H, needE } = shape;
    const K = 2 * D;
    const sizes: Record<Tensor, number> = { E: V * D, W1: K * H, b1: H, W2: H, b2: 1 };
    let o = BASE;
    const put = (name: string, bytes: number): void => {
      this.off[name] = o;
      o += up(bytes);
    };
    for (const t of TENSORS) {
      put(`p.${t}`, sizes[t] * 4);
      put(`m.${t}`, t === 'E' && !needE ? 0 : sizes[t] * 4);
      put(`v.${t}`, t === 'E' && !needE ? 0 : sizes[t] * 4);
    }
    put('W1d', K * H * 8);
    put('b1d', H * 8);
    put('gW1', K * H * 8);
    put('gb1', H * 8);
    put('gW2', H * 8);
    put('gb2', 8);
    this.top = o;
  }

  static async create(shape: ArenaShape, src: WasmSource = {}): Promise<BagArena | null> {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const k = await instantiate(src, memory);
    if (!k) return null;
    const a = new BagArena(shape, memory, k);
    a.ensure(a.top);
    return a;
  }

  sameShape(s: ArenaShape): boolean {
    const t = this.shape;
    return t.vocabSize === s.vocabSize && t.dim === s.dim && t.hidden === s.hidden && t.needE === s.needE;
  }

  /** The step scratch's capacity: item slots, tokens, table-gradient rows (for tests). */
  get capacity(): { S: number; T: number; G: number } {
    return { ...this.stepDims };
  }

  /** Bytes of wasm memory (for logs and tests). */
  get bytes(): number {
    return this.memory.buffer.byteLength;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
  }

  /** The resident state's views; the same objects until the memory grows (check with stale()). */
  views(): ArenaViews {
    if (this.bound && this.boundBuffer === this.memory.buffer) return this.bound;
    const buf = this.memory.buffer as ArrayBuffer;
    const { vocabSize: V, dim: D, hidden: H, needE } = this.shape;
    const sizes: Record<Tensor, number> = { E: V * D, W1: 2 * D * H, b1: H, W2: H, b2: 1 };
    const f32 = (name: string, n: number): Float32Array => new Float32Array(buf, this.off[name], n);
    const f64 = (name: string, n: number): Float64Array => new Float64Array(buf, this.off[name], n);
    const rec = (pre: string, moments: boolean): Record<Tensor, Float32Array> => {
      const r = {} as Record<Tensor, Float32Array>;
      for (const t of TENSORS) r[t] = f32(`${pre}.${t}`, t === 'E' && moments && !needE ? 0 : sizes[t]);
      return r;
    };
    this.bound = { p: rec('p', false), m: rec('m', true), v: rec('v', true), gW1: f64('gW1', 2 * D * H), gb1: f64('gb1', H), gW2: f64('gW2', H), gb2: f64('gb2', 1) };
    this.boundBuffer = buf;
    return this.bound;
  }

  /** True when views() handed out earlier are detached (the memory grew since). */
  stale(v: ArenaViews): boolean {
    return v !== this.bound || this.boundBuffer !== this.memory.buffer;
  }

  /**
   * Lays out the scratch of a step of S item slots and T tokens and returns its views (the memory may grow: re-fetch
   * views() afterwards). `train`: room for the table gradient too (one row per distinct token, at most the vocabulary;
   * scoring blocks, with many more tokens, do not need it).
   */
  prepare(S: number, T: number, train: boolean): StepViews {
    const { dim: D, hidden: H, vocabSize: V } = this.shape;
    const K = 2 * D;
    const G = train ? Math.min(T, V) : 0;
    if (!this.step || S > this.stepDims.S || T > this.stepDims.T || G > this.stepDims.G) {
      const S2 = Math.max(S, this.stepDims.S);
      const T2 = Math.max(T, this.stepDims.T, 256);
      const G2 = Math.max(G, this.stepDims.G);
      let o = this.top;
      const at = {} as Record<keyof StepViews | 'sc', number>;
      const put = (name: keyof StepViews | 'sc', bytes: number): void => {
        at[name] = o;
        o += up(bytes);
      };
      put('xs', S2 * K * 8);
      put('zs', S2 * H * 8);
      put('ss', S2 * 8);
      put('ds', S2 * 8);
      put('dzs', S2 * H * 8);
      put('dxs', S2 * K * 8);
      put('sc', D * 8);
      put('gE', G2 * D * 8);
      put('bcs', G2 * 16);
      put('ids', T2 * 4);
      put('slots', T2 * 4);
      put('touched', G2 * 4);
      put('seg', (2 * S2 + 1) * 4);
      this.ensure(o);
      this.step = at;
      this.stepDims = { S: S2, T: T2, G: G2 };
    }
    const buf = this.memory.buffer as ArrayBuffer;
    const at = this.step;
    const { S: S2, T: T2, G: G2 } = this.stepDims;
    const f64 = (n: keyof StepViews, len: number): Float64Array => new Float64Array(buf, at[n], len);
    const i32 = (n: keyof StepViews, len: number): Int32Array => new Int32Array(buf, at[n], len);
    return {
      xs: f64('xs', S2 * K),
      zs: f64('zs', S2 * H),
      ss: f64('ss', S2),
      ds: f64('ds', S2),
      dzs: f64('dzs', S2 * H),
      dxs: f64('dxs', S2 * K),
      gE: f64('gE', G2 * D),
      bcs: f64('bcs', 2 * G2),
      ids: i32('ids', T2),
      slots: i32('slots', T2),
      touched: i32('touched', G2),
      seg: i32('seg', 2 * S2 + 1),
    };
  }

  private at(name: keyof StepViews | 'sc'): number {
    if (!this.step) throw new Error('bag arena: prepare() first');
    return this.step[name];
  }

  /** xs [S, 2D] = the pooled segments (seg/ids filled by the caller: segment 2s the response, 2s+1 the prompt of slot s). */
  pool(S: number): void {
    this.k.bagPool(this.off['p.E'], this.shape.dim, this.at('ids'), this.at('seg'), 2 * S, this.at('xs'));
  }

  /** zs [S, H] = xs @ W1 + b1 (W1 and b1 widened to f64 first; backprop() reuses them, so call this first). */
  forward(S: number): void {
    const { dim: D, hidden: H } = this.shape;
    const K = 2 * D;
    this.k.f32ToF64(this.off['p.W1'], K * H, this.off.W1d);
    this.k.f32ToF64(this.off['p.b1'], H, this.off.b1d);
    this.k.bagLinear(this.at('xs'), S, K, this.off.W1d, this.off.b1d, H, this.at('zs'));
  }

  /** gW1 += xs^T dzs. */
  weightGrad(S: number): void {
    const { dim: D, hidden: H } = this.shape;
    this.k.bagXtDZ(this.at('xs'), S, 2 * D, this.at('dzs'), H, this.off.gW1);
  }

  /** dxs = dzs @ W1^T (with the W1 of the last forward()). */
  backprop(S: number): void {
    const { dim: D, hidden: H } = this.shape;
    this.k.bagBackprop(this.at('dzs'), S, H, this.off.W1d, 2 * D, this.at('dxs'));
  }

  /** gE rows 0..nTouched = the table gradient (slots filled by the caller, per token, in seg order). */
  scatter(S: number, nTouched: number): void {
    this.k.bagScatter(this.at('gE'), this.shape.dim, this.at('slots'), this.at('seg'), 2 * S, this.at('dxs'), nTouched, this.at('sc'));
  }

  /** AdamW on the MLP tensors with their f64 gradients, bias corrections bc1, bc2 of step t. */
  adamDense(bc1: number, bc2: number, h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }): void {
    const { dim: D, hidden: H } = this.shape;
    const n: Record<string, number> = { W1: 2 * D * H, b1: H, W2: H, b2: 1 };
    const g: Record<string, number> = { W1: this.off.gW1, b1: this.off.gb1, W2: this.off.gW2, b2: this.off.gb2 };
    for (const t of ['W1', 'b1', 'W2', 'b2']) {
      this.k.bagAdam(this.off[`p.${t}`], this.off[`m.${t}`], this.off[`v.${t}`], n[t], g[t], bc1, bc2, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay);
    }
  }

  /** Lazy AdamW of the touched table rows (touched and bcs filled by the caller). */
  adamRows(nTouched: number, h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }): void {
    this.k.bagAdamRows(this.off['p.E'], this.off['m.E'], this.off['v.E'], this.shape.dim, this.at('touched'), nTouched, this.at('gE'), this.at('bcs'), h.lr, h.beta1, h.beta2, h.eps, h.weightDecay);
  }
}

let arenaSource: WasmSource | null = null;

/**
 * An arena for a trainer of this shape, or null when the kernels are not available on this thread (the trainer then
 * keeps its state in plain typed arrays and runs the JS twins: same bits).
 */
export async function createBagArena(shape: ArenaShape): Promise<BagArena | null> {
  await enableBagWasm();
  if (!active) return null;
  return BagArena.create(shape, arenaSource ?? {});
}

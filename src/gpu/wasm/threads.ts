// Helper threads for the wasm kernels: each helper instantiates the same shared-memory module on the same
// WebAssembly.Memory and waits on its own control slot (Int32Array over a SharedArrayBuffer). The caller posts a
// job with Atomics, does its own share, then waits for the helpers with Atomics.wait. That keeps MatOps.gemm
// synchronous (the transformer forward/backward are plain loops over gemm calls), which is only possible where the
// calling thread may block: Node (main thread or worker_threads) and Web Workers, not a page's main thread.
//
// The helper is a small plain-JS program kept here as a string and started with `eval: true` (Node) or from a
// Blob URL (browser: CSP worker-src allows blob:), so it needs no file path, bundler step or TS loader.
import { isNode, nodeBuiltin } from './loader.ts';

/** Int32 slots per helper: SEQ, OP, DONE, ERR, then up to 28 arguments (128 bytes: helpers never share a cache line). */
const SLOT = 32;
const SEQ = 0;
const OP = 1;
const DONE = 2;
const ERR = 3;
const ARGS = 4;
export const OP_STOP = 0;
export const OP_GEMM = 1;

/** Busy-wait iterations before sleeping in Atomics.wait: a helper usually finishes within microseconds of us. */
const SPIN = 20000;
/** A helper that does not answer within this long is considered dead (its thread crashed or was killed). */
const DEAD_MS = 60000;

const HELPER_SOURCE = `'use strict';
function serve(d, post) {
  const e = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
  const c = new Int32Array(d.ctrl, d.slot * ${SLOT * 4}, ${SLOT});
  post({ type: 'ready' });
  let seen = 0;
  for (;;) {
    let s = Atomics.load(c, ${SEQ});
    let spins = 0;
    while (s === seen) {
      if (++spins > ${SPIN}) { Atomics.wait(c, ${SEQ}, seen); spins = 0; }
      s = Atomics.load(c, ${SEQ});
    }
    seen = s;
    const op = c[${OP}];
    if (op === ${OP_STOP}) return;
    try {
      if (op === ${OP_GEMM}) e.gemm(c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15], c[16], c[17], c[18]);
      c[${ERR}] = 0;
    } catch (err) {
      c[${ERR}] = 1;
      post({ type: 'error', message: String(err && err.message || err) });
    }
    Atomics.store(c, ${DONE}, s);
    Atomics.notify(c, ${DONE});
  }
}
if (typeof self === 'undefined' && typeof require === 'function') {
  const wt = require('node:worker_threads');
  serve(wt.workerData, (m) => wt.parentPort.postMessage(m));
} else {
  self.onmessage = (ev) => serve(ev.data, (m) => self.postMessage(m));
}
`;

interface HelperHandle {
  terminate(): void;
}

/** Why threads cannot be used here, or null when they can. */
export function threadSupport(): string | null {
  if (typeof SharedArrayBuffer === 'undefined') {
    return 'SharedArrayBuffer is unavailable (the page is not cross-origin isolated: COOP/COEP headers missing)';
  }
  const g = globalThis as { crossOriginIsolated?: boolean };
  if (!isNode() && g.crossOriginIsolated === false) return 'the page is not cross-origin isolated (COOP/COEP headers missing)';
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
  } catch {
    return "this thread may not block in Atomics.wait (a page's main thread): run the model in a Web Worker";
  }
  return null;
}

async function spawnHelper(data: { module: WebAssembly.Module; memory: WebAssembly.Memory; ctrl: SharedArrayBuffer; slot: number }): Promise<HelperHandle> {
  if (isNode()) {
    const wt = await nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
    const w = new wt.Worker(HELPER_SOURCE, { eval: true, workerData: data });
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', (e) => reject(e));
      w.once('exit', (code) => reject(new Error(`exited with code ${code} before it was ready`)));
    });
    w.removeAllListeners('exit');
    w.removeAllListeners('error');
    w.on('error', () => undefined); // a later failure shows up as ERR/no answer in the control slot
    w.unref(); // an idle helper never keeps a CLI alive
    return { terminate: () => void w.terminate() };
  }
  const url = URL.createObjectURL(new Blob([HELPER_SOURCE], { type: 'text/javascript' }));
  try {
    const w = new Worker(url);
    await new Promise<void>((resolve, reject) => {
      w.onmessage = () => resolve();
      w.onerror = (e) => reject(new Error(e.message || 'worker error'));
      w.postMessage(data);
    });
    w.onmessage = null;
    return { terminate: () => w.terminate() };
  } finally {
    URL.revokeObjectURL(url);
  }
}

export class ThreadPool {
  private readonly ctrl: Int32Array;
  private readonly seq: number[];
  private stopped = false;

  private constructor(
    ctrlBuffer: SharedArrayBuffer,
    private readonly helpers: HelperHandle[],
  ) {
    this.ctrl = new Int32Array(ctrlBuffer);
    this.seq = helpers.map(() => 0);
  }

  /** Starts `count` helpers on `memory` (shared) running `module`; rejects if any does not start. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, count: number, timeoutMs = 20000): Promise<ThreadPool> {
    const ctrl = new SharedArrayBuffer(Math.max(1, count) * SLOT * 4);
    const started: HelperHandle[] = [];
    try {
      for (let slot = 0; slot < count; slot++) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not start within ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          started.push(await Promise.race([spawnHelper({ module, memory, ctrl, slot }), timeout]));
        } finally {
          clearTimeout(timer);
        }
      }
    } catch (e) {
      for (const h of started) h.terminate();
      throw new Error(`wasm helper thread: ${(e as Error).message}`);
    }
    return new ThreadPool(ctrl, started);
  }

  get size(): number {
    return this.helpers.length;
  }

  /**
   * Posts one job per helper (args[h] for helper h; an empty list leaves it idle), runs `own` on this thread,
   * then waits for every posted helper. Throws if a helper reported a trap or stopped answering.
   */
  run(op: number, args: readonly (readonly number[])[], own: () => void): void {
    if (this.stopped) throw new Error('wasm thread pool: used after dispose()');
    const c = this.ctrl;
    const posted: number[] = [];
    for (let h = 0; h < this.helpers.length; h++) {
      const a = args[h];
      if (!a || a.length === 0) continue;
      const base = h * SLOT;
      c[base + OP] = op;
      for (let i = 0; i < a.length; i++) c[base + ARGS + i] = a[i];
      const s = (this.seq[h] = (this.seq[h] + 1) | 0 || 1);
      Atomics.store(c, base + SEQ, s);
      Atomics.notify(c, base + SEQ);
      posted.push(h);
    }
    let failure: unknown = null;
    try {
      own();
    } catch (e) {
      failure = e;
    }
    for (const h of posted) {
      const base = h * SLOT;
      const s = this.seq[h];
      let spins = 0;
      const t0 = Date.now();
      let d: number;
      while ((d = Atomics.load(c, base + DONE)) !== s) {
        if (++spins < SPIN) continue;
        Atomics.wait(c, base + DONE, d, 1000);
        if (Date.now() - t0 > DEAD_MS) {
          this.dispose();
          throw new Error(`wasm helper thread ${h + 1} did not answer within ${DEAD_MS / 1000} s (it crashed or was killed)`);
        }
      }
      if (c[base + ERR] !== 0 && failure === null) failure = new Error(`wasm helper thread ${h + 1} trapped in its share of the job`);
    }
    if (failure !== null) throw failure;
  }

  dispose(): void {
    if (this.stopped) return;
    this.stopped = true;
    const c = this.ctrl;
    for (let h = 0; h < this.helpers.length; h++) {
      const base = h * SLOT;
      c[base + OP] = OP_STOP;
      Atomics.store(c, base + SEQ, (this.seq[h] + 1) | 0 || 1);
      Atomics.notify(c, base + SEQ);
      this.helpers[h].terminate();
    }
  }
}

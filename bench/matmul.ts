// Benchmark (not a test): GFLOP/s of the MatOps implementations on the USE-lite transformer's gemm shapes, forward
// (x @ W, W pinned as a frozen weight) and the two backward products (dX = dY @ W^T, dW = X^T @ dY), for the
// plain-TS reference, the wasm-SIMD kernels on 1 thread and on 2+ threads. All in one process and interleaved in
// time slices, so the ratios hold even while other jobs load the machine (the absolute numbers do not: the load
// average is saved alongside). Prints a table; saves bench/results/matmul.{json,md}.
//   tsx bench/matmul.ts [--seconds 0.4] [--slices 5] [--threads 2] [--no-js] [--no-adaptive] [--out bench/results]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { GemmOptions, MatOps } from '../src/gpu/matops.ts';
import { jsMatOps } from '../src/gpu/matops.ts';
import { createWasmMatOps } from '../src/gpu/wasm/matops.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '0.4' },
    slices: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    'no-js': { type: 'boolean', default: false },
    // Always split (as in tests): shows the raw threaded speed instead of the adaptive default's.
    'no-adaptive': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
  },
});
const SLICE_S = Number(args.seconds);
const SLICES = Number(args.slices);
const THREADS = Number(args.threads);

interface Shape {
  label: string;
  m: number;
  n: number;
  k: number;
  opts: GemmOptions;
  /** B is a frozen weight (pinned: resident in wasm memory). */
  weightB: boolean;
}

// m = tokens of a micro-batch (64 = one ~64-token sequence, 256/1024 = several); k, n from the layer widths.
const SHAPES: Shape[] = [
  { label: 'fwd ff1  x@W      64x512 @ 512x1536', m: 64, k: 512, n: 1536, opts: {}, weightB: true },
  { label: 'fwd ff2  x@W      64x1536 @ 1536x512', m: 64, k: 1536, n: 512, opts: {}, weightB: true },
  { label: 'fwd out  x@W      256x512 @ 512x512', m: 256, k: 512, n: 512, opts: {}, weightB: true },
  { label: 'fwd ff1  x@W+b    1024x512 @ 512x1536', m: 1024, k: 512, n: 1536, opts: { bias: new Float32Array(1536) }, weightB: true },
  { label: 'bwd ff1  dY@W^T   64x1536 @ (512x1536)^T', m: 64, k: 1536, n: 512, opts: { transB: true }, weightB: true },
  { label: 'bwd ff2  dY@W^T   64x512 @ (1536x512)^T', m: 64, k: 512, n: 1536, opts: { transB: true }, weightB: true },
  { label: 'bwd out  dY@W^T   256x512 @ (512x512)^T', m: 256, k: 512, n: 512, opts: { transB: true }, weightB: true },
  { label: 'bwd ff1  X^T@dY   (64x512)^T @ 64x1536', m: 512, k: 64, n: 1536, opts: { transA: true }, weightB: false },
  { label: 'bwd ff2  X^T@dY   (256x1536)^T @ 256x512 +=', m: 1536, k: 256, n: 512, opts: { transA: true, accumulate: true }, weightB: false },
  { label: 'bwd out  X^T@dY   (256x512)^T @ 256x512', m: 512, k: 256, n: 512, opts: { transA: true }, weightB: false },
];

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

const impls: { name: string; ops: MatOps }[] = [];
if (!args['no-js']) impls.push({ name: 'js', ops: jsMatOps });
const w1 = await createWasmMatOps({ threads: 1 });
impls.push({ name: 'wasm 1t', ops: w1 });
const wN = await createWasmMatOps({ threads: THREADS, adaptiveSplit: !args['no-adaptive'] });
if (wN.fallback) console.log(wN.fallback);
impls.push({ name: `wasm ${wN.threads}t`, ops: wN });
const w1u = await createWasmMatOps({ threads: 1 });
impls.push({ name: 'wasm 1t unpinned', ops: w1u });

interface Row {
  shape: string;
  m: number;
  n: number;
  k: number;
  /** Wall-clock GFLOP/s. */
  gflops: Record<string, number>;
  /** GFLOP per CPU-second of the process (all threads). */
  cpuGflops: Record<string, number>;
}
const rows: Row[] = [];
const load0 = loadavg()[0];
const t0 = performance.now();

for (const [si, sh] of SHAPES.entries()) {
  const A = rand(sh.m * sh.k, 1 + si);
  const B = rand(sh.k * sh.n, 100 + si);
  const C = new Float32Array(sh.m * sh.n);
  if (sh.weightB) {
    w1.pin(B);
    wN.pin(B);
  }
  const flop = 2 * sh.m * sh.n * sh.k;
  const samples: Record<string, number[]> = {};
  const cpuSamples: Record<string, number[]> = {};
  // Warm-up: V8 first runs wasm in its baseline tier; hot functions tier up to optimised code within ~100 ms.
  for (const { name, ops } of impls) {
    samples[name] = [];
    cpuSamples[name] = [];
    const tw = performance.now();
    do ops.gemm(sh.m, sh.n, sh.k, A, B, C, sh.opts);
    while (name !== 'js' && performance.now() - tw < 150);
  }
  for (let s = 0; s < SLICES; s++) {
    for (const { name, ops } of impls) {
      let reps = 0;
      const ts = performance.now();
      const u0 = process.cpuUsage();
      let dt = 0;
      do {
        ops.gemm(sh.m, sh.n, sh.k, A, B, C, sh.opts);
        reps++;
        dt = performance.now() - ts;
      } while (dt < SLICE_S * 1000 * (name === 'js' ? 0.5 : 1));
      const u = process.cpuUsage(u0);
      samples[name].push((flop * reps) / (dt / 1000) / 1e9);
      // Per CPU-second of this process (all its threads): what a core delivers, even while others load the machine.
      cpuSamples[name].push((flop * reps) / ((u.user + u.system) / 1e6) / 1e9);
    }
  }
  const median = (a: number[]): number => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const gflops = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const cpuGflops = Object.fromEntries(Object.entries(cpuSamples).map(([k, v]) => [k, median(v)]));
  rows.push({ shape: sh.label, m: sh.m, n: sh.n, k: sh.k, gflops, cpuGflops });
  process.stdout.write(
    `${sh.label.padEnd(48)} ${Object.entries(gflops).map(([k, v]) => `${k} ${v.toFixed(1)} (${cpuGflops[k].toFixed(1)}/cpu-s)`).join('  ')}\n`,
  );
}
const ts = wN.threadStats();
console.log(`${wN.name}: ${ts.splits} split gemms, splitting paused ${ts.pauses} times for not paying (load), last speedup estimate ${ts.gain.toFixed(2)}`);
w1.dispose();
wN.dispose();
w1u.dispose();

const names = impls.map((i) => i.name);
const nT = `wasm ${wN.threads}t`;
const header = ['shape (m x k @ k x n)', ...names.map((n) => `${n}`), 'wasm 1t / js', `${nT} / 1t (wall)`];
const table = rows.map((r) => [
  r.shape,
  ...names.map((n) => `${r.gflops[n].toFixed(1)} (${r.cpuGflops[n].toFixed(1)})`),
  r.gflops.js ? `${(r.cpuGflops['wasm 1t'] / r.cpuGflops.js).toFixed(0)}x` : '-',
  `${(r.gflops[nT] / r.gflops['wasm 1t']).toFixed(2)}x`,
]);
const md = [
  `# MatOps gemm throughput (bench/matmul.ts)`,
  '',
  `${new Date().toISOString()}, ${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}, Node ${process.version}, load average ${load0.toFixed(1)} -> ${loadavg()[0].toFixed(1)} ` +
    `(shared machine: wall-clock numbers are noisy; ratios come from the same interleaved slices). Median of ${SLICES} slices of ${SLICE_S} s.`,
  '',
  'Cells: wall-clock GFLOP/s (GFLOP per CPU-second of the process, all threads: what one core delivers while others load the machine). ' +
    'wasm 1t / js compares per CPU-second; the thread speedup is wall-clock, so it only shows when the machine has idle cores.',
  '',
  `${nT}: ${args['no-adaptive'] ? 'always splits (--no-adaptive)' : 'adaptive splitting, the default (pauses splitting while it measurably does not pay)'}; ` +
    `${ts.splits} split gemms, splitting paused ${ts.pauses} times.`,
  '',
  `| ${header.join(' | ')} |`,
  `| ${header.map(() => '---').join(' | ')} |`,
  ...table.map((r) => `| ${r.join(' | ')} |`),
  '',
].join('\n');
console.log('\n' + md);
mkdirSync(args.out!, { recursive: true });
writeFileSync(
  join(args.out!, 'matmul.json'),
  JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadavg: [load0, loadavg()[0]], sliceSeconds: SLICE_S, slices: SLICES, threads: wN.threads, adaptiveSplit: !args['no-adaptive'], threadStats: wN.threadStats(), rows, seconds: (performance.now() - t0) / 1000 }, null, 1) + '\n',
);
writeFileSync(join(args.out!, 'matmul.md'), md);
console.log(`saved ${join(args.out!, 'matmul.json')} and matmul.md`);

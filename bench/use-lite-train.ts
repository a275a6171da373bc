// Benchmark (not a test): training throughput of the USE-lite reward model with LoRA (rank 8, alpha 16; adapters on
// qkv/out/ff1/ff2 of both layers + the head), pairs/s at batch 8 and 32, same model, data and sequence length for
// every implementation:
//   ours-js      the USE-lite cpu trainer on jsMatOps (the plain-TS reference matmul)
//   ours-wasm-1  the same trainer on wasmMatOps, 1 thread (WebAssembly SIMD)
//   ours-wasm-2  the same on 2 threads (each gemm split over both)
//   ours-dp-2    the same trainer data-parallel on 2 threads (a worker-thread peer runs half the micro-batches on its
//                own 1-thread wasm instance; gradients summed, one AdamW update)
//   tfjs-wasm    the same LoRA model in TensorFlow.js ops on its wasm backend (SIMD; 1 thread: threads do not start in Node)
// plus FLOPs per pair (counted at the gemm calls of our trainer: 2mnk each; elementwise ops not counted) and the
// achieved GFLOP/s against the plain wasm-SIMD matmul peak measured in the same run (256 x 512 x 1536, pinned B).
// All but ours-js run interleaved (one step of each in turn, peak bursts between rounds; --seconds per impl), so
// the ratios compare the same machine conditions; CPU seconds per wall second and GFLOP per CPU second are saved
// too (a loaded machine shows as cpu/wall below the threads used), with the load average at start and end.
// Every sequence is exactly --seq-len tokens (prompt [SEP] response), so packed (ours) and padded (TF.js) layouts do
// the same work. Weights: the converted USE-lite weights when public/models has them, else random weights of the
// same shapes (speed does not depend on the values). Saves bench/results/use-lite-train.json and prints a table.
//   tsx bench/use-lite-train.ts [--impls ours-js,ours-wasm-1,ours-wasm-2,ours-dp-2,tfjs-wasm] [--batches 8,32] [--seq-len 64] [--seconds 20]
//                               [--js-batches 8] [--js-seconds 30]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { jsMatOps, type MatOps } from '../src/gpu/matops.ts';
import { createWasmMatOps } from '../src/gpu/wasm/matops.ts';
import type { GradPeer } from '../src/pipeline/rm/use-lite/data-parallel.ts';
import { startUseLitePeers } from '../src/pipeline/rm/use-lite/data-parallel.node.ts';
import { Rng } from '../src/pipeline/rng.ts';
import type { EncodedItems, OptimizerConfig, PairBatch } from '../src/pipeline/rm/types.ts';
import { DEFAULT_LORA, USE_LITE_CONFIG, type UseLiteParams } from '../src/pipeline/rm/use-lite/spec.ts';
import { USE_SEP_ID } from '../src/pipeline/rm/use-lite/tokenizer.ts';
import { UseLiteCpuTrainer, useLiteRM } from '../src/pipeline/rm/use-lite/train.ts';
import { randomUseLiteParams } from '../src/pipeline/rm/use-lite/train-testing.ts';
import { createTfjsLoraModel } from './lib/use-lite-tfjs.ts';

const { values: args } = parseArgs({
  options: {
    impls: { type: 'string', default: 'ours-js,ours-wasm-1,ours-wasm-2,ours-dp-2,tfjs-wasm' },
    batches: { type: 'string', default: '8,32' },
    'seq-len': { type: 'string', default: '64' },
    seconds: { type: 'string', default: '20' },
    'js-seconds': { type: 'string', default: '30' },
    // The plain-TS reference is ~20x slower: only this batch size by default (a batch-32 step takes minutes).
    'js-batches': { type: 'string', default: '8' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const impls = args.impls!.split(',');
const batches = args.batches!.split(',').map(Number);
const T = Number(args['seq-len']);
const seconds = Number(args.seconds);
const LR = 1e-3;
const OPT: OptimizerConfig = { lr: LR, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: true };
const log = (m: string) => console.log(`[use-lite-train] ${m}`);

async function loadWeights(): Promise<{ params: UseLiteParams; source: string }> {
  return { params: randomUseLiteParams({ ...USE_LITE_CONFIG, maxLen: T }, 1), source: 'random weights of the USE-lite shapes (speed does not depend on the values)' };
}

/** N items whose joint sequence is exactly T tokens: T/2 - 1 prompt ids, the separator, T/2 response ids. */
function fixedLengthItems(n: number, rng: Rng): EncodedItems {
  const pl = Math.floor(T / 2) - 1;
  const rl = T - 1 - pl;
  const promptOffsets = Int32Array.from({ length: n + 1 }, (_, i) => i * pl);
  const responseOffsets = Int32Array.from({ length: n + 1 }, (_, i) => i * rl);
  const id = () => 6 + rng.int(USE_LITE_CONFIG.vocabSize - 6);
  return {
    count: n,
    promptOffsets,
    promptIds: Int32Array.from({ length: n * pl }, id),
    responseOffsets,
    responseIds: Int32Array.from({ length: n * rl }, id),
  };
}

function batchAt(rng: Rng, n: number, B: number): PairBatch {
  const chosen = Int32Array.from({ length: B }, () => rng.int(n));
  return { chosen, rejected: Int32Array.from(chosen, (c) => (c + 1 + rng.int(n - 1)) % n), weight: new Float32Array(B).fill(1) };
}

/**
 * Counts 2mnk per gemm call, and the same products inside the fused attention kernels when the MatOps has them (per
 * sequence of L tokens, width w: forward q k^T and P v, 4 L^2 w; backward dV, dP, dq, dk, 8 L^2 w), so FLOPs per pair
 * do not depend on whether attention runs fused or as gemm calls.
 */
function counting(inner: MatOps): MatOps & { flops: number } {
  const sq = (lens: Int32Array) => lens.reduce((a, L) => a + L * L, 0);
  const att = inner.attention;
  const o: MatOps & { flops: number } = {
    name: inner.name,
    flops: 0,
    gemm(m: number, n: number, k: number, A: Float32Array, B: Float32Array, C: Float32Array, opts?: Parameters<MatOps['gemm']>[6]) {
      o.flops += 2 * m * n * k;
      inner.gemm(m, n, k, A, B, C, opts);
    },
    pin: inner.pin?.bind(inner),
    attention: att && {
      forward(rows, starts, lens, w, heads, qScale, qkv, out, probs) {
        const done = att.forward(rows, starts, lens, w, heads, qScale, qkv, out, probs);
        if (done) o.flops += 4 * sq(lens) * w;
        return done;
      },
      backward(rows, starts, lens, w, heads, qScale, qkv, probs, dout, dqkv) {
        const done = att.backward(rows, starts, lens, w, heads, qScale, qkv, probs, dout, dqkv);
        if (done) o.flops += 8 * sq(lens) * w;
        return done;
      },
    },
  };
  return o;
}

/** The joint ids of item k written at ids[at ..]. */
function seqIds(items: EncodedItems, k: number, ids: Int32Array, at: number): void {
  const pl = items.promptOffsets[k + 1] - items.promptOffsets[k];
  ids.set(items.promptIds.subarray(items.promptOffsets[k], items.promptOffsets[k + 1]), at);
  ids[at + pl] = USE_SEP_ID;
  ids.set(items.responseIds.subarray(items.responseOffsets[k], items.responseOffsets[k + 1]), at + pl + 1);
}

let tfjsMaxAbsDiff: number | null = null;
let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

/** The "plain wasm-SIMD matmul" of the peak: 256 x 512 x 1536 with B pinned (a USE-lite FFN shape). */
const PEAK = (() => {
  const [m, k, n] = [256, 512, 1536];
  const rng = new Rng(3);
  return { m, k, n, A: Float32Array.from({ length: m * k }, () => rng.normal()), B: Float32Array.from({ length: k * n }, () => rng.normal()), C: new Float32Array(m * n) };
})();

/** CPU seconds per wall second while measuring each peak (helper threads spin while waiting: up to 2 with 2 threads). */
const peakCpu: Record<string, { cpuPerWall: number }> = {};

async function peakGflops(ops: MatOps, label: string): Promise<number> {
  const { m, k, n, A, B, C } = PEAK;
  ops.pin?.(B);
  ops.gemm(m, n, k, A, B, C);
  let reps = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    ops.gemm(m, n, k, A, B, C);
    reps++;
  }
  const sec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const g = (2 * m * n * k * reps) / sec / 1e9;
  peakCpu[label] = { cpuPerWall: (cpu.user + cpu.system) / 1e6 / sec };
  log(`peak ${label}: ${g.toFixed(1)} GFLOP/s (${m}x${k}x${n}), cpu/wall ${peakCpu[label].cpuPerWall.toFixed(2)}`);
  return g;
}

interface Row {
  impl: string;
  batch: number;
  pairsPerSec: number;
  steps: number;
  seconds: number;
  flopsPerPair?: number;
  gflops?: number;
  fractionOfPeak?: number;
  activationBytesPerPair?: number;
  firstLoss?: number;
  /**
   * CPU seconds of this process (all its threads) per wall second of the timed loop: ~1 for one thread, up to 2 for
   * two when they really run side by side; lower when other jobs take the cores (a loaded shared machine).
   */
  cpuPerWall?: number;
  /** gemm GFLOP per CPU second of this process: the efficiency, less sensitive to other jobs than GFLOP/s. */
  gflopPerCpuSecond?: number;
  error?: string;
}

async function main(): Promise<void> {
  const loadStart = loadavg();
  const { params, source } = await loadWeights();
  log(`model: ${source}; seq len ${T}; LoRA r ${DEFAULT_LORA.rank} alpha ${DEFAULT_LORA.alpha}`);
  const rng = new Rng(7);
  const items = fixedLengthItems(256, rng);
  const rows: Row[] = [];
  const peaks: Record<string, number> = {};
  const wasm1 = impls.some((i) => i.startsWith('ours-wasm') || i === 'ours-dp-2' || i === 'peak') ? await createWasmMatOps({ threads: 1 }) : null;
  const wasm2 = impls.some((i) => i === 'ours-wasm-2' || i === 'ours-dp-2') ? await createWasmMatOps({ threads: 2 }) : null;
  const peers: GradPeer[] = impls.includes('ours-dp-2') ? await startUseLitePeers(1) : [];
  if (wasm2?.fallback) log(wasm2.fallback);
  // Measured once here (2 s each), then again in bursts between the interleaved rounds (`peaks`, what the rows are
  // compared with).
  const peakAtStart: Record<string, number> = {};
  /** The interleaved peaks per CPU second of this process (helper threads spinning while they wait count too). */
  const peakPerCpuSecond: Record<string, number> = {};
  if (wasm1) peakAtStart['wasm-1'] = await peakGflops(wasm1, 'wasm SIMD 1 thread');
  if (wasm2) peakAtStart['wasm-2'] = await peakGflops(wasm2, `wasm SIMD ${wasm2.threads} threads`);
  let flopsPerPair = 0;

  interface Runner {
    impl: string;
    B: number;
    step: () => Promise<number>;
    dispose: () => void;
    firstLoss: number;
    flopsPerPair: number;
    steps: number;
    sec: number;
    cpuSec: number;
    act: number;
  }

  /** The trainer of `impl` at batch B, warmed up (one step: compiles, pins, allocates) and its FLOPs per pair counted. */
  async function makeRunner(impl: string, B: number): Promise<Runner> {
    let step: () => Promise<number>;
    let dispose = () => {};
    let counter: (MatOps & { flops: number }) | null = null;
    const r = { impl, B, firstLoss: 0, flopsPerPair: 0, steps: 0, sec: 0, cpuSec: 0, act: 0 } as Runner;
    if (impl.startsWith('ours-')) {
      const base = impl === 'ours-js' ? jsMatOps : impl === 'ours-wasm-2' ? wasm2! : wasm1!;
      counter = counting(base);
      const dp = impl === 'ours-dp-2' ? peers : [];
      const t = new UseLiteCpuTrainer(useLiteRM(params, 'lora', DEFAULT_LORA, 0), OPT, { ops: counter, microBatch: 8, peers: dp });
      const br = new Rng(11);
      step = async () => (await t.step(items, batchAt(br, items.count, B))).loss;
      dispose = () => {
        r.act = t.peakScratchBytes / 8;
        t.dispose();
      };
    } else if (impl === 'tfjs-wasm') {
      const tf = await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-wasm');
      const ok = await tf.setBackend('wasm');
      if (!ok || tf.getBackend() !== 'wasm') throw new Error(`tfjs: setBackend('wasm') failed (on ${tf.getBackend()})`);
      await tf.ready();
      const m = createTfjsLoraModel(tf, params, DEFAULT_LORA, LR, 0);
      {
        // Same model: TF.js scores vs ours on 4 items (fresh adapters: B = 0 on both sides).
        const ids4 = new Int32Array(4 * T);
        for (let k = 0; k < 4; k++) seqIds(items, k, ids4, k * T);
        const tfScores = m.score(ids4, 4, T, new Int32Array(4).fill(T));
        const ours = await new UseLiteCpuTrainer(useLiteRM(params, 'lora', DEFAULT_LORA, 0), OPT, { ops: wasm1 ?? jsMatOps }).score(items, Int32Array.from([0, 1, 2, 3]));
        tfjsMaxAbsDiff = Math.max(...Array.from(ours, (v, i) => Math.abs(v - tfScores[i])));
        log(`tfjs vs ours scores, max |diff| on 4 items: ${tfjsMaxAbsDiff.toExponential(2)}`);
      }
      const br = new Rng(11);
      const ids = new Int32Array(2 * B * T);
      const lens = new Int32Array(2 * B).fill(T);
      const seqOf = (k: number, at: number) => seqIds(items, k, ids, at);
      step = async () => {
        const b = batchAt(br, items.count, B);
        for (let i = 0; i < B; i++) {
          seqOf(b.chosen[i], 2 * i * T);
          seqOf(b.rejected[i], (2 * i + 1) * T);
        }
        return m.step(ids, 2 * B, T, lens, b.weight);
      };
      dispose = () => m.dispose();
    } else throw new Error(`unknown impl ${impl}`);
    r.step = step;
    r.dispose = dispose;
    r.firstLoss = await step();
    if (counter) {
      const f0 = counter.flops;
      await step();
      // ours-dp-2 counts this thread's gemms only: its micro-batches are an equal share (every sequence is T
      // tokens and the batch splits into equal micro-batches), so the pair's FLOPs are (1 + peers) x that.
      r.flopsPerPair = ((counter.flops - f0) * (impl === 'ours-dp-2' ? 1 + peers.length : 1)) / B;
      flopsPerPair = r.flopsPerPair;
    }
    sampleRss();
    return r;
  }

  async function timedStep(r: Runner): Promise<void> {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await r.step();
    r.sec += (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    r.cpuSec += (cpu.user + cpu.system) / 1e6;
    r.steps++;
    sampleRss();
  }

  function finish(r: Runner): void {
    r.dispose();
    const pps = (r.steps * r.B) / r.sec;
    const row: Row = { impl: r.impl, batch: r.B, pairsPerSec: pps, steps: r.steps, seconds: r.sec, firstLoss: r.firstLoss, cpuPerWall: r.cpuSec / r.sec };
    const fpp = r.flopsPerPair || flopsPerPair; // TF.js: the same model's FLOPs as counted at our trainer
    if (fpp) {
      row.flopsPerPair = fpp;
      row.gflops = (pps * fpp) / 1e9;
      row.gflopPerCpuSecond = (r.steps * r.B * fpp) / 1e9 / r.cpuSec;
      const peak = r.impl === 'ours-wasm-2' || r.impl === 'ours-dp-2' ? peaks['wasm-2'] : peaks['wasm-1'];
      if (peak && r.impl !== 'ours-js') row.fractionOfPeak = row.gflops / peak;
    }
    if (r.act) row.activationBytesPerPair = r.act;
    rows.push(row);
    log(`${r.impl} batch ${r.B}: ${pps.toFixed(2)} pairs/s (${r.steps} steps in ${r.sec.toFixed(1)} s)${row.gflops ? `, ${row.gflops.toFixed(1)} GFLOP/s` : ''}`);
  }

  const failed = (impl: string, B: number, e: unknown): void => {
    rows.push({ impl, batch: B, pairsPerSec: Number.NaN, steps: 0, seconds: 0, error: (e as Error).message });
    log(`${impl} batch ${B}: ERROR ${(e as Error).message}`);
  };

  // The plain-TS reference alone (minutes per step): sequentially, before the others.
  if (impls.includes('ours-js')) {
    for (const B of args['js-batches']!.split(',').map(Number)) {
      try {
        const r = await makeRunner('ours-js', B);
        while (r.steps < 2 || r.sec < Number(args['js-seconds'])) await timedStep(r);
        finish(r);
      } catch (e) {
        failed('ours-js', B, e);
      }
    }
  }
  // The rest interleaved, one step of each in turn, with a short burst of each wasm peak between rounds: on a shared
  // machine whose load changes by the minute, every impl and the peaks then see the same conditions, so their ratios
  // (the figures of merit) hold even when the absolute numbers do not.
  const peakAcc: Record<string, { flops: number; sec: number; cpuSec: number }> = {};
  const burst = (ops: MatOps | null, key: string): void => {
    if (!ops) return;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < 8; i++) ops.gemm(PEAK.m, PEAK.n, PEAK.k, PEAK.A, PEAK.B, PEAK.C);
    const a = (peakAcc[key] ??= { flops: 0, sec: 0, cpuSec: 0 });
    a.flops += 8 * 2 * PEAK.m * PEAK.n * PEAK.k;
    a.sec += (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    a.cpuSec += (cpu.user + cpu.system) / 1e6;
  };
  const rest = impls.filter((i) => i !== 'ours-js');
  for (const B of batches) {
    const runners: Runner[] = [];
    for (const impl of rest) {
      try {
        runners.push(await makeRunner(impl, B));
      } catch (e) {
        failed(impl, B, e);
      }
    }
    const t0 = performance.now();
    while (runners.some((r) => r.steps < 2) || (performance.now() - t0) / 1000 < seconds * runners.length) {
      for (const r of runners) await timedStep(r);
      burst(wasm1, 'wasm-1');
      burst(wasm2, 'wasm-2');
    }
    for (const [k, a] of Object.entries(peakAcc)) {
      peaks[k] = a.flops / a.sec / 1e9;
      peakPerCpuSecond[k] = a.flops / a.cpuSec / 1e9;
    }
    for (const r of runners) finish(r);
  }
  wasm1?.dispose();
  wasm2?.dispose();
  for (const p of peers) p.dispose();
  const get = (impl: string, B: number) => rows.find((r) => r.impl === impl && r.batch === B)?.pairsPerSec ?? Number.NaN;
  const ratios: Record<string, number> = {};
  for (const B of batches) {
    ratios[`wasm1/tfjs@${B}`] = get('ours-wasm-1', B) / get('tfjs-wasm', B);
    ratios[`wasm2/tfjs@${B}`] = get('ours-wasm-2', B) / get('tfjs-wasm', B);
    ratios[`dp2/tfjs@${B}`] = get('ours-dp-2', B) / get('tfjs-wasm', B);
    ratios[`dp2/wasm1@${B}`] = get('ours-dp-2', B) / get('ours-wasm-1', B);
    ratios[`wasm1/js@${B}`] = get('ours-wasm-1', B) / get('ours-js', B);
  }
  const result = {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) },
    note: 'shared 2-core machine with other jobs running: absolute numbers are noisy; ratios within this run are the figure',
    /** 1/5/15-minute load averages at the start and the end of the run (2 cores: above ~2 other jobs took CPU). */
    loadAvg: { start: loadStart.map((x) => Math.round(x * 100) / 100), end: loadavg().map((x) => Math.round(x * 100) / 100) },
    model: source,
    seqLen: T,
    lora: DEFAULT_LORA,
    flopsPerPair,
    tfjsMaxAbsDiff,
    peakGflops: peaks,
    peakGflopsAtStart: peakAtStart,
    peakGflopPerCpuSecond: peakPerCpuSecond,
    peakCpu,
    interleaved: 'every impl but ours-js one step in turn, with 8 peak gemms on wasm-1 and wasm-2 between rounds',
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    rows,
    ratios,
  };
  const out = resolve(args.out!);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'use-lite-train.json'), JSON.stringify(result, null, 2));
  console.log(`\nUSE-lite LoRA training, seq len ${T}, ${(flopsPerPair / 1e9).toFixed(2)} GFLOP per pair (gemm), peak RSS ${result.peakRssMiB} MiB`);
  console.log(`load average (1/5/15 min): start ${result.loadAvg.start.join(' ')}, end ${result.loadAvg.end.join(' ')}`);
  console.log('impl          batch   pairs/s   GFLOP/s   of peak   act. MiB/pair   cpu/wall   GFLOP/cpu-s');
  for (const r of rows) {
    console.log(
      `${r.impl.padEnd(13)} ${String(r.batch).padStart(5)} ${r.error ? `  error: ${r.error}` : `${r.pairsPerSec.toFixed(2).padStart(9)} ${(r.gflops ?? NaN).toFixed(1).padStart(9)} ${r.fractionOfPeak !== undefined ? `${(100 * r.fractionOfPeak).toFixed(0)}%`.padStart(9) : '        -'} ${r.activationBytesPerPair ? (r.activationBytesPerPair / 2 ** 20).toFixed(1).padStart(12) : '           -'} ${(r.cpuPerWall ?? NaN).toFixed(2).padStart(10)} ${(r.gflopPerCpuSecond ?? NaN).toFixed(1).padStart(13)}`}`,
    );
  }
  console.log(`peaks (interleaved): ${Object.entries(peaks).map(([k, v]) => `${k} ${v.toFixed(1)} GFLOP/s (${(peakPerCpuSecond[k] ?? NaN).toFixed(1)} per cpu-s)`).join(', ')}`);
  console.log(`ratios: ${Object.entries(ratios).map(([k, v]) => `${k} ${v.toFixed(2)}x`).join(', ')}`);
}

await main();

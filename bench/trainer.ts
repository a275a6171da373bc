// Benchmark (not a test): training throughput of the bundled RM on the webgpu backend (Node + the `webgpu`
// package, Dawn) and the cpu backend (`cpu`: its wasm-SIMD arena; `cpu-js`: the same trainer on its JS twins, same
// bits), in pairs/s at batch 8 and 64, on the synthetic data's training pairs.
// Also: score throughput, checkpoint time, and a short loss-parity check so fast numbers are also right numbers.
// Prints the adapter, saves bench/results/trainer-<adapter>.json. `bench/gpu.sh` runs it on a GPU machine.
//   tsx bench/trainer.ts [--backends webgpu,cpu,cpu-js] [--batches 8,64] [--seconds 4] [--read-every 1,16] [--model DIR] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Backend, Trainer } from '../src/gpu/backend.ts';
import { disableBagWasm } from '../src/gpu/cpu/bag-wasm.ts';
import { cpuBackend, CpuTrainer } from '../src/gpu/cpu/trainer.ts';
import { describeReport, GpuUnavailableError, type CapabilityReport } from '../src/gpu/device.ts';
import { getNodeGpu } from '../src/gpu/node-webgpu.node.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../src/gpu/webgpu.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { loadBagRM } from '../src/pipeline/rm/files.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import { encodeItems } from '../src/pipeline/rm/tokenizer.ts';
import type { EncodedItems, OptimizerConfig } from '../src/pipeline/rm/types.ts';
import { BatchSchedule } from '../src/pipeline/train/loop.ts';

const { values: args } = parseArgs({
  options: {
    backends: { type: 'string', default: 'webgpu,cpu,cpu-js' },
    batches: { type: 'string', default: '8,64' },
    seconds: { type: 'string', default: '4' },
    'read-every': { type: 'string', default: '1,16' },
    model: { type: 'string', default: 'public/models/scpo-glove-rm' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const ints = (s: string) => s.split(',').map((x) => Number(x.trim())).filter((x) => Number.isInteger(x) && x > 0);
const BATCHES = ints(args.batches!);
const READ_EVERY = ints(args['read-every']!);
const SECONDS = Number(args.seconds);
const BACKENDS = args.backends!.split(',').map((s) => s.trim());
const OPT: OptimizerConfig = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: false };

interface Row {
  backend: string;
  batch: number;
  readEvery: number;
  steps: number;
  seconds: number;
  pairsPerSec: number;
  msPerStep: number;
}

async function timeSteps(trainer: Trainer, items: EncodedItems, sched: BatchSchedule, seconds: number, flush?: () => Promise<unknown>) {
  for (let s = 1; s <= 5; s++) await trainer.step(items, sched.batch(s));
  await flush?.();
  let steps = 0;
  const t0 = performance.now();
  // Whole bursts of 16 so every readEvery divides the count and the last readback is inside the timing.
  while (steps < 32 || performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 16; k++) await trainer.step(items, sched.batch(6 + steps++));
  }
  await flush?.();
  return { steps, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const data = await loadSynthetic(0);
  const model = await loadBagRM(dirReader(resolve(args.model!)));
  const items = encodeItems(model.tokenizer, data.items, model.params.config);
  const train = data.pairs.filter((p) => p.split === 'train');
  const spec = (batch: number) => ({
    chosen: Int32Array.from(train, (p) => p.chosen),
    rejected: Int32Array.from(train, (p) => p.rejected),
    weights: new Float32Array(train.length).fill(1),
    batch,
    seed: 0,
  });
  const cfg = model.params.config;
  console.log(`model: bundled bag RM V=${cfg.vocabSize} D=${cfg.dim} H=${cfg.hidden}; ${train.length} training pairs; setup ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  let web: WebGpuBackend | null = null;
  let adapter: CapabilityReport | null = null;
  let webgpuNote = '';
  if (BACKENDS.includes('webgpu')) {
    const { gpu, notes } = await getNodeGpu();
    if (notes.length) console.log(`dawn: ${notes.join('; ')}`);
    try {
      web = await createWebGpuBackend(gpu, { powerPreference: 'high-performance', model: cfg });
      adapter = web.report;
      webgpuNote = web.info;
      console.log(`adapter: ${web.info}`);
      console.log(`  vendor=${adapter.vendor} architecture=${adapter.architecture} device=${adapter.device} description=${adapter.description}`);
      console.log(`  features: ${adapter.features.join(' ')}`);
      if (adapter.isFallbackAdapter) console.log('  NOTE: a software (fallback) adapter: webgpu numbers measure correctness, not GPU speed');
    } catch (e) {
      webgpuNote = e instanceof GpuUnavailableError ? `${e.code}: ${e.message}` : (e as Error).message;
      console.log(`webgpu unavailable: ${webgpuNote}`);
    }
  }

  const rows: Row[] = [];
  const parity: { batch: number; steps: number; maxLossRel: number }[] = [];
  const extra: { backend: string; scoreItemsPerSec: number; checkpointMs: number }[] = [];
  const runs: { backend: Backend; readEvery: number; label: string }[] = [];
  if (web) for (const r of READ_EVERY) runs.push({ backend: web, readEvery: r, label: 'webgpu' });
  if (BACKENDS.includes('cpu')) runs.push({ backend: cpuBackend, readEvery: 1, label: 'cpu' });
  // The cpu trainer without an arena, and scoreItems without the thread's kernels: the JS twins only (the path of a
  // thread that cannot load the wasm kernels). The next `cpu` trainer loads them again.
  const cpuJs: Backend = {
    name: 'cpu',
    info: 'cpu trainer on its JS twins',
    createTrainer: async (init, opt) => {
      disableBagWasm();
      return new CpuTrainer(init, opt);
    },
  };
  if (BACKENDS.includes('cpu-js')) runs.push({ backend: cpuJs, readEvery: 1, label: 'cpu-js' });

  for (const batch of BATCHES) {
    for (const { backend, readEvery, label } of runs) {
      const sched = new BatchSchedule(spec(batch));
      const trainer =
        backend === web ? await web.createTrainer(model.params, OPT, { readEvery }) : await backend.createTrainer(model.params, OPT);
      const flush = backend === web ? () => (trainer as Awaited<ReturnType<WebGpuBackend['createTrainer']>>).flushLosses() : undefined;
      const { steps, seconds } = await timeSteps(trainer, items, sched, SECONDS, flush);
      const row: Row = {
        backend: label,
        batch,
        readEvery,
        steps,
        seconds: +seconds.toFixed(3),
        pairsPerSec: Math.round((steps * batch) / seconds),
        msPerStep: +((seconds * 1000) / steps).toFixed(3),
      };
      rows.push(row);
      console.log(
        `${row.backend.padEnd(6)} batch ${String(batch).padStart(3)} readEvery ${String(readEvery).padStart(2)}: ` +
          `${String(row.pairsPerSec).padStart(7)} pairs/s  ${row.msPerStep.toFixed(2).padStart(8)} ms/step  (${steps} steps)`,
      );
      if (batch === BATCHES[BATCHES.length - 1] && readEvery === 1) {
        const idx = Int32Array.from({ length: Math.min(8192, items.count) }, (_, i) => i);
        await trainer.score(items, idx);
        const ts = performance.now();
        await trainer.score(items, idx);
        const scoreS = (performance.now() - ts) / 1000;
        const tc = performance.now();
        await trainer.checkpoint();
        const checkpointMs = performance.now() - tc;
        extra.push({ backend: label, scoreItemsPerSec: Math.round(idx.length / scoreS), checkpointMs: Math.round(checkpointMs) });
        console.log(`${label.padEnd(6)} score ${Math.round(idx.length / scoreS)} items/s, checkpoint ${Math.round(checkpointMs)} ms`);
      }
      trainer.dispose();
    }
    if (web && BACKENDS.includes('cpu')) {
      // Same init, same 20 batches on both: the per-step loss difference.
      const sched = new BatchSchedule(spec(batch));
      const a = await web.createTrainer(model.params, OPT);
      const b = await cpuBackend.createTrainer(model.params, OPT);
      let worst = 0;
      for (let s = 1; s <= 20; s++) {
        const x = (await a.step(items, sched.batch(s))).loss;
        const y = (await b.step(items, sched.batch(s))).loss;
        worst = Math.max(worst, Math.abs(x - y) / Math.max(Math.abs(y), 1e-12));
      }
      a.dispose();
      parity.push({ batch, steps: 20, maxLossRel: worst });
      console.log(`parity batch ${batch}: 20 steps, max per-step loss rel diff webgpu vs cpu ${worst.toExponential(2)}`);
    }
  }
  web?.dispose();

  const tag = adapter ? `${adapter.vendor || 'unknown'}-${adapter.architecture || adapter.device || 'gpu'}`.toLowerCase().replace(/[^a-z0-9_-]+/g, '_') : 'cpu-only';
  const figures = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30) },
    node: process.version,
    vkIcdFilenames: process.env.VK_ICD_FILENAMES ?? null,
    adapter,
    webgpu: webgpuNote || null,
    adapterText: adapter ? describeReport(adapter) : null,
    model: { vocabSize: cfg.vocabSize, dim: cfg.dim, hidden: cfg.hidden },
    trainPairs: train.length,
    secondsPerPoint: SECONDS,
    results: rows,
    scoreAndCheckpoint: extra,
    parity,
  };
  const dir = resolve(args.out!);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `trainer-${tag}.json`);
  writeFileSync(file, JSON.stringify(figures, null, 2) + '\n');
  console.log(`saved ${file}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);

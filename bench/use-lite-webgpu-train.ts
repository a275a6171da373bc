// Benchmark (not a test): the USE-lite reward model's LoRA trainer on WebGPU (Node + the `webgpu` package, Dawn;
// `bench/gpu.sh` runs it on a GPU machine). Same model, data and sequence length as bench/use-lite-train.ts (the
// CPU trainers): LoRA rank 8, alpha 16, every joint sequence exactly --seq-len tokens, random weights of the real
// shapes (speed does not depend on the values). Prints and saves bench/results/use-lite-webgpu-train-<adapter>.json:
//   - pairs/s at each batch size (loss read back every step, and every 16: no per-step round trip), FLOPs per pair (counted from the plan: planFlops), achieved GFLOP/s;
//   - the peak of our own tiled matmul kernel on this device (an N^3 product, the same run) and, when given
//     (--peak-gflops, which bench/gpu.sh fills in from nvidia-smi's GPU name), the device's nominal fp32 peak:
//     the trainer's fraction of both;
//   - parity: per-step loss of the webgpu trainer vs the cpu trainer (wasm-SIMD MatOps, else plain JS) over
//     --parity-steps steps from the same init and batches (max relative difference).
// On SwiftShader (a CPU emulation) the numbers measure nothing about GPUs: use small settings there, e.g.
//   tsx bench/use-lite-webgpu-train.ts --batches 2 --read-every 1 --seq-len 8 --seconds 3 --peak-n 128 --parity-steps 5
//   tsx bench/use-lite-webgpu-train.ts [--batches 8,32] [--read-every 1,16] [--seq-len 64] [--seconds 10] [--peak-n 2048] [--peak-gflops G]
//                                [--parity-steps 50] [--parity-batch 4] [--parity-seq-len 32] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireDevice, describeReport } from '../src/gpu/device.ts';
import { matmul } from '../src/gpu/kernels/matmul.ts';
import { PipelineCache } from '../src/gpu/kernels/runtime.ts';
import { jsMatOps, type MatOps } from '../src/gpu/matops.ts';
import { getNodeGpu } from '../src/gpu/node-webgpu.node.ts';
import { planFlops, useLiteTrainSteps } from '../src/gpu/use-lite-webgpu-plan.ts';
import { UseLiteWebGpuBackend } from '../src/gpu/use-lite-webgpu.ts';
import { GpuPlanExecutor } from '../src/gpu/webgpu.ts';
import { Rng } from '../src/pipeline/rng.ts';
import type { EncodedItems, OptimizerConfig, PairBatch } from '../src/pipeline/rm/types.ts';
import { DEFAULT_LORA, USE_LITE_CONFIG } from '../src/pipeline/rm/use-lite/spec.ts';
import { UseLiteCpuTrainer, useLiteRM } from '../src/pipeline/rm/use-lite/train.ts';
import { randomUseLiteParams } from '../src/pipeline/rm/use-lite/train-testing.ts';

const { values: args } = parseArgs({
  options: {
    batches: { type: 'string', default: '8,32' },
    'seq-len': { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    'peak-n': { type: 'string', default: '2048' },
    'read-every': { type: 'string', default: '1,16' },
    'peak-gflops': { type: 'string', default: '' },
    'device-name': { type: 'string', default: '' },
    'parity-steps': { type: 'string', default: '50' },
    'parity-batch': { type: 'string', default: '4' },
    'parity-seq-len': { type: 'string', default: '32' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const BATCHES = args.batches!.split(',').map(Number).filter((b) => Number.isInteger(b) && b > 0);
const T = Number(args['seq-len']);
const SECONDS = Number(args.seconds);
const PEAK_N = Number(args['peak-n']);
const READ_EVERY = args['read-every']!.split(',').map(Number).filter((r) => Number.isInteger(r) && r > 0);
const NOMINAL = args['peak-gflops'] ? Number(args['peak-gflops']) : null;
const SEP = 1;
const OPT: OptimizerConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: true };
const log = (m: string) => console.log(`[use-lite-webgpu-train] ${m}`);

/** n items whose joint sequence is exactly len tokens (as bench/use-lite-train.ts). */
function fixedLengthItems(n: number, len: number, rng: Rng): EncodedItems {
  const pl = Math.floor(len / 2) - 1;
  const rl = len - 1 - pl;
  const id = () => 6 + rng.int(USE_LITE_CONFIG.vocabSize - 6);
  return {
    count: n,
    promptOffsets: Int32Array.from({ length: n + 1 }, (_, i) => i * pl),
    promptIds: Int32Array.from({ length: n * pl }, id),
    responseOffsets: Int32Array.from({ length: n + 1 }, (_, i) => i * rl),
    responseIds: Int32Array.from({ length: n * rl }, id),
  };
}

function batchAt(rng: Rng, n: number, B: number): PairBatch {
  const chosen = Int32Array.from({ length: B }, () => rng.int(n));
  return { chosen, rejected: Int32Array.from(chosen, (c) => (c + 1 + rng.int(n - 1)) % n), weight: Float32Array.from({ length: B }, () => 0.5 + rng.next()) };
}

/** GFLOP/s of our matmul kernel on an n^3 product: reps dispatches in one submit, one tiny readback. */
async function matmulPeak(device: GPUDevice, cache: PipelineCache, n: number): Promise<number> {
  const exec = new GpuPlanExecutor(device, cache);
  const rng = new Rng(3);
  exec.upload('A', Float32Array.from({ length: n * n }, () => rng.normal()));
  exec.upload('B', Float32Array.from({ length: n * n }, () => rng.normal()));
  const step = { kernel: matmul, dims: { M: n, N: n, K: n }, bind: { A: 'A', B: 'B', C: 'C' } };
  await exec.execute([step], { buffer: 'C', elements: 1 });
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    await exec.execute(Array.from({ length: reps }, () => step), { buffer: 'C', elements: 1 });
    const s = (performance.now() - t0) / 1000;
    if (s > 1 || reps >= 256) {
      exec.dispose();
      return (2 * n * n * n * reps) / s / 1e9;
    }
    reps *= 2;
  }
}

async function main(): Promise<void> {
  const { gpu, notes } = await getNodeGpu();
  if (notes.length) log(`dawn: ${notes.join('; ')}`);
  const ctx = await acquireDevice(gpu, { powerPreference: 'high-performance', label: 'use-lite-bench' });
  const report = ctx.report;
  log(`adapter: ${describeReport(report)}${args['device-name'] ? ` (${args['device-name']})` : ''}`);
  if (report.isFallbackAdapter) log('NOTE: a software (fallback) adapter: these numbers measure correctness, not GPU speed');
  const backend = new UseLiteWebGpuBackend(ctx, { sepId: SEP });
  const cache = new PipelineCache(ctx.device);
  const peak = await matmulPeak(ctx.device, cache, PEAK_N);
  log(`our tiled matmul kernel, ${PEAK_N}^3: ${peak.toPrecision(3)} GFLOP/s${NOMINAL ? `; nominal device fp32 peak ${NOMINAL} GFLOP/s (${((100 * peak) / NOMINAL).toFixed(1)}%)` : ''}`);

  const params = randomUseLiteParams({ ...USE_LITE_CONFIG, maxLen: Math.max(T, Number(args['parity-seq-len'])) }, 1);
  const rng = new Rng(7);
  const items = fixedLengthItems(256, T, rng);
  const init = useLiteRM(params, 'lora', DEFAULT_LORA, 0);
  const rows: Record<string, number>[] = [];
  for (const B of BATCHES) {
    for (const readEvery of READ_EVERY) {
      const trainer = await backend.createTrainer(init, OPT, { readEvery });
      const flopsPerPair = planFlops(useLiteTrainSteps(trainer.planLayout, { B, T, slot: 0, slots: 1, t: 1, hyper: OPT })) / B;
      for (let s = 0; s < 3; s++) await trainer.step(items, batchAt(rng, items.count, B));
      await trainer.flushLosses();
      let steps = 0;
      const t0 = performance.now();
      // Whole rings, so the last readback is inside the timing.
      while (steps < 3 || steps % readEvery !== 0 || performance.now() - t0 < SECONDS * 1000) {
        await trainer.step(items, batchAt(rng, items.count, B));
        steps++;
      }
      await trainer.flushLosses();
      const sec = (performance.now() - t0) / 1000;
      trainer.dispose();
      const pps = (steps * B) / sec;
      const gflops = (pps * flopsPerPair) / 1e9;
      const row: Record<string, number> = { batch: B, readEvery, seqLen: T, steps, seconds: +sec.toFixed(2), pairsPerSec: +pps.toFixed(2), flopsPerPair, gflops: +gflops.toFixed(2), fractionOfKernelPeak: +(gflops / peak).toFixed(4) };
      if (NOMINAL) row.fractionOfNominalPeak = +(gflops / NOMINAL).toFixed(4);
      rows.push(row);
      log(
        `batch ${B}, seq len ${T}, loss read every ${readEvery}: ${pps.toFixed(2)} pairs/s, ${(flopsPerPair / 1e9).toFixed(2)} GFLOP/pair, ${gflops.toPrecision(3)} GFLOP/s = ` +
          `${(100 * row.fractionOfKernelPeak).toFixed(1)}% of our matmul's peak${NOMINAL ? `, ${(100 * row.fractionOfNominalPeak).toFixed(2)}% of the device's nominal fp32 peak` : ''} (${steps} steps)`,
      );
    }
  }

  // Parity: same init and batches on webgpu and cpu.
  const pSteps = Number(args['parity-steps']);
  let parity: Record<string, unknown> | null = null;
  if (pSteps > 0) {
    const pB = Number(args['parity-batch']);
    const pT = Number(args['parity-seq-len']);
    let ops: MatOps = jsMatOps;
    try {
      const { createWasmMatOps } = await import('../src/gpu/wasm/matops.ts');
      ops = await createWasmMatOps({ threads: 1 });
    } catch (e) {
      log(`parity on plain-JS matmul (wasm unavailable: ${(e as Error).message})`);
    }
    const prng = new Rng(11);
    const pItems = fixedLengthItems(64, pT, prng);
    const web = await backend.createTrainer(init, OPT);
    const cpu = new UseLiteCpuTrainer(init, OPT, { ops, sepId: SEP });
    let worst = 0;
    const t0 = performance.now();
    for (let s = 0; s < pSteps; s++) {
      const b = batchAt(prng, pItems.count, pB);
      const [x, y] = [(await web.step(pItems, b)).loss, (await cpu.step(pItems, b)).loss];
      worst = Math.max(worst, Math.abs(x - y) / Math.max(Math.abs(y), 1e-12));
    }
    web.dispose();
    parity = { steps: pSteps, batch: pB, seqLen: pT, cpuMatOps: ops.name, maxLossRel: worst, seconds: +((performance.now() - t0) / 1000).toFixed(1) };
    log(`parity: ${pSteps} steps (batch ${pB}, seq len ${pT}), max per-step loss rel diff webgpu vs cpu (${ops.name}) ${worst.toExponential(2)}`);
  }
  backend.dispose();

  const tag = `${report.vendor || 'unknown'}-${report.architecture || report.device || 'gpu'}`.toLowerCase().replace(/[^a-z0-9_-]+/g, '_');
  const figures = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30) },
    node: process.version,
    adapter: report,
    deviceName: args['device-name'] || null,
    model: 'USE-lite (random weights of the real shapes), LoRA rank 8 alpha 16 on qkv/out/ff1/ff2 of both layers + head',
    matmulPeak: { n: PEAK_N, gflops: +peak.toFixed(2) },
    nominalPeakGflops: NOMINAL,
    results: rows,
    parity,
  };
  const dir = resolve(args.out!);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `use-lite-webgpu-train-${tag}.json`);
  writeFileSync(file, JSON.stringify(figures, null, 2) + '\n');
  log(`saved ${file}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);

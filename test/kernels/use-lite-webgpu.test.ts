// The USE-lite reward model on WebGPU (src/gpu/use-lite-webgpu*.ts) against the CPU path
// (src/pipeline/rm/use-lite: modelForward over jsMatOps, the float64 reference score64, UseLiteCpuTrainer):
//   - encoder forward (embeddings and scores) at the tiny config and at USE-lite's real sizes, padded batches
//     with length-1 and length-0 sequences, LoRA applied;
//   - trainer: per-step loss parity with the cpu trainer over 50 steps (tune lora) and a few (top, head), the
//     checkpoint in the cpu trainer's layout (resume on cpu continues the same run), and a device lost mid-run
//     continuing on cpu through FailoverTrainer.
// Each runs on the plan's CPU-twin executor (always) and on Node Dawn's WebGPU (skipped with the reason printed
// when there is no adapter).
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainerCheckpoint } from '../../src/gpu/backend.ts';
import { acquireDevice, GpuDeviceLostError } from '../../src/gpu/device.ts';
import { TwinExecutor, type PlanExecutor } from '../../src/gpu/kernels/plan.ts';
import { getNodeGpu } from '../../src/gpu/node-webgpu.node.ts';
import { jsMatOps } from '../../src/gpu/matops.ts';
import { GpuPlanExecutor } from '../../src/gpu/webgpu.ts';
import { createUseLiteTwinTrainer, selectUseLiteBackend, UseLiteWebGpuBackend, UseLiteWebGpuEncoder, UseLiteWebGpuTrainer } from '../../src/gpu/use-lite-webgpu.ts';
import { neverLost } from '../../src/gpu/device-calls.ts';
import { Rng } from '../../src/pipeline/rng.ts';
import type { OptimizerConfig } from '../../src/pipeline/rm/types.ts';
import { modelForward, packSequences, Scratch } from '../../src/pipeline/rm/use-lite/grad.ts';
import { score64, toF64 } from '../../src/pipeline/rm/use-lite/grad-ref64.ts';
import { initLora } from '../../src/pipeline/rm/use-lite/lora.ts';
import { USE_LITE_CONFIG, type LoraParams, type TuneMode, type UseLiteConfig, type UseLiteParams } from '../../src/pipeline/rm/use-lite/spec.ts';
import { UseLiteCpuTrainer, useLiteCpuBackend, useLiteRM, type UseLiteRM } from '../../src/pipeline/rm/use-lite/train.ts';
import { randomPairBatch, randomUseItems, randomUseLiteParams, TINY_CONFIG } from '../../src/pipeline/rm/use-lite/train-testing.ts';
import { FailoverTrainer } from '../../src/pipeline/train/loop.ts';
import { getTestGpu } from './gpu.ts';

const gpu = await getTestGpu();
const noGpu = gpu.ctx ? null : gpu.reason;
const OPT: OptimizerConfig = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: true };
const SEP = 2;

type ExecKind = 'twin' | 'webgpu';
const KINDS: { kind: ExecKind; skip: string | null }[] = [
  { kind: 'twin', skip: null },
  { kind: 'webgpu', skip: noGpu },
];

function executor(kind: ExecKind): PlanExecutor {
  return kind === 'twin' ? new TwinExecutor() : new GpuPlanExecutor(gpu.ctx!.device, gpu.cache!);
}

/** Adapters with non-zero B (a fresh B is 0, which would hide a broken LoRA path). */
function randomLora(c: UseLiteConfig, seed: number): LoraParams {
  const l = initLora(c, { rank: 2, alpha: 4 }, seed);
  const rng = new Rng(seed + 1);
  for (const b of Object.values(l.B)) for (let i = 0; i < b.length; i++) b[i] = 0.3 * rng.normal();
  return l;
}

function randomSeqs(rng: Rng, c: UseLiteConfig, lens: number[]): Int32Array[] {
  return lens.map((L) => Int32Array.from({ length: L }, () => rng.int(c.vocabSize)));
}

function cpuForward(params: UseLiteParams, lora: LoraParams | null, seqs: Int32Array[]) {
  const { ids, layout } = packSequences(seqs);
  const acts = modelForward(jsMatOps, { config: params.config, tensors: params.tensors, lora }, layout, { ids }, new Scratch());
  return { emb: acts.emb.slice(0, seqs.length * params.config.modelDim), scores: acts.scores.slice(0, seqs.length) };
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('USE-lite encoder forward: webgpu plan vs the cpu forward', () => {
  for (const { kind, skip } of KINDS) {
    it.skipIf(!!skip)(`${kind}: tiny config, LoRA, lengths 8, 1, 0, 5 in one padded batch${skip ? ` [skip: ${skip}]` : ''}`, async () => {
      const params = randomUseLiteParams(TINY_CONFIG, 11);
      const lora = randomLora(TINY_CONFIG, 12);
      const seqs = randomSeqs(new Rng(13), TINY_CONFIG, [8, 1, 0, 5]);
      const enc = new UseLiteWebGpuEncoder(executor(kind), params, lora);
      const got = await enc.encode(seqs);
      const want = cpuForward(params, lora, seqs);
      expect(maxAbs(got.emb, want.emb)).toBeLessThan(1e-5);
      expect(maxAbs(got.scores, want.scores)).toBeLessThan(1e-5);
      // And against the independent float64 reference.
      const L = { r: 2, scale: 2, A: toF64(lora.A), B: toF64(lora.B) };
      seqs.forEach((s, i) => expect(Math.abs(got.scores[i] - score64(TINY_CONFIG, toF64(params.tensors), L, s))).toBeLessThan(1e-5));
      // Batching does not change results (other padded lengths, other batch composition).
      const one = await enc.encode(seqs, 1);
      expect(maxAbs(one.scores, got.scores)).toBeLessThan(1e-5);
      enc.dispose();
    });

    // On WebGPU the real sizes run in use-lite-webgpu-golden.test.ts (real weights); here the plan on the twins.
    it.skipIf(kind === 'webgpu')(`${kind}: USE-lite's real sizes (random weights), lengths 13, 1, 6: embeddings within 1e-4`, async () => {
      const params = randomUseLiteParams(USE_LITE_CONFIG, 21);
      const seqs = randomSeqs(new Rng(22), USE_LITE_CONFIG, [13, 1, 6]);
      const enc = new UseLiteWebGpuEncoder(executor(kind), params);
      const got = await enc.encode(seqs);
      const want = cpuForward(params, null, seqs);
      const err = maxAbs(got.emb, want.emb);
      console.log(`use-lite ${kind} forward at real sizes: max |emb - cpu| = ${err.toExponential(2)}, max |score - cpu| = ${maxAbs(got.scores, want.scores).toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
      expect(maxAbs(got.scores, want.scores)).toBeLessThan(1e-4 * (1 + Math.max(...Array.from(want.scores, Math.abs))));
      enc.dispose();
    }, 600_000);
  }
});

function setup(tune: TuneMode, seed: number) {
  const rng = new Rng(seed);
  const params = randomUseLiteParams(TINY_CONFIG, seed + 100);
  const items = randomUseItems(rng, 12, TINY_CONFIG, 3);
  const init = useLiteRM(params, tune, { rank: 2, alpha: 4 }, 5);
  const batches = Array.from({ length: 51 }, (_, i) => randomPairBatch(rng, items.count, 2 + (i % 5)));
  return { items, init, batches };
}

function trainer(kind: ExecKind, init: UseLiteRM | TrainerCheckpoint<UseLiteRM>, microBatch?: number): UseLiteWebGpuTrainer {
  const o = { sepId: SEP, microBatch };
  return kind === 'twin' ? createUseLiteTwinTrainer(init, OPT, o) : new UseLiteWebGpuTrainer(executor('webgpu'), neverLost(), init, OPT, o);
}

describe('USE-lite trainer: webgpu plan vs the cpu trainer', () => {
  for (const { kind, skip } of KINDS) {
    for (const tune of ['lora', 'top'] as TuneMode[]) {
      it.skipIf(!!skip)(`${kind}: tune ${tune}, gradients of every trained tensor equal the cpu trainer's${skip ? ` [skip: ${skip}]` : ''}`, async () => {
        const { items, init, batches } = setup(tune, 3);
        // Adapters with non-zero B, so every LoRA gradient path carries signal.
        const start = tune === 'lora' ? { ...init, lora: randomLora(TINY_CONFIG, 9) } : init;
        const cpu = new UseLiteCpuTrainer(start, OPT, { sepId: SEP });
        const gpuT = trainer(kind, start);
        const batch = batches[6]; // 3 pairs
        const [g, c] = [await gpuT.gradients(items, batch), cpu.gradients(items, batch)];
        expect(Math.abs(g.loss - c.loss) / c.loss).toBeLessThan(1e-5);
        expect(Object.keys(g.grads).sort()).toEqual(Object.keys(c.grads).sort());
        let worst = 0;
        for (const [k, a] of Object.entries(c.grads)) {
          const scale = Math.max(1e-3, ...Array.from(a, Math.abs));
          const err = maxAbs(g.grads[k], a) / scale;
          worst = Math.max(worst, err);
          expect(err, k).toBeLessThan(1e-4);
        }
        console.log(`use-lite ${kind} gradients vs cpu, tune ${tune}: worst max|diff|/max|grad| = ${worst.toExponential(2)} over ${Object.keys(c.grads).length} tensors`);
        gpuT.dispose();
      }, 600_000);
    }

    for (const [tune, steps] of [['lora', 50], ['top', 8], ['head', 8]] as [TuneMode, number][]) {
      it.skipIf(!!skip)(`${kind}: tune ${tune}, ${steps} steps: per-step loss within 1e-4 relative, same checkpoint${skip ? ` [skip: ${skip}]` : ''}`, async () => {
        const { items, init, batches } = setup(tune, tune === 'lora' ? 1 : 2);
        const cpu = new UseLiteCpuTrainer(init, OPT, { sepId: SEP });
        const gpuT = trainer(kind, init);
        let worst = 0;
        for (let s = 0; s < steps; s++) {
          const a = await gpuT.step(items, batches[s]);
          const b = await cpu.step(items, batches[s]);
          worst = Math.max(worst, Math.abs(a.loss - b.loss) / Math.abs(b.loss));
        }
        console.log(`use-lite ${kind} vs cpu, tune ${tune}: worst per-step relative loss difference over ${steps} steps = ${worst.toExponential(2)}`);
        expect(worst).toBeLessThan(1e-4);
        const [cg, cc] = [await gpuT.checkpoint(), await cpu.checkpoint()];
        expect(cg.step).toBe(cc.step);
        expect(Object.keys(cg.m).sort()).toEqual(Object.keys(cc.m).sort());
        for (const k of Object.keys(cc.m)) {
          expect(maxAbs(cg.m[k], cc.m[k]), `m.${k}`).toBeLessThan(1e-4);
          expect(maxAbs(cg.v[k], cc.v[k]), `v.${k}`).toBeLessThan(1e-5);
        }
        if (tune === 'lora') {
          for (const k of Object.keys(cc.params.lora!.B)) expect(maxAbs(cg.params.lora!.B[k], cc.params.lora!.B[k]), `lora B ${k}`).toBeLessThan(1e-3);
        }
        for (const k of Object.keys(cc.params.model.tensors)) {
          let [a, b] = [cg.params.model.tensors[k], cc.params.model.tensors[k]];
          if (k.endsWith('qkv.b')) {
            // The key bias's gradient is exactly 0 (softmax is shift-invariant), so both sides only see rounding
            // noise there, which Adam scales up to +-lr steps of unrelated sign: compare the q and v thirds.
            const w = a.length / 3;
            [a, b] = [Float32Array.of(...a.subarray(0, w), ...a.subarray(2 * w)), Float32Array.of(...b.subarray(0, w), ...b.subarray(2 * w))];
          }
          expect(maxAbs(a, b), k).toBeLessThan(1e-3);
        }
        const idx = Int32Array.from({ length: items.count }, (_, i) => i);
        expect(maxAbs(await gpuT.score(items, idx), await cpu.score(items, idx))).toBeLessThan(1e-4);
        // The webgpu checkpoint resumes on the cpu trainer: the next step's loss matches the cpu run's.
        const resumed = new UseLiteCpuTrainer(cg, OPT, { sepId: SEP });
        const [r1, c1] = [await resumed.step(items, batches[steps]), await cpu.step(items, batches[steps])];
        expect(Math.abs(r1.loss - c1.loss) / Math.abs(c1.loss)).toBeLessThan(1e-4);
        gpuT.dispose();
      }, 600_000);
    }
  }

  it.skipIf(!!noGpu)(`device lost mid-run: FailoverTrainer continues on cpu from the last checkpoint (adapters + AdamW state)${noGpu ? ` [skip: ${noGpu}]` : ''}`, async () => {
    const { items, init, batches } = setup('lora', 4);
    const { gpu: nodeGpu } = await getNodeGpu();
    const ctx = await acquireDevice(nodeGpu, { label: 'use-lite-lost-test' });
    const backend = new UseLiteWebGpuBackend(ctx, { sepId: SEP });
    const fallbacks: string[] = [];
    const ft = await FailoverTrainer.create<UseLiteRM>(backend, init, OPT, {
      checkpointEvery: 4,
      fallback: useLiteCpuBackend({ sepId: SEP }),
      onFallback: (info) => fallbacks.push(`${info.from}->${info.to} at ${info.atStep} from ${info.resumedFrom}`),
    });
    const ref = new UseLiteCpuTrainer(init, OPT, { sepId: SEP });
    const losses: number[] = [];
    const refLosses: number[] = [];
    for (let s = 0; s < 10; s++) {
      if (s === 6) ctx.device.destroy();
      losses.push((await ft.step(items, batches[s])).loss);
      refLosses.push((await ref.step(items, batches[s])).loss);
    }
    expect(await ctx.lost).toBeInstanceOf(GpuDeviceLostError);
    expect(ft.backend).toBe('cpu');
    expect(fallbacks).toEqual(['webgpu->cpu at 6 from 4']);
    for (let s = 0; s < 10; s++) expect(Math.abs(losses[s] - refLosses[s]) / refLosses[s]).toBeLessThan(1e-4);
    const [a, b] = [await ft.checkpoint(), await ref.checkpoint()];
    expect(a.step).toBe(10);
    for (const k of Object.keys(b.m)) expect(maxAbs(a.m[k], b.m[k]), `m.${k}`).toBeLessThan(1e-4);
    ft.dispose();
  }, 600_000);
});

describe('USE-lite webgpu trainer: micro-batches', () => {
  for (const { kind, skip } of KINDS) {
    for (const tune of ['lora', 'top'] as TuneMode[]) {
      it.skipIf(!!skip)(`${kind}: tune ${tune}, micro-batches of 2 pairs (batches of 5 and 6): gradients and 4 steps' losses equal the cpu trainer's${skip ? ` [skip: ${skip}]` : ''}`, async () => {
        const { items, init, batches } = setup(tune, 6);
        const start = tune === 'lora' ? { ...init, lora: randomLora(TINY_CONFIG, 9) } : init;
        const cpu = new UseLiteCpuTrainer(start, OPT, { sepId: SEP, microBatch: 3 });
        const gpuT = trainer(kind, start, 2);
        const [g, c] = [await gpuT.gradients(items, batches[3]), cpu.gradients(items, batches[3])];
        expect(batches[3].chosen.length).toBe(5);
        expect(Math.abs(g.loss - c.loss) / c.loss).toBeLessThan(1e-5);
        for (const [k, a] of Object.entries(c.grads)) {
          expect(maxAbs(g.grads[k], a) / Math.max(1e-3, ...Array.from(a, Math.abs)), k).toBeLessThan(1e-4);
        }
        for (const s of [3, 4, 8, 9]) {
          const [x, y] = [await gpuT.step(items, batches[s]), await cpu.step(items, batches[s])];
          expect(Math.abs(x.loss - y.loss) / y.loss).toBeLessThan(1e-4);
        }
        gpuT.dispose();
      }, 600_000);
    }
  }
});

describe('USE-lite webgpu trainer: loss read back every few steps', () => {
  it('readEvery 4: steps in between resolve NaN, onLosses and flushLosses deliver every step\'s loss in order', async () => {
    const { items, init, batches } = setup('lora', 5);
    const every = createUseLiteTwinTrainer(init, OPT, { sepId: SEP });
    const seen: [number, number[]][] = [];
    const ring = createUseLiteTwinTrainer(init, OPT, { sepId: SEP, readEvery: 4, onLosses: (first, l) => seen.push([first, Array.from(l)]) });
    const want: number[] = [];
    const got: number[] = [];
    for (let s = 0; s < 6; s++) {
      want.push((await every.step(items, batches[s])).loss);
      got.push((await ring.step(items, batches[s])).loss);
    }
    expect(got.map((x, i) => (i === 3 ? x : Number.isNaN(x)))).toEqual([true, true, true, want[3], true, true]);
    // gradients() in the middle of a ring does not disturb it.
    await ring.gradients(items, batches[7]);
    expect(Array.from(await ring.flushLosses())).toEqual(want.slice(4));
    expect(seen).toEqual([[1, want.slice(0, 4)], [5, want.slice(4)]]);
    expect((await ring.flushLosses()).length).toBe(0);
  });
});

describe('USE-lite backend selection', () => {
  it('cpu when asked or when there is no WebGPU, with the reason', async () => {
    const cpu = useLiteCpuBackend({ sepId: SEP });
    expect((await selectUseLiteBackend('cpu', cpu, null)).backend).toBe(cpu);
    const none = await selectUseLiteBackend('webgpu', cpu, null);
    expect(none.backend).toBe(cpu);
    expect(none.reason).toMatch(/WebGPU unavailable \(no-webgpu\)/);
  });

  it.skipIf(!!noGpu)(`webgpu when asked; 'auto' passes over a software adapter${noGpu ? ` [skip: ${noGpu}]` : ''}`, async () => {
    const cpu = useLiteCpuBackend({ sepId: SEP });
    const { gpu: nodeGpu } = await getNodeGpu();
    const web = await selectUseLiteBackend('webgpu', cpu, nodeGpu, { sepId: SEP });
    expect(web.backend.name).toBe('webgpu');
    expect(web.adapter).toBeDefined();
    (web.backend as UseLiteWebGpuBackend).dispose();
    const auto = await selectUseLiteBackend('auto', cpu, nodeGpu);
    if (web.adapter!.isFallbackAdapter) {
      expect(auto.backend).toBe(cpu);
      expect(auto.reason).toMatch(/software fallback/);
    } else {
      expect(auto.backend.name).toBe('webgpu');
      (auto.backend as UseLiteWebGpuBackend).dispose();
    }
  });
});

afterAll(() => gpu.ctx?.destroy());

// Fault tolerance of the training loop (src/pipeline/train/loop.ts): the replayable batch schedule, failover of a
// run to cpu from its last checkpoint (fake lost backends, then the real webgpu backend on Node Dawn/SwiftShader
// with device.destroy() mid-run), the experiment's 'backend-fallback' event with all later runs on cpu, and a
// backend that cannot be created (no adapter) -> cpu with the reason.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend, Trainer } from '../src/gpu/backend.ts';
import { cpuBackend, CpuTrainer } from '../src/gpu/cpu/trainer.ts';
import { GpuDeviceLostError, GpuUnavailableError } from '../src/gpu/device.ts';
import { getNodeGpu } from '../src/gpu/node-webgpu.node.ts';
import { selectBackend } from '../src/gpu/select.ts';
import { createWebGpuBackend, type WebGpuBackend } from '../src/gpu/webgpu.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig, runExperiment } from '../src/pipeline/experiment.ts';
import type { ExperimentEvent, ExperimentResult } from '../src/pipeline/experiment.ts';
import { encodeItems } from '../src/pipeline/rm/tokenizer.ts';
import type { OptimizerConfig } from '../src/pipeline/rm/types.ts';
import { Rng } from '../src/pipeline/rng.ts';
import { BatchSchedule, train } from '../src/pipeline/train/loop.ts';
import type { BackendFallback, TrainSpec } from '../src/pipeline/train/loop.ts';
import { tinyModel } from './helpers/tiny-model.ts';

const data = await loadSynthetic(0, { scale: 0.3 });
const model = tinyModel(data);
const encoded = encodeItems(model.tokenizer, data.items, model.params.config);
const opt: OptimizerConfig = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: false };
const chile = data.pairs.filter((p) => p.country === 'Chile' && p.split === 'train');

function spec(steps: number, batch = 8, seed = 7): TrainSpec {
  return {
    chosen: Int32Array.from(chile, (p) => p.chosen),
    rejected: Int32Array.from(chile, (p) => p.rejected),
    weights: Float32Array.from(chile, (_, i) => 0.5 + (i % 3) * 0.5),
    steps,
    batch,
    seed,
    evalEvery: 0,
  };
}

/** Losses of an all-cpu continuation: a cpu trainer from `init` stepping the schedule's batches from..to. */
async function cpuLosses(init: Parameters<Backend['createTrainer']>[0], s: TrainSpec, from: number, to: number) {
  const t = new CpuTrainer(init, opt);
  const sched = new BatchSchedule(s);
  const losses: number[] = [];
  for (let k = from; k <= to; k++) losses.push((await t.step(encoded, sched.batch(k))).loss);
  return { trainer: t, losses };
}

function worstRel(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((w, x, i) => Math.max(w, Math.abs(x - b[i]) / Math.max(Math.abs(b[i]), 1e-12)), 0);
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const allItems = Int32Array.from({ length: encoded.count }, (_, i) => i);

describe('BatchSchedule', () => {
  it('gives the batches of the sequential epoch-shuffling loop, in any order of steps', () => {
    const n = 13;
    const b = 5;
    const s = { chosen: Int32Array.from({ length: n }, (_, i) => i), rejected: Int32Array.from({ length: n }, (_, i) => 100 + i), weights: new Float32Array(n).fill(1), batch: b, seed: 42 };
    // The loop before the schedule existed: one Rng, shuffle at start and whenever the cursor wraps.
    const rng = new Rng(42);
    const order = Array.from({ length: n }, (_, i) => i);
    rng.shuffle(order);
    let cursor = 0;
    const legacy: number[][] = [];
    for (let step = 1; step <= 40; step++) {
      const batch: number[] = [];
      for (let k = 0; k < b; k++) {
        if (cursor === n) {
          rng.shuffle(order);
          cursor = 0;
        }
        batch.push(order[cursor++]);
      }
      legacy.push(batch);
    }
    const sched = new BatchSchedule(s);
    expect(Array.from({ length: 40 }, (_, i) => Array.from(sched.batch(i + 1).chosen))).toEqual(legacy);
    const back = new BatchSchedule(s);
    for (let step = 40; step >= 1; step -= 3) expect(Array.from(back.batch(step).chosen)).toEqual(legacy[step - 1]);
    expect(Array.from(back.batch(7).rejected)).toEqual(legacy[6].map((i) => 100 + i));
    expect(() => back.batch(0)).toThrow(/step must be/);
  });
});

/** A 'webgpu'-named backend whose trainers are cpu trainers that die with a device loss on a chosen call. */
function flakyBackend(failOn: { step?: number; score?: boolean; checkpointAfter?: number; create?: Error; other?: boolean }): Backend {
  return {
    name: 'webgpu',
    info: 'flaky test backend',
    async createTrainer(init, o) {
      if (failOn.create) throw failOn.create;
      const inner = new CpuTrainer(init, o);
      let steps = 0;
      const lost = () => (failOn.other ? new Error('some bug') : new GpuDeviceLostError('destroyed', 'test'));
      const t: Trainer = {
        backend: 'webgpu',
        async step(items, batch) {
          if (failOn.step !== undefined && steps + 1 >= failOn.step) throw lost();
          steps++;
          return inner.step(items, batch);
        },
        async score(items, idx) {
          if (failOn.score) throw lost();
          return inner.score(items, idx);
        },
        async checkpoint() {
          if (failOn.checkpointAfter !== undefined && steps >= failOn.checkpointAfter) throw lost();
          return inner.checkpoint();
        },
        dispose() {
          inner.dispose();
        },
      };
      return t;
    },
  };
}

describe('train() failover with a fake lost backend', () => {
  const s = spec(37);

  async function run(backend: Backend, checkpointEvery: number) {
    const events: BackendFallback[] = [];
    const steps: number[] = [];
    const out = await train(backend, model.params, opt, encoded, s, undefined, (k) => void steps.push(k), {
      checkpointEvery,
      onFallback: (f, b) => {
        expect(b).toBe(cpuBackend);
        events.push(f);
      },
    });
    return { ...out, events, steps };
  }

  it('a step that loses the device: resumes on cpu from the last checkpoint, replays, and loses nothing', async () => {
    const ref = await train(cpuBackend, model.params, opt, encoded, s, undefined);
    for (const [failStep, every, resumed] of [
      [23, 10, 20],
      [23, 0, 0],
      [20, 10, 10],
      [1, 10, 0],
    ] as const) {
      const r = await run(flakyBackend({ step: failStep }), every);
      expect(r.events).toEqual([{ from: 'webgpu', to: 'cpu', reason: expect.stringMatching(/device lost/), atStep: failStep - 1, resumedFrom: resumed }]);
      expect(r.trainer.backend).toBe('cpu');
      expect(r.steps).toEqual(Array.from({ length: 37 }, (_, i) => i + 1));
      // The fake backend computes like cpu, so the failed-over run is the all-cpu run bit for bit.
      expect(r.losses).toEqual(ref.losses);
      expect(Array.from(await r.trainer.score(encoded, allItems))).toEqual(Array.from(await ref.trainer.score(encoded, allItems)));
    }
  });

  it('a lost checkpoint, score or checkpoint() call fails over too', async () => {
    const ref = await train(cpuBackend, model.params, opt, encoded, s, undefined);
    const ck = await run(flakyBackend({ checkpointAfter: 30 }), 10);
    expect(ck.events.map((e) => [e.atStep, e.resumedFrom])).toEqual([[30, 20]]);
    expect(ck.losses).toEqual(ref.losses);
    const sc = await run(flakyBackend({ score: true }), 10);
    expect(sc.events).toEqual([]);
    expect(Array.from(await sc.trainer.score(encoded, allItems))).toEqual(Array.from(await ref.trainer.score(encoded, allItems)));
    expect(sc.events.map((e) => [e.atStep, e.resumedFrom])).toEqual([[37, 30]]);
    const fin = await run(flakyBackend({ checkpointAfter: 37 }), 10);
    expect(fin.events).toEqual([]);
    expect((await fin.trainer.checkpoint()).step).toBe(37);
    expect(fin.trainer.backend).toBe('cpu');
  });

  it('a backend that cannot create a trainer (out of memory) -> cpu from the init, with the reason', async () => {
    const ref = await train(cpuBackend, model.params, opt, encoded, s, undefined);
    const r = await run(flakyBackend({ create: new GpuUnavailableError('out-of-memory', 'out of GPU memory allocating the trainer') }), 10);
    expect(r.events).toEqual([{ from: 'webgpu', to: 'cpu', reason: 'out of GPU memory allocating the trainer', atStep: 0, resumedFrom: 0 }]);
    expect(r.losses).toEqual(ref.losses);
  });

  it('other errors are bugs, not losses: they propagate', async () => {
    await expect(run(flakyBackend({ step: 5, other: true }), 10)).rejects.toThrow('some bug');
    await expect(run(flakyBackend({ create: new Error('bad init') }), 10)).rejects.toThrow('bad init');
  });
});

describe('a backend whose creation fails (no adapter)', () => {
  it('selectBackend gives cpu with the reason and the experiment runs on it', async () => {
    const nullAdapterGpu = { requestAdapter: async () => null } as unknown as GPU;
    const sel = await selectBackend('webgpu', nullAdapterGpu);
    expect(sel.backend.name).toBe('cpu');
    expect(sel.reason).toMatch(/no-adapter.*requestAdapter\(\) returned null/);
    const r = await runExperiment({
      data,
      encoded,
      globalParams: model.params,
      backend: sel.backend,
      config: resolveConfig({ countries: ['Chile'], methods: ['start', 'scpo'], steps: 10, efficiency: false }),
    });
    expect(r.backend).toBe(cpuBackend.info);
  });

  it('the CLI says so: --backend webgpu without a Vulkan driver runs on cpu and prints the reason', () => {
    const r = spawnSync(
      join(process.cwd(), 'node_modules/.bin/tsx'),
      ['src/pipeline/cli.ts', '--data', 'synthetic', '--countries', 'Chile', '--methods', 'start,scpo', '--steps', '5', '--no-efficiency', '--backend', 'webgpu'],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' } },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/backend: cpu \(webgpu requested\): using the cpu backend: WebGPU unavailable \(no-adapter\)/);
    const bad = spawnSync(join(process.cwd(), 'node_modules/.bin/tsx'), ['src/pipeline/cli.ts', '--data', 'synthetic', '--backend', 'cuda'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--backend must be auto, cpu or webgpu/);
  });
});

const node = await getNodeGpu();
const hasAdapter = !!(node.gpu && (await node.gpu.requestAdapter()));
const newWeb = async () => (await createWebGpuBackend(node.gpu)) as WebGpuBackend;

describe.skipIf(!hasAdapter)('failover of the real webgpu backend (Node Dawn, device.destroy() mid-run)', () => {
  const s = spec(40);

  for (const { every, destroyAt, resumed } of [
    { every: 10, destroyAt: 25, resumed: 20 },
    { every: 50, destroyAt: 25, resumed: 0 },
    { every: 10, destroyAt: 30, resumed: 30 },
  ]) {
    it(`checkpoint every ${every}, device destroyed after step ${destroyAt}: finishes on cpu = all-cpu run from step ${resumed}`, async () => {
      const web = await newWeb();
      const events: BackendFallback[] = [];
      const seen: number[] = [];
      const out = await train(
        web,
        model.params,
        opt,
        encoded,
        s,
        undefined,
        (k) => {
          seen.push(k);
          if (k === destroyAt) web.device.destroy();
        },
        { checkpointEvery: every, onFallback: (f) => events.push(f) },
      );
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ from: 'webgpu', to: 'cpu', resumedFrom: resumed });
      expect(events[0].reason).toMatch(/WebGPU device lost \(destroyed\)/);
      expect(events[0].atStep).toBeGreaterThanOrEqual(destroyAt);
      expect(out.trainer.backend).toBe('cpu');
      expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(out.losses).toHaveLength(40);

      // Reference: an undisturbed webgpu run to the checkpoint step, then all-cpu from its checkpoint.
      const web2 = await newWeb();
      const head = await train(web2, model.params, opt, encoded, spec(resumed), undefined);
      const ck = resumed > 0 ? await head.trainer.checkpoint() : model.params;
      head.trainer.dispose();
      web2.dispose();
      const tail = await cpuLosses(ck, s, resumed + 1, 40);
      const relHead = resumed > 0 ? worstRel(out.losses.slice(0, resumed), head.losses) : 0;
      const relTail = worstRel(out.losses.slice(resumed), tail.losses);
      const scoreDiff = maxAbs(await out.trainer.score(encoded, allItems), await tail.trainer.score(encoded, allItems));
      // Against an all-cpu run from the start too (webgpu/cpu parity on the steps before the checkpoint).
      const allCpu = await cpuLosses(model.params, s, 1, 40);
      const relAllCpu = worstRel(out.losses, allCpu.losses);
      console.log(
        `failover [every ${every}, destroyed after ${destroyAt}]: ${JSON.stringify(events[0])}; ` +
          `loss rel diff: steps 1-${resumed} vs webgpu ${relHead.toExponential(2)}, steps ${resumed + 1}-40 vs cpu-from-checkpoint ${relTail.toExponential(2)}, ` +
          `all steps vs all-cpu ${relAllCpu.toExponential(2)}; final scores max abs diff ${scoreDiff.toExponential(2)}`,
      );
      expect(relHead).toBeLessThan(1e-4);
      expect(relTail).toBeLessThan(1e-4);
      expect(relAllCpu).toBeLessThan(1e-4);
      expect(scoreDiff).toBeLessThan(1e-4);
      const [a, b] = [await out.trainer.checkpoint(), await tail.trainer.checkpoint()];
      expect(a.step).toBe(40);
      expect(Array.from(a.rowStep)).toEqual(Array.from(b.rowStep));
      for (const k of ['E', 'W1', 'b1', 'W2', 'b2'] as const) expect(maxAbs(a.params[k], b.params[k]), k).toBeLessThan(1e-4);
      out.trainer.dispose();
    });
  }

  it('scoring on a lost device replays from the last checkpoint and scores on cpu', async () => {
    const web = await newWeb();
    const events: BackendFallback[] = [];
    const s23 = spec(23);
    const out = await train(web, model.params, opt, encoded, s23, undefined, undefined, { checkpointEvery: 10, onFallback: (f) => events.push(f) });
    const ck = await out.trainer.checkpoint();
    expect(out.trainer.backend).toBe('webgpu');
    web.device.destroy();
    const scores = await out.trainer.score(encoded, allItems);
    expect(events.map((e) => [e.atStep, e.resumedFrom])).toEqual([[23, 20]]);
    const ref = new CpuTrainer(ck, opt);
    expect(maxAbs(scores, await ref.score(encoded, allItems))).toBeLessThan(1e-4);
  });
});

describe.skipIf(!hasAdapter)('experiment on webgpu losing its device mid-run (Node Dawn)', () => {
  it("emits one 'backend-fallback', finishes the run on cpu, runs the rest on cpu, and matches an all-cpu experiment", async () => {
    const config = resolveConfig({ countries: ['Chile', 'Mexico'], methods: ['start', 'full_ft', 'scpo'], steps: 40, evalPoints: 4, efficiency: false });
    const web = await newWeb();
    const events: ExperimentEvent[] = [];
    const onEvent = (e: ExperimentEvent) => {
      events.push(e);
      if (e.type === 'point' && e.country === 'Chile' && e.method === 'scpo' && e.point.step === 20) web.device.destroy();
    };
    const common = { data, encoded, globalParams: model.params, config, checkpointEvery: 15 };
    const got = await runExperiment({ ...common, backend: web, onEvent });
    const ref: ExperimentResult = await runExperiment({ ...common, backend: cpuBackend });
    const fb = events.filter((e) => e.type === 'backend-fallback');
    expect(fb).toEqual([{ type: 'backend-fallback', run: 'Chile · scpo', from: 'webgpu', to: 'cpu', reason: expect.stringMatching(/device lost/), atStep: expect.any(Number), resumedFrom: 15 }]);
    expect(got.backend).toMatch(/^CPU .*fell back from webgpu: WebGPU device lost/);
    const rows: string[] = [];
    for (const r of got.runs) {
      const c = ref.runs.find((x) => x.country === r.country && x.method === r.method)!;
      // Live points: every eval step exactly once, in order, despite the replay.
      expect(r.points.map((p) => p.step)).toEqual(c.points.map((p) => p.step));
      const rel = r.losses.length ? worstRel(r.losses, c.losses) : 0;
      const dAcc = Math.max(Math.abs(r.accFull - c.accFull), Math.abs(r.accEdited - c.accEdited)) * 100;
      rows.push(`${r.country}·${r.method} loss rel ${rel.toExponential(2)} acc diff ${dAcc.toFixed(2)} pt`);
      expect(rel).toBeLessThan(1e-4);
      expect(dAcc).toBeLessThanOrEqual(0.5);
    }
    console.log(`experiment failover: ${JSON.stringify(fb[0])}\n  ${rows.join('\n  ')}`);
  });
});

// Behaviour of the webgpu trainer beyond parity: exact resume from checkpoints (also across backends), throttled
// loss readback, score chunking, 0-pair batches, input validation, dispose, and device loss.
import { afterAll, describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/gpu/cpu/trainer.ts';
import { acquireDevice, GpuDeviceLostError } from '../../src/gpu/device.ts';
import { getNodeGpu } from '../../src/gpu/node-webgpu.node.ts';
import { WebGpuBackend } from '../../src/gpu/webgpu.ts';
import type { TrainerCheckpoint } from '../../src/gpu/backend.ts';
import { getTestGpu } from './gpu.ts';
import { maxDiff, paritySetup } from './parity-data.ts';

const gpu = await getTestGpu();
const backend = gpu.ctx ? new WebGpuBackend(gpu.ctx) : null;

function sameCheckpoint(a: TrainerCheckpoint, b: TrainerCheckpoint): void {
  expect(a.step).toBe(b.step);
  expect(Array.from(a.rowStep)).toEqual(Array.from(b.rowStep));
  for (const k of ['E', 'W1', 'b1', 'W2', 'b2'] as const) {
    expect(maxDiff(a.params[k], b.params[k]).abs, `params.${k}`).toBe(0);
    expect(maxDiff(a.m[k], b.m[k]).abs, `m.${k}`).toBe(0);
    expect(maxDiff(a.v[k], b.v[k]).abs, `v.${k}`).toBe(0);
  }
}

describe.skipIf(!backend)(`webgpu trainer [${gpu.reason}]`, () => {
  it('resumes bit-for-bit from its own checkpoint', async () => {
    const { params, items, batches, opt } = paritySetup({ steps: 12 });
    const a = await backend!.createTrainer(params, opt);
    for (const b of batches.slice(0, 6)) await a.step(items, b);
    const mid = await a.checkpoint();
    const lossesA: number[] = [];
    for (const b of batches.slice(6)) lossesA.push((await a.step(items, b)).loss);
    const r = await backend!.createTrainer(mid, opt);
    const lossesR: number[] = [];
    for (const b of batches.slice(6)) lossesR.push((await r.step(items, b)).loss);
    expect(lossesR).toEqual(lossesA);
    sameCheckpoint(await r.checkpoint(), await a.checkpoint());
    a.dispose();
    r.dispose();
  });

  it('checkpoints move between webgpu and cpu', async () => {
    const { params, items, batches, opt } = paritySetup({ steps: 10 });
    const web = await backend!.createTrainer(params, opt);
    for (const b of batches.slice(0, 5)) await web.step(items, b);
    const cpu = new CpuTrainer(await web.checkpoint(), opt);
    for (const b of batches.slice(5)) {
      const [x, y] = [await web.step(items, b), await cpu.step(items, b)];
      expect(Math.abs(x.loss - y.loss) / y.loss).toBeLessThan(1e-5);
    }
    const back = await backend!.createTrainer(await cpu.checkpoint(), opt);
    const idx = Int32Array.from({ length: items.count }, (_, i) => i);
    expect(maxDiff(await back.score(items, idx), await cpu.score(items, idx)).abs).toBeLessThan(1e-5);
    web.dispose();
    back.dispose();
  });

  it('frozen trainers keep empty E moments in checkpoints, like the cpu trainer', async () => {
    const { params, items, batches, opt } = paritySetup({ steps: 3, freezeEmbeddings: true });
    const web = await backend!.createTrainer(params, opt);
    for (const b of batches) await web.step(items, b);
    const ck = await web.checkpoint();
    const cc = await new CpuTrainer(params, opt).checkpoint();
    expect(ck.m.E.length).toBe(cc.m.E.length);
    expect(maxDiff(ck.params.E, params.E).abs).toBe(0);
    // Resuming the frozen checkpoint unfrozen allocates zero moments.
    const thawed = await backend!.createTrainer(ck, { ...opt, freezeEmbeddings: false });
    await thawed.step(items, batches[0]);
    expect((await thawed.checkpoint()).m.E.length).toBe(params.E.length);
    web.dispose();
    thawed.dispose();
  });

  it('readEvery reads losses back in bursts without losing any', async () => {
    const { params, items, batches, opt } = paritySetup({ steps: 10 });
    const every = await backend!.createTrainer(params, opt);
    const ref: number[] = [];
    for (const b of batches) ref.push((await every.step(items, b)).loss);
    const got: number[] = [];
    const firsts: number[] = [];
    const lazy = await backend!.createTrainer(params, opt, {
      readEvery: 4,
      onLosses: (first, l) => {
        firsts.push(first);
        got.push(...l);
      },
    });
    const immediate: number[] = [];
    for (const b of batches) immediate.push((await lazy.step(items, b)).loss);
    expect(immediate.map((x) => Number.isNaN(x))).toEqual([true, true, true, false, true, true, true, false, true, true]);
    const rest = await lazy.flushLosses();
    expect(rest.length).toBe(2);
    expect(firsts).toEqual([1, 5, 9]);
    expect(got).toEqual(ref);
    every.dispose();
    lazy.dispose();
  });

  it('scores any subset in chunks, equal to the cpu scores', async () => {
    const { params, items, opt } = paritySetup({ steps: 0 });
    const web = await backend!.createTrainer(params, opt, { scoreChunk: 7 });
    const cpu = new CpuTrainer(params, opt);
    const idx = Int32Array.from([5, 0, 119, 5, 33, 4, 13, 22, 40, 41, 42, 43, 44, 45, 46, 47]);
    expect(maxDiff(await web.score(items, idx), await cpu.score(items, idx)).abs).toBeLessThan(1e-5);
    expect((await web.score(items)).length).toBe(items.count);
    expect((await web.score(items, new Int32Array(0))).length).toBe(0);
    web.dispose();
  });

  it('a 0-pair batch is a no-op with loss 0; the batch arrays may be reused at once', async () => {
    const { params, items, batches, opt } = paritySetup({ steps: 2 });
    const web = await backend!.createTrainer(params, opt);
    const empty = { chosen: new Int32Array(0), rejected: new Int32Array(0), weight: new Float32Array(0) };
    expect((await web.step(items, empty)).loss).toBe(0);
    expect(web.steps).toBe(0);
    sameCheckpoint(await web.checkpoint(), await new CpuTrainer(params, opt).checkpoint());
    // Mutating the batch right after calling step() (as the training loop does) must not change that step.
    const b = { chosen: batches[0].chosen.slice(), rejected: batches[0].rejected.slice(), weight: batches[0].weight.slice() };
    const p1 = web.step(items, b);
    b.chosen.set(batches[1].chosen);
    b.rejected.set(batches[1].rejected);
    b.weight.set(batches[1].weight);
    const p2 = web.step(items, b);
    const cpu = new CpuTrainer(params, opt);
    expect(Math.abs((await p1).loss - (await cpu.step(items, batches[0])).loss)).toBeLessThan(1e-6);
    expect(Math.abs((await p2).loss - (await cpu.step(items, batches[1])).loss)).toBeLessThan(1e-6);
    web.dispose();
  });

  it('rejects bad batches without changing state, and calls after dispose()', async () => {
    const { params, items, batches, opt } = paritySetup({ steps: 1 });
    const web = await backend!.createTrainer(params, opt);
    await expect(web.step(items, { chosen: Int32Array.of(0), rejected: Int32Array.of(999), weight: Float32Array.of(1) })).rejects.toThrow(/item index 999/);
    const badItems = { ...items, responseIds: items.responseIds.slice() };
    badItems.responseIds[0] = 500;
    const first = Array.from({ length: items.count }, (_, i) => i).find((i) => items.responseOffsets[i + 1] > 0)!;
    await expect(web.step(badItems, { chosen: Int32Array.of(first), rejected: Int32Array.of(first), weight: Float32Array.of(1) })).rejects.toThrow(
      /token id 500/,
    );
    await expect(web.step(items, { chosen: Int32Array.of(0), rejected: new Int32Array(0), weight: Float32Array.of(1) })).rejects.toThrow(/lengths differ/);
    expect(web.steps).toBe(0);
    sameCheckpoint(await web.checkpoint(), await new CpuTrainer(params, opt).checkpoint());
    await web.step(items, batches[0]);
    web.dispose();
    await expect(web.step(items, batches[0])).rejects.toThrow(/dispose/);
  });

  it('createTrainer rejects bad inits and tables beyond the device limits', async () => {
    const { params, opt } = paritySetup({ steps: 0 });
    await expect(backend!.createTrainer({ ...params, W1: new Float32Array(3) }, opt)).rejects.toThrow(/W1 has 3 values/);
    await expect(backend!.createTrainer(params, { ...opt, lr: -1 })).rejects.toThrow(/lr is invalid/);
    const huge = { ...params, config: { ...params.config, vocabSize: 4_000_000 } };
    await expect(backend!.createTrainer(huge, opt)).rejects.toMatchObject({ name: 'GpuUnavailableError', code: 'limits' });
  });

  it('device loss rejects pending and later calls with GpuDeviceLostError', async () => {
    const { gpu: nodeGpu } = await getNodeGpu();
    const ctx = await acquireDevice(nodeGpu, { label: 'lost-test' });
    const own = new WebGpuBackend(ctx);
    const { params, items, batches, opt } = paritySetup({ steps: 3 });
    const web = await own.createTrainer(params, opt);
    await web.step(items, batches[0]);
    const ck = await web.checkpoint();
    const pending = web.step(items, batches[1]).then(
      () => 'resolved',
      (e) => e,
    );
    ctx.device.destroy();
    const lost = await own.lost;
    expect(lost).toBeInstanceOf(GpuDeviceLostError);
    const outcome = await pending;
    if (outcome !== 'resolved') expect(outcome).toBeInstanceOf(GpuDeviceLostError);
    await expect(web.step(items, batches[2])).rejects.toBeInstanceOf(GpuDeviceLostError);
    await expect(web.checkpoint()).rejects.toBeInstanceOf(GpuDeviceLostError);
    await expect(own.createTrainer(params, opt)).rejects.toBeInstanceOf(GpuDeviceLostError);
    // The caller's fallback: continue on cpu from the last checkpoint.
    const cpu = new CpuTrainer(ck, opt);
    expect(Number.isFinite((await cpu.step(items, batches[1])).loss)).toBe(true);
  });
});

afterAll(() => gpu.ctx?.destroy());

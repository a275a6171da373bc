// The USE-lite CPU trainer on the tiny config: loss = float64 reference, micro-batch invariance, determinism,
// exact checkpoint/resume (adapters + AdamW moments), AdamW semantics, caches equal to the full forward, the
// init never written, training lowers the loss, and a device loss mid-run continues on this cpu trainer.
import { describe, expect, it } from 'vitest';
import type { Backend, Trainer, TrainerCheckpoint } from '../../../gpu/backend.ts';
import { GpuDeviceLostError } from '../../../gpu/device.ts';
import { Rng } from '../../rng.ts';
import { BatchSchedule, train } from '../../train/loop.ts';
import type { EncodedItems, OptimizerConfig } from '../types.ts';
import { loss64, score64, toF64 } from './grad-ref64.ts';
import { mergeLora } from './lora.ts';
import type { TuneMode } from './spec.ts';
import { jointIds, jointLength, USE_SEP_ID } from './tokenizer.ts';
import { JOINT_SEP_ID, jointSequence, UseLiteCpuTrainer, useLiteCpuBackend, useLiteRM, type UseLiteRM, type UseLiteTrainerOptions } from './train.ts';
import { randomPairBatch, randomUseItems, randomUseLiteParams, TINY_CONFIG } from './train-testing.ts';

const OPT: OptimizerConfig = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: true };
const TOPT: UseLiteTrainerOptions = {};

function seq(items: EncodedItems, k: number): Int32Array {
  const out = new Int32Array(jointLength(items, k, TINY_CONFIG.maxLen));
  jointIds(items, k, TINY_CONFIG.maxLen, out);
  return out;
}

function setup(tune: TuneMode, seed = 1) {
  const rng = new Rng(seed);
  const params = randomUseLiteParams(TINY_CONFIG, seed + 100);
  const items = randomUseItems(rng, 12);
  const init = useLiteRM(params, tune, { rank: 2, alpha: 4 }, 5);
  return { rng, params, items, init };
}

describe('joint sequence', () => {
  it("the trainer's sequences are the tokenizer's joint sequences (the separator alone for an empty item)", () => {
    const { items } = setup('lora');
    expect(Array.from(seq(items, 0))).toEqual([USE_SEP_ID]);
    expect(seq(items, 1).length).toBe(TINY_CONFIG.maxLen);
  });

  it('jointSequence (choosable separator) is the tokenizer rule: equal to jointIds for every item and maxLen', () => {
    const { items } = setup('lora', 2);
    for (const maxLen of [1, 2, 3, 5, 8, 40]) {
      for (let k = 0; k < items.count; k++) {
        const a = new Int32Array(64);
        const b = new Int32Array(64);
        const la = jointSequence(items, k, maxLen, JOINT_SEP_ID, a);
        expect(la).toBe(jointIds(items, k, maxLen, b));
        expect(la).toBe(jointLength(items, k, maxLen));
        expect(Array.from(a.subarray(0, la))).toEqual(Array.from(b.subarray(0, la)));
      }
    }
  });
});

describe('USE-lite cpu trainer', () => {
  for (const tune of ['lora', 'top', 'head'] as TuneMode[]) {
    it(`tune ${tune}: batch loss equals the float64 reference; micro-batch split does not change loss or gradients`, () => {
      const { rng, params, items, init } = setup(tune);
      const batch = randomPairBatch(rng, items.count, 7);
      const t1 = new UseLiteCpuTrainer(init, OPT, { ...TOPT, microBatch: 7 });
      const t2 = new UseLiteCpuTrainer(init, OPT, { ...TOPT, microBatch: 2 });
      const g1 = t1.gradients(items, batch);
      const g2 = t2.gradients(items, batch);
      const T = toF64(params.tensors);
      const lora = t1.snapshot().lora;
      const L = lora ? { r: 2, scale: 2, A: toF64(lora.A), B: toF64(lora.B) } : undefined;
      const pairs = Array.from(batch.chosen, (c, i) => ({ chosen: seq(items, c), rejected: seq(items, batch.rejected[i]), w: batch.weight[i] }));
      expect(g1.loss).toBeCloseTo(loss64(TINY_CONFIG, T, L, pairs), 5);
      expect(g2.loss).toBeCloseTo(g1.loss, 6);
      const names = Object.keys(g1.grads);
      expect(names.length).toBe(tune === 'lora' ? 18 : tune === 'top' ? 16 : 2);
      let nonzero = 0;
      for (const n of names) {
        for (let i = 0; i < g1.grads[n].length; i++) {
          expect(Math.abs(g1.grads[n][i] - g2.grads[n][i])).toBeLessThan(1e-5 * (1 + Math.abs(g1.grads[n][i])));
          if (g1.grads[n][i] !== 0) nonzero++;
        }
      }
      expect(nonzero).toBeGreaterThan(0);
    });

    it(`tune ${tune}: scores equal the float64 reference (cached frozen outputs included), the init is never written`, async () => {
      const { rng, params, items, init } = setup(tune, 3);
      const before = Object.fromEntries(Object.entries(params.tensors).map(([k, v]) => [k, v.slice()]));
      const t = new UseLiteCpuTrainer(init, OPT, TOPT);
      for (let s = 0; s < 3; s++) await t.step(items, randomPairBatch(rng, items.count, 4));
      const snap = t.snapshot();
      const T = toF64(snap.model.tensors);
      const L = snap.lora ? { r: 2, scale: 2, A: toF64(snap.lora.A), B: toF64(snap.lora.B) } : undefined;
      const scores = await t.score(items); // twice: the second uses the caches filled by the first
      const again = await t.score(items, Int32Array.from([5, 0, 1]));
      for (let k = 0; k < items.count; k++) expect(scores[k]).toBeCloseTo(score64(TINY_CONFIG, T, L, seq(items, k)), 5);
      expect(Array.from(again)).toEqual([scores[5], scores[0], scores[1]]);
      for (const [k, v] of Object.entries(params.tensors)) expect(v).toEqual(before[k]);
      // Trained tensors moved, frozen ones are the very same arrays.
      expect(snap.model.tensors['head.w']).not.toEqual(params.tensors['head.w']);
      expect(snap.model.tensors['L0.qkv.W']).toBe(params.tensors['L0.qkv.W']);
      if (tune === 'top') expect(snap.model.tensors['L1.ff1.W']).not.toEqual(params.tensors['L1.ff1.W']);
      else expect(snap.model.tensors['L1.ff1.W']).toBe(params.tensors['L1.ff1.W']);
    });
  }

  it('a fresh LoRA init scores exactly like the base weights (B = 0), and merging adapters reproduces the trainer', async () => {
    const { rng, params, items, init } = setup('lora', 4);
    const base = new UseLiteCpuTrainer(useLiteRM(params, 'top'), OPT, TOPT);
    const t = new UseLiteCpuTrainer(init, OPT, TOPT);
    expect(Array.from(await t.score(items))).toEqual(Array.from(await base.score(items)));
    for (let s = 0; s < 4; s++) await t.step(items, randomPairBatch(rng, items.count, 4));
    const snap = t.snapshot();
    const merged = new UseLiteCpuTrainer(useLiteRM(mergeLora(snap.model, snap.lora!), 'top'), OPT, TOPT);
    const a = await t.score(items);
    const b = await merged.score(items);
    let moved = 0;
    const s0 = await base.score(items);
    for (let k = 0; k < items.count; k++) {
      expect(Math.abs(a[k] - b[k])).toBeLessThan(1e-5);
      moved = Math.max(moved, Math.abs(a[k] - s0[k]));
    }
    expect(moved).toBeGreaterThan(1e-3);
  });

  it('is deterministic and resumes bit for bit from a checkpoint (adapters, moments, step)', async () => {
    const { rng, items, init } = setup('lora', 6);
    const batches = Array.from({ length: 6 }, () => randomPairBatch(rng, items.count, 5));
    const a = new UseLiteCpuTrainer(init, OPT, TOPT);
    const b = new UseLiteCpuTrainer(init, OPT, TOPT);
    const la: number[] = [];
    const lb: number[] = [];
    let ck: TrainerCheckpoint<UseLiteRM> | null = null;
    for (let s = 0; s < 6; s++) {
      la.push((await a.step(items, batches[s])).loss);
      if (s < 3) lb.push((await b.step(items, batches[s])).loss);
      if (s === 2) ck = await b.checkpoint();
    }
    expect(ck!.step).toBe(3);
    expect(Object.keys(ck!.m).length).toBe(18);
    const c = new UseLiteCpuTrainer(ck!, OPT, TOPT);
    for (let s = 3; s < 6; s++) lb.push((await c.step(items, batches[s])).loss);
    expect(lb).toEqual(la);
    const pa = a.snapshot();
    const pc = c.snapshot();
    for (const k of Object.keys(pa.lora!.A)) {
      expect(pc.lora!.A[k]).toEqual(pa.lora!.A[k]);
      expect(pc.lora!.B[k]).toEqual(pa.lora!.B[k]);
    }
    expect(pc.model.tensors['head.w']).toEqual(pa.model.tensors['head.w']);
    // A later step of the checkpoint's source does not leak into the checkpoint.
    await b.step(items, batches[3]);
    expect(ck!.params.lora!.B['L1.ff2.W']).toEqual((await new UseLiteCpuTrainer(ck!, OPT, TOPT).checkpoint()).params.lora!.B['L1.ff2.W']);
  });

  it('applies AdamW exactly as the bag trainer does (decoupled decay, bias correction) on the head', () => {
    const { rng, params, items } = setup('head', 7);
    const init = useLiteRM(params, 'head');
    const batch = randomPairBatch(rng, items.count, 4);
    const t = new UseLiteCpuTrainer(init, OPT, TOPT);
    const { grads } = t.gradients(items, batch);
    t.stepSync(items, batch);
    const w0 = params.tensors['head.w'];
    const w1 = t.snapshot().model.tensors['head.w'];
    for (let j = 0; j < w0.length; j++) {
      const g = grads['head.w'][j];
      const m = 0.1 * g;
      const v = 0.001 * g * g;
      const expected = w0[j] * (1 - OPT.lr * OPT.weightDecay) - (OPT.lr * (m / 0.1)) / (Math.sqrt(v / 0.001) + OPT.eps);
      expect(w1[j]).toBeCloseTo(expected, 6);
    }
  });

  it('training lowers the loss of a fixed set (tune lora)', async () => {
    const { rng, items, init } = setup('lora', 8);
    const batch = randomPairBatch(rng, items.count, 10);
    const t = new UseLiteCpuTrainer(init, { ...OPT, lr: 3e-2 }, TOPT);
    const first = t.gradients(items, batch).loss;
    for (let s = 0; s < 40; s++) await t.step(items, batch);
    expect(t.gradients(items, batch).loss).toBeLessThan(0.5 * first);
  });

  it('rejects bad inputs with clear errors', () => {
    const { params } = setup('lora');
    expect(() => new UseLiteCpuTrainer({ ...useLiteRM(params), tune: 'all' as TuneMode }, OPT, TOPT)).toThrow(/unknown tune mode "all"/);
    expect(() => new UseLiteCpuTrainer(useLiteRM(params, 'lora', { rank: 0, alpha: 1 }), OPT, TOPT)).toThrow(/rank/);
    const broken = { ...params, tensors: { ...params.tensors, 'L1.qkv.W': new Float32Array(3) } };
    expect(() => new UseLiteCpuTrainer(useLiteRM(broken), OPT, TOPT)).toThrow(/L1\.qkv\.W/);
  });
});

/** A backend whose trainer loses its device at step `lossAt`: the run must go on on the use-lite cpu trainer. */
function flakyBackend(lossAt: number): Backend<UseLiteRM> {
  return {
    name: 'webgpu',
    info: 'fake device that is lost mid-run',
    async createTrainer(init, opt) {
      const inner = new UseLiteCpuTrainer(init, opt, TOPT);
      let n = 0;
      const t: Trainer<UseLiteRM> = {
        backend: 'webgpu',
        async step(items, batch) {
          if (++n >= lossAt) throw new GpuDeviceLostError('destroyed', 'lost in a test');
          return inner.step(items, batch);
        },
        score: (items, idx) => inner.score(items, idx),
        checkpoint: () => inner.checkpoint(),
        dispose: () => inner.dispose(),
      };
      return t;
    },
  };
}

describe('failover of a USE-lite run', () => {
  it('a device lost mid-run continues on the cpu trainer from the last checkpoint with the same result', async () => {
    const { rng, items, init } = setup('lora', 9);
    const chosen = Int32Array.from({ length: 20 }, () => rng.int(items.count));
    const rejected = Int32Array.from(chosen, (c) => (c + 1 + rng.int(items.count - 1)) % items.count);
    const spec = { chosen, rejected, weights: new Float32Array(20).fill(1), steps: 9, batch: 4, seed: 3, evalEvery: 0 };
    const cpu = useLiteCpuBackend(TOPT);
    const ref = await train(cpu, init, OPT, items, spec, undefined);
    const fell: string[] = [];
    const run = await train(flakyBackend(6), init, OPT, items, spec, undefined, undefined, {
      checkpointEvery: 2,
      fallback: cpu,
      onFallback: (f) => fell.push(`${f.from}->${f.to}@${f.atStep} from ${f.resumedFrom}`),
    });
    expect(fell).toEqual(['webgpu->cpu@5 from 4']);
    expect(run.losses).toEqual(ref.losses);
    expect(Array.from(await run.trainer.score(items))).toEqual(Array.from(await ref.trainer.score(items)));
    expect(new BatchSchedule(spec).batch(1).chosen.length).toBe(4);
  });
});

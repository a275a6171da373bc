// Tests of the cpu trainer: gradients vs finite differences, loss values, AdamW/lazy-Adam semantics, determinism, checkpoints.
import { describe, expect, it } from 'vitest';
import { initBagRM, scoreItem, ScoreScratch, cloneParams } from '../../pipeline/rm/bag.ts';
import { Rng } from '../../pipeline/rng.ts';
import type { BagRMConfig, BagRMParams, EncodedItems, OptimizerConfig, PairBatch } from '../../pipeline/rm/types.ts';
import { randomPairBatch } from '../../pipeline/rm/testing.ts';
import { logSigmoid, sigmoid } from './ops.ts';
import { cpuBackend, CpuTrainer } from './trainer.ts';

const OPT: OptimizerConfig = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: false };

function randomItems(rng: Rng, n: number, vocab: number, maxP: number, maxR: number): EncodedItems {
  const promptOffsets = new Int32Array(n + 1);
  const responseOffsets = new Int32Array(n + 1);
  const p: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < n; i++) {
    // Item 0 has an empty prompt and item 1 an empty response.
    const lp = i === 0 ? 0 : 1 + rng.int(maxP);
    const lr = i === 1 ? 0 : 1 + rng.int(maxR);
    for (let t = 0; t < lp; t++) p.push(1 + rng.int(vocab - 1));
    for (let t = 0; t < lr; t++) r.push(1 + rng.int(vocab - 1));
    promptOffsets[i + 1] = p.length;
    responseOffsets[i + 1] = r.length;
  }
  return { count: n, promptOffsets, promptIds: Int32Array.from(p), responseOffsets, responseIds: Int32Array.from(r) };
}

function randomParams(seed: number, cfg: BagRMConfig): BagRMParams {
  const rng = new Rng(seed ^ 0x9e3779b9);
  const E = new Float32Array(cfg.vocabSize * cfg.dim);
  for (let i = cfg.dim; i < E.length; i++) E[i] = rng.normal() * 0.5;
  const p = initBagRM(E, cfg, seed);
  for (let i = 0; i < p.b1.length; i++) p.b1[i] = rng.normal() * 0.1;
  p.b2[0] = 0.3;
  return p;
}


/** Reference loss computed through the scoring path (independent of the trainer's forward/backward code). */
function refLoss(p: BagRMParams, items: EncodedItems, b: PairBatch): number {
  const s = new ScoreScratch(p.config);
  let loss = 0;
  for (let i = 0; i < b.chosen.length; i++) {
    const d = scoreItem(p, items, b.chosen[i], s) - scoreItem(p, items, b.rejected[i], s);
    loss -= b.weight[i] * logSigmoid(d);
  }
  return loss / b.chosen.length;
}

const CFG: BagRMConfig = { vocabSize: 40, dim: 6, hidden: 5, maxPromptTokens: 8, maxResponseTokens: 8 };

describe('loss', () => {
  it('log sigmoid is stable and exact on hand cases', () => {
    expect(logSigmoid(0)).toBeCloseTo(-Math.log(2), 15);
    expect(logSigmoid(1000)).toBe(-0);
    expect(logSigmoid(-1000)).toBe(-1000);
    expect(logSigmoid(1e4)).toBe(-0);
    expect(logSigmoid(-1e4)).toBe(-1e4);
    expect(logSigmoid(2)).toBeCloseTo(Math.log(1 / (1 + Math.exp(-2))), 14);
    expect(sigmoid(-1e4)).toBe(0);
    expect(sigmoid(1e4)).toBe(1);
    expect(sigmoid(0)).toBe(0.5);
  });

  it('matches hand-computed weighted BT losses, including |d| = 1000', async () => {
    // Items are scored by b2 plus W2 . relu(W1 x): with W1 = 0 the score is b2; use a 1-dim setup where
    // x = mean embedding picks the score directly: score = relu(x0) * 1 + 0.
    const cfg: BagRMConfig = { vocabSize: 5, dim: 1, hidden: 1, maxPromptTokens: 4, maxResponseTokens: 4 };
    const E = Float32Array.from([0, 0, 1000, 2, 0]);
    const p: BagRMParams = { config: cfg, E, W1: Float32Array.from([1, 0]), b1: new Float32Array(1), W2: Float32Array.from([1]), b2: new Float32Array(1) };
    // item 0: response [2] -> score 1000; item 1: response [3] -> 2; item 2: response [4] -> 0
    const items: EncodedItems = {
      count: 3,
      promptOffsets: new Int32Array(4),
      promptIds: new Int32Array(0),
      responseOffsets: Int32Array.from([0, 1, 2, 3]),
      responseIds: Int32Array.from([2, 3, 4]),
    };
    const t = new CpuTrainer(p, { ...OPT, lr: 0 });
    const cases: Array<[number, number, number, number]> = [
      [0, 2, 1, 0 - 0], // d = 1000: loss -log sigmoid(1000) = 0
      [2, 0, 1, 1000], // d = -1000: loss = 1000
      [1, 2, 0.5, 0.5 * Math.log1p(Math.exp(-2))],
      [2, 1, 2, 2 * Math.log1p(Math.exp(2))],
    ];
    for (const [c, r, w, want] of cases) {
      const { loss } = t.gradients(items, { chosen: Int32Array.of(c), rejected: Int32Array.of(r), weight: Float32Array.of(w) });
      expect(Number.isFinite(loss)).toBe(true);
      expect(loss).toBeCloseTo(want, 10);
    }
    // Mean over pairs (divided by B, not by the weight sum).
    const both = t.gradients(items, { chosen: Int32Array.of(1, 2), rejected: Int32Array.of(2, 0), weight: Float32Array.of(0.5, 1) });
    expect(both.loss).toBeCloseTo((0.5 * Math.log1p(Math.exp(-2)) + 1000) / 2, 10);
    // Gradients stay finite at |d| = 1000.
    const g = t.gradients(items, { chosen: Int32Array.of(2, 0), rejected: Int32Array.of(0, 2), weight: Float32Array.of(1, 1) });
    for (const a of [g.W1, g.b1, g.W2, g.b2, g.E]) for (const x of a) expect(Number.isFinite(x)).toBe(true);
    const s = await t.step(items, { chosen: Int32Array.of(2), rejected: Int32Array.of(0), weight: Float32Array.of(1) });
    expect(s.loss).toBe(1000);
  });
});

describe('gradients vs central finite differences', () => {
  it('match for every parameter tensor, including touched embedding rows', () => {
    const rng = new Rng(7);
    const items = randomItems(rng, 12, CFG.vocabSize, 5, 7);
    const p = randomParams(3, CFG);
    const batch = randomPairBatch(rng, items.count, 6);
    // Make sure the empty-prompt and empty-response items take part.
    batch.chosen[0] = 0;
    batch.rejected[1] = 1;
    const t = new CpuTrainer(p, OPT);
    const g = t.gradients(items, batch);
    expect(g.loss).toBeCloseTo(refLoss(p, items, batch), 12);

    const q = cloneParams(p);
    const fd = (arr: Float32Array, i: number): number => {
      const v = arr[i];
      const h = 1e-3 * Math.max(1, Math.abs(v));
      arr[i] = v + h;
      const hi = arr[i];
      const lp = refLoss(q, items, batch);
      arr[i] = v - h;
      const lo = arr[i];
      const lm = refLoss(q, items, batch);
      arr[i] = v;
      return (lp - lm) / (hi - lo);
    };
    let checked = 0;
    const check = (name: string, arr: Float32Array, an: (i: number) => number, idx: number[]): void => {
      for (const i of idx) {
        const want = fd(arr, i);
        const got = an(i);
        const tol = 2e-5 + 2e-3 * Math.abs(want);
        if (Math.abs(got - want) > tol) throw new Error(`${name}[${i}]: analytic ${got} vs finite difference ${want}`);
        checked++;
      }
    };
    const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
    check('W1', q.W1, (i) => g.W1[i], all(q.W1.length));
    check('b1', q.b1, (i) => g.b1[i], all(q.b1.length));
    check('W2', q.W2, (i) => g.W2[i], all(q.W2.length));
    check('b2', q.b2, (i) => g.b2[i], [0]);
    // Every touched row, every dim; and a few untouched rows must have zero gradient.
    const D = CFG.dim;
    expect(g.rows.length).toBeGreaterThan(5);
    for (let s = 0; s < g.rows.length; s++) {
      const row = g.rows[s];
      check(`E[row ${row}]`, q.E, (i) => g.E[s * D + (i - row * D)], all(D).map((d) => row * D + d));
    }
    const touched = new Set(g.rows);
    for (let row = 0; row < CFG.vocabSize; row++) {
      if (touched.has(row)) continue;
      expect(Math.abs(fd(q.E, row * D))).toBeLessThan(1e-9);
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('counts repeated tokens once per occurrence in the mean', () => {
    const cfg: BagRMConfig = { vocabSize: 6, dim: 2, hidden: 3, maxPromptTokens: 4, maxResponseTokens: 4 };
    const p = randomParams(5, cfg);
    const items: EncodedItems = {
      count: 2,
      promptOffsets: Int32Array.from([0, 2, 3]),
      promptIds: Int32Array.from([3, 3, 4]),
      responseOffsets: Int32Array.from([0, 3, 4]),
      responseIds: Int32Array.from([2, 2, 5, 3]),
    };
    const batch: PairBatch = { chosen: Int32Array.of(0), rejected: Int32Array.of(1), weight: Float32Array.of(1) };
    const g = new CpuTrainer(p, OPT).gradients(items, batch);
    const q = cloneParams(p);
    for (let s = 0; s < g.rows.length; s++) {
      for (let d = 0; d < 2; d++) {
        const i = g.rows[s] * 2 + d;
        const v = q.E[i];
        q.E[i] = v + 1e-3;
        const hi = q.E[i];
        const a = refLoss(q, items, batch);
        q.E[i] = v - 1e-3;
        const lo = q.E[i];
        const b = refLoss(q, items, batch);
        q.E[i] = v;
        const want = (a - b) / (hi - lo);
        expect(Math.abs(g.E[s * 2 + d] - want)).toBeLessThan(1e-5 + 1e-3 * Math.abs(want));
      }
    }
  });
});

describe('optimizer', () => {
  it('AdamW: first step moves each MLP weight by lr * sign(g) after decoupled decay', async () => {
    const rng = new Rng(11);
    const items = randomItems(rng, 8, CFG.vocabSize, 4, 4);
    const p = randomParams(2, CFG);
    const batch = randomPairBatch(rng, items.count, 4);
    const opt = { ...OPT, lr: 0.01, weightDecay: 0.1, eps: 1e-12 };
    const t = new CpuTrainer(p, opt);
    const g = t.gradients(items, batch);
    await t.step(items, batch);
    const after = (await t.checkpoint()).params;
    for (let i = 0; i < p.W1.length; i++) {
      const want = g.W1[i] === 0 ? p.W1[i] * (1 - 0.001) : p.W1[i] * (1 - 0.001) - 0.01 * Math.sign(g.W1[i]);
      expect(after.W1[i]).toBeCloseTo(want, 6);
    }
  });

  it('lazy Adam updates only touched rows, counts rowStep per row, and decays only touched rows', async () => {
    const cfg: BagRMConfig = { vocabSize: 10, dim: 3, hidden: 4, maxPromptTokens: 4, maxResponseTokens: 4 };
    const p = randomParams(9, cfg);
    const items: EncodedItems = {
      count: 3,
      promptOffsets: Int32Array.from([0, 1, 1, 1]),
      promptIds: Int32Array.from([5]),
      responseOffsets: Int32Array.from([0, 2, 3, 4]),
      responseIds: Int32Array.from([2, 2, 3, 7]),
    };
    const t = new CpuTrainer(p, { ...OPT, weightDecay: 0.5 });
    await t.step(items, { chosen: Int32Array.of(0), rejected: Int32Array.of(1), weight: Float32Array.of(1) });
    await t.step(items, { chosen: Int32Array.of(2), rejected: Int32Array.of(1), weight: Float32Array.of(1) });
    const ck = await t.checkpoint();
    expect(Array.from(ck.rowStep)).toEqual([0, 0, 1, 2, 0, 1, 0, 1, 0, 0]);
    expect(ck.step).toBe(2);
    for (const row of [0, 1, 4, 6, 8, 9]) {
      for (let d = 0; d < 3; d++) {
        expect(ck.params.E[row * 3 + d]).toBe(p.E[row * 3 + d]);
        expect(ck.m.E[row * 3 + d]).toBe(0);
        expect(ck.v.E[row * 3 + d]).toBe(0);
      }
    }
    for (const row of [2, 3, 5, 7]) expect(ck.params.E[row * 3]).not.toBe(p.E[row * 3]);
  });

  it('frozen embeddings leave E, its moments and rowStep alone', async () => {
    const rng = new Rng(4);
    const items = randomItems(rng, 10, CFG.vocabSize, 4, 4);
    const p = randomParams(1, CFG);
    const t = new CpuTrainer(p, { ...OPT, freezeEmbeddings: true });
    for (let s = 0; s < 5; s++) await t.step(items, randomPairBatch(rng, items.count, 4));
    const ck = await t.checkpoint();
    expect(ck.params.E).toEqual(p.E);
    expect(ck.m.E.length).toBe(0);
    expect(ck.rowStep.every((x) => x === 0)).toBe(true);
    expect(ck.params.W1).not.toEqual(p.W1);
    // An unfrozen resume of a frozen checkpoint starts E moments at zero.
    const t2 = new CpuTrainer(ck, OPT);
    await t2.step(items, randomPairBatch(rng, items.count, 4));
    expect((await t2.checkpoint()).m.E.length).toBe(CFG.vocabSize * CFG.dim);
  });

  it('a batch of 0 pairs is a no-op with loss 0', async () => {
    const p = randomParams(1, CFG);
    const items = randomItems(new Rng(1), 4, CFG.vocabSize, 3, 3);
    const t = await cpuBackend.createTrainer(p, OPT);
    const r = await t.step(items, { chosen: new Int32Array(0), rejected: new Int32Array(0), weight: new Float32Array(0) });
    expect(r.loss).toBe(0);
    const ck = await t.checkpoint();
    expect(ck.step).toBe(0);
    expect(ck.params).toEqual(p);
  });

  it('rejects malformed batches and out-of-range ids with clear errors', async () => {
    const p = randomParams(1, CFG);
    const items = randomItems(new Rng(1), 4, CFG.vocabSize, 3, 3);
    const t = new CpuTrainer(p, OPT);
    expect(() => t.stepSync(items, { chosen: Int32Array.of(0), rejected: new Int32Array(0), weight: Float32Array.of(1) })).toThrow(/lengths differ/);
    expect(() => t.stepSync(items, { chosen: Int32Array.of(9), rejected: Int32Array.of(0), weight: Float32Array.of(1) })).toThrow(/outside/);
    const bad: EncodedItems = { ...items, responseIds: items.responseIds.map(() => 999) };
    expect(() => t.stepSync(bad, { chosen: Int32Array.of(2), rejected: Int32Array.of(3), weight: Float32Array.of(1) })).toThrow(/embedding table/);
  });
});

describe('determinism and checkpoints', () => {
  async function run(seed: number, steps: number, from?: Parameters<typeof cpuBackend.createTrainer>[0]) {
    const rng = new Rng(100);
    const items = randomItems(rng, 30, CFG.vocabSize, 6, 6);
    const batches = Array.from({ length: steps }, () => randomPairBatch(rng, items.count, 8));
    const t = await cpuBackend.createTrainer(from ?? randomParams(seed, CFG), OPT);
    return { t, items, batches };
  }

  it('same seed gives bit-identical parameters after N steps', async () => {
    const a = await run(42, 25);
    const b = await run(42, 25);
    for (const x of a.batches) await a.t.step(a.items, x);
    for (const x of b.batches) await b.t.step(b.items, x);
    const ca = await a.t.checkpoint();
    const cb = await b.t.checkpoint();
    expect(ca).toEqual(cb);
    const c = await run(43, 25);
    for (const x of c.batches) await c.t.step(c.items, x);
    expect((await c.t.checkpoint()).params.W1).not.toEqual(ca.params.W1);
  });

  it("a trainer made after another's dispose() (reusing its buffers) trains bit-identically, and params() is checkpoint().params", async () => {
    // The first trainer leaves trained tables, non-zero moments and row steps in the buffers it gives back.
    const a = await run(7, 15);
    const lossesA: number[] = [];
    for (const x of a.batches) lossesA.push((await a.t.step(a.items, x)).loss);
    const ca = await a.t.checkpoint();
    expect(await a.t.params!()).toEqual(ca.params);
    const params = await a.t.params!();
    a.t.dispose();
    // params() is a copy: a later trainer reusing the buffers does not change it.
    const b = await run(7, 15);
    expect(params).toEqual(ca.params);
    const lossesB: number[] = [];
    for (const x of b.batches) lossesB.push((await b.t.step(b.items, x)).loss);
    expect(lossesB).toEqual(lossesA);
    expect(await b.t.checkpoint()).toEqual(ca);
    // And the other way: after b's dispose, a trainer of other params starts from those, not from b's.
    b.t.dispose();
    const c = await run(8, 15);
    const fresh = new CpuTrainer(randomParams(8, CFG), OPT);
    for (const x of c.batches) expect((await c.t.step(c.items, x)).loss).toBe((await fresh.step(c.items, x)).loss);
    expect(await c.t.checkpoint()).toEqual(await fresh.checkpoint());
    await expect(b.t.step(b.items, b.batches[0])).rejects.toThrow(/after dispose/);
  });

  it('resume from a checkpoint continues bit-identically', async () => {
    const a = await run(5, 20);
    const losses: number[] = [];
    for (const x of a.batches) losses.push((await a.t.step(a.items, x)).loss);
    const full = await a.t.checkpoint();

    const b = await run(5, 20);
    for (const x of b.batches.slice(0, 9)) await b.t.step(b.items, x);
    const mid = await b.t.checkpoint();
    b.t.dispose();
    // Mutating the checkpoint afterwards must not leak into the resumed trainer (deep copies).
    const resumed = await cpuBackend.createTrainer(mid, OPT);
    mid.params.W1.fill(123);
    const tail: number[] = [];
    for (const x of b.batches.slice(9)) tail.push((await resumed.step(b.items, x)).loss);
    expect(tail).toEqual(losses.slice(9));
    expect(await resumed.checkpoint()).toEqual(full);
    expect(await resumed.score(b.items)).toEqual(await a.t.score(a.items));
  });

  it('training reduces the loss on a learnable toy task', async () => {
    const rng = new Rng(8);
    const items = randomItems(rng, 40, CFG.vocabSize, 4, 6);
    // Prefer items whose first response token is even.
    const good = (k: number): boolean => items.responseIds[items.responseOffsets[k]] % 2 === 0 && items.responseOffsets[k + 1] > items.responseOffsets[k];
    const pairs: Array<[number, number]> = [];
    for (let a = 0; a < 40; a++) for (let b = 0; b < 40; b++) if (good(a) && !good(b)) pairs.push([a, b]);
    const batch: PairBatch = {
      chosen: Int32Array.from(pairs.map((x) => x[0])),
      rejected: Int32Array.from(pairs.map((x) => x[1])),
      weight: new Float32Array(pairs.length).fill(1),
    };
    const t = new CpuTrainer(randomParams(3, CFG), { ...OPT, lr: 0.05 });
    const first = t.stepSync(items, batch).loss;
    let last = first;
    for (let s = 0; s < 100; s++) last = t.stepSync(items, batch).loss;
    expect(last).toBeLessThan(first * 0.5);
  });
});

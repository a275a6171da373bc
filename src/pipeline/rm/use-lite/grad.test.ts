// Finite-difference gradient checks of every op of the USE-lite RM and of the whole model (tiny config), the
// float32 MatOps code (grad.ts, on jsMatOps) against central differences of the independent float64 reference
// (grad-ref64.ts), on random shapes with padding rows and length-1 (and length-0) sequences.
import { describe, expect, it } from 'vitest';
import { jsMatOps } from '../../../gpu/matops.ts';
import { Rng } from '../../rng.ts';
import {
  allocGrads,
  attentionBackward,
  attentionForward,
  btLoss,
  l2NormBackward,
  l2NormForward,
  layerNormBackward,
  layerNormForward,
  linearBackward,
  linearForward,
  meanPoolBackward,
  meanPoolForward,
  modelBackward,
  modelForward,
  packSequences,
  probOffsets,
  Scratch,
  tanhBackwardInPlace,
  tanhInPlace,
  type ModelView,
  type SeqLayout,
} from './grad.ts';
import { attention64, layerNorm64, linear64, logSigmoid64, loss64, score64, toF64, type Lora64 } from './grad-ref64.ts';
import { gradPlan, initLora } from './lora.ts';
import { loraTargets, type TuneMode } from './spec.ts';
import { randomUseLiteParams, TINY_CONFIG } from './train-testing.ts';

const rand = (rng: Rng, n: number, s = 1) => Float32Array.from({ length: n }, () => s * rng.normal());

/**
 * Central differences of f with respect to p64[i] for each i in idx, compared with analytic[i]: the largest
 * error relative to the largest |fd| must stay under tol, and the gradient must not be trivially zero.
 */
function fdCheck(analytic: ArrayLike<number>, p64: Float64Array, f: () => number, idx?: number[], tol = 2e-4): number {
  const which = idx ?? Array.from({ length: p64.length }, (_, i) => i);
  let maxErr = 0;
  let maxFd = 0;
  for (const i of which) {
    const v = p64[i];
    const h = 1e-6 * Math.max(1, Math.abs(v));
    p64[i] = v + h;
    const fp = f();
    p64[i] = v - h;
    const fm = f();
    p64[i] = v;
    const fd = (fp - fm) / (2 * h);
    maxErr = Math.max(maxErr, Math.abs(fd - analytic[i]));
    maxFd = Math.max(maxFd, Math.abs(fd));
  }
  expect(maxFd).toBeGreaterThan(1e-6);
  expect(maxErr / maxFd).toBeLessThan(tol);
  return maxErr / maxFd;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>, n = a.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

function sample(rng: Rng, n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  const s = new Set<number>();
  while (s.size < k) s.add(rng.int(n));
  return [...s];
}

describe('linear + LoRA', () => {
  it('dx, dW, db, dA, dB match finite differences; accumulateDx adds', () => {
    const rng = new Rng(1);
    const [N, I, O, r, scale] = [5, 6, 7, 3, 1.5];
    const x = rand(rng, N * I);
    const W = rand(rng, I * O, 0.5);
    const b = rand(rng, O);
    const A = rand(rng, I * r, 0.5);
    const B = rand(rng, r * O, 0.5);
    const R = rand(rng, N * O);
    const lora = { A, B, rank: r, scale };
    const y = new Float32Array(N * O);
    const us = new Float32Array(N * r);
    linearForward(jsMatOps, N, I, O, x, W, b, y, lora, us);
    const [x6, W6, b6, A6, B6] = [x, W, b, A, B].map((a) => Float64Array.from(a));
    const f = () => dot(R, linear64(x6, N, I, O, W6, b6, { A: A6, B: B6, r, scale }));
    const y64 = linear64(x6, N, I, O, W6, b6, { A: A6, B: B6, r, scale });
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(y64[i], 5);
    const g = { W: new Float32Array(I * O), b: new Float32Array(O), A: new Float32Array(I * r), B: new Float32Array(r * O) };
    const dx = new Float32Array(N * I);
    linearBackward(jsMatOps, N, I, O, x, W, R, dx, false, g, lora, us, new Float32Array(N * r));
    fdCheck(dx, x6, f);
    fdCheck(g.W, W6, f);
    fdCheck(g.b, b6, f);
    fdCheck(g.A, A6, f);
    fdCheck(g.B, B6, f);
    const dx2 = new Float32Array(N * I).fill(1);
    linearBackward(jsMatOps, N, I, O, x, W, R, dx2, true, {}, lora, us, new Float32Array(N * r));
    for (let i = 0; i < dx.length; i++) expect(dx2[i]).toBeCloseTo(1 + dx[i], 5);
  });
});

describe('layer norm', () => {
  it('dx, dgamma, dbeta match finite differences (rows with large offsets too)', () => {
    const rng = new Rng(2);
    const [N, D] = [4, 9];
    const x = rand(rng, N * D);
    for (let j = 0; j < D; j++) x[D + j] += 50; // a row far from zero
    const g = rand(rng, D);
    const b = rand(rng, D);
    const R = rand(rng, N * D);
    const y = new Float32Array(N * D);
    const mean = new Float32Array(N);
    const rstd = new Float32Array(N);
    layerNormForward(N, D, x, g, b, 1e-6, y, mean, rstd);
    const [x6, g6, b6] = [x, g, b].map((a) => Float64Array.from(a));
    const f = () => dot(R, layerNorm64(x6, N, D, g6, b6, 1e-6));
    const y64 = layerNorm64(x6, N, D, g6, b6, 1e-6);
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(y64[i], 4);
    const dx = new Float32Array(N * D);
    const dg = new Float32Array(D);
    const db = new Float32Array(D);
    layerNormBackward(N, D, x, g, mean, rstd, R, dx, false, dg, db);
    fdCheck(dx, x6, f, undefined, 1e-3);
    fdCheck(dg, g6, f);
    fdCheck(db, b6, f);
  });
});

/** Sequences of lengths `lens` either packed or padded to T rows each (padding rows filled with junk). */
function layoutOf(lens: number[], padTo: number | null): SeqLayout {
  const starts = new Int32Array(lens.length);
  let n = 0;
  lens.forEach((L, s) => {
    starts[s] = padTo === null ? n : s * padTo;
    n = padTo === null ? n + L : (s + 1) * padTo;
  });
  return { rows: n, starts, lens: Int32Array.from(lens) };
}

describe('masked multi-head attention', () => {
  for (const padTo of [null, 5]) {
    it(`dqkv matches finite differences per sequence (${padTo === null ? 'packed' : 'padded to 5'}; lengths 3, 1, 4, 0, 2)`, () => {
      const rng = new Rng(3);
      const [w, H, scale] = [8, 2, 0.35];
      const lens = [3, 1, 4, 0, 2];
      const layout = layoutOf(lens, padTo);
      const qkv = rand(rng, layout.rows * 3 * w);
      const R = rand(rng, layout.rows * w);
      const out = new Float32Array(layout.rows * w);
      const probs = new Float32Array(probOffsets(layout, H).total);
      const sc = new Scratch();
      attentionForward(jsMatOps, layout, w, H, scale, qkv, out, probs, sc);
      const dqkv = new Float32Array(layout.rows * 3 * w).fill(7);
      attentionBackward(jsMatOps, layout, w, H, scale, qkv, probs, R, dqkv, sc);
      const valid = new Set<number>();
      lens.forEach((L, s) => {
        for (let t = 0; t < L; t++) valid.add(layout.starts[s] + t);
      });
      // Padding rows: zero output and zero gradient.
      for (let row = 0; row < layout.rows; row++) {
        if (valid.has(row)) continue;
        for (let j = 0; j < w; j++) expect(out[row * w + j]).toBe(0);
        for (let j = 0; j < 3 * w; j++) expect(dqkv[row * 3 * w + j]).toBe(0);
      }
      lens.forEach((L, s) => {
        if (L === 0) return;
        const st = layout.starts[s];
        const q6 = Float64Array.from(qkv.subarray(st * 3 * w, (st + L) * 3 * w));
        const Rs = R.subarray(st * w, (st + L) * w);
        const o64 = attention64(q6, L, w, H, scale);
        for (let i = 0; i < L * w; i++) expect(out[st * w + i]).toBeCloseTo(o64[i], 5);
        fdCheck(dqkv.subarray(st * 3 * w, (st + L) * 3 * w), q6, () => dot(Rs, attention64(q6, L, w, H, scale)));
      });
      // A length-1 sequence attends only to itself: output = its v.
      const s1 = layout.starts[1];
      for (let j = 0; j < w; j++) expect(out[s1 * w + j]).toBeCloseTo(qkv[s1 * 3 * w + 2 * w + j], 6);
    });
  }

  it('padding content never reaches valid rows', () => {
    const rng = new Rng(4);
    const [w, H] = [8, 2];
    const layout = layoutOf([3, 2], 4);
    const qkv = rand(rng, layout.rows * 3 * w);
    const out1 = new Float32Array(layout.rows * w);
    const out2 = new Float32Array(layout.rows * w);
    const probs = new Float32Array(probOffsets(layout, H).total);
    attentionForward(jsMatOps, layout, w, H, 0.5, qkv, out1, probs, new Scratch());
    for (const row of [3, 6, 7]) for (let j = 0; j < 3 * w; j++) qkv[row * 3 * w + j] = 1e6 * rng.normal();
    attentionForward(jsMatOps, layout, w, H, 0.5, qkv, out2, probs, new Scratch());
    expect(Array.from(out2)).toEqual(Array.from(out1));
  });
});

describe('pooling, tanh, l2 normalisation, loss', () => {
  it('masked mean pooling: forward and backward (empty sequence pools to 0)', () => {
    const rng = new Rng(5);
    const D = 3;
    const layout = layoutOf([2, 0, 1], 3);
    const x = rand(rng, layout.rows * D);
    const pooled = new Float32Array(3 * D);
    meanPoolForward(layout, D, x, pooled);
    for (let j = 0; j < D; j++) {
      expect(pooled[j]).toBeCloseTo((x[j] + x[D + j]) / 2, 6);
      expect(pooled[D + j]).toBe(0);
      expect(pooled[2 * D + j]).toBeCloseTo(x[6 * D + j], 6);
    }
    const R = rand(rng, 3 * D);
    const dx = new Float32Array(layout.rows * D).fill(9);
    meanPoolBackward(layout, D, R, dx);
    const x6 = Float64Array.from(x);
    fdCheck(dx, x6, () => {
      // float64 pooling of rows {0, 1} and {6}; the empty sequence contributes nothing
      let s = 0;
      for (let j = 0; j < D; j++) s += R[j] * (x6[j] + x6[D + j]) / 2 + R[2 * D + j] * x6[6 * D + j];
      return s;
    });
    expect(dx[2 * D]).toBe(0); // padding row
    expect(dx[0]).toBeCloseTo(R[0] / 2, 7);
    expect(dx[6 * D]).toBeCloseTo(R[2 * D], 7);
  });

  it('tanh and l2 normalisation (including a clamped near-zero row) match finite differences', () => {
    const rng = new Rng(6);
    const [N, D] = [3, 5];
    const z = rand(rng, N * D);
    for (let j = 0; j < D; j++) z[2 * D + j] = 1e-8 * (j + 1); // sum of squares < 1e-12: the clamp is active
    const R = rand(rng, N * D);
    const y = z.slice();
    tanhInPlace(y, N * D);
    const e = new Float32Array(N * D);
    const inv = new Float32Array(N);
    l2NormForward(N, D, y, e, inv);
    const dy = new Float32Array(N * D);
    l2NormBackward(N, D, y, inv, R, dy);
    tanhBackwardInPlace(y, dy, N * D);
    const z6 = Float64Array.from(z);
    const f = () => {
      let s = 0;
      for (let i = 0; i < N; i++) {
        const t = Array.from(z6.subarray(i * D, (i + 1) * D), Math.tanh);
        const r = 1 / Math.sqrt(Math.max(dot(t, t), 1e-12));
        for (let j = 0; j < D; j++) s += R[i * D + j] * t[j] * r;
      }
      return s;
    };
    fdCheck(dy.subarray(0, 2 * D), z6, f, Array.from({ length: 2 * D }, (_, i) => i));
    // Clamped row: e = tanh(z) * 1e6, so de/dz = 1e6 * (1 - tanh^2) elementwise.
    for (let j = 0; j < D; j++) expect(dy[2 * D + j] / (R[2 * D + j] * 1e6)).toBeCloseTo(1, 5);
  });

  it('weighted BT loss gradient matches finite differences and stays finite at |d| = 1000', () => {
    const scores = Float64Array.from([0.3, -0.2, 1000, -1000, -1000, 1000, 2, 2]);
    const weight = Float32Array.from([1, 0.5, 2, 1.5]);
    const ds = new Float32Array(8);
    const loss = btLoss(scores, weight, 4, 4, ds);
    const ref = (s: Float64Array) => -[0, 1, 2, 3].reduce((a, i) => a + weight[i] * logSigmoid64(s[2 * i] - s[2 * i + 1]), 0) / 4;
    expect(loss).toBeCloseTo(ref(scores), 10);
    expect(loss).toBeCloseTo((-logSigmoid64(0.5) + 4000 + 1.5 * Math.log(2)) / 4, 9);
    expect(ds[2]).toBe(-0); // d = 2000: sigmoid(-d) underflows, no NaN
    expect(ds[4]).toBeCloseTo(-0.5, 12); // d = -2000: -(w / B) * 1
    const s6 = Float64Array.from([0.3, -0.2, 3, -1, -2, 1, 2, 2]);
    const ds2 = new Float32Array(8);
    btLoss(s6, weight, 4, 4, ds2);
    fdCheck(ds2, s6, () => ref(s6));
  });
});

// ---------------------------------------------------------------------------------------------------------
// The whole model on the tiny config.

function pairsData(rng: Rng, lens: [number, number][]) {
  const c = TINY_CONFIG;
  const seq = (L: number) => Int32Array.from({ length: L }, () => rng.int(c.vocabSize));
  return lens.map(([a, b]) => ({ chosen: seq(a), rejected: seq(b), w: 0.5 + rng.next() }));
}

function withRandomLora(m: ModelView, rng: Rng): void {
  const l = initLora(m.config, { rank: 2, alpha: 3 }, 7);
  for (const k of Object.keys(l.B)) for (let i = 0; i < l.B[k].length; i++) l.B[k][i] = 0.3 * rng.normal();
  m.lora = l;
}

function lora64(m: ModelView): Lora64 | undefined {
  if (!m.lora) return undefined;
  return { r: m.lora.config.rank, scale: m.lora.config.alpha / m.lora.config.rank, A: toF64(m.lora.A), B: toF64(m.lora.B) };
}

/** Forward + loss + backward through grad.ts on a packed or padded layout (padding rows hold random token ids). */
function analytic(m: ModelView, pairs: ReturnType<typeof pairsData>, mode: TuneMode, padTo: number | null, rng: Rng) {
  const seqs = pairs.flatMap((p) => [p.chosen, p.rejected]);
  let ids: Int32Array;
  let layout: SeqLayout;
  if (padTo === null) ({ ids, layout } = packSequences(seqs));
  else {
    layout = layoutOf(seqs.map((s) => s.length), padTo);
    ids = Int32Array.from({ length: layout.rows }, () => rng.int(m.config.vocabSize));
    seqs.forEach((s, i) => ids.set(s, layout.starts[i]));
  }
  const sc = new Scratch();
  const acts = modelForward(jsMatOps, m, layout, { ids }, sc);
  const ds = new Float32Array(seqs.length);
  const loss = btLoss(acts.scores, Float32Array.from(pairs, (p) => p.w), pairs.length, pairs.length, ds);
  const plan = gradPlan(m.config, mode);
  const grads = allocGrads(m, plan);
  modelBackward(jsMatOps, m, acts, ds, plan, grads, sc);
  return { loss, grads, scores: acts.scores.slice(0, seqs.length) };
}

describe('whole model (tiny config): forward vs float64 reference, gradients vs finite differences', () => {
  const lens: [number, number][] = [
    [5, 1],
    [8, 3],
    [1, 1],
    [2, 7],
  ];

  it('scores match the float64 reference, packed and padded', () => {
    const rng = new Rng(10);
    const p = randomUseLiteParams(TINY_CONFIG, 11);
    const m: ModelView = { config: p.config, tensors: p.tensors };
    withRandomLora(m, rng);
    const pairs = pairsData(rng, lens);
    const T = toF64(p.tensors);
    const L = lora64(m);
    const a = analytic(m, pairs, 'lora', null, rng);
    const b = analytic(m, pairs, 'lora', 8, rng);
    const seqs = pairs.flatMap((q) => [q.chosen, q.rejected]);
    seqs.forEach((s, i) => {
      const ref = score64(m.config, T, L, s);
      expect(Math.abs(a.scores[i] - ref)).toBeLessThan(1e-5);
      expect(Math.abs(b.scores[i] - a.scores[i])).toBeLessThan(1e-6);
    });
    expect(a.loss).toBeCloseTo(loss64(m.config, T, L, pairs), 5);
  });

  for (const mode of ['lora', 'top', 'head'] as TuneMode[]) {
    for (const padTo of [null, 8]) {
      it(`tune ${mode}: every trainable tensor's gradient matches finite differences (${padTo ? 'padded' : 'packed'})`, () => {
        const rng = new Rng(20);
        const p = randomUseLiteParams(TINY_CONFIG, 21);
        const m: ModelView = { config: p.config, tensors: p.tensors };
        if (mode === 'lora') withRandomLora(m, rng);
        const pairs = pairsData(rng, lens);
        const { grads } = analytic(m, pairs, mode, padTo, rng);
        const T = toF64(p.tensors);
        const L = lora64(m);
        const f = () => loss64(m.config, T, L, pairs);
        const plan = gradPlan(m.config, mode);
        const checked: string[] = [];
        for (const n of plan.tensors) {
          if (n === 'head.b') {
            // A shared offset cancels in s_c - s_r: the BT loss does not depend on it.
            expect(Math.abs(grads[n][0])).toBeLessThan(1e-7);
            expect(Math.abs(f() - (T[n][0] += 1, f()))).toBeLessThan(1e-9);
            checked.push(n);
            continue;
          }
          fdCheck(grads[n], T[n], f, sample(rng, T[n].length, 12), 1e-3);
          checked.push(n);
        }
        if (mode === 'lora') {
          for (const t of loraTargets(m.config)) {
            fdCheck(grads[`${t.name}.A`], L!.A[t.name], f, sample(rng, L!.A[t.name].length, 8), 1e-3);
            fdCheck(grads[`${t.name}.B`], L!.B[t.name], f, sample(rng, L!.B[t.name].length, 8), 1e-3);
            checked.push(t.name);
          }
          expect(checked).toHaveLength(2 + 8);
        }
        if (mode === 'top') expect(checked.length).toBe(16);
        // Nothing outside the plan is differentiated.
        const expected = [...plan.tensors, ...(plan.lora ? loraTargets(m.config).flatMap((t) => [`${t.name}.A`, `${t.name}.B`]) : [])];
        expect(Object.keys(grads).sort()).toEqual(expected.sort());
      });
    }
  }
});

// The oracles themselves: the chained CPU twins' gradients against central finite differences of the chained
// forward twins (a tiny model), and the host half of the embedding backward against a naive scatter.
import { describe, expect, it } from 'vitest';
import { btLossBackward } from '../../src/gpu/kernels/btLossBackward.ts';
import { btLossForward } from '../../src/gpu/kernels/btLossForward.ts';
import { denseBackward } from '../../src/gpu/kernels/denseBackward.ts';
import { denseForward } from '../../src/gpu/kernels/denseForward.ts';
import { buildRowContributions, embeddingBagBackward } from '../../src/gpu/kernels/embeddingBagBackward.ts';
import { embeddingBagForward } from '../../src/gpu/kernels/embeddingBagForward.ts';
import { reluBackward } from '../../src/gpu/kernels/reluBackward.ts';
import { reluForward } from '../../src/gpu/kernels/reluForward.ts';
import { rng } from './runner.ts';

const V = 6;
const D = 3;
const H = 4;
const B = 3;
const N = 2 * B;
const K = 2 * D;
// Bags of 6 items (response at 2j, prompt at 2j+1), with an empty bag and a repeated token.
const offsets = Int32Array.from([0, 2, 3, 3, 5, 6, 8, 9, 10, 12, 13, 15, 16]);
const ids = Int32Array.from([0, 1, 2, 3, 3, 4, 5, 0, 1, 2, 4, 5, 5, 0, 2, 3]);
const w = Float32Array.from([1, 0.5, 2]);

function randomParams(seed: number) {
  const r = rng(seed);
  const f = (n: number, s: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
  return { E: f(V * D, 1), W1: f(K * H, 0.8), b1: f(H, 0.3), W2: f(H, 0.8), b2: f(1, 0.1) };
}

type Params = ReturnType<typeof randomParams>;

function forward(p: Params) {
  const X = embeddingBagForward.cpu({ vocab: V, dim: D, bags: 2 * N, nnz: ids.length }, { E: p.E, offsets, ids }).out;
  const Z = denseForward.cpu({ M: N, K, N: H }, { X, W: p.W1, b: p.b1 }).Y;
  const Hh = reluForward.cpu({ n: N * H }, { X: Z }).Y;
  const S = denseForward.cpu({ M: N, K: H, N: 1 }, { X: Hh, W: p.W2, b: p.b2 }).Y;
  const loss = btLossForward.cpu({ B, slots: 1, slot: 0 }, { S, w }).loss[0];
  return { X, Z, Hh, S, loss };
}

function backward(p: Params) {
  const f = forward(p);
  const dS = btLossBackward.cpu({ B }, { S: f.S, w }).dS;
  const l2 = denseBackward.cpu({ M: N, K: H, N: 1, inputGrad: true }, { X: f.Hh, W: p.W2, dY: dS });
  const dZ = reluBackward.cpu({ n: N * H }, { Z: f.Z, dY: l2.dX }).dZ;
  const l1 = denseBackward.cpu({ M: N, K, N: H, inputGrad: true }, { X: f.X, W: p.W1, dY: dZ });
  const rc = buildRowContributions(offsets, ids, V);
  const gRows = embeddingBagBackward.cpu(
    { dim: D, bags: 2 * N, rows: rc.rows.length, nnz: ids.length },
    { dX: l1.dX, bagOffsets: offsets, rowOffsets: rc.rowOffsets, contribBag: rc.contribBag },
  ).gRows;
  const gE = new Float32Array(V * D);
  rc.rows.forEach((row, u) => gE.set(gRows.subarray(u * D, u * D + D), row * D));
  return { E: gE, W1: l1.dW, b1: l1.db, W2: l2.dW, b2: l2.db };
}

describe('chained twins: analytic gradients = finite differences', () => {
  it('every parameter of a tiny model', () => {
    const p = randomParams(7);
    const g = backward(p);
    const h = 1e-2;
    let worst = 0;
    for (const k of ['E', 'W1', 'b1', 'W2', 'b2'] as const) {
      for (let i = 0; i < p[k].length; i++) {
        const keep = p[k][i];
        p[k][i] = keep + h;
        const up = forward(p).loss;
        p[k][i] = keep - h;
        const down = forward(p).loss;
        p[k][i] = keep;
        const fd = (up - down) / (2 * h);
        const err = Math.abs(fd - g[k][i]);
        worst = Math.max(worst, err);
        expect(err, `${k}[${i}]: analytic ${g[k][i]} vs fd ${fd}`).toBeLessThan(2e-4 + 1e-2 * Math.abs(fd));
      }
    }
    console.log(`finite-difference check: max |analytic - fd| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('buildRowContributions', () => {
  it('matches a naive per-token scatter and lists rows sorted and unique', () => {
    const r = rng(3);
    const bags = 40;
    const bagOffsets = new Int32Array(bags + 1);
    const list: number[] = [];
    for (let b = 0; b < bags; b++) {
      const len = b % 6 === 0 ? 0 : Math.floor(r() * 12);
      for (let t = 0; t < len; t++) list.push(Math.floor(r() * r() * 30));
      bagOffsets[b + 1] = list.length;
    }
    const bagIds = Int32Array.from(list);
    const scratch = new Int32Array(30).fill(-1);
    const rc = buildRowContributions(bagOffsets, bagIds, 30, scratch);
    expect(Array.from(scratch).every((x) => x === -1)).toBe(true);
    expect(Array.from(rc.rows)).toEqual([...new Set(list)].sort((a, b) => a - b));
    const dX = Float32Array.from({ length: bags * 2 }, () => r() * 2 - 1);
    const naive = new Float64Array(30 * 2);
    for (let b = 0; b < bags; b++) {
      const n = bagOffsets[b + 1] - bagOffsets[b];
      for (let t = bagOffsets[b]; t < bagOffsets[b + 1]; t++) for (let c = 0; c < 2; c++) naive[bagIds[t] * 2 + c] += dX[b * 2 + c] * (1 / n);
    }
    const g = embeddingBagBackward.cpu({ dim: 2, bags, rows: rc.rows.length, nnz: bagIds.length }, { dX, bagOffsets, ...rc }).gRows;
    rc.rows.forEach((row, u) => {
      for (let c = 0; c < 2; c++) expect(g[u * 2 + c]).toBeCloseTo(naive[row * 2 + c], 6);
    });
  });
  it('rejects ids outside the table', () => {
    expect(() => buildRowContributions(Int32Array.of(0, 2), Int32Array.of(1, 9), 5)).toThrow(/token id 9/);
  });
});

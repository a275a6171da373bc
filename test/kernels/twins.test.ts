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
import { attentionBackward } from '../../src/gpu/kernels/attentionBackward.ts';
import { attentionForward } from '../../src/gpu/kernels/attentionForward.ts';
import { biasGrad } from '../../src/gpu/kernels/biasGrad.ts';
import { l2NormBackward } from '../../src/gpu/kernels/l2NormBackward.ts';
import { l2NormForward } from '../../src/gpu/kernels/l2NormForward.ts';
import { layerNormBackward } from '../../src/gpu/kernels/layerNormBackward.ts';
import { layerNormForward } from '../../src/gpu/kernels/layerNormForward.ts';
import { matmul } from '../../src/gpu/kernels/matmul.ts';
import { meanPoolBackward } from '../../src/gpu/kernels/meanPoolBackward.ts';
import { meanPoolForward } from '../../src/gpu/kernels/meanPoolForward.ts';
import { tanhBackward } from '../../src/gpu/kernels/tanhBackward.ts';
import { tanhForward } from '../../src/gpu/kernels/tanhForward.ts';

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

// ---- The transformer kernels: each backward twin against central differences of its forward twin ----------
// Loss L = sum(c * forward(x)) with fixed random c, so dL/dOut = c is what the backward receives. Small shapes,
// padded batches with length-1 and length-0 sequences. Twins return float32, so h is not tiny (3e-3) and the
// tolerance allows f32 rounding of the loss (~1e-5 / h).

function randArr(r: () => number, n: number, s = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
}

function dot64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Checks analytic gradients of `loss` w.r.t. each named input by central differences; returns the worst error. */
function fdCheck(inputs: Record<string, Float32Array>, loss: () => number, grads: Record<string, Float32Array>, h = 3e-3): number {
  let worst = 0;
  for (const [name, g] of Object.entries(grads)) {
    const x = inputs[name];
    expect(g.length, `${name} gradient length`).toBe(x.length);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i];
      x[i] = keep + h;
      const up = loss();
      x[i] = keep - h;
      const down = loss();
      x[i] = keep;
      const fd = (up - down) / (2 * h);
      const err = Math.abs(fd - g[i]);
      worst = Math.max(worst, err / (1 + Math.abs(fd)));
      expect(err, `${name}[${i}]: analytic ${g[i]} vs fd ${fd}`).toBeLessThan(1e-3 + 1e-2 * Math.abs(fd));
    }
  }
  return worst;
}

describe('transformer backward twins = finite differences of their forward twins', () => {
  it('matmul: dA = alpha dC B^T, dB = alpha A^T dC, dbias = sum dC (and LoRA as a composition)', () => {
    const r = rng(11);
    const [M, K, N, R] = [5, 4, 3, 2];
    const alpha = 1.5;
    const x = { A: randArr(r, M * K), B: randArr(r, K * N), bias: randArr(r, N), La: randArr(r, K * R), Lb: randArr(r, R * N) };
    const c = randArr(r, M * N);
    // y = A B + bias + alpha (A La) Lb: a projection with a LoRA adapter.
    const fwd = () => {
      const y = matmul.cpu({ M, N, K, bias: true }, { A: x.A, B: x.B, bias: x.bias }).C;
      const t = matmul.cpu({ M, N: R, K }, { A: x.A, B: x.La }).C;
      return matmul.cpu({ M, N, K: R, accumulate: true, alpha }, { A: t, B: x.Lb, C: y }).C;
    };
    const t = matmul.cpu({ M, N: R, K }, { A: x.A, B: x.La }).C;
    const dB = matmul.cpu({ M: K, N, K: M, transA: true }, { A: x.A, B: c }).C;
    const dbias = biasGrad.cpu({ M, N }, { dY: c }).db;
    const dLb = matmul.cpu({ M: R, N, K: M, transA: true, alpha }, { A: t, B: c }).C;
    const dt = matmul.cpu({ M, N: R, K: N, transB: true, alpha }, { A: c, B: x.Lb }).C;
    const dLa = matmul.cpu({ M: K, N: R, K: M, transA: true }, { A: x.A, B: dt }).C;
    let dA = matmul.cpu({ M, N: K, K: N, transB: true }, { A: c, B: x.B }).C;
    dA = matmul.cpu({ M, N: K, K: R, transB: true, accumulate: true }, { A: dt, B: x.La, C: dA }).C;
    const worst = fdCheck(x, () => dot64(fwd(), c), { A: dA, B: dB, bias: dbias, La: dLa, Lb: dLb });
    expect(worst).toBeLessThan(1e-3);
  });

  it('layer norm: dX (accumulating into the residual gradient), dgamma, dbeta', () => {
    const r = rng(12);
    const [rows, W] = [3, 6];
    const x = { X: randArr(r, rows * W, 2), gamma: randArr(r, W), beta: randArr(r, W) };
    const c = randArr(r, rows * W);
    const prior = randArr(r, rows * W);
    const fwd = () => layerNormForward.cpu({ rows, W, eps: 1e-6 }, x);
    const f = fwd();
    const g = layerNormBackward.cpu(
      { rows, W, accumulate: true, paramGrad: true },
      { X: x.X, gamma: x.gamma, mean: f.mean, rstd: f.rstd, dY: c, dX: prior },
    );
    const dX = g.dX.map((v, i) => v - prior[i]);
    fdCheck(x, () => dot64(fwd().Y, c), { X: dX, gamma: g.dgamma, beta: g.dbeta });
  });

  it('masked attention: dqkv through the softmax, lengths 3, 1 and 0 of T = 3', () => {
    const r = rng(13);
    const dims = { seqs: 3, T: 3, heads: 2, headDim: 2, scale: 0.7 };
    const lens = Int32Array.from([3, 1, 0]);
    const x = { qkv: randArr(r, 3 * 3 * 3 * 4, 1.5) };
    const c = randArr(r, 3 * 3 * 4);
    const f = attentionForward.cpu(dims, { qkv: x.qkv, lens });
    const g = attentionBackward.cpu(dims, { qkv: x.qkv, lens, P: f.P, A: f.A, dA: c });
    fdCheck(x, () => dot64(attentionForward.cpu(dims, { qkv: x.qkv, lens }).A, c), { qkv: g.dqkv });
    // Padded rows of every sequence get exactly zero gradient.
    for (const [b, L] of [[1, 1], [2, 0]]) for (let i = (b * 3 + L) * 12; i < (b + 1) * 36; i++) expect(g.dqkv[i]).toBe(0);
  });

  it('tanh, masked mean pooling and l2 normalise', () => {
    const r = rng(14);
    const n = 10;
    const xt = { X: randArr(r, n, 2) };
    const ct = randArr(r, n);
    const y = tanhForward.cpu({ n }, xt).Y;
    fdCheck(xt, () => dot64(tanhForward.cpu({ n }, xt).Y, ct), { X: tanhBackward.cpu({ n }, { Y: y, dY: ct }).dX });

    const pd = { seqs: 3, T: 3, W: 2 };
    const lens = Int32Array.from([3, 1, 0]);
    const xp = { X: randArr(r, 18) };
    const cp = randArr(r, 6);
    const dXp = meanPoolBackward.cpu(pd, { dOut: cp, lens }).dX;
    fdCheck(xp, () => dot64(meanPoolForward.cpu(pd, { X: xp.X, lens }).out, cp), { X: dXp });

    const ld = { rows: 2, W: 5 };
    const xl = { X: randArr(r, 10) };
    const cl = randArr(r, 10);
    const dXl = l2NormBackward.cpu(ld, { X: xl.X, dY: cl }).dX;
    fdCheck(xl, () => dot64(l2NormForward.cpu(ld, xl).Y, cl), { X: dXl }, 1e-3);
  });
});

import { describe, expect, it } from 'vitest';
import {
  accumulateXtDZ,
  accumulateXtDZDense,
  backpropInput,
  backpropInput2x2,
  linearForward,
  linearForwardT,
  meanPool,
  transposeToF64,
} from './ops.ts';

// The blocked kernels must give the same bits as the straightforward ones, for every shape (odd sizes hit the tails).
function rand(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const bytes = (a: Float64Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [2, 4, 4], [3, 5, 7], [16, 200, 64], [7, 9, 6], [5, 6, 3], [4, 3, 9], [8, 11, 5],
];

describe('cpu ops: blocked kernels are bit-identical to the plain ones', () => {
  it('linearForwardT = linearForward', () => {
    for (const [S, K, H] of SHAPES) {
      const r = rand(S * 1000 + K * 10 + H);
      const X = Float64Array.from({ length: S * K }, () => (r() < -0.3 ? 0 : r()));
      const W = Float32Array.from({ length: K * H }, r);
      const b = Float32Array.from({ length: H }, r);
      const Z0 = new Float64Array(S * H);
      const Z1 = new Float64Array(S * H).fill(Number.NaN);
      linearForward(X, S, K, W, b, H, Z0);
      const WT = new Float64Array(K * H);
      transposeToF64(W, K, H, WT);
      linearForwardT(X, S, K, WT, b, H, Z1);
      expect(bytes(Z1).equals(bytes(Z0)), `S=${S} K=${K} H=${H}`).toBe(true);
    }
  });

  it('accumulateXtDZDense = accumulateXtDZ', () => {
    for (const [S, K, H] of SHAPES) {
      const r = rand(S * 7 + K * 13 + H);
      const X = Float64Array.from({ length: S * K }, () => (r() < -0.4 ? 0 : r()));
      const DZ = Float64Array.from({ length: S * H }, () => (r() < 0 ? 0 : r()));
      const G0 = Float64Array.from({ length: K * H }, r);
      const G1 = G0.slice();
      accumulateXtDZ(X, S, K, DZ, H, G0);
      accumulateXtDZDense(X, S, K, DZ, H, G1);
      expect(bytes(G1).equals(bytes(G0)), `S=${S} K=${K} H=${H}`).toBe(true);
    }
  });

  it('backpropInput2x2 = backpropInput', () => {
    for (const [S, K, H] of SHAPES) {
      const r = rand(S * 31 + K * 17 + H);
      const DZ = Float64Array.from({ length: S * H }, () => (r() < 0 ? 0 : r()));
      const W = Float32Array.from({ length: K * H }, r);
      const D0 = new Float64Array(S * K);
      const D1 = new Float64Array(S * K).fill(Number.NaN);
      backpropInput(DZ, S, H, W, K, D0);
      backpropInput2x2(DZ, S, H, W, K, D1);
      expect(bytes(D1).equals(bytes(D0)), `S=${S} K=${K} H=${H}`).toBe(true);
    }
  });

  it('meanPool sums in token order and divides by n', () => {
    for (const D of [1, 3, 4, 8, 13, 100]) {
      const r = rand(D);
      const V = 50;
      const E = Float32Array.from({ length: V * D }, r);
      const ids = Int32Array.from({ length: 23 }, () => Math.floor((r() + 0.5) * V));
      const out = new Float64Array(D + 2).fill(Number.NaN);
      expect(meanPool(E, D, V, ids, 3, 20, out, 1)).toBe(17);
      const ref = new Float64Array(D);
      for (let t = 3; t < 20; t++) for (let d = 0; d < D; d++) ref[d] += E[ids[t] * D + d];
      for (let d = 0; d < D; d++) ref[d] /= 17;
      expect(bytes(out.subarray(1, D + 1)).equals(bytes(ref))).toBe(true);
      expect(meanPool(E, D, V, ids, 5, 5, out, 1)).toBe(0);
      expect(Array.from(out.subarray(1, D + 1))).toEqual(new Array(D).fill(0));
      ids[4] = V;
      expect(() => meanPool(E, D, V, ids, 3, 20, out, 1)).toThrow(RangeError);
    }
  });
});

// The bag RM's wasm-SIMD matrix products against their JS twins: bit-identical on odd and default shapes, and a cpu
// trainer run gives the same bits on either path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/rng.ts';
import { randomPairBatch } from '../../pipeline/rm/testing.ts';
import { initBagRM } from '../../pipeline/rm/bag.ts';
import type { BagRMConfig, EncodedItems, OptimizerConfig, PairBatch } from '../../pipeline/rm/types.ts';
import { BagKernels, bagWasm, createBagArena, disableBagWasm, enableBagWasm } from './bag-wasm.ts';
import { accumulateXtDZ, accumulateXtDZDense, backpropInput, backpropInput2x2, linearForward, linearForwardT, transposeToF64 } from './ops.ts';
import { cpuBackend, CpuTrainer } from './trainer.ts';

function randF64(rng: Rng, n: number, zeros = false): Float64Array {
  const a = new Float64Array(n);
  // Mixed magnitudes (and some exact zeros) so any change of summation order would show in the last bits.
  for (let i = 0; i < n; i++) a[i] = zeros && rng.next() < 0.2 ? 0 : rng.normal() * Math.pow(10, rng.int(7) - 3);
  return a;
}

function randF32(rng: Rng, n: number): Float32Array {
  return Float32Array.from(randF64(rng, n));
}

function bits(a: Float64Array): BigInt64Array {
  return new BigInt64Array(a.buffer, a.byteOffset, a.length);
}

let k: BagKernels;
beforeAll(async () => {
  const made = await BagKernels.create();
  if (!made) throw new Error('public/wasm lacks the bag kernels: run `npm run build:wasm`');
  k = made;
});

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [2, 2, 2],
  [3, 5, 7],
  [16, 200, 64],
  [17, 201, 65],
  [4, 8, 9],
  [5, 3, 10],
  [2, 1, 17],
];

describe('bag wasm kernels vs their JS twins (bit-identical)', () => {
  for (const [S, K, H] of SHAPES) {
    it(`S=${S} K=${K} H=${H}`, () => {
      const rng = new Rng(S * 1000 + K * 10 + H);
      const X = randF64(rng, S * K, true);
      const W = randF32(rng, K * H);
      const b = randF32(rng, H);
      const DZ = randF64(rng, S * H, true);
      const G0 = randF64(rng, K * H);

      const zJs = new Float64Array(S * H);
      linearForward(X, S, K, W, b, H, zJs);
      const zT = new Float64Array(S * H);
      const WT = new Float64Array(K * H);
      transposeToF64(W, K, H, WT);
      linearForwardT(X, S, K, WT, b, H, zT);
      const zW = new Float64Array(S * H).fill(NaN);
      k.loadLayer(W, b, K, H);
      k.forward(X, S, zW);
      expect(bits(zW)).toEqual(bits(zJs));
      expect(bits(zW)).toEqual(bits(zT));

      const gJs = G0.slice();
      accumulateXtDZ(X, S, K, DZ, H, gJs);
      const gDense = G0.slice();
      accumulateXtDZDense(X, S, K, DZ, H, gDense);
      const gW = G0.slice();
      k.accumulateXtDZ(X, S, K, DZ, H, gW);
      expect(bits(gW)).toEqual(bits(gJs));
      expect(bits(gW)).toEqual(bits(gDense));

      const dxJs = new Float64Array(S * K);
      backpropInput(DZ, S, H, W, K, dxJs);
      const dx2 = new Float64Array(S * K);
      backpropInput2x2(DZ, S, H, W, K, dx2);
      const dxW = new Float64Array(S * K).fill(NaN);
      k.backprop(DZ, S, dxW);
      expect(bits(dxW)).toEqual(bits(dxJs));
      expect(bits(dxW)).toEqual(bits(dx2));
    });
  }

  it('a JS-only change of order would be caught: reversed sums differ in the bits', () => {
    // The bitwise comparisons above can fail: summing the same products in another order changes some results.
    const rng = new Rng(7);
    const [S, K, H] = [16, 200, 64];
    const X = randF64(rng, S * K);
    const W = randF32(rng, K * H);
    const b = randF32(rng, H);
    const z = new Float64Array(S * H);
    linearForward(X, S, K, W, b, H, z);
    const rev = new Float64Array(S * H);
    for (let s = 0; s < S; s++) {
      for (let j = 0; j < H; j++) {
        let a = b[j];
        for (let q = K - 1; q >= 0; q--) a += X[s * K + q] * W[q * H + j];
        rev[s * H + j] = a;
      }
    }
    expect(bits(rev)).not.toEqual(bits(z));
  });

  it('refuses products with a layer of another shape', () => {
    k.loadLayer(new Float32Array(6), new Float32Array(3), 2, 3);
    expect(() => k.forward(new Float64Array(3), 1, new Float64Array(3))).not.toThrow();
    k.loadLayer(new Float32Array(8), new Float32Array(4), 2, 4);
    expect(() => k.loadLayer(new Float32Array(3), new Float32Array(3), 2, 3)).toThrow(/layer too small/);
  });
});

describe('cpu trainer: wasm arena vs plain typed arrays', () => {
  afterAll(() => disableBagWasm());

  function setup(seed: number) {
    const cfg: BagRMConfig = { vocabSize: 300, dim: 24, hidden: 13, maxPromptTokens: 16, maxResponseTokens: 16 };
    const rng = new Rng(seed);
    const E = new Float32Array(cfg.vocabSize * cfg.dim);
    for (let i = cfg.dim; i < E.length; i++) E[i] = rng.normal() * 0.5;
    const params = initBagRM(E, cfg, seed);
    const n = 40;
    const po = new Int32Array(n + 1);
    const ro = new Int32Array(n + 1);
    const p: number[] = [];
    const r: number[] = [];
    for (let i = 0; i < n; i++) {
      // item 0: empty prompt; item 1: empty response; repeated ids within an item
      for (let t = 0, L = i === 0 ? 0 : 1 + rng.int(6); t < L; t++) p.push(1 + rng.int(cfg.vocabSize - 1));
      for (let t = 0, L = i === 1 ? 0 : 1 + rng.int(30); t < L; t++) r.push(1 + rng.int(40));
      po[i + 1] = p.length;
      ro[i + 1] = r.length;
    }
    const items: EncodedItems = { count: n, promptOffsets: po, promptIds: Int32Array.from(p), responseOffsets: ro, responseIds: Int32Array.from(r) };
    const batches: PairBatch[] = [];
    for (let s = 0; s < 30; s++) {
      // batch sizes grow and shrink (the arena's scratch grows mid-run), one empty batch
      batches.push(randomPairBatch(rng, n, s === 7 ? 0 : 1 + ((s * 5) % 17)));
    }
    return { params, items, batches };
  }
  const OPT: OptimizerConfig = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: false };

  function sameBits(a: Float32Array | Float64Array, b: Float32Array | Float64Array): boolean {
    return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }

  async function train(t: CpuTrainer, items: EncodedItems, batches: PairBatch[]) {
    const losses = batches.map((b) => t.stepSync(items, b).loss);
    const ck = await t.checkpoint();
    return { losses, ck };
  }

  for (const freeze of [false, true]) {
    it(`30 steps (batch sizes 0-17, ${freeze ? 'frozen' : 'trained'} table): same losses, parameters, moments and gradients`, async () => {
      const opt = { ...OPT, freezeEmbeddings: freeze };
      const { params, items, batches } = setup(3);
      disableBagWasm();
      const js = new CpuTrainer(params, opt);
      const a = await train(js, items, batches);
      const arena = await createBagArena({ vocabSize: 300, dim: 24, hidden: 13, needE: !freeze });
      expect(arena).not.toBeNull();
      const w = new CpuTrainer(params, opt, arena);
      const b = await train(w, items, batches);
      expect(b.losses).toEqual(a.losses);
      expect(a.losses[29]).not.toBe(a.losses[0]);
      for (const k of ['E', 'W1', 'b1', 'W2', 'b2'] as const) {
        expect(sameBits(b.ck.params[k], a.ck.params[k]), `params.${k}`).toBe(true);
        expect(sameBits(b.ck.m[k], a.ck.m[k]), `m.${k}`).toBe(true);
        expect(sameBits(b.ck.v[k], a.ck.v[k]), `v.${k}`).toBe(true);
      }
      expect(b.ck.rowStep).toEqual(a.ck.rowStep);
      expect(sameBits(b.ck.params.E, params.E)).toBe(freeze);
      // scoring on the arena (blocks of 256: 600 items cross a block edge) equals scoreItems
      const many: EncodedItems = { ...items, count: 40 };
      expect(sameBits(await w.score(many), await js.score(many))).toBe(true);
      const idx = Int32Array.from({ length: 600 }, (_, i) => (i * 7) % 40);
      expect(sameBits(await w.score(items, idx), await js.score(items, idx))).toBe(true);
      const ga = js.gradients(items, batches[3]);
      const gb = w.gradients(items, batches[3]);
      expect(gb.loss).toBe(ga.loss);
      expect(Array.from(gb.rows)).toEqual(Array.from(ga.rows));
      for (const k of ['W1', 'b1', 'W2', 'b2', 'E'] as const) expect(sameBits(gb[k], ga[k]), `grad ${k}`).toBe(true);
      js.dispose();
      w.dispose();
    });
  }

  it('resumes either way: a checkpoint of one path continues bit-identically on the other', async () => {
    const { params, items, batches } = setup(5);
    const js = new CpuTrainer(params, OPT);
    const full = await train(js, items, batches);
    const first = new CpuTrainer(params, OPT, await createBagArena({ vocabSize: 300, dim: 24, hidden: 13, needE: true }));
    await train(first, items, batches.slice(0, 12));
    const mid = await first.checkpoint();
    const second = new CpuTrainer(mid, OPT);
    const rest = await train(second, items, batches.slice(12));
    expect(rest.losses).toEqual(full.losses.slice(12));
    expect(sameBits(rest.ck.params.E, full.ck.params.E)).toBe(true);
    const back = await cpuBackend.createTrainer(mid, OPT);
    const rest2 = await train(back as CpuTrainer, items, batches.slice(12));
    expect(rest2.losses).toEqual(full.losses.slice(12));
    expect(sameBits(rest2.ck.params.W1, full.ck.params.W1)).toBe(true);
  });

  it('the backend uses an arena when the kernels load, and bad token ids fail as on the JS path', async () => {
    const { params, items } = setup(9);
    const t = (await cpuBackend.createTrainer(params, OPT)) as CpuTrainer;
    expect((t as unknown as { arena: unknown }).arena).not.toBeNull();
    const bad: EncodedItems = { ...items, responseIds: items.responseIds.slice() };
    bad.responseIds[bad.responseOffsets[2]] = 300;
    const batch: PairBatch = { chosen: Int32Array.of(2), rejected: Int32Array.of(3), weight: Float32Array.of(1) };
    expect(() => t.stepSync(bad, batch)).toThrow(/token id 300 is outside the embedding table \(300 rows\)/);
    expect(() => new CpuTrainer(params, OPT).stepSync(bad, batch)).toThrow(/token id 300 is outside the embedding table \(300 rows\)/);
    expect(() => t.stepSync(items, { chosen: Int32Array.of(40), rejected: Int32Array.of(0), weight: Float32Array.of(1) })).toThrow(/item index 40 is outside 0..39/);
    t.dispose();
  });

  it('scoring reserves no table-gradient rows; a step reserves at most one per distinct token (capped by the vocabulary)', async () => {
    const { params, items, batches } = setup(11);
    const arena = (await createBagArena({ vocabSize: 300, dim: 24, hidden: 13, needE: true }))!;
    const t = new CpuTrainer(params, OPT, arena);
    await t.score(items, Int32Array.from({ length: 600 }, (_, i) => i % 40));
    expect(arena.capacity.G).toBe(0);
    expect(arena.capacity.T).toBeGreaterThan(300);
    t.stepSync(items, batches[2]);
    expect(arena.capacity.G).toBeGreaterThan(0);
    expect(arena.capacity.G).toBeLessThanOrEqual(300);
    t.dispose();
  });

  it('a missing kernel file leaves the JS path with the reason', async () => {
    disableBagWasm();
    expect(await enableBagWasm({ dir: '/nonexistent-dir' })).toMatch(/bag RM matmuls: JS \(wasm kernels: .*missing/);
    expect(bagWasm()).toBeNull();
    disableBagWasm();
  });
});

// Data-parallel USE-lite training (data-parallel.ts): with 1 or 2 peers a run gives the one-thread losses within
// float rounding (1e-5 relative), the same trained weights within rounding, and scores that are the same bits as a
// one-thread trainer's at the same weights; peers that dropped their caches are re-sent what they need; a failing
// peer fails the step with its name. The last case runs a real worker-thread peer on the wasm kernels.
import { describe, expect, it } from 'vitest';
import { jsMatOps } from '../../../gpu/matops.ts';
import { createWasmMatOps } from '../../../gpu/wasm/matops.ts';
import { Rng } from '../../rng.ts';
import type { OptimizerConfig, PairBatch } from '../types.ts';
import { inProcessPeer, PeerState, type GradPeer, type PeerRequest } from './data-parallel.ts';
import { startUseLitePeers } from './data-parallel.node.ts';
import type { TuneMode } from './spec.ts';
import { jointLength } from './tokenizer.ts';
import { UseLiteCpuTrainer, useLiteRM, type UseLiteRM } from './train.ts';
import { randomPairBatch, randomUseItems, randomUseLiteParams, TINY_CONFIG } from './train-testing.ts';

const OPT: OptimizerConfig = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: true };

function setup(tune: TuneMode, seed: number) {
  const rng = new Rng(seed);
  const params = randomUseLiteParams(TINY_CONFIG, seed + 100);
  const items = randomUseItems(rng, 40);
  const init = useLiteRM(params, tune, { rank: 2, alpha: 4 }, 5);
  const batches = Array.from({ length: 6 }, (_, s) => randomPairBatch(rng, items.count, [8, 5, 1, 8, 3, 8][s]));
  return { params, items, init, batches };
}

/**
 * The same RM on copies of every tensor: frozen outputs (embeddings, layer-0 outputs) are cached per frozen-tensor
 * identity, so a reference trainer on copies computes its own instead of reading the data-parallel trainer's.
 */
function copied(rm: UseLiteRM): UseLiteRM {
  const tensors = Object.fromEntries(Object.entries(rm.model.tensors).map(([k, v]) => [k, v.slice()]));
  return { ...rm, model: { config: rm.model.config, tensors } };
}

function trainedOf(rm: UseLiteRM): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = { 'head.w': rm.model.tensors['head.w'] };
  if (rm.tune === 'top') out['L1.ff1.W'] = rm.model.tensors['L1.ff1.W'];
  if (rm.lora) for (const k of Object.keys(rm.lora.A)) Object.assign(out, { [`${k}.A`]: rm.lora.A[k], [`${k}.B`]: rm.lora.B[k] });
  return out;
}

function expectClose(a: Float32Array, b: Float32Array, rel: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i])));
  expect(worst, what).toBeLessThan(rel);
}

describe('data-parallel USE-lite trainer', () => {
  for (const tune of ['lora', 'top', 'head'] as TuneMode[]) {
    for (const nPeers of [1, 2]) {
      it(`tune ${tune}, ${nPeers} peer(s): the one-thread losses within 1e-5 relative, scores the same bits`, async () => {
        const { items, init, batches } = setup(tune, 11 + nPeers);
        const peers = Array.from({ length: nPeers }, (_, i) => inProcessPeer(jsMatOps, `p${i + 1}`));
        const one = new UseLiteCpuTrainer(copied(init), OPT, { microBatch: 4, scoreBatch: 6 });
        const dp = new UseLiteCpuTrainer(init, OPT, { microBatch: 4, scoreBatch: 6, peers });
        for (const b of batches) {
          const l1 = (await one.step(items, b)).loss;
          const l2 = (await dp.step(items, b)).loss;
          expect(Math.abs(l2 - l1)).toBeLessThanOrEqual(1e-5 * Math.abs(l1));
          expect(l1).toBeGreaterThan(0);
        }
        const a = trainedOf(one.snapshot());
        const b = trainedOf(dp.snapshot());
        for (const k of Object.keys(a)) expectClose(b[k], a[k], 1e-4, k);
        // Scores at the data-parallel trainer's weights: a one-thread trainer from its checkpoint gives the same bits.
        const ck = await dp.checkpoint();
        const ref = new UseLiteCpuTrainer({ ...ck, params: copied(ck.params) }, OPT, { scoreBatch: 5 }); // other chunks: a forward does not depend on its chunk
        const idx = Int32Array.from({ length: items.count }, (_, i) => (i * 7) % items.count);
        const s2 = await dp.score(items, idx);
        expect(Array.from(s2)).toEqual(Array.from(await ref.score(items, idx)));
        expect(new Set(s2).size).toBeGreaterThan(items.count / 2);
      });
    }
  }

  it('a disposed trainer releases its trainer on the peers', async () => {
    const { items, init, batches } = setup('lora', 6);
    const state = new PeerState(jsMatOps);
    const peer = inProcessPeer(jsMatOps, 'p', state);
    const a = new UseLiteCpuTrainer(init, OPT, { microBatch: 4, peers: [peer] });
    const b = new UseLiteCpuTrainer(init, OPT, { microBatch: 4, peers: [peer] });
    await a.step(items, batches[0]);
    await b.step(items, batches[0]);
    expect(state.trainerCount).toBe(2);
    a.dispose();
    expect(state.trainerCount).toBe(1);
    b.dispose();
    b.dispose();
    expect(state.trainerCount).toBe(0);
  });

  it('a peer that dropped the frozen tensors or items answers "miss" and the trainer sends them again', async () => {
    const { items, init, batches } = setup('lora', 3);
    const state = new PeerState(jsMatOps);
    const seen: string[] = [];
    let forget = false;
    const peer: GradPeer = {
      name: 'forgetful',
      async request(req) {
        // Simulates a peer that evicted its caches: strips what the trainer believes it already sent.
        const r = forget ? { ...structuredClone(req), items: undefined, tensors: {} } : structuredClone(req);
        const reply = forget ? new PeerState(jsMatOps).handle(r) : state.handle(r);
        seen.push(reply.kind);
        if (reply.kind === 'miss') forget = false;
        return structuredClone(reply);
      },
      dispose() {},
    };
    const one = new UseLiteCpuTrainer(init, OPT, { microBatch: 4 });
    const dp = new UseLiteCpuTrainer(init, OPT, { microBatch: 4, peers: [peer] });
    for (const b of batches.slice(0, 3)) {
      forget = b === batches[1];
      const l1 = (await one.step(items, b)).loss;
      expect(Math.abs((await dp.step(items, b)).loss - l1)).toBeLessThanOrEqual(1e-5 * l1);
    }
    expect(seen).toEqual(['grads', 'miss', 'grads']);
    // The batch of 1 pair (batches[2]) runs on this thread alone: no request.
    expect(batches[2].chosen.length).toBe(1);
  });

  it('each thread gets a contiguous share of the batch with about the same number of tokens', async () => {
    const { items, init, batches } = setup('lora', 5);
    const inner = inProcessPeer(jsMatOps);
    const shares: Int32Array[] = [];
    const peer: GradPeer = {
      name: 'recording',
      request(req) {
        if (req.task.kind === 'grads') shares.push(req.task.ranges.slice());
        return inner.request(req);
      },
      dispose() {},
    };
    const dp = new UseLiteCpuTrainer(init, OPT, { microBatch: 2, peers: [peer] });
    const tokens = (b: PairBatch, i: number) => jointLength(items, b.chosen[i], TINY_CONFIG.maxLen) + jointLength(items, b.rejected[i], TINY_CONFIG.maxLen);
    for (const b of batches.filter((x) => x.chosen.length >= 5)) {
      await dp.step(items, b);
      const r = shares.pop()!;
      // Contiguous to the end of the batch, in micro-batches of <= 2 pairs.
      for (let q = 0; q < r.length; q += 2) {
        expect(r[q + 1]).toBeLessThanOrEqual(2);
        if (q > 0) expect(r[q]).toBe(r[q - 2] + r[q - 1]);
      }
      const from = r[0];
      expect(r[r.length - 2] + r[r.length - 1]).toBe(b.chosen.length);
      let own = 0;
      let theirs = 0;
      let most = 0;
      for (let i = 0; i < b.chosen.length; i++) {
        if (i < from) own += tokens(b, i);
        else theirs += tokens(b, i);
        most = Math.max(most, tokens(b, i));
      }
      expect(Math.abs(own - theirs)).toBeLessThanOrEqual(most);
    }
  });

  it('a peer request without the frozen tensors is a "miss", a failing peer fails the step with its name', async () => {
    const { items, init, batches } = setup('lora', 4);
    const req: PeerRequest = {
      trainer: { key: 'x', config: TINY_CONFIG, tune: 'lora', loraConfig: { rank: 2, alpha: 4 }, seed: 0, sepId: 1775, microBatch: 4, scoreBatch: 4, cacheBytes: 0 },
      frozen: { E: 12345 },
      tensors: {},
      itemsKey: 1,
      items,
      trained: {},
      task: { kind: 'encode', idx: Int32Array.of(0), want: 'scores' },
    };
    expect(new PeerState(jsMatOps).handle(req)).toEqual({ kind: 'miss', what: 'frozen tensors' });
    expect(new PeerState(jsMatOps).handle({ ...req, items: undefined })).toEqual({ kind: 'miss', what: 'item set 1' });
    const broken: GradPeer = { name: 'broken', request: async () => ({ kind: 'error', message: 'out of memory' }), dispose() {} };
    const dp = new UseLiteCpuTrainer(init, OPT, { microBatch: 4, peers: [broken] });
    await expect(dp.step(items, batches[0])).rejects.toThrow(/peer broken: out of memory/);
    // A slow peer first, the failing one second: the failure is reported (not left as an unhandled rejection while
    // the first is awaited), for a step and for scoring.
    const inner = inProcessPeer(jsMatOps);
    const slow: GradPeer = { name: 'slow', request: (r) => new Promise((res) => setTimeout(() => res(inner.request(r)), 50)), dispose() {} };
    const dp2 = new UseLiteCpuTrainer(init, OPT, { microBatch: 2, peers: [slow, broken] });
    await expect(dp2.step(items, batches[0])).rejects.toThrow(/peer broken: out of memory/);
    await expect(dp2.score(items)).rejects.toThrow(/peer broken: out of memory/);
  });

  it('a worker-thread peer on the wasm kernels gives the one-thread losses and the same score bits', async () => {
    const { items, init, batches } = setup('lora', 21);
    const ops = await createWasmMatOps({ threads: 1 });
    const peers = await startUseLitePeers(1);
    try {
      const one = new UseLiteCpuTrainer(copied(init), OPT, { ops, microBatch: 4, scoreBatch: 6 });
      const dp = new UseLiteCpuTrainer(init, OPT, { ops, microBatch: 4, scoreBatch: 6, peers });
      for (const b of batches) {
        const l1 = (await one.step(items, b)).loss;
        expect(Math.abs((await dp.step(items, b)).loss - l1)).toBeLessThanOrEqual(1e-5 * l1);
      }
      const ck = await dp.checkpoint();
      const ref = new UseLiteCpuTrainer({ ...ck, params: copied(ck.params) }, OPT, { ops, scoreBatch: 5 });
      expect(Array.from(await dp.score(items))).toEqual(Array.from(await ref.score(items)));
      // Released on the worker; a new trainer on the same peer works (its frozen tensors are re-sent if dropped).
      dp.dispose();
      const again = new UseLiteCpuTrainer(init, OPT, { ops, microBatch: 4, peers });
      expect(Number.isFinite((await again.step(items, batches[0])).loss)).toBe(true);
    } finally {
      for (const p of peers) p.dispose();
      ops.dispose();
    }
  });
});

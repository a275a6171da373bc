// Shared setup of the parity tests: a bag RM (V=500, D=100, H=64), items with 0-40 tokens (repeats and empty
// lists included) and 30 batches of B=8 weighted pairs, all from fixed seeds.
import { initBagRM } from '../../src/pipeline/rm/bag.ts';
import type { BagRMConfig, BagRMParams, EncodedItems, OptimizerConfig, PairBatch } from '../../src/pipeline/rm/types.ts';
import { rng } from './runner.ts';

export interface ParitySetup {
  params: BagRMParams;
  items: EncodedItems;
  batches: PairBatch[];
  opt: OptimizerConfig;
}

function tokenLists(r: () => number, count: number, vocab: number, maxLen: number) {
  const offsets = new Int32Array(count + 1);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const len = i % 9 === 4 ? 0 : Math.floor(r() * (maxLen + 1));
    for (let t = 0; t < len; t++) {
      const repeat = t > 0 && r() < 0.25;
      // Skewed ids (a few frequent "words") so rows recur across batches and rowStep differs per row.
      ids.push(repeat ? ids[ids.length - 1 - Math.floor(r() * t)] : Math.floor(vocab * r() * r()));
    }
    offsets[i + 1] = ids.length;
  }
  return { offsets, ids: Int32Array.from(ids) };
}

export function paritySetup(opts: { steps?: number; B?: number; freezeEmbeddings?: boolean; hidden?: number; dim?: number; seed?: number } = {}): ParitySetup {
  const seed = opts.seed ?? 2024;
  const r = rng(seed);
  const cfg: BagRMConfig = { vocabSize: 500, dim: opts.dim ?? 100, hidden: opts.hidden ?? 64, maxPromptTokens: 40, maxResponseTokens: 40 };
  const E = new Float32Array(cfg.vocabSize * cfg.dim);
  for (let i = 0; i < E.length; i++) E[i] = (r() * 2 - 1) * 0.5;
  const params = initBagRM(E, cfg, seed + 1);
  const count = 120;
  const p = tokenLists(r, count, cfg.vocabSize, 40);
  const q = tokenLists(r, count, cfg.vocabSize, 40);
  const items: EncodedItems = { count, promptOffsets: p.offsets, promptIds: p.ids, responseOffsets: q.offsets, responseIds: q.ids };
  const B = opts.B ?? 8;
  const batches: PairBatch[] = [];
  for (let s = 0; s < (opts.steps ?? 30); s++) {
    const chosen = new Int32Array(B);
    const rejected = new Int32Array(B);
    const weight = new Float32Array(B);
    for (let i = 0; i < B; i++) {
      chosen[i] = Math.floor(r() * count);
      rejected[i] = Math.floor(r() * count);
      weight[i] = i % 5 === 3 ? 0 : 0.25 + 1.5 * r();
    }
    batches.push({ chosen, rejected, weight });
  }
  const opt: OptimizerConfig = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: opts.freezeEmbeddings ?? false };
  return { params, items, batches, opt };
}

/** Max |a - b| and max |a - b| / max(|b|, floor) over two arrays. */
export function maxDiff(a: Float32Array, b: Float32Array, floor = 1e-3): { abs: number; rel: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let abs = 0;
  let rel = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(b[i]), floor));
  }
  return { abs, rel };
}

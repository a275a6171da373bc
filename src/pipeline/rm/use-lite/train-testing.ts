// Test helpers for the USE-lite trainer: a tiny config of the spec and seeded random weights for it (no model
// files needed), so gradient checks and trainer tests run in milliseconds.
import { Rng } from '../../rng.ts';
import type { EncodedItems } from '../types.ts';
export { randomPairBatch } from '../testing.ts';
import { attentionShape, tensorSpecs, tensorSize, type UseLiteConfig, type UseLiteParams } from './spec.ts';

/**
 * Same structure as USE-lite, tiny widths. maxPositions = embedDim / 2 timescales, as in the real model (128 = 256 / 2).
 * The vocabulary reaches past the joint-sequence separator (USE_SEP_ID 1775), so items build real joint sequences.
 */
export const TINY_CONFIG: UseLiteConfig = {
  vocabSize: 1800,
  embedDim: 16,
  modelDim: 24,
  ffnDim: 32,
  heads: 2,
  maxPositions: 8,
  maxLen: 8,
  lnEps: 1e-6,
};

/** t2t timing-signal inverse timescales (min 1, max 1e4) for n timescales. */
export function timescales(n: number): Float32Array {
  const inc = Math.log(1e4) / Math.max(n - 1, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.exp(-i * inc));
}

/** Seeded random weights of the right scale (activations stay O(1)); layer norm gains near 1. */
export function randomUseLiteParams(c: UseLiteConfig, seed: number): UseLiteParams {
  const rng = new Rng(seed);
  const tensors: Record<string, Float32Array> = {};
  for (const t of tensorSpecs(c)) {
    const a = new Float32Array(tensorSize(t));
    const n = t.name;
    if (n === 'timescales') a.set(timescales(a.length));
    else if (n.endsWith('qScale')) a[0] = 1 / Math.sqrt(attentionShape(c, n.startsWith('L0') ? 0 : 1).headDim);
    else if (n === 'head.w') for (let i = 0; i < a.length; i++) a[i] = rng.normal();
    else if (n.endsWith('.g')) for (let i = 0; i < a.length; i++) a[i] = 1 + 0.2 * rng.normal();
    else if (t.shape.length === 2) {
      const std = n === 'E' ? 0.5 : 1 / Math.sqrt(t.shape[0]);
      for (let i = 0; i < a.length; i++) a[i] = std * rng.normal();
    } else for (let i = 0; i < a.length; i++) a[i] = 0.1 * rng.normal();
    tensors[n] = a;
  }
  return { config: c, tensors };
}

/**
 * Seeded random items of config `c`: item 0 is the separator alone (empty prompt and response), item 1 has a prompt
 * longer than maxLen (the joint sequence is cut), the others 0-3 prompt and 1-4 response tokens; ids from `minId`.
 */
export function randomUseItems(rng: Rng, n: number, c: UseLiteConfig = TINY_CONFIG, minId = 6): EncodedItems {
  const promptOffsets = new Int32Array(n + 1);
  const responseOffsets = new Int32Array(n + 1);
  const p: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < n; i++) {
    const lp = i === 0 ? 0 : i === 1 ? c.maxLen + 1 : rng.int(4);
    const lr = i === 0 ? 0 : 1 + rng.int(4);
    for (let t = 0; t < lp; t++) p.push(minId + rng.int(c.vocabSize - minId));
    for (let t = 0; t < lr; t++) r.push(minId + rng.int(c.vocabSize - minId));
    promptOffsets[i + 1] = p.length;
    responseOffsets[i + 1] = r.length;
  }
  return { count: n, promptOffsets, promptIds: Int32Array.from(p), responseOffsets, responseIds: Int32Array.from(r) };
}


// Test helpers shared by the reward models' trainer tests (bag RM and USE-lite): seeded random pair batches.
import type { Rng } from '../rng.ts';
import type { PairBatch } from './types.ts';

/** A seeded batch of B pairs over n items (chosen != rejected), weights in [0.25, 2.25). */
export function randomPairBatch(rng: Rng, n: number, B: number): PairBatch {
  const chosen = new Int32Array(B);
  const rejected = new Int32Array(B);
  const weight = new Float32Array(B);
  for (let i = 0; i < B; i++) {
    chosen[i] = rng.int(n);
    rejected[i] = (chosen[i] + 1 + rng.int(n - 1)) % n;
    weight[i] = 0.25 + rng.next() * 2;
  }
  return { chosen, rejected, weight };
}

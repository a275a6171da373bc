// The sampler: greedy, top-k, top-p (nucleus), temperature, raw log-probabilities and seeded determinism.
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import { logSoftmax, sampleLogits } from './sampling.ts';
import { resolveSampling } from './types.ts';

// probabilities 0.5, 0.25, 0.15, 0.1
const logits = [Math.log(0.5), Math.log(0.25), Math.log(0.15), Math.log(0.1)];

function counts(opts: { temperature: number; topK: number; topP: number }, n = 4000, seed = 1): number[] {
  const rng = new Rng(seed);
  const c = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) c[sampleLogits(logits, 0, 4, opts, rng).index]++;
  return c.map((x) => x / n);
}

describe('sampleLogits', () => {
  it('temperature 0 is greedy and the logprob is the raw log-softmax', () => {
    const r = sampleLogits(logits, 0, 4, { temperature: 0, topK: 0, topP: 1 }, new Rng(0));
    expect(r.index).toBe(0);
    expect(r.logprob).toBeCloseTo(Math.log(0.5), 12);
  });

  it('plain sampling follows the probabilities', () => {
    const c = counts({ temperature: 1, topK: 0, topP: 1 });
    [0.5, 0.25, 0.15, 0.1].forEach((p, i) => expect(Math.abs(c[i] - p)).toBeLessThan(0.03));
  });

  it('top-k keeps the k most likely tokens, renormalised', () => {
    const c = counts({ temperature: 1, topK: 2, topP: 1 });
    expect(c[2] + c[3]).toBe(0);
    expect(Math.abs(c[0] - 2 / 3)).toBeLessThan(0.03);
  });

  it('top-p keeps the smallest prefix reaching p', () => {
    // cumulative 0.5, 0.75, 0.9: p = 0.7 keeps {0, 1}; p = 0.5 keeps {0}.
    const c = counts({ temperature: 1, topK: 0, topP: 0.7 });
    expect(c[2] + c[3]).toBe(0);
    expect(counts({ temperature: 1, topK: 0, topP: 0.5 })[0]).toBe(1);
  });

  it('temperature sharpens (< 1) and flattens (> 1); logprobs stay at temperature 1', () => {
    expect(counts({ temperature: 0.3, topK: 0, topP: 1 })[0]).toBeGreaterThan(0.85);
    expect(counts({ temperature: 5, topK: 0, topP: 1 })[0]).toBeLessThan(0.35);
    const lp = logSoftmax(logits);
    const r = sampleLogits(logits, 0, 4, { temperature: 5, topK: 0, topP: 1 }, new Rng(3));
    expect(r.logprob).toBeCloseTo(lp[r.index], 12);
  });

  it('same seed, same draws; works on an offset row', () => {
    const row = [9, 9, ...logits, 9];
    const a = counts({ temperature: 1, topK: 3, topP: 0.95 }, 200, 7);
    const b = counts({ temperature: 1, topK: 3, topP: 0.95 }, 200, 7);
    expect(a).toEqual(b);
    const r1 = sampleLogits(row, 2, 4, { temperature: 1, topK: 0, topP: 1 }, new Rng(5));
    const r2 = sampleLogits(logits, 0, 4, { temperature: 1, topK: 0, topP: 1 }, new Rng(5));
    expect(r1).toEqual(r2);
  });

  it('resolveSampling validates and names the field', () => {
    expect(resolveSampling({}).maxTokens).toBe(64);
    expect(() => resolveSampling({ topP: 0 })).toThrow(/topP/);
    expect(() => resolveSampling({ maxTokens: 0 })).toThrow(/maxTokens/);
    expect(() => resolveSampling({ temperature: -1 })).toThrow(/temperature/);
  });
});

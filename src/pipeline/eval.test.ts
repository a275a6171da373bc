import { describe, expect, it } from 'vitest';
import { accuracyTable, efficiencyEntry, macroAverage, pairAccuracy, pairsToReach, pct } from './eval.ts';

describe('pair accuracy', () => {
  it('counts strict wins; ties are wrong', () => {
    const s = [1, 0, 0.5, 0.5];
    // (0>1) right, (1>0) wrong, (2 vs 3) tie -> wrong
    expect(pairAccuracy(s, [0, 1, 2], [1, 0, 3])).toBeCloseTo(1 / 3, 12);
  });
  it('is NaN without pairs', () => {
    expect(pairAccuracy([1], [], [])).toBeNaN();
  });
});

describe('averages and tables', () => {
  it('macro average skips undefined values', () => {
    expect(macroAverage([0.5, Number.NaN, 0.7])).toBeCloseTo(0.6, 12);
    expect(macroAverage([Number.NaN])).toBeNaN();
  });
  it('pct rounds to 2 decimals and maps NaN to null', () => {
    expect(pct(0.123456)).toBe(12.35);
    expect(pct(Number.NaN)).toBeNull();
  });
  it('builds {country: {method: %}, avg}', () => {
    const acc: Record<string, Record<string, number>> = { A: { start: 0.5, scpo: 0.6 }, B: { start: 0.7, scpo: 0.9 } };
    const t = accuracyTable(['A', 'B'], ['start', 'scpo'], (c, m) => acc[c][m]);
    expect(t).toEqual({ A: { start: 50, scpo: 60 }, B: { start: 70, scpo: 90 }, avg: { start: 60, scpo: 75 } });
  });
});

describe('data efficiency', () => {
  const curve = [
    { pairs: 100, accuracy: 0.6 },
    { pairs: 200, accuracy: 0.64 },
    { pairs: 400, accuracy: 0.7 },
    { pairs: 800, accuracy: 0.72 },
  ];
  it('interpolates the pairs full_ft needs', () => {
    expect(pairsToReach(curve, 0.67)).toBeCloseTo(300, 9);
    expect(pairsToReach(curve, 0.5)).toBe(100);
    expect(pairsToReach(curve, 0.8)).toBeNull();
  });
  it('ratio = needed / scpo pairs', () => {
    const e = efficiencyEntry(curve, { pairs: 150, accuracy: 0.67 });
    expect(e.fullFtPairsForScpoAccuracy).toBeCloseTo(300, 9);
    expect(e.ratio).toBeCloseTo(2, 9);
    expect(efficiencyEntry(curve, { pairs: 150, accuracy: 0.9 }).ratio).toBeNull();
  });
});

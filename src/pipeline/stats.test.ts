// Statistics over seeds against values from statistical tables (t quantiles; p-values checked by numeric
// integration of the t density) and hand computation.
import { describe, expect, it } from 'vitest';
import { pairedComparison, regIncBeta, summarize, tQuantile, tTwoSidedP } from './stats.ts';

describe('Student t', () => {
  it('quantiles match the tables', () => {
    expect(tQuantile(0.975, 1)).toBeCloseTo(12.706205, 5);
    expect(tQuantile(0.975, 4)).toBeCloseTo(2.776445, 5);
    expect(tQuantile(0.975, 9)).toBeCloseTo(2.262157, 5);
    expect(tQuantile(0.975, 1000)).toBeCloseTo(1.962339, 4);
    expect(tQuantile(0.95, 4)).toBeCloseTo(2.131847, 5);
  });
  it('two-sided p-values match the tables', () => {
    expect(tTwoSidedP(2.776445, 4)).toBeCloseTo(0.05, 6);
    expect(tTwoSidedP(1, 4)).toBeCloseTo(0.373901, 5);
    expect(tTwoSidedP(0, 4)).toBeCloseTo(1, 12);
    expect(regIncBeta(0.5, 2, 2)).toBeCloseTo(0.5, 12);
    expect(regIncBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
  });
});

describe('summarize and pairedComparison', () => {
  it('gives mean, sample sd and the t interval', () => {
    // 1..5: mean 3, sd sqrt(2.5), half-width 2.776445 * sqrt(2.5) / sqrt(5).
    const s = summarize([1, 2, 3, 4, 5, Number.NaN]);
    expect(s.n).toBe(5);
    expect(s.mean).toBe(3);
    expect(s.sd).toBeCloseTo(Math.sqrt(2.5), 12);
    expect(s.ci95[0]).toBeCloseTo(3 - 2.776445 * Math.sqrt(0.5), 5);
    expect(s.ci95[1]).toBeCloseTo(3 + 2.776445 * Math.sqrt(0.5), 5);
    expect(Number.isNaN(summarize([7]).sd)).toBe(true);
  });
  it('pairs seeds: differences, t, p, wins', () => {
    // a - b = [1, 2, 3, 0, -1]: mean 1, sd sqrt(2.5), t = 1 / (sqrt(2.5)/sqrt(5)) = sqrt(2) = 1.41421.
    const c = pairedComparison([11, 12, 13, 10, 9], [10, 10, 10, 10, 10]);
    expect(c.meanDiff).toBe(1);
    expect(c.t).toBeCloseTo(Math.SQRT2, 12);
    expect(c.p).toBeCloseTo(0.2302, 4);
    expect([c.wins, c.losses, c.ties]).toEqual([3, 1, 1]);
    expect(() => pairedComparison([1], [1, 2])).toThrow(RangeError);
  });
});

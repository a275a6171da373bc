// Tests of pair construction (ties, margins, dedup) and of split/stats assembly.
import { describe, expect, it } from 'vitest';
import { finalizeData, ItemTable, turnPairs, type Scored } from './pairs.ts';

const s = (item: number, score: number): Scored => ({ item, score });

describe('turnPairs', () => {
  it('makes 6 pairs from a 4-response opening turn, higher score chosen', () => {
    const { pairs, ties } = turnPairs([s(0, 10), s(1, 40), s(2, 30), s(3, 20)]);
    expect(ties).toBe(0);
    expect(pairs).toHaveLength(6);
    for (const p of pairs) expect(p.chosen.score).toBeGreaterThan(p.rejected.score);
    const keys = pairs.map((p) => `${p.chosen.item}>${p.rejected.item}`).sort();
    expect(keys).toEqual(['1>0', '1>2', '1>3', '2>0', '2>3', '3>0']);
  });

  it('drops and counts ties (6 pairs minus ties)', () => {
    const { pairs, ties } = turnPairs([s(0, 50), s(1, 50), s(2, 50), s(3, 90)]);
    expect(ties).toBe(3);
    expect(pairs).toHaveLength(3);
    expect(pairs.every((p) => p.chosen.item === 3)).toBe(true);
  });

  it('handles 2-response turns and single responses', () => {
    expect(turnPairs([s(0, 20), s(1, 80)]).pairs).toEqual([{ chosen: s(1, 80), rejected: s(0, 20) }]);
    expect(turnPairs([s(0, 20), s(1, 20)])).toEqual({ pairs: [], ties: 1, identical: 0 });
    expect(turnPairs([s(0, 20)])).toEqual({ pairs: [], ties: 0, identical: 0 });
    expect(turnPairs([])).toEqual({ pairs: [], ties: 0, identical: 0 });
  });

  it('applies a margin inclusively despite float error, and keeps and counts identical texts as the reference does', () => {
    // 0.30 - 0.25 is 0.04999999999999999 in floating point.
    const withMargin = turnPairs([s(0, 0.3), s(1, 0.25), s(2, 0.27)], 0.05);
    expect(withMargin.pairs.map((p) => [p.chosen.item, p.rejected.item])).toEqual([[0, 1]]);
    expect(withMargin.ties).toBe(2);
    // Same text, different scores: a pair (no model can rank it right, so it counts as wrong in accuracy).
    expect(turnPairs([s(5, 10), s(5, 90)])).toEqual({ pairs: [{ chosen: s(5, 90), rejected: s(5, 10) }], ties: 0, identical: 1 });
    // Same text, same score: a tie like any other.
    expect(turnPairs([s(5, 10), s(5, 10)])).toEqual({ pairs: [], ties: 1, identical: 0 });
  });
});

describe('ItemTable', () => {
  it('deduplicates (prompt, response) and keeps prompt/response boundaries apart', () => {
    const t = new ItemTable();
    expect(t.intern('p', 'r')).toBe(0);
    expect(t.intern('p', 'r2')).toBe(1);
    expect(t.intern('p', 'r')).toBe(0);
    expect(t.intern('ab', 'c')).not.toBe(t.intern('a', 'bc'));
    expect(t.items).toHaveLength(4);
  });
});

describe('finalizeData', () => {
  it('assigns one split per group and counts users/pairs per country', () => {
    const raw = [];
    for (let u = 0; u < 40; u++) {
      for (let k = 0; k < 3; k++) {
        raw.push({ chosen: 0, rejected: 1, country: u % 2 ? 'A' : '__proto__', group: `u${u}`, key: `i${u}`, scoreChosen: 2, scoreRejected: 1 });
      }
    }
    const data = finalizeData({
      format: 'prism',
      source: 't',
      items: [],
      pairs: raw,
      tiesDropped: 0,
      issues: { count: 0, byReason: {}, examples: [] },
      splitRule: 'stratified',
      seed: 1,
      testFraction: 0.15,
      splitScope: 'country',
    });
    const byGroup = new Map<string, Set<string>>();
    for (const p of data.pairs) byGroup.set(p.group, (byGroup.get(p.group) ?? new Set()).add(p.split));
    expect([...byGroup.values()].every((set) => set.size === 1)).toBe(true);
    expect(Object.keys(data.countries)).toEqual(['A', '__proto__']);
    expect(Object.getPrototypeOf(data.countries)).toBe(Object.prototype);
    for (const c of Object.values(data.countries)) {
      expect(c.users).toBe(20);
      expect(c.pairs).toBe(60);
      expect(c.testPairs).toBe(9); // round(20 * 0.15) = 3 users x 3 pairs
      expect(c.trainPairs + c.testPairs).toBe(c.pairs);
    }
  });
});

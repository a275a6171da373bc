// Tests of the seeded RNG and of the stratified, order-independent group split.
import { describe, expect, it } from 'vitest';
import { hashSeed, Rng } from '../rng.ts';
import { splitGroups, testCount, validationGroups } from './split.ts';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('int stays in range and covers it; shuffle is a permutation', () => {
    const r = new Rng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.int(7);
      expect(Number.isInteger(v) && v >= 0 && v < 7).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(7);
    const arr = Array.from({ length: 50 }, (_v, i) => i);
    const shuffled = r.shuffle([...arr]);
    expect(shuffled).not.toEqual(arr);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(arr);
    expect(() => r.int(0)).toThrow(RangeError);
  });

  it('normal() has mean ~0 and std ~1', () => {
    const r = new Rng(3);
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = r.normal();
      s += x;
      s2 += x * x;
    }
    const mean = s / n;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(Math.sqrt(s2 / n - mean * mean) - 1)).toBeLessThan(0.03);
  });

  it('hashSeed separates part boundaries and types', () => {
    expect(hashSeed('ab', 'c')).not.toBe(hashSeed('a', 'bc'));
    expect(hashSeed(1)).not.toBe(hashSeed('1'));
    expect(hashSeed(0, 'split', 'Chile')).toBe(hashSeed(0, 'split', 'Chile'));
  });
});

describe('testCount', () => {
  it('keeps at least one group on each side when possible', () => {
    expect(testCount(0, 0.15)).toBe(0);
    expect(testCount(1, 0.15)).toBe(0);
    expect(testCount(2, 0.15)).toBe(1);
    expect(testCount(3, 0.15)).toBe(1);
    expect(testCount(100, 0.15)).toBe(15);
    expect(testCount(386, 0.15)).toBe(58);
    expect(testCount(10, 0)).toBe(0);
    expect(testCount(10, 1)).toBe(10);
    expect(testCount(2, 0.99)).toBe(1);
  });
});

function users(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_v, i) => `${prefix}${i}`);
}

describe('splitGroups', () => {
  const groups = { 'United States': users('us', 386), Chile: users('cl', 65), Canada: users('ca', 54), Tiny: ['t0'] };

  it('is stratified: every country gets ~15% test users', () => {
    const split = splitGroups(groups, 0);
    for (const [country, ids] of Object.entries(groups)) {
      const nTest = ids.filter((id) => split.get(id) === 'test').length;
      expect(nTest, country).toBe(testCount(ids.length, 0.15));
    }
    expect(split.size).toBe(386 + 65 + 54 + 1);
    expect(split.get('t0')).toBe('train');
  });

  it('is reproducible and independent of id order, of Map vs object, and of other countries', () => {
    const a = splitGroups(groups, 5);
    const reversed = new Map(Object.entries(groups).reverse().map(([c, ids]) => [c, [...ids].reverse()] as [string, string[]]));
    const b = splitGroups(reversed, 5);
    expect([...b.entries()].sort()).toEqual([...a.entries()].sort());
    const onlyChile = splitGroups({ Chile: [...groups.Chile, 'cl0', 'cl1'] }, 5);
    for (const id of groups.Chile) expect(onlyChile.get(id)).toBe(a.get(id));
  });

  it('changes with the seed and honours testFraction', () => {
    const a = splitGroups(groups, 1);
    const b = splitGroups(groups, 2);
    const differ = groups['United States'].filter((id) => a.get(id) !== b.get(id)).length;
    expect(differ).toBeGreaterThan(20);
    const half = splitGroups(groups, 1, 0.5);
    expect(groups.Chile.filter((id) => half.get(id) === 'test').length).toBe(33);
    expect(() => splitGroups(groups, 1, 1.5)).toThrow(RangeError);
  });
});

describe('validationGroups', () => {
  const pairs: { country: string; group: string; split: 'train' | 'test' }[] = [];
  for (let u = 0; u < 200; u++) {
    const country = u < 150 ? 'Big' : 'Small';
    for (let k = 0; k < 2; k++) pairs.push({ country, group: `u${u}`, split: u % 7 === 0 ? 'test' : 'train' });
  }
  const trainGroups = (c: string) => new Set(pairs.filter((p) => p.country === c && p.split === 'train').map((p) => p.group));

  it('holds out ~10% of each country\'s train users, never a test user, seeded', () => {
    const v = validationGroups(pairs, 'stratified', 0, 0.1);
    for (const c of ['Big', 'Small']) {
      const train = trainGroups(c);
      const inC = [...v].filter((g) => train.has(g)).length;
      expect(inC).toBe(Math.round(train.size * 0.1));
    }
    for (const p of pairs) if (p.split === 'test') expect(v.has(p.group)).toBe(false);
    expect([...validationGroups(pairs, 'stratified', 0, 0.1)]).toEqual([...v]);
    expect([...validationGroups(pairs, 'stratified', 1, 0.1)].sort()).not.toEqual([...v].sort());
    // Row order does not matter.
    expect([...validationGroups([...pairs].reverse(), 'stratified', 0, 0.1)].sort()).toEqual([...v].sort());
    expect(validationGroups(pairs, 'stratified', 0, 0).size).toBe(0);
  });

  it('draws from all train users pooled under the reference split', () => {
    const v = validationGroups(pairs, 'reference', 0, 0.1);
    const all = new Set([...trainGroups('Big'), ...trainGroups('Small')]);
    expect(v.size).toBe(Math.round(all.size * 0.1));
    expect([...v].every((g) => all.has(g))).toBe(true);
  });
});

// Seeded, stratified train/test split of groups (PRISM users, GOQA questions) within each country.
import { hashSeed, Rng } from '../rng.ts';
import type { Split } from '../types.ts';

export const DEFAULT_TEST_FRACTION = 0.15;

/** How many of n groups go to test: ~fraction, but at least one on each side whenever n >= 2 and 0 < fraction < 1. */
export function testCount(n: number, fraction: number): number {
  if (n <= 1 || fraction <= 0) return fraction >= 1 ? n : 0;
  if (fraction >= 1) return n;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

/**
 * Assigns every group a split, country by country, so each country gets ~testFraction of its groups in test.
 * Ids are sorted before a per-country seeded shuffle: the result depends only on (seed, country, set of ids),
 * not on file row order nor on which other countries are present.
 * Group ids are expected to be unique across countries (a PRISM user lives in one country); if one is listed under
 * several countries, the alphabetically first country decides.
 */
export function splitGroups(
  groupsByCountry: ReadonlyMap<string, Iterable<string>> | Readonly<Record<string, Iterable<string>>>,
  seed: number,
  testFraction: number = DEFAULT_TEST_FRACTION,
): Map<string, Split> {
  if (!(testFraction >= 0 && testFraction <= 1)) throw new RangeError(`testFraction must be in [0, 1], got ${testFraction}`);
  const entries: [string, Iterable<string>][] =
    groupsByCountry instanceof Map ? [...groupsByCountry.entries()] : Object.entries(groupsByCountry);
  entries.sort((a, b) => cmp(a[0], b[0]));
  const out = new Map<string, Split>();
  for (const [country, groups] of entries) {
    const ids = [...new Set(groups)].filter((g) => !out.has(g)).sort(cmp);
    new Rng(hashSeed(seed, 'split', country)).shuffle(ids);
    const nTest = testCount(ids.length, testFraction);
    ids.forEach((id, i) => out.set(id, i < nTest ? 'test' : 'train'));
  }
  return out;
}

/** Code-unit order, identical in every JS engine (localeCompare is not). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

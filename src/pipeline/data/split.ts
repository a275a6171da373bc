// Seeded, stratified train/test split of groups (PRISM users, GOQA questions) within each country.
import { hashSeed, Rng } from '../rng.ts';
import type { Split, SplitRule } from '../types.ts';

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

export const DEFAULT_VAL_FRACTION = 0.1;

/**
 * The validation groups: ~`fraction` of the train groups (users; GOQA questions), drawn like the test split: within
 * each country for a 'stratified' split, from all train groups pooled for a 'reference' split (GOQA's questions are
 * always pooled, so a validation question is held out in every country, as a test question is). Seeded by
 * (seed, 'val', scope) after sorting ids. Validation pairs are never trained on; sweeps and any early stopping
 * choose on them, so the test set only reports the final choice. A scope with a single train group keeps it.
 */
export function validationGroups(
  pairs: readonly { country: string; group: string; split: Split }[],
  rule: SplitRule,
  seed: number,
  fraction: number = DEFAULT_VAL_FRACTION,
): Set<string> {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  const byScope = new Map<string, Set<string>>();
  for (const p of pairs) {
    if (p.split !== 'train') continue;
    const scope = rule === 'reference' ? '*' : p.country;
    let s = byScope.get(scope);
    if (!s) byScope.set(scope, (s = new Set()));
    s.add(p.group);
  }
  const out = new Set<string>();
  for (const scope of [...byScope.keys()].sort(cmp)) {
    const ids = [...(byScope.get(scope) ?? [])].filter((g) => !out.has(g)).sort(cmp);
    new Rng(hashSeed(seed, 'val', scope)).shuffle(ids);
    const n = testCount(ids.length, fraction);
    for (let i = 0; i < n; i++) out.add(ids[i]);
  }
  return out;
}

/** Code-unit order, identical in every JS engine (localeCompare is not). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Pair construction shared by the loaders: item interning, all-pairs-within-a-turn, split assignment, country stats.
import type { CountryStats, DataFormat, DataIssueReport, Item, Pair, PreferenceData, SplitRule } from '../types.ts';
import { splitGroups } from './split.ts';

export interface Scored {
  item: number;
  score: number;
}

/** A pair before the split is known. */
export type UnsplitPair = Omit<Pair, 'split'>;

/** Deduplicates (prompt, response) so the RM scores each text once however many pairs use it. */
export class ItemTable {
  readonly items: Item[] = [];
  private readonly index = new Map<string, number>();

  intern(prompt: string, response: string): number {
    // NUL cannot occur in either text's role as a separator of real content, so the key is unambiguous.
    const key = `${prompt}\u0000${response}`;
    let id = this.index.get(key);
    if (id === undefined) {
      id = this.items.length;
      this.items.push({ prompt, response });
      this.index.set(key, id);
    }
    return id;
  }
}

/**
 * Every two responses of one turn (i < j), higher score chosen. Pairs whose scores differ by less than `margin`
 * (or are equal) are dropped and counted as ties. Two rows with the same text but different scores are kept as a
 * pair, as in the reference code: their margin is always 0, so they count as wrong in accuracy and give no
 * gradient; `identical` counts them so reports can say how many there are.
 */
export function turnPairs(
  responses: readonly Scored[],
  margin = 0,
): { pairs: { chosen: Scored; rejected: Scored }[]; ties: number; identical: number } {
  const pairs: { chosen: Scored; rejected: Scored }[] = [];
  let ties = 0;
  let identical = 0;
  for (let i = 0; i < responses.length; i++) {
    for (let j = i + 1; j < responses.length; j++) {
      const a = responses[i];
      const b = responses[j];
      const diff = a.score - b.score;
      // The epsilon keeps 0.30 vs 0.25 (a float difference of 0.04999...) on the intended side of a 0.05 margin.
      if (diff === 0 || Math.abs(diff) < margin - 1e-9) {
        ties++;
        continue;
      }
      if (a.item === b.item) identical++;
      pairs.push(diff > 0 ? { chosen: a, rejected: b } : { chosen: b, rejected: a });
    }
  }
  return { pairs, ties, identical };
}

export interface FinalizeArgs {
  format: DataFormat;
  source: string;
  items: Item[];
  pairs: UnsplitPair[];
  tiesDropped: number;
  issues: DataIssueReport;
  seed: number;
  testFraction: number;
  /** GOQA splits questions once for all countries; PRISM splits users within each country unless 'reference'. */
  splitScope: 'country' | 'global';
  /** Recorded in PreferenceData.split (GOQA: 'reference', its questions are pooled). */
  splitRule: SplitRule;
}

export function finalizeData(a: FinalizeArgs): PreferenceData {
  const groupsByCountry = new Map<string, Set<string>>();
  for (const p of a.pairs) {
    const scope = a.splitScope === 'global' ? '*' : p.country;
    let set = groupsByCountry.get(scope);
    if (!set) groupsByCountry.set(scope, (set = new Set()));
    set.add(p.group);
  }
  const splits = splitGroups(groupsByCountry, a.seed, a.testFraction);
  // A Map, not an object, while counting: a country named "__proto__" in user data must stay plain data.
  const countries = new Map<string, CountryStats>();
  const usersSeen = new Map<string, Set<string>>();
  const pairs: Pair[] = a.pairs.map((p) => {
    const split = splits.get(p.group) ?? 'train';
    let stats = countries.get(p.country);
    let seen = usersSeen.get(p.country);
    if (!stats || !seen) {
      stats = { users: 0, pairs: 0, trainPairs: 0, testPairs: 0 };
      seen = new Set();
      countries.set(p.country, stats);
      usersSeen.set(p.country, seen);
    }
    if (!seen.has(p.group)) {
      seen.add(p.group);
      stats.users++;
    }
    stats.pairs++;
    if (split === 'test') stats.testPairs++;
    else stats.trainPairs++;
    return { ...p, split };
  });
  // Alphabetical keys so reports do not depend on file order; fromEntries defines own properties only (a country
  // "__proto__" is an own key; readers use dict.ts own()).
  const sorted: Record<string, CountryStats> = Object.fromEntries([...countries.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)));
  return {
    format: a.format,
    source: a.source,
    items: a.items,
    pairs,
    countries: sorted,
    tiesDropped: a.tiesDropped,
    identicalTextPairs: pairs.reduce((n, p) => n + (p.chosen === p.rejected ? 1 : 0), 0),
    split: { rule: a.splitRule, seed: a.seed, testFraction: a.testFraction },
    issues: a.issues,
  };
}

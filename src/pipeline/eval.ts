// Evaluation: pair accuracy (ties count as wrong), macro averages, report tables in the reference code's
// JSON shapes, the bias split and the data-efficiency comparison. Fractions inside, percentages at the edge.
import type { Method } from './types.ts';
import { dict } from './dict.ts';

/** Fraction of pairs whose chosen item scores strictly above the rejected one (ties are wrong). NaN if none. */
export function pairAccuracy(
  itemScores: ArrayLike<number>,
  chosen: ArrayLike<number>,
  rejected: ArrayLike<number>,
): number {
  const n = chosen.length;
  if (n === 0) return Number.NaN;
  let right = 0;
  for (let i = 0; i < n; i++) if (itemScores[chosen[i]] > itemScores[rejected[i]]) right++;
  return right / n;
}

/** Mean over the finite values; NaN when there are none (a country without an edited test set, say). */
export function macroAverage(values: readonly number[]): number {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n === 0 ? Number.NaN : s / n;
}

/** Percent with two decimals, or null for "not defined" (JSON has no NaN). */
export function pct(fraction: number): number | null {
  return Number.isFinite(fraction) ? Math.round(fraction * 10000) / 100 : null;
}

export type AccuracyTable = Record<string, Partial<Record<Method, number | null>>>;

/**
 * `{country: {method: accuracy %}, avg: {method: accuracy %}}`, like the reference code's
 * full_report.json / partial_report.json. `acc[country][method]` are fractions.
 */
export function accuracyTable(
  countries: readonly string[],
  methods: readonly Method[],
  acc: (country: string, method: Method) => number,
): AccuracyTable {
  const table: AccuracyTable = dict();
  for (const c of countries) {
    table[c] = {};
    for (const m of methods) table[c][m] = pct(acc(c, m));
  }
  table.avg = {};
  for (const m of methods) table.avg[m] = pct(macroAverage(countries.map((c) => acc(c, m))));
  return table;
}

export interface EfficiencyPoint {
  pairs: number;
  accuracy: number;
}

export interface EfficiencyEntry {
  /** full_ft accuracy (fraction) vs number of training pairs, increasing in pairs. */
  fullFt: EfficiencyPoint[];
  scpo: EfficiencyPoint;
  /** Training pairs full_ft needs to reach scpo's accuracy (linear interpolation); null if it never does. */
  fullFtPairsForScpoAccuracy: number | null;
  /** fullFtPairsForScpoAccuracy / scpo pairs; > 1 means SCPO is more data-efficient. */
  ratio: number | null;
}

/** Pairs full_ft needs to reach `target` accuracy on its curve, interpolating linearly between points. */
export function pairsToReach(curve: readonly EfficiencyPoint[], target: number): number | null {
  const pts = [...curve].sort((a, b) => a.pairs - b.pairs);
  for (let i = 0; i < pts.length; i++) {
    if (pts[i].accuracy >= target) {
      if (i === 0) return pts[0].pairs;
      const a = pts[i - 1];
      const b = pts[i];
      const t = (target - a.accuracy) / (b.accuracy - a.accuracy);
      return a.pairs + t * (b.pairs - a.pairs);
    }
  }
  return null;
}

export function efficiencyEntry(fullFt: EfficiencyPoint[], scpo: EfficiencyPoint): EfficiencyEntry {
  const need = pairsToReach(fullFt, scpo.accuracy);
  return {
    fullFt: [...fullFt].sort((a, b) => a.pairs - b.pairs),
    scpo,
    fullFtPairsForScpoAccuracy: need,
    ratio: need === null || scpo.pairs === 0 ? null : need / scpo.pairs,
  };
}

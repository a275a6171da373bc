// What the results view shows of a `--seeds` report (seeds_report.json): mean ± sd and the 95% interval per
// (country, method) for the full and the edited test sets, the macro average per method as bars with error bars,
// and the paired comparisons in plain words. Pure, so the mapping is unit-tested (seeds.test.ts).
import type { SeedsReport } from '../../pipeline/seeds.ts';
import type { Method } from '../../pipeline/types.ts';
import { METHODS } from '../../pipeline/types.ts';

export type SeedsSet = 'full' | 'partial';

export interface SeedsCell {
  mean: number;
  sd: number;
  lo: number;
  hi: number;
  n: number;
}

export interface SeedsRow {
  row: string;
  cells: Partial<Record<Method, SeedsCell | null>>;
}

/** The methods present in the report, in the studio's order. */
export function seedsMethods(rep: SeedsReport): Method[] {
  const seen = new Set<string>();
  for (const byM of Object.values(rep.full)) for (const m of Object.keys(byM)) seen.add(m);
  return METHODS.filter((m) => seen.has(m));
}

/** One row per country then 'avg' (the macro average); a cell is null when no seed has a value. */
export function seedsRows(rep: SeedsReport, set: SeedsSet): SeedsRow[] {
  const methods = seedsMethods(rep);
  return Object.entries(rep[set]).map(([row, byM]) => ({
    row,
    cells: Object.fromEntries(
      methods.map((m) => {
        const s = byM[m];
        return [m, s && s.n > 0 && Number.isFinite(s.mean) ? { mean: s.mean, sd: s.sd, lo: s.ci95[0], hi: s.ci95[1], n: s.n } : null];
      }),
    ),
  }));
}

export interface MacroBar {
  method: Method;
  mean: number;
  /**
   * recharts ErrorBar's [below, above] the bar: the 95% interval around the mean (0 when undefined, one seed), cut
   * at 0 and 100% so that a wide interval (few seeds: t(0.975, 1) = 12.7) stays inside the 0-100 axis.
   */
  err: [number, number];
  sd: number;
  lo: number;
  hi: number;
}

/** The macro average ('avg' row) per method with its 95% interval as error bars. */
export function macroBars(rep: SeedsReport, set: SeedsSet): MacroBar[] {
  const avg = rep[set].avg ?? {};
  const out: MacroBar[] = [];
  for (const m of seedsMethods(rep)) {
    const s = avg[m];
    if (!s || s.n === 0 || !Number.isFinite(s.mean)) continue;
    const [lo, hi] = s.ci95;
    const ok = Number.isFinite(lo) && Number.isFinite(hi);
    out.push({ method: m, mean: s.mean, sd: s.sd, lo, hi, err: ok ? [s.mean - Math.max(0, lo), Math.min(100, hi) - s.mean] : [0, 0] });
  }
  return out;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

/** "73.8 ± 3.0" (sd omitted with one seed). */
export function cellText(c: SeedsCell | null | undefined): string {
  if (!c) return '–';
  return Number.isFinite(c.sd) ? `${f1(c.mean)} ± ${f1(c.sd)}` : f1(c.mean);
}

/** "[70.1, 77.5]" or '' when the interval is undefined (one seed). */
export function intervalText(c: SeedsCell | null | undefined): string {
  return c && Number.isFinite(c.lo) && Number.isFinite(c.hi) ? `[${f1(c.lo)}, ${f1(c.hi)}]` : '';
}

/** The paired comparisons (scpo vs full_ft, scpo vs start) on the macro average, as sentences. */
export function pairedSentences(rep: SeedsReport, set: SeedsSet): string[] {
  const setName = set === 'full' ? 'full' : 'edited';
  return Object.entries(rep.paired).map(([k, c]) => {
    const [a, b] = k.split('_vs_');
    const p = c[set];
    const dir = !Number.isFinite(p.meanDiff) ? 'is not comparable with' : p.meanDiff > 0 ? 'beats' : p.meanDiff < 0 ? 'trails' : 'ties';
    const by = Number.isFinite(p.meanDiff) && p.meanDiff !== 0 ? ` by ${f2(Math.abs(p.meanDiff))} points` : '';
    const ci = Number.isFinite(p.ci95[0]) ? `, 95% interval of the difference [${f2(p.ci95[0])}, ${f2(p.ci95[1])}]` : '';
    const pv = Number.isFinite(p.p) ? `, p = ${p.p.toFixed(3)}` : '';
    return `On the ${setName} test set, ${a} ${dir} ${b}${by} on the macro average (paired over ${p.n} seeds${ci}${pv}); it wins in ${p.wins} of ${p.n} seeds.`;
  });
}

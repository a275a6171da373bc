// Results over several seeds (`--seeds 0,1,2,3,4`): each seed is a whole run (its own split, validation users,
// batches and efficiency subsets); seeds_report.json summarizes the accuracy tables per (country, method) and for
// the macro average (mean, sd, 95% interval) and compares scpo with full_ft and with start seed by seed (paired).
import type { AccuracyTable } from './eval.ts';
import type { ExperimentResult } from './experiment.ts';
import { pairedComparison, summarize } from './stats.ts';
import type { PairedComparison, Summary } from './stats.ts';
import type { Method } from './types.ts';

export type SummaryTable = Record<string, Partial<Record<Method, Summary>>>;

export interface SeedsReport {
  seeds: number[];
  /** Accuracy % over seeds, same rows as full_report.json ('avg' = macro average over countries). */
  full: SummaryTable;
  partial: SummaryTable;
  validation: SummaryTable;
  /** Pooled edited ratios (%) over seeds. */
  editedRatios: { train: Summary; test: Summary };
  /**
   * Paired over seeds on the macro average (percentage points), a then b: `${a}_vs_${b}` for scpo vs full_ft and
   * scpo vs start, on the full and the edited test set.
   */
  paired: Record<string, { full: PairedComparison; partial: PairedComparison }>;
}

/** Per (row, method) summary of one table over the seeds' results (null cells are skipped). */
function summarizeTables(tables: readonly AccuracyTable[], rows: readonly string[], methods: readonly Method[]): SummaryTable {
  const out: SummaryTable = {};
  for (const r of rows) {
    out[r] = {};
    for (const m of methods) out[r][m] = summarize(tables.map((t) => t[r]?.[m] ?? Number.NaN));
  }
  return out;
}

export const PAIRED: readonly (readonly [Method, Method])[] = [
  ['scpo', 'full_ft'],
  ['scpo', 'start'],
];

/** The seeds report of finished runs that differ only in their seed (same countries and methods). */
export function seedsReport(results: readonly ExperimentResult[]): SeedsReport {
  if (results.length === 0) throw new Error('seedsReport: no results');
  const { countries, methods } = results[0].config;
  const rows = [...countries, 'avg'];
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? Number.NaN : x * 100);
  const paired: SeedsReport['paired'] = {};
  for (const [a, b] of PAIRED) {
    if (!methods.includes(a) || !methods.includes(b)) continue;
    const col = (t: 'full' | 'partial', m: Method) => results.map((r) => r.reports[t].avg?.[m] ?? Number.NaN);
    paired[`${a}_vs_${b}`] = {
      full: pairedComparison(col('full', a), col('full', b)),
      partial: pairedComparison(col('partial', a), col('partial', b)),
    };
  }
  return {
    seeds: results.map((r) => r.config.seed),
    full: summarizeTables(results.map((r) => r.reports.full), rows, methods),
    partial: summarizeTables(results.map((r) => r.reports.partial), rows, methods),
    validation: summarizeTables(results.map((r) => r.reports.validation), rows, methods),
    editedRatios: {
      train: summarize(results.map((r) => pct(r.reports.editedRatios.train.avg))),
      test: summarize(results.map((r) => pct(r.reports.editedRatios.test.avg))),
    },
    paired,
  };
}

/** The readable table of a seeds report: mean +- sd per country and method, then the paired comparisons. */
export function formatSeedsTable(rep: SeedsReport, methods: readonly Method[]): string {
  const rows = Object.keys(rep.full);
  const w0 = Math.max(8, ...rows.map((r) => r.length));
  const cell = (s: Summary | undefined) =>
    s && s.n > 0 ? `${s.mean.toFixed(1)} ± ${Number.isFinite(s.sd) ? s.sd.toFixed(1) : '-'}` : '-';
  const lines = [`${'country'.padEnd(w0)}  ${methods.map((m) => m.padStart(12)).join(' ')}`];
  for (const r of rows) lines.push(`${r.padEnd(w0)}  ${methods.map((m) => cell(rep.full[r][m]).padStart(12)).join(' ')}`);
  lines.push(`accuracy % on the full test set, mean ± sd over seeds ${rep.seeds.join(', ')}`);
  for (const [k, c] of Object.entries(rep.paired)) {
    const f = c.full;
    lines.push(
      `${k.replace('_vs_', ' vs ')} (macro, paired over ${f.n} seeds): ${f.meanDiff >= 0 ? '+' : ''}${f.meanDiff.toFixed(2)} points, ` +
        `95% CI [${f.ci95[0].toFixed(2)}, ${f.ci95[1].toFixed(2)}], p = ${Number.isFinite(f.p) ? f.p.toFixed(3) : '-'}, ` +
        `wins ${f.wins}/${f.n}`,
    );
  }
  return lines.join('\n');
}

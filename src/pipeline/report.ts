// The report files of a run (the CLI's --out folder and the studio's export share them) and the text table.
import type { ExperimentResult } from './experiment.ts';
import type { Method, PreferenceData } from './types.ts';
import { dict, own } from './dict.ts';

export const APP_VERSION = '0.1.0';

export interface RunInfo {
  data: Pick<PreferenceData, 'format' | 'source' | 'tiesDropped' | 'identicalTextPairs' | 'split' | 'countries' | 'issues'> & {
    items: number;
    pairs: number;
  };
  globalRm: string;
  versions: Record<string, string>;
  /** The reward model kind and its provenance (e.g. USE-lite: encoder source, global-head training data/split/steps). */
  rm?: Record<string, unknown>;
}

export function summarizeData(data: PreferenceData): RunInfo['data'] {
  return {
    format: data.format,
    source: data.source,
    items: data.items.length,
    pairs: data.pairs.length,
    tiesDropped: data.tiesDropped,
    identicalTextPairs: data.identicalTextPairs,
    split: data.split,
    countries: data.countries,
    issues: data.issues,
  };
}

/** file name -> JSON text: full_report, partial_report, validation_report, edited_ratios, bias_report, efficiency, run. */
export function reportFiles(result: ExperimentResult, info: RunInfo): Record<string, string> {
  const j = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  const counts: Record<string, { train: number; val: number; kept: number; test: number; edited: number }> = dict();
  for (const [c, s] of Object.entries(result.sets)) {
    counts[c] = { train: s.train.length, val: s.val.length, kept: s.kept, test: s.test.length, edited: s.edited };
  }
  return {
    'full_report.json': j(result.reports.full),
    'partial_report.json': j(result.reports.partial),
    'validation_report.json': j(result.reports.validation),
    'edited_ratios.json': j(result.reports.editedRatios),
    'bias_report.json': j(result.reports.bias),
    'efficiency.json': j(result.reports.efficiency),
    'run.json': j({
      app: 'scpo-studio',
      version: APP_VERSION,
      versions: info.versions,
      config: result.config,
      seed: result.config.seed,
      backend: result.backend,
      globalRm: info.globalRm,
      ...(info.rm ? { rm: info.rm } : {}),
      // What the global RM was trained on and how many of this run's test / validation users it saw (0, or the
      // run would have refused); null overlaps: the model records no provenance, so it could not be checked.
      globalRmTraining: result.globalRm ?? null,
      data: info.data,
      counts,
      runs: result.runs.map((r) => ({
        country: r.country,
        method: r.method,
        trainPairs: r.trainPairs,
        steps: r.steps,
        accFull: r.accFull,
        accEdited: r.accEdited,
        accMajority: r.accMajority,
        accVal: r.accVal,
        finalLoss: r.losses.length ? r.losses[r.losses.length - 1] : null,
        ms: r.ms,
      })),
      timings: result.timings,
    }),
  };
}

/**
 * One CSV cell. Anything with a separator, quote or newline is quoted. A text cell starting with = + - @ or a tab /
 * carriage return is prefixed with ' so spreadsheets show it as text instead of running it as a formula: country
 * names and ids come from user data (OWASP "CSV injection"). Numbers are written as they are.
 */
export function csvCell(v: string | number | null): string {
  if (v === null || (typeof v === 'number' && !Number.isFinite(v))) return '';
  const s = String(v);
  const safe = typeof v === 'string' && /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(rows: (string | number | null)[][]): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

/** CSV of the accuracy tables: country, method, full %, edited %, majority %. The CLI and the studio write it. */
export function reportCsv(result: ExperimentResult): string {
  const f = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(2) : null);
  const rows: (string | number | null)[][] = [['country', 'method', 'full_acc', 'edited_acc', 'majority_acc', 'val_acc', 'train_pairs']];
  for (const r of result.runs) rows.push([r.country, r.method, f(r.accFull), f(r.accEdited), f(r.accMajority), f(r.accVal), r.trainPairs]);
  return toCsv(rows);
}

function cell(v: number | null | undefined, width: number): string {
  return (v === null || v === undefined ? '-' : v.toFixed(1)).padStart(width);
}

/** The readable table the CLI prints: full-test accuracy %, edited in parentheses, per country and method. */
export function formatTable(result: ExperimentResult): string {
  const methods = result.config.methods as Method[];
  const rows = [...result.config.countries, 'avg'];
  const w0 = Math.max(8, ...rows.map((r) => r.length));
  const lines: string[] = [];
  lines.push(`${'country'.padEnd(w0)}  ${methods.map((m) => m.padStart(15)).join(' ')}`);
  for (const c of rows) {
    const full = own(result.reports.full, c) ?? {};
    const part = own(result.reports.partial, c) ?? {};
    lines.push(
      `${c.padEnd(w0)}  ${methods.map((m) => `${cell(full[m], 6)} (${cell(part[m], 5)})`.padStart(15)).join(' ')}`,
    );
  }
  lines.push('accuracy % on the full test set (edited test set in parentheses)');
  const er = result.reports.editedRatios;
  const p = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
  lines.push(
    `edited ratios (pooled over countries, as the reference): train kept ${p(er.train.avg)}, test edited ${p(er.test.avg)}; ` +
      `mean of the per-country ratios: ${p(er.macro?.train)}, ${p(er.macro?.test)}`,
  );
  const eff = result.reports.efficiency;
  const n = Object.keys(eff.countries).length;
  if (n > 0) {
    const never = eff.neverReached.length;
    lines.push(
      `data efficiency: full_ft never reaches scpo's accuracy in ${never}/${n} countries` +
        (eff.avgRatio !== null ? `; where it does, it needs ${eff.avgRatio.toFixed(2)}x scpo's pairs (avg of ${n - never})` : ''),
    );
  }
  return lines.join('\n');
}

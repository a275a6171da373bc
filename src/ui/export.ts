// Export and import: the CLI's report files (JSON shapes = ExperimentResult.reports fields), a results CSV, the
// run config, a self-contained run bundle that the studio can import again, and chart SVG/PNG snapshots.
import { resolveConfig } from '../pipeline/experiment.ts';
import type { ExperimentResult, RunResult } from '../pipeline/experiment.ts';
import { APP_VERSION, reportCsv, reportFiles as cliReportFiles, toCsv } from '../pipeline/report.ts';
import type { RunInfo } from '../pipeline/report.ts';
import type { Item, Pair } from '../pipeline/types.ts';
import { z } from 'zod';
import { describeIssues, itemsSchema, pairsSchema, resultSchema, summarySchema } from './bundle-schema.ts';
import type { DataSummary } from '../workers/protocol.ts';

export interface ExportFile {
  name: string;
  mime: string;
  text: string;
}

/** JSON with typed arrays as plain arrays and NaN/Infinity as null (JSON has neither). */
export function toJson(v: unknown, indent = 2): string {
  return JSON.stringify(
    v,
    (_k, x: unknown) => {
      if (x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array) {
        return Array.from(x, (n) => (Number.isFinite(n) ? n : null));
      }
      if (typeof x === 'number' && !Number.isFinite(x)) return null;
      return x;
    },
    indent,
  );
}

/** The CSV writer of the reports (formula-neutralising), shared with the CLI. */
export { toCsv } from '../pipeline/report.ts';

const pct = (f: number) => (Number.isFinite(f) ? Math.round(f * 10000) / 100 : null);

/** One row per (country, method): accuracies in percent and deltas vs start, like the report tables. */
export function resultsCsv(result: ExperimentResult): string {
  const header = ['country', 'method', 'acc_full', 'acc_edited', 'delta_full_vs_start', 'delta_edited_vs_start', 'acc_majority', 'train_pairs', 'steps', 'ms'];
  const rows: (string | number | null)[][] = [header];
  for (const c of result.config.countries) {
    const start = result.runs.find((r) => r.country === c && r.method === 'start');
    for (const m of result.config.methods) {
      const r = result.runs.find((x) => x.country === c && x.method === m);
      if (!r) continue;
      const d = (a: number, b: number | undefined) => (b === undefined || pct(a) === null || pct(b) === null ? null : Math.round(((pct(a) as number) - (pct(b) as number)) * 100) / 100);
      rows.push([c, m, pct(r.accFull), pct(r.accEdited), d(r.accFull, start?.accFull), d(r.accEdited, start?.accEdited), pct(r.accMajority), r.trainPairs, r.steps, r.ms]);
    }
  }
  return toCsv(rows);
}

/**
 * The CLI's files (pipeline/report.ts, so both write the same shapes) plus the studio's results table as CSV.
 * `summary` describes the data in run.json; without it (an imported run) the counts come from the result.
 */
export function reportFiles(result: ExperimentResult, summary: DataSummary | null, globalRm: string): ExportFile[] {
  const data: RunInfo['data'] = summary ?? {
    format: 'prism',
    source: result.source,
    items: 0,
    pairs: result.rPlus.length,
    tiesDropped: 0,
    identicalTextPairs: 0,
    split: { rule: 'stratified', seed: result.config.seed, testFraction: 0.15 },
    countries: {},
    issues: { count: 0, byReason: {}, examples: [] },
  };
  const files = cliReportFiles(result, { data, globalRm, versions: { app: APP_VERSION } });
  return [
    ...Object.entries(files).map(([name, text]) => ({ name, mime: 'application/json', text })),
    { name: 'report.csv', mime: 'text/csv', text: reportCsv(result) },
    { name: 'results_table.csv', mime: 'text/csv', text: resultsCsv(result) },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Run bundle: everything needed to view a run again (import), including the pairs for the inspector.

export const BUNDLE_FORMAT = 'scpo-studio-run';
export const BUNDLE_VERSION = 1;

export interface RunBundle {
  result: ExperimentResult;
  summary: DataSummary | null;
  items: Item[] | null;
  pairs: Pair[] | null;
  savedAt: string;
}

export function bundleJson(b: RunBundle): string {
  return toJson({ format: BUNDLE_FORMAT, version: BUNDLE_VERSION, ...b }, 0);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `schema` applied to `v`, or an Error naming the first problems by path (bundle-schema.ts). */
function checked<S extends z.ZodType>(schema: S, v: unknown, what: string): z.output<S> {
  const r = schema.safeParse(v);
  if (!r.success) throw new Error(`not a valid run: ${describeIssues(what, r.error)}`);
  return r.data;
}

/**
 * Reads a run bundle back into typed values, validated against bundle-schema.ts: a file with a wrong shape is
 * rejected with the path of its first problems (never shown half-read). Throws Error with a short reason; never
 * evaluates anything from the file.
 */
export function parseBundle(text: string): RunBundle {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isRecord(v)) throw new Error('not a saved run (expected an object)');
  if (v.format !== BUNDLE_FORMAT) throw new Error(`not a saved studio run (format is ${JSON.stringify(v.format ?? null)}; export one with "run bundle")`);
  if (typeof v.version !== 'number' || v.version > BUNDLE_VERSION) throw new Error(`unsupported run version ${String(v.version)}`);
  const r = v.result;
  if (!isRecord(r) || !isRecord(r.reports) || !isRecord(r.config) || !Array.isArray(r.runs)) {
    throw new Error('the run has no result (config, runs, reports)');
  }
  // The config through the form's own validation (its messages name the setting).
  const config = resolveConfig(r.config as Parameters<typeof resolveConfig>[0]);
  const rest = checked(resultSchema, r, 'result');
  const result: ExperimentResult = { config, ...rest };
  const summary: DataSummary | null = v.summary === null || v.summary === undefined ? null : checked(summarySchema, v.summary, 'summary');
  let items: Item[] | null = null;
  let pairs: Pair[] | null = null;
  if (Array.isArray(v.items) && Array.isArray(v.pairs)) {
    items = checked(itemsSchema, v.items, 'items');
    const ps = checked(pairsSchema, v.pairs, 'pairs');
    const n = items.length;
    const bad = ps.findIndex((p) => p.chosen >= n || p.rejected >= n);
    if (bad >= 0) throw new Error(`not a valid run: pairs.${bad}: chosen/rejected must index items (${n} items)`);
    pairs = ps;
  }
  // Every run's country must be one of the config's (the views index runs by the config's countries).
  const stray = result.runs.find((x) => !config.countries.includes(x.country));
  if (stray) throw new Error(`not a valid run: result.runs has country ${JSON.stringify(stray.country)}, which is not in its config`);
  return { result, summary, items, pairs, savedAt: typeof v.savedAt === 'string' ? v.savedAt : '' };
}

// ---------------------------------------------------------------------------------------------------------------
// Browser helpers

export function download(name: string, data: Blob | string, mime = 'application/octet-stream'): void {
  const blob = typeof data === 'string' ? new Blob([data], { type: mime }) : data;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoke later: Chromium reads the blob asynchronously after the click.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

function svgText(x: number, y: number, text: string, fill: string, size: number, weight = 'normal'): SVGTextElement {
  const t = document.createElementNS(SVG_NS, 'text');
  t.setAttribute('x', String(x));
  t.setAttribute('y', String(y));
  t.setAttribute('fill', fill);
  t.setAttribute('font-size', String(size));
  t.setAttribute('font-weight', weight);
  t.textContent = text;
  return t;
}

/**
 * The chart as a self-contained SVG: the plot surface (not a legend icon), plus the title and the legend, which
 * recharts renders as HTML, redrawn as SVG text so the file reads on its own.
 */
export function chartSvg(container: Element, background: string, title = '', fg = '#1f2933'): string | null {
  const surfaces = [...container.querySelectorAll('svg.recharts-surface')];
  const area = (e: Element) => {
    const r = e.getBoundingClientRect();
    return r.width * r.height;
  };
  const svg = surfaces.sort((a, b) => area(b) - area(a))[0];
  if (!svg) return null;
  const { width, height } = svg.getBoundingClientRect();
  const w = Math.round(width);
  const top = title ? 22 : 0;
  const legend = [...container.querySelectorAll('.recharts-legend-item')].map((item) => {
    const icon = item.querySelector('path, rect, line');
    const fill = icon?.getAttribute('fill');
    const color = fill && fill !== 'none' ? fill : (icon?.getAttribute('stroke') ?? fg);
    return { text: item.textContent?.trim() ?? '', color };
  });
  // Lay the legend out in rows by an estimated text width (no layout engine outside the page).
  const rows: { text: string; color: string; x: number }[][] = [[]];
  let x = 8;
  for (const l of legend) {
    const lw = 18 + l.text.length * 6.4 + 12;
    if (x + lw > w - 8 && rows[rows.length - 1].length > 0) {
      rows.push([]);
      x = 8;
    }
    rows[rows.length - 1].push({ ...l, x });
    x += lw;
  }
  // Where recharts drew its HTML legend (inside the plot's box, at the bottom), else below the plot.
  const svgTop = svg.getBoundingClientRect().top;
  const legendBox = container.querySelector('.recharts-legend-wrapper')?.getBoundingClientRect();
  const legendY = legendBox ? Math.round(legendBox.top - svgTop) : Math.round(height);
  const legendH = legend.length ? rows.length * 16 + 6 : 0;
  const h = Math.max(Math.round(height), legendY + legendH) + top;

  const out = document.createElementNS(SVG_NS, 'svg');
  out.setAttribute('xmlns', SVG_NS);
  out.setAttribute('width', String(w));
  out.setAttribute('height', String(h));
  out.setAttribute('viewBox', `0 0 ${w} ${h}`);
  out.setAttribute('font-family', 'system-ui, sans-serif');
  out.setAttribute('font-size', '12');
  const bg = document.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', background);
  out.appendChild(bg);
  if (title) out.appendChild(svgText(8, 15, title, fg, 13, '600'));
  const plot = svg.cloneNode(true) as SVGSVGElement;
  plot.setAttribute('x', '0');
  plot.setAttribute('y', String(top));
  plot.setAttribute('width', String(w));
  plot.setAttribute('height', String(Math.round(height)));
  plot.removeAttribute('style');
  out.appendChild(plot);
  rows.forEach((row, k) => {
    const y = top + legendY + 12 + k * 16;
    for (const item of row) {
      const sw = document.createElementNS(SVG_NS, 'rect');
      sw.setAttribute('x', String(item.x));
      sw.setAttribute('y', String(y - 9));
      sw.setAttribute('width', '12');
      sw.setAttribute('height', '8');
      sw.setAttribute('fill', item.color);
      out.appendChild(sw);
      out.appendChild(svgText(item.x + 16, y, item.text, fg, 11));
    }
  });
  return new XMLSerializer().serializeToString(out);
}

export async function svgToPng(svgText: string, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svgText], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error('the chart image could not be rendered'));
      img.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(img.width * scale));
    canvas.height = Math.max(1, Math.round(img.height * scale));
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2d canvas');
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0);
    return await new Promise<Blob>((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}

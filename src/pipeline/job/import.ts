// Reading a report folder back into an ExperimentResult: the PyTorch job's output (run.json, the report files and
// job_result.json with curves, margins, sets and global scores) or a CLI --out folder (reports only). The
// studio's "Import run" shows the result like a browser run, with where it came from (`provenance`).
// Errors name the file and the field; nothing in the files is evaluated.
import { resolveConfig } from '../experiment.ts';
import type { ExperimentResult, LivePoint, Reports, RunResult } from '../experiment.ts';
import type { RunInfo } from '../report.ts';
import type { SeedsReport, SummaryTable } from '../seeds.ts';
import type { PairedComparison, Summary } from '../stats.ts';
import { ConfigError, METHODS } from '../types.ts';
import type { Method } from '../types.ts';

export const REPORT_FILES = {
  full: 'full_report.json',
  partial: 'partial_report.json',
  editedRatios: 'edited_ratios.json',
  bias: 'bias_report.json',
  efficiency: 'efficiency.json',
} as const;
export const RUN_FILE = 'run.json';
export const JOB_RESULT_FILE = 'job_result.json';
/** Written by the CLI's `--seeds` next to the per-seed folders seed-<s>/ (see seeds.ts). */
export const SEEDS_FILE = 'seeds_report.json';

export interface ImportedRun {
  result: ExperimentResult;
  summary: RunInfo['data'] | null;
  /** Where the run was computed: the job's provenance block (engine, torch, processes, device, ...) or the CLI's versions. */
  provenance: Record<string, unknown>;
  /** A one-line description for the studio: engine, processes, device, wall time. */
  origin: string;
  /** The folder's seeds_report.json (a `--seeds` run), validated; null when there is none. */
  seeds: SeedsReport | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function parse(files: Record<string, string>, name: string): unknown {
  const text = files[name];
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${name}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

function obj(v: unknown, where: string): Obj {
  if (!isObj(v)) throw new ConfigError(`${where}: expected an object`);
  return v;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);
const nums = (v: unknown): number[] => (Array.isArray(v) ? v.map(num) : []);

function runOf(v: unknown, where: string): RunResult {
  const r = obj(v, where);
  if (typeof r.country !== 'string') throw new ConfigError(`${where}.country: expected a string`);
  if (!(METHODS as readonly string[]).includes(String(r.method))) throw new ConfigError(`${where}.method: unknown method ${JSON.stringify(r.method)}`);
  const points: LivePoint[] = Array.isArray(r.points)
    ? r.points.filter(isObj).map((p) => ({ step: num(p.step), loss: typeof p.loss === 'number' ? p.loss : null, accFull: num(p.accFull), accEdited: num(p.accEdited) }))
    : [];
  return {
    country: r.country,
    method: r.method as Method,
    trainPairs: num(r.trainPairs),
    steps: num(r.steps),
    accFull: num(r.accFull),
    accEdited: num(r.accEdited),
    accMajority: num(r.accMajority),
    // Jobs written before the validation split have none.
    accVal: num(r.accVal),
    losses: Array.isArray(r.losses) ? nums(r.losses) : typeof r.finalLoss === 'number' ? [r.finalLoss] : [],
    points,
    ms: num(r.ms),
  };
}

/** The folder's files that matter, by base name; the folder is where run.json is (the shallowest one). */
export function pickReportFolder(paths: string[]): { dir: string; names: Record<string, string> } {
  const runs = paths.filter((p) => p === RUN_FILE || p.endsWith(`/${RUN_FILE}`)).sort((a, b) => a.split('/').length - b.split('/').length);
  if (runs.length === 0) throw new ConfigError(`no ${RUN_FILE} among the ${paths.length} files: choose the job's --out folder (or a zip of it)`);
  const dir = runs[0].slice(0, runs[0].length - RUN_FILE.length);
  const names: Record<string, string> = {};
  for (const p of paths) if (p.startsWith(dir) && !p.slice(dir.length).includes('/')) names[p.slice(dir.length)] = p;
  // A `--seeds` --out folder has run.json only in seed-<s>/; its seeds_report.json is one level up.
  const parent = /(^|\/)seed-[^/]+\/$/.exec(dir) ? dir.slice(0, dir.replace(/\/$/, '').lastIndexOf('/') + 1) : null;
  if (parent !== null && !names[SEEDS_FILE] && paths.includes(parent + SEEDS_FILE)) names[SEEDS_FILE] = parent + SEEDS_FILE;
  return { dir, names };
}

/** `files`: base name -> text of the folder's files (run.json and the report files; job_result.json when there). */
export function importReportFolder(files: Record<string, string>): ImportedRun {
  for (const f of [RUN_FILE, ...Object.values(REPORT_FILES)]) {
    if (typeof files[f] !== 'string') throw new ConfigError(`${f} is missing: a report folder has ${[RUN_FILE, ...Object.values(REPORT_FILES)].join(', ')}`);
  }
  const run = obj(parse(files, RUN_FILE), RUN_FILE);
  if (run.app !== 'scpo-studio') throw new ConfigError(`${RUN_FILE}: app is ${JSON.stringify(run.app ?? null)}, expected "scpo-studio"`);
  let config;
  try {
    config = resolveConfig(obj(run.config, `${RUN_FILE}: config`) as Parameters<typeof resolveConfig>[0]);
  } catch (e) {
    throw new ConfigError(`${RUN_FILE}: config: ${e instanceof Error ? e.message : String(e)}`);
  }
  const reports = {} as Record<keyof Reports, unknown>;
  for (const [k, f] of Object.entries(REPORT_FILES) as [keyof Reports, string][]) reports[k] = obj(parse(files, f), f);
  for (const [k, f] of [['full', REPORT_FILES.full], ['partial', REPORT_FILES.partial]] as const) {
    for (const c of config.countries) if (!isObj((reports[k] as Obj)[c])) throw new ConfigError(`${f}: no row for "${c}"`);
  }
  const detail = typeof files[JOB_RESULT_FILE] === 'string' ? obj(parse(files, JOB_RESULT_FILE), JOB_RESULT_FILE) : null;
  if (detail && detail.format !== 'scpo-job-result') throw new ConfigError(`${JOB_RESULT_FILE}: format is ${JSON.stringify(detail.format ?? null)}`);
  const runSrc = detail ? detail.runs : run.runs;
  if (!Array.isArray(runSrc)) throw new ConfigError(`${detail ? JOB_RESULT_FILE : RUN_FILE}: runs: expected an array`);
  const runs = runSrc.map((r, k) => runOf(r, `${detail ? JOB_RESULT_FILE : RUN_FILE}: runs[${k}]`));

  const margins: ExperimentResult['margins'] = {};
  const sets: ExperimentResult['sets'] = {};
  let rPlus = new Float32Array(0);
  let rMinus = new Float32Array(0);
  if (detail) {
    for (const [c, byM] of Object.entries(isObj(detail.margins) ? detail.margins : {})) {
      if (!isObj(byM)) continue;
      margins[c] = {};
      for (const [m, a] of Object.entries(byM)) if ((METHODS as readonly string[]).includes(m) && Array.isArray(a)) margins[c][m as Method] = Float32Array.from(nums(a));
    }
    for (const [c, s] of Object.entries(isObj(detail.sets) ? detail.sets : {})) {
      if (isObj(s) && Array.isArray(s.train) && Array.isArray(s.test)) sets[c] = { train: nums(s.train), val: nums(s.val), test: nums(s.test), kept: num(s.kept), edited: num(s.edited) };
    }
    if (Array.isArray(detail.rPlus) && Array.isArray(detail.rMinus) && detail.rPlus.length === detail.rMinus.length) {
      rPlus = Float32Array.from(nums(detail.rPlus));
      rMinus = Float32Array.from(nums(detail.rMinus));
    }
  }
  const seeds = typeof files[SEEDS_FILE] === 'string' ? parseSeedsReport(files[SEEDS_FILE]) : null;
  const provenance: Obj = isObj(run.job) ? run.job : { engine: 'scpo-studio CLI', versions: run.versions ?? null };
  const timings: Record<string, number> = {};
  if (isObj(run.timings)) for (const [k, v] of Object.entries(run.timings)) if (typeof v === 'number') timings[k] = v;
  const backend = typeof run.backend === 'string' ? run.backend : 'unknown';
  const data = isObj(run.data) ? run.data : null;
  const source = typeof detail?.source === 'string' ? detail.source : typeof data?.source === 'string' ? data.source : 'imported';
  const wall = typeof timings.wallMs === 'number' ? `, ${(timings.wallMs / 1000).toFixed(1)} s` : '';
  return {
    result: { config, source, backend, rPlus, rMinus, sets, runs, margins, reports: reports as unknown as Reports, timings },
    summary: data ? (data as unknown as RunInfo['data']) : null,
    provenance,
    origin: `${backend}${wall}${seeds ? `, over ${seeds.seeds.length} seeds` : ''}`,
    seeds,
  };
}

// JSON writes NaN (sd of one seed, a country without an edited set) as null: read null back as NaN.
function numOrNaN(v: unknown, where: string): number {
  if (v === null) return Number.NaN;
  if (typeof v !== 'number') throw new ConfigError(`${SEEDS_FILE}: ${where}: expected a number, got ${JSON.stringify(v ?? null)}`);
  return v;
}

function pairOf(v: unknown, where: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) throw new ConfigError(`${SEEDS_FILE}: ${where}: expected [low, high]`);
  return [numOrNaN(v[0], `${where}[0]`), numOrNaN(v[1], `${where}[1]`)];
}

function summaryOf(v: unknown, where: string): Summary {
  const o = obj(v, `${SEEDS_FILE}: ${where}`);
  return {
    n: numOrNaN(o.n, `${where}.n`),
    mean: numOrNaN(o.mean, `${where}.mean`),
    sd: numOrNaN(o.sd, `${where}.sd`),
    ci95: pairOf(o.ci95, `${where}.ci95`),
    values: Array.isArray(o.values) ? o.values.map((x, i) => numOrNaN(x, `${where}.values[${i}]`)) : [],
  };
}

function tableOf(v: unknown, where: string): SummaryTable {
  const out: SummaryTable = {};
  for (const [row, byM] of Object.entries(obj(v, `${SEEDS_FILE}: ${where}`))) {
    out[row] = {};
    for (const [m, sm] of Object.entries(obj(byM, `${SEEDS_FILE}: ${where}.${row}`))) {
      if (!(METHODS as readonly string[]).includes(m)) throw new ConfigError(`${SEEDS_FILE}: ${where}.${row}: unknown method ${JSON.stringify(m)}`);
      out[row][m as Method] = summaryOf(sm, `${where}.${row}.${m}`);
    }
  }
  return out;
}

function pairedOf(v: unknown, where: string): PairedComparison {
  const o = obj(v, `${SEEDS_FILE}: ${where}`);
  const f = (k: string) => numOrNaN(o[k], `${where}.${k}`);
  return { n: f('n'), meanDiff: f('meanDiff'), sdDiff: f('sdDiff'), ci95: pairOf(o.ci95, `${where}.ci95`), t: f('t'), p: f('p'), wins: f('wins'), losses: f('losses'), ties: f('ties') };
}

/** seeds_report.json validated field by field (errors name the file and the field); NaN where the file has null. */
export function parseSeedsReport(text: string): SeedsReport {
  const o = obj(parse({ [SEEDS_FILE]: text }, SEEDS_FILE), SEEDS_FILE);
  if (!Array.isArray(o.seeds) || o.seeds.length === 0) throw new ConfigError(`${SEEDS_FILE}: seeds: expected a non-empty array of seeds`);
  const seeds = o.seeds.map((x, i) => numOrNaN(x, `seeds[${i}]`));
  const er = obj(o.editedRatios ?? {}, `${SEEDS_FILE}: editedRatios`);
  const nan: Summary = { n: 0, mean: Number.NaN, sd: Number.NaN, ci95: [Number.NaN, Number.NaN], values: [] };
  const paired: SeedsReport['paired'] = {};
  for (const [k, c] of Object.entries(obj(o.paired ?? {}, `${SEEDS_FILE}: paired`))) {
    const co = obj(c, `${SEEDS_FILE}: paired.${k}`);
    paired[k] = { full: pairedOf(co.full, `paired.${k}.full`), partial: pairedOf(co.partial, `paired.${k}.partial`) };
  }
  return {
    seeds,
    full: tableOf(o.full, 'full'),
    partial: tableOf(o.partial, 'partial'),
    validation: o.validation === undefined ? {} : tableOf(o.validation, 'validation'),
    editedRatios: {
      train: er.train === undefined ? nan : summaryOf(er.train, 'editedRatios.train'),
      test: er.test === undefined ? nan : summaryOf(er.test, 'editedRatios.test'),
    },
    paired,
  };
}

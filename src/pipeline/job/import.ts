// Reading a report folder back into an ExperimentResult: the PyTorch job's output (run.json, the report files and
// job_result.json with curves, margins, sets and global scores) or a CLI --out folder (reports only). The
// studio's "Import run" shows the result like a browser run, with where it came from (`provenance`).
// Errors name the file and the field; nothing in the files is evaluated.
import { resolveConfig } from '../experiment.ts';
import type { ExperimentResult, LivePoint, Reports, RunResult } from '../experiment.ts';
import type { RunInfo } from '../report.ts';
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

export interface ImportedRun {
  result: ExperimentResult;
  summary: RunInfo['data'] | null;
  /** Where the run was computed: the job's provenance block (engine, torch, processes, device, ...) or the CLI's versions. */
  provenance: Record<string, unknown>;
  /** A one-line description for the studio: engine, processes, device, wall time. */
  origin: string;
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
    origin: `${backend}${wall}`,
  };
}

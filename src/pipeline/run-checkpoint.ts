// Resuming a long CLI run. With `--out DIR`, every finished main (country, method) run is appended to
// DIR/checkpoint.json with its margins; after an interruption the same command with `--resume` reuses those runs
// (runExperiment's `completed`: the studio's resume path, which also checks each run's pair and step counts) and
// trains only the rest. A fine-tuned transformer run is minutes per (country, method), so losing the finished ones
// to a closed laptop lid or a killed job is what this prevents.
//
// A checkpoint is only valid for the run that wrote it: it records what a (country, method) run depends on (data,
// split seed, the global RM, the training settings, the reward model and its tuning) and a resume with any of those
// changed is refused, naming the fields. The countries and methods are not part of it: adding a country or a
// method and resuming reuses the runs that are still valid.
import type { CompletedRuns, ExperimentConfig, RunResult } from './experiment.ts';
import { dict } from './dict.ts';
import { ConfigError, METHODS, type Method } from './types.ts';

export const CHECKPOINT_FILE = 'checkpoint.json';
const VERSION = 1;

/** What one (country, method) run's result depends on, as a flat record of JSON values. */
export type CheckpointIdentity = Record<string, string | number | boolean | null | string[]>;

export interface RunCheckpoint {
  version: typeof VERSION;
  identity: CheckpointIdentity;
  runs: RunResult[];
  /** CPU time (ms, all threads) of the processes that produced these runs, summed over resumed segments. */
  cpuMs: number;
  /** Margins by country and method (the run's margins on that country's pairs, in ExperimentResult order). */
  margins: Record<string, Partial<Record<Method, number[]>>>;
}

/**
 * The identity of a run: data source and size, the config minus countries/methods/efficiency (they choose which
 * runs exist, not what one run computes), and the caller's model description (`rm`: kind, tune, rank, seq len...).
 */
export function checkpointIdentity(source: { data: string; pairs: number; items: number }, config: ExperimentConfig, rm: Record<string, string | number | boolean | null>): CheckpointIdentity {
  const { countries: _c, methods: _m, efficiency: _e, efficiencyFractions: _f, ...rest } = config;
  const id: CheckpointIdentity = { data: source.data, dataPairs: source.pairs, dataItems: source.items };
  for (const [k, v] of Object.entries(rest)) id[`config.${k}`] = Array.isArray(v) ? v.map(String) : (v as string | number | boolean);
  for (const [k, v] of Object.entries(rm)) id[`rm.${k}`] = v;
  return id;
}

export function emptyCheckpoint(identity: CheckpointIdentity): RunCheckpoint {
  return { version: VERSION, identity, runs: [], cpuMs: 0, margins: dict() };
}

/** Adds (or replaces) one finished main run. */
export function addRun(ck: RunCheckpoint, run: RunResult, margins: Float32Array): void {
  ck.runs = ck.runs.filter((r) => !(r.country === run.country && r.method === run.method));
  ck.runs.push(run);
  (ck.margins[run.country] ??= {})[run.method] = Array.from(margins);
}

// NaN and infinities are not JSON: written as strings, read back.
function encodeNumber(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

export function serializeCheckpoint(ck: RunCheckpoint): string {
  return JSON.stringify(ck, encodeNumber);
}

function fail(file: string, field: string, msg: string): never {
  throw new ConfigError(`${file}: ${field}: ${msg} (delete the file or run without --resume to start over)`);
}

function num(file: string, field: string, v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return fail(file, field, `expected a number, got ${JSON.stringify(v)?.slice(0, 40)}`);
}

/**
 * Parses and checks a checkpoint against the identity of the run about to start; returns the runs to reuse.
 * Refuses (ConfigError naming the file and the differing fields) a checkpoint of another run.
 */
export function parseCheckpoint(text: string, file: string, identity: CheckpointIdentity): CompletedRuns & { count: number; cpuMs: number } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    fail(file, '(file)', `not JSON: ${(e as Error).message}`);
  }
  const o = raw as Partial<RunCheckpoint> | null;
  if (!o || typeof o !== 'object') fail(file, '(file)', 'not a checkpoint object');
  if (o.version !== VERSION) fail(file, 'version', `expected ${VERSION}, got ${JSON.stringify(o.version)}`);
  if (!o.identity || typeof o.identity !== 'object') fail(file, 'identity', 'missing');
  const keys = new Set([...Object.keys(identity), ...Object.keys(o.identity)]);
  const differ = [...keys].filter((k) => JSON.stringify(identity[k]) !== JSON.stringify((o.identity as CheckpointIdentity)[k]));
  if (differ.length) {
    const shown = differ.slice(0, 6).map((k) => `${k} ${JSON.stringify((o.identity as CheckpointIdentity)[k])} -> ${JSON.stringify(identity[k])}`);
    fail(file, 'identity', `written by a different run: ${shown.join(', ')}${differ.length > 6 ? `, and ${differ.length - 6} more` : ''}`);
  }
  if (!Array.isArray(o.runs)) fail(file, 'runs', 'missing');
  const margins: CompletedRuns['margins'] = dict();
  const runs: RunResult[] = [];
  o.runs.forEach((r, i) => {
    const f = `runs[${i}]`;
    if (!r || typeof r !== 'object' || typeof r.country !== 'string') fail(file, `${f}.country`, 'missing');
    if (!(METHODS as readonly string[]).includes(r.method)) fail(file, `${f}.method`, `unknown method ${JSON.stringify(r.method)}`);
    const m = (o.margins as RunCheckpoint['margins'] | undefined)?.[r.country]?.[r.method];
    if (!Array.isArray(m)) fail(file, `margins.${r.country}.${r.method}`, 'missing');
    if (!Array.isArray(r.losses) || !Array.isArray(r.points)) fail(file, `${f}.losses/points`, 'missing');
    runs.push({
      ...r,
      trainPairs: num(file, `${f}.trainPairs`, r.trainPairs),
      steps: num(file, `${f}.steps`, r.steps),
      accFull: num(file, `${f}.accFull`, r.accFull),
      accEdited: num(file, `${f}.accEdited`, r.accEdited),
      accMajority: num(file, `${f}.accMajority`, r.accMajority),
      accVal: num(file, `${f}.accVal`, r.accVal),
      ms: num(file, `${f}.ms`, r.ms),
      losses: r.losses.map((x, k) => num(file, `${f}.losses[${k}]`, x)),
      points: r.points.map((p, k) => ({
        step: num(file, `${f}.points[${k}].step`, p.step),
        loss: p.loss === null ? null : num(file, `${f}.points[${k}].loss`, p.loss),
        accFull: num(file, `${f}.points[${k}].accFull`, p.accFull),
        accEdited: num(file, `${f}.points[${k}].accEdited`, p.accEdited),
      })),
    });
    (margins[r.country] ??= {})[r.method] = Float32Array.from(m, (x, k) => num(file, `margins.${r.country}.${r.method}[${k}]`, x));
  });
  const cpuMs = o.cpuMs === undefined ? 0 : num(file, 'cpuMs', o.cpuMs);
  return { runs, margins, count: runs.length, cpuMs };
}

// The SCPO experiment: global scoring -> filter/weights -> one country RM per (country, method) -> evaluation,
// bias split, data efficiency and the report files. One code path for the CLI, the Web Worker and the tests.
import type { Backend, Trainer } from '../gpu/backend.ts';
import { accuracyTable, efficiencyEntry, macroAverage, pairAccuracy, pct } from './eval.ts';
import type { AccuracyTable, EfficiencyEntry, EfficiencyPoint } from './eval.ts';
import { hashSeed, Rng } from './rng.ts';
import type { BagRMParams, EncodedItems, OptimizerConfig } from './rm/types.ts';
import { isEdited, isKept, METHOD_SPECS, trainingSet } from './scpo.ts';
import { checkpointTick, FailoverTrainer, plannedSteps, train } from './train/loop.ts';
import type { BackendFallback, FailoverOptions, RunControl } from './train/loop.ts';
import type { Method, PreferenceData } from './types.ts';
import { ConfigError, DEFAULT_COUNTRIES, DEFAULT_MAJORITY, METHODS } from './types.ts';

export interface ExperimentConfig {
  countries: string[];
  majority: string[];
  methods: Method[];
  tau: number;
  beta: number;
  /** Step budget per (country, method) run. */
  steps: number;
  /** Cap on passes over a run's training pairs (so small subsets do not overfit forever). */
  epochs: number;
  batch: number;
  lr: number;
  weightDecay: number;
  freezeEmbeddings: boolean;
  seed: number;
  /** Live evaluation points per run (besides step 0). */
  evalPoints: number;
  /** Run the data-efficiency comparison (needs full_ft and scpo among the methods). */
  efficiency: boolean;
  efficiencyFractions: number[];
}

// Chosen on the default synthetic data with the bundled RM (README "Defaults" has the sweep): lr 3e-3 moves the
// country RMs within 300 steps (lr 1e-3 barely leaves the global RM); epochs 4 lets every main method use the
// whole step budget (so scpo is not handicapped by having fewer pairs) while small subsets stop early.
export const DEFAULT_CONFIG: ExperimentConfig = {
  countries: [...DEFAULT_COUNTRIES],
  majority: [...DEFAULT_MAJORITY],
  methods: [...METHODS],
  tau: 0.7,
  beta: 1.1,
  steps: 300,
  epochs: 4,
  batch: 8,
  lr: 3e-3,
  weightDecay: 0.01,
  freezeEmbeddings: false,
  seed: 0,
  evalPoints: 6,
  efficiency: true,
  efficiencyFractions: [0.125, 0.25, 0.5],
};

function num(name: string, v: unknown, lo: number, hi: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
    throw new ConfigError(`${name} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}], got ${String(v)}`);
  }
  return v;
}

/** Validates a (partial) config against the defaults; throws ConfigError with the offending field. */
export function resolveConfig(partial: Partial<ExperimentConfig>): ExperimentConfig {
  const c: ExperimentConfig = { ...DEFAULT_CONFIG, ...partial };
  num('tau', c.tau, 0, 1);
  num('beta', c.beta, 1e-6, 1e6);
  num('steps', c.steps, 0, 1e7, true);
  num('epochs', c.epochs, 1e-3, 1e4);
  num('batch', c.batch, 1, 65536, true);
  num('lr', c.lr, 0, 10);
  num('weightDecay', c.weightDecay, 0, 10);
  num('seed', c.seed, 0, 2 ** 32 - 1, true);
  num('evalPoints', c.evalPoints, 0, 1000, true);
  if (!Array.isArray(c.countries) || c.countries.length === 0) throw new ConfigError('countries: give at least one country');
  for (const m of c.methods) {
    if (!(METHODS as readonly string[]).includes(m)) {
      throw new ConfigError(`unknown method "${m}"; methods are ${METHODS.join(', ')}`);
    }
  }
  if (c.methods.length === 0) throw new ConfigError('methods: give at least one method');
  for (const f of c.efficiencyFractions) num('efficiencyFractions', f, 1e-6, 1);
  return { ...c, countries: [...new Set(c.countries)], majority: [...new Set(c.majority)], methods: [...new Set(c.methods)] };
}

/** Throws ConfigError when a requested country is not in the data, listing the ones that are. */
export function checkCountries(config: ExperimentConfig, data: PreferenceData): void {
  const available = Object.keys(data.countries).filter((c) => data.countries[c].pairs > 0);
  const missing = [...config.countries, ...config.majority].filter((c) => !available.includes(c));
  if (missing.length > 0) {
    throw new ConfigError(
      `unknown or empty countr${missing.length > 1 ? 'ies' : 'y'} ${missing.map((m) => `"${m}"`).join(', ')} in ${data.source}; ` +
        `available: ${available.sort().join(', ')}`,
    );
  }
}

export type Phase = 'load' | 'score' | 'filter' | 'train' | 'efficiency' | 'evaluate' | 'done';

export interface LivePoint {
  step: number;
  loss: number | null;
  accFull: number;
  accEdited: number;
}

export interface RunResult {
  country: string;
  method: Method;
  trainPairs: number;
  steps: number;
  /** Fractions on the country's full / edited test set. */
  accFull: number;
  accEdited: number;
  /** Fraction on the majority countries' test pairs (bias view). */
  accMajority: number;
  losses: number[];
  points: LivePoint[];
  ms: number;
}

export type ExperimentEvent =
  | { type: 'phase'; phase: Phase; done: number; total: number; label: string }
  | { type: 'scored'; rPlus: Float32Array; rMinus: Float32Array }
  | { type: 'point'; country: string; method: Method; point: LivePoint; totalSteps: number }
  /** `margins`: the main run's margins (as in ExperimentResult.margins); `resumed`: reused from ExperimentInputs.completed, not trained. */
  | { type: 'run'; run: RunResult; margins?: Float32Array; resumed?: boolean }
  | { type: 'efficiency'; country: string; entry: EfficiencyEntry }
  /** The backend was lost (or could not hold a trainer): the run went on from its last checkpoint on `to`, and so do all later runs. */
  | ({ type: 'backend-fallback'; run: string } & BackendFallback);

export interface Reports {
  full: AccuracyTable;
  partial: AccuracyTable;
  editedRatios: { train: Record<string, number | null>; test: Record<string, number | null> };
  bias: {
    majority: string[];
    countries: Record<string, Partial<Record<Method, { own: number | null; majority: number | null }>>>;
    avg: Partial<Record<Method, { own: number | null; majority: number | null }>>;
  };
  efficiency: {
    fractions: number[];
    countries: Record<string, EfficiencyEntry>;
    /** Mean of the per-country ratios where full_ft reaches scpo's accuracy at all. */
    avgRatio: number | null;
    /** Countries where full_ft, even with all its pairs, stays below scpo's accuracy (scpo strictly more efficient). */
    neverReached: string[];
    skipped?: string;
  };
}

export interface CountrySets {
  train: number[];
  test: number[];
  kept: number;
  edited: number;
}

export interface ExperimentResult {
  config: ExperimentConfig;
  source: string;
  backend: string;
  /** Global-RM scores of every pair's chosen / rejected item, aligned with data.pairs. */
  rPlus: Float32Array;
  rMinus: Float32Array;
  sets: Record<string, CountrySets>;
  runs: RunResult[];
  /** After training: each (country, method) RM's margin s_c - s_r on all of that country's pairs (train then test). */
  margins: Record<string, Partial<Record<Method, Float32Array>>>;
  reports: Reports;
  timings: Record<string, number>;
}

/** Scores items with the global RM (e.g. onnxruntime-web in its own worker); result aligned with `indices`. */
export type ItemScorer = (encoded: EncodedItems, indices: Int32Array) => Promise<Float32Array>;

export interface ExperimentInputs {
  data: PreferenceData;
  encoded: EncodedItems;
  globalParams: BagRMParams;
  backend: Backend;
  /** Global-RM scoring; defaults to the backend's trainer forward pass on globalParams. */
  globalScorer?: ItemScorer;
  /** Checkpoint cadence of training on a non-cpu backend, for falling back to cpu (default 50 steps). */
  checkpointEvery?: number;
  config: ExperimentConfig;
  onEvent?: (e: ExperimentEvent) => void;
  control?: RunControl;
  /** Receives the final params of each main (country, method) run (not the efficiency subsets), e.g. for ONNX export. */
  onModel?: (country: string, method: Method, params: BagRMParams) => void | Promise<void>;
  /**
   * Main runs of this same config (data, model, seed) that already finished, e.g. before a reload: those
   * (country, method) runs are not trained again (their results and margins are reused and their 'run' events
   * emitted as usual, with `resumed: true`). Entries that do not fit this config are ignored (trained).
   */
  completed?: CompletedRuns;
}

export interface CompletedRuns {
  runs: RunResult[];
  margins: Record<string, Partial<Record<Method, Float32Array>>>;
}

function unique(a: Iterable<number>): Int32Array {
  return Int32Array.from(new Set(a)).sort();
}

/** Scores `indices` with `trainer` into a full-length item array (NaN elsewhere), so pairs can index it. */
async function scoreInto(trainer: Trainer, encoded: EncodedItems, indices: Int32Array): Promise<Float32Array> {
  const s = await trainer.score(encoded, indices);
  const full = new Float32Array(encoded.count).fill(Number.NaN);
  for (let i = 0; i < indices.length; i++) full[indices[i]] = s[i];
  return full;
}

export function optimizerConfig(config: ExperimentConfig): OptimizerConfig {
  return {
    lr: config.lr,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: config.weightDecay,
    freezeEmbeddings: config.freezeEmbeddings,
  };
}

/** Whether the data-efficiency comparison runs: enabled and both full_ft and scpo among the methods. */
function efficiencyEnabled(config: ExperimentConfig): boolean {
  return config.efficiency && config.methods.includes('full_ft') && config.methods.includes('scpo');
}

/**
 * The report tables from finished runs (pure): accuracy tables, edited ratios, bias split and the efficiency
 * summary. `efficiencyCountries`: per-country efficiency entries (any key order; reported in config order).
 */
export function buildReports(
  config: ExperimentConfig,
  sets: Record<string, CountrySets>,
  runs: readonly RunResult[],
  efficiencyCountries: Record<string, EfficiencyEntry>,
): Reports {
  const get = (c: string, m: Method) => runs.find((r) => r.country === c && r.method === m);
  const reports: Reports = {
    full: accuracyTable(config.countries, config.methods, (c, m) => get(c, m)?.accFull ?? Number.NaN),
    partial: accuracyTable(config.countries, config.methods, (c, m) => get(c, m)?.accEdited ?? Number.NaN),
    editedRatios: { train: {}, test: {} },
    bias: { majority: config.majority, countries: {}, avg: {} },
    efficiency: {
      fractions: config.efficiencyFractions,
      countries: {},
      avgRatio: null,
      neverReached: [],
    },
  };
  const efficiency = reports.efficiency;
  if (efficiencyEnabled(config)) {
    // Config country order, as runExperiment fills them (the average's summation order is part of the output).
    for (const c of config.countries) if (efficiencyCountries[c]) efficiency.countries[c] = efficiencyCountries[c];
    const ratios = Object.values(efficiency.countries)
      .map((e) => e.ratio)
      .filter((r): r is number => r !== null);
    efficiency.avgRatio = ratios.length ? macroAverage(ratios) : null;
    efficiency.neverReached = Object.entries(efficiency.countries)
      .filter(([, e]) => e.fullFtPairsForScpoAccuracy === null)
      .map(([c]) => c);
  } else {
    efficiency.skipped = config.efficiency ? 'needs both full_ft and scpo among the methods' : 'disabled';
  }
  const trainRatios: number[] = [];
  const testRatios: number[] = [];
  for (const c of config.countries) {
    const s = sets[c];
    const tr = s.train.length ? s.kept / s.train.length : Number.NaN;
    const te = s.test.length ? s.edited / s.test.length : Number.NaN;
    trainRatios.push(tr);
    testRatios.push(te);
    reports.editedRatios.train[c] = Number.isFinite(tr) ? tr : null;
    reports.editedRatios.test[c] = Number.isFinite(te) ? te : null;
    reports.bias.countries[c] = {};
    for (const m of config.methods) {
      const r = get(c, m);
      reports.bias.countries[c][m] = { own: pct(r?.accFull ?? Number.NaN), majority: pct(r?.accMajority ?? Number.NaN) };
    }
  }
  const avgTr = macroAverage(trainRatios);
  const avgTe = macroAverage(testRatios);
  reports.editedRatios.train.avg = Number.isFinite(avgTr) ? avgTr : null;
  reports.editedRatios.test.avg = Number.isFinite(avgTe) ? avgTe : null;
  for (const m of config.methods) {
    const rs = config.countries.map((c) => get(c, m));
    reports.bias.avg[m] = {
      own: pct(macroAverage(rs.map((r) => r?.accFull ?? Number.NaN))),
      majority: pct(macroAverage(rs.map((r) => r?.accMajority ?? Number.NaN))),
    };
  }
  return reports;
}

/**
 * Merges the results of runExperiment on disjoint groups of `config.countries` (same data, model, seed and other
 * config; e.g. one per worker thread) into the result one runExperiment on the whole config gives: runs in config
 * country order (each country's runs in the order its part produced them), margins, sets (countries then majority),
 * efficiency entries, and the reports rebuilt with buildReports. Global scores: each pair's first finite score
 * among the parts. Timings: every key is the max over the parts (the parts ran side by side, so that is the wall
 * time of the phase); trainMs and efficiencyMs also get the sum over the parts as trainMsSum / efficiencyMsSum
 * (total compute); `parts` is the number of parts. Backend: the parts' distinct backend strings joined by "; ".
 */
export function mergeResults(parts: readonly ExperimentResult[], config: ExperimentConfig): ExperimentResult {
  if (parts.length === 0) throw new Error('mergeResults: no parts');
  const owner = (c: string): ExperimentResult => {
    const p = parts.find((x) => x.config.countries.includes(c));
    if (!p) throw new Error(`mergeResults: no part ran country "${c}"`);
    return p;
  };
  const runs: RunResult[] = [];
  const margins: ExperimentResult['margins'] = {};
  const efficiencyCountries: Record<string, EfficiencyEntry> = {};
  for (const c of config.countries) {
    const p = owner(c);
    runs.push(...p.runs.filter((r) => r.country === c));
    margins[c] = p.margins[c] ?? {};
    const e = p.reports.efficiency.countries[c];
    if (e) efficiencyCountries[c] = e;
  }
  const sets: Record<string, CountrySets> = {};
  for (const c of new Set([...config.countries, ...config.majority])) {
    const p = config.countries.includes(c) ? owner(c) : parts.find((x) => x.sets[c]);
    if (p?.sets[c]) sets[c] = p.sets[c];
  }
  const n = parts[0].rPlus.length;
  const rPlus = new Float32Array(n).fill(Number.NaN);
  const rMinus = new Float32Array(n).fill(Number.NaN);
  for (const p of parts) {
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(rPlus[i]) && !Number.isNaN(p.rPlus[i])) {
        rPlus[i] = p.rPlus[i];
        rMinus[i] = p.rMinus[i];
      }
    }
  }
  const timings: Record<string, number> = {};
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.timings)) timings[k] = Math.max(timings[k] ?? -Infinity, v);
  }
  for (const k of ['trainMs', 'efficiencyMs']) {
    if (parts.some((p) => k in p.timings)) timings[`${k}Sum`] = parts.reduce((s, p) => s + (p.timings[k] ?? 0), 0);
  }
  timings.parts = parts.length;
  return {
    config,
    source: parts[0].source,
    backend: [...new Set(parts.map((p) => p.backend))].join('; '),
    rPlus,
    rMinus,
    sets,
    runs,
    margins,
    reports: buildReports(config, sets, runs, efficiencyCountries),
    timings,
  };
}

export async function runExperiment(inp: ExperimentInputs): Promise<ExperimentResult> {
  const { data, encoded, control } = inp;
  // Switches to cpu for good if the backend is lost (see train/loop.ts: the run in flight resumes from its checkpoint).
  let backend = inp.backend;
  let fellBack = '';
  const failover = (run: string): FailoverOptions => ({
    checkpointEvery: inp.checkpointEvery,
    onFallback: (f, next) => {
      backend = next;
      fellBack = ` (fell back from ${f.from}: ${f.reason})`;
      emit({ type: 'backend-fallback', run, ...f });
    },
  });
  const config = resolveConfig(inp.config);
  checkCountries(config, data);
  const emit = inp.onEvent ?? (() => {});
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const pairs = data.pairs;
  const pc = Int32Array.from(pairs, (p) => p.chosen);
  const pr = Int32Array.from(pairs, (p) => p.rejected);

  // 1. Global scores of every item of the selected and majority countries.
  emit({ type: 'phase', phase: 'score', done: 0, total: 1, label: 'scoring with the global RM' });
  const wanted = new Set([...config.countries, ...config.majority]);
  const relevantPairs: number[] = [];
  pairs.forEach((p, i) => {
    if (wanted.has(p.country)) relevantPairs.push(i);
  });
  const scoreIdx = unique(relevantPairs.flatMap((i) => [pc[i], pr[i]]));
  let gScores: Float32Array;
  if (inp.globalScorer) {
    const s = await inp.globalScorer(encoded, scoreIdx);
    gScores = new Float32Array(encoded.count).fill(Number.NaN);
    for (let i = 0; i < scoreIdx.length; i++) gScores[scoreIdx[i]] = s[i];
  } else {
    const globalTrainer = await FailoverTrainer.create(backend, inp.globalParams, optimizerConfig(config), failover('global scoring'));
    gScores = await scoreInto(globalTrainer, encoded, scoreIdx);
    globalTrainer.dispose();
  }
  const rPlus = new Float32Array(pairs.length).fill(Number.NaN);
  const rMinus = new Float32Array(pairs.length).fill(Number.NaN);
  for (const i of relevantPairs) {
    rPlus[i] = gScores[pc[i]];
    rMinus[i] = gScores[pr[i]];
  }
  emit({ type: 'scored', rPlus, rMinus });
  emit({ type: 'phase', phase: 'score', done: 1, total: 1, label: 'scored' });
  timings.scoreMs = Date.now() - t0;

  // 2. Per-country sets: train/test, kept by the filter, edited test pairs.
  const t1 = Date.now();
  const sets: Record<string, CountrySets> = {};
  for (const c of wanted) sets[c] = { train: [], test: [], kept: 0, edited: 0 };
  for (const i of relevantPairs) {
    const s = sets[pairs[i].country];
    if (pairs[i].split === 'train') {
      s.train.push(i);
      if (isKept(rPlus[i], rMinus[i], config.tau)) s.kept++;
    } else {
      s.test.push(i);
      if (isEdited(rPlus[i], rMinus[i])) s.edited++;
    }
  }
  const majorityTest = config.majority.flatMap((c) => sets[c].test);
  emit({ type: 'phase', phase: 'filter', done: 1, total: 1, label: 'filtered and weighted' });
  timings.filterMs = Date.now() - t1;

  const trainMethods = config.methods.filter((m) => METHOD_SPECS[m].trains);
  const doEfficiency = efficiencyEnabled(config);
  const totalRuns =
    config.countries.length * (trainMethods.length + (doEfficiency ? config.efficiencyFractions.length : 0));
  let runsDone = 0;
  const opt = optimizerConfig(config);
  const runs: RunResult[] = [];
  const margins: Record<string, Partial<Record<Method, Float32Array>>> = {};

  const evalSets = (c: string) => {
    const test = sets[c].test;
    const edited = test.filter((i) => isEdited(rPlus[i], rMinus[i]));
    return {
      testC: Int32Array.from(test, (i) => pc[i]),
      testR: Int32Array.from(test, (i) => pr[i]),
      edC: Int32Array.from(edited, (i) => pc[i]),
      edR: Int32Array.from(edited, (i) => pr[i]),
      testItems: unique(test.flatMap((i) => [pc[i], pr[i]])),
    };
  };
  const majC = Int32Array.from(majorityTest, (i) => pc[i]);
  const majR = Int32Array.from(majorityTest, (i) => pr[i]);

  const startAcc = (c: string) => {
    const e = evalSets(c);
    return {
      full: pairAccuracy(gScores, e.testC, e.testR),
      edited: pairAccuracy(gScores, e.edC, e.edR),
    };
  };
  const startMajority = pairAccuracy(gScores, majC, majR);

  /** One country RM: train from the global RM on `pairIdx` with `weights`, evaluate live and at the end. */
  const runOne = async (
    c: string,
    method: Method,
    pairIdx: number[],
    weights: number[],
    seedTag: string,
    full: boolean,
  ): Promise<RunResult> => {
    const tr = Date.now();
    const e = evalSets(c);
    const steps = plannedSteps(pairIdx.length, config.batch, config.steps, config.epochs);
    const evalEvery = config.evalPoints > 0 && steps > 0 ? Math.max(1, Math.ceil(steps / config.evalPoints)) : 0;
    const s0 = startAcc(c);
    const points: LivePoint[] = [{ step: 0, loss: null, accFull: s0.full, accEdited: s0.edited }];
    if (full) emit({ type: 'point', country: c, method, point: points[0], totalSteps: steps });
    const { trainer, losses } = await train(
      backend,
      inp.globalParams,
      opt,
      encoded,
      {
        chosen: Int32Array.from(pairIdx, (i) => pc[i]),
        rejected: Int32Array.from(pairIdx, (i) => pr[i]),
        weights: Float32Array.from(weights),
        steps,
        batch: config.batch,
        seed: hashSeed(config.seed, c, method, seedTag),
        evalEvery,
      },
      control,
      async (step, loss, t) => {
        if (!full || evalEvery === 0 || (step % evalEvery !== 0 && step !== steps)) return;
        const sc = await scoreInto(t, encoded, e.testItems);
        const point: LivePoint = {
          step,
          loss,
          accFull: pairAccuracy(sc, e.testC, e.testR),
          accEdited: pairAccuracy(sc, e.edC, e.edR),
        };
        points.push(point);
        emit({ type: 'point', country: c, method, point, totalSteps: steps });
      },
      failover(`${c} · ${method}${full ? '' : ` ${seedTag}`}`),
    );
    try {
      const own = [...sets[c].train, ...sets[c].test];
      const items = unique([...own.flatMap((i) => [pc[i], pr[i]]), ...(full ? majC : []), ...(full ? majR : [])]);
      const sc = await scoreInto(trainer, encoded, items);
      if (full) margins[c][method] = Float32Array.from(own, (i) => sc[pc[i]] - sc[pr[i]]);
      if (full && inp.onModel) await inp.onModel(c, method, (await trainer.checkpoint()).params);
      return {
        country: c,
        method,
        trainPairs: pairIdx.length,
        steps,
        accFull: pairAccuracy(sc, e.testC, e.testR),
        accEdited: pairAccuracy(sc, e.edC, e.edR),
        accMajority: full ? pairAccuracy(sc, majC, majR) : Number.NaN,
        losses,
        points,
        ms: Date.now() - tr,
      };
    } finally {
      trainer.dispose();
    }
  };

  /** A finished main run of (c, m) from `inp.completed` that fits this config and data, else null. */
  const reusable = (c: string, m: Method, trainPairs: number): { run: RunResult; margins: Float32Array } | null => {
    const run = inp.completed?.runs.find((r) => r.country === c && r.method === m);
    const mg = inp.completed?.margins[c]?.[m];
    const own = sets[c].train.length + sets[c].test.length;
    if (!run || !(mg instanceof Float32Array) || mg.length !== own) return null;
    const steps = plannedSteps(trainPairs, config.batch, config.steps, config.epochs);
    if (run.trainPairs !== trainPairs || run.steps !== steps) return null;
    return { run, margins: mg };
  };

  // 3. Country RMs.
  const t2 = Date.now();
  for (const c of config.countries) {
    margins[c] = {};
    const cand = sets[c].train;
    const cp = cand.map((i) => rPlus[i]);
    const cm = cand.map((i) => rMinus[i]);
    if (config.methods.includes('start')) {
      const s0 = startAcc(c);
      const own = [...sets[c].train, ...sets[c].test];
      margins[c].start = Float32Array.from(own, (i) => gScores[pc[i]] - gScores[pr[i]]);
      const run: RunResult = {
        country: c,
        method: 'start',
        trainPairs: 0,
        steps: 0,
        accFull: s0.full,
        accEdited: s0.edited,
        accMajority: startMajority,
        losses: [],
        points: [{ step: 0, loss: null, accFull: s0.full, accEdited: s0.edited }],
        ms: 0,
      };
      runs.push(run);
      emit({ type: 'run', run, margins: margins[c].start });
    }
    for (const m of trainMethods) {
      const ts = trainingSet(m, cand, cp, cm, config.tau, config.beta);
      const reuse = reusable(c, m, ts.pairs.length);
      emit({ type: 'phase', phase: 'train', done: runsDone, total: totalRuns, label: `${c} · ${m}${reuse ? ' (resumed)' : ''}` });
      if (reuse) {
        margins[c][m] = reuse.margins;
        runs.push(reuse.run);
        runsDone++;
        emit({ type: 'run', run: reuse.run, margins: reuse.margins, resumed: true });
        continue;
      }
      const run = await runOne(c, m, ts.pairs, ts.weights, 'main', true);
      runs.push(run);
      runsDone++;
      emit({ type: 'run', run, margins: margins[c][m] });
    }
  }
  timings.trainMs = Date.now() - t2;

  // 4. Data efficiency: full_ft on random subsets vs scpo on its kept pairs.
  const t3 = Date.now();
  const efficiencyCountries: Record<string, EfficiencyEntry> = {};
  if (doEfficiency) {
    for (const c of config.countries) {
      const all = sets[c].train;
      const order = all.slice();
      new Rng(hashSeed(config.seed, c, 'efficiency')).shuffle(order);
      const curve: EfficiencyPoint[] = [];
      for (const f of config.efficiencyFractions) {
        emit({ type: 'phase', phase: 'efficiency', done: runsDone, total: totalRuns, label: `${c} · full_ft ${f}` });
        const sub = order.slice(0, Math.max(1, Math.round(f * all.length)));
        const r = await runOne(c, 'full_ft', sub, sub.map(() => 1), `eff${f}`, false);
        curve.push({ pairs: sub.length, accuracy: r.accFull });
        runsDone++;
      }
      const ft = runs.find((r) => r.country === c && r.method === 'full_ft');
      const sc = runs.find((r) => r.country === c && r.method === 'scpo');
      if (ft && sc) {
        curve.push({ pairs: ft.trainPairs, accuracy: ft.accFull });
        const entry = efficiencyEntry(curve, { pairs: sc.trainPairs, accuracy: sc.accFull });
        efficiencyCountries[c] = entry;
        emit({ type: 'efficiency', country: c, entry });
      }
    }
  }
  timings.efficiencyMs = Date.now() - t3;
  await checkpointTick(control);

  // 5. Reports.
  emit({ type: 'phase', phase: 'evaluate', done: 0, total: 1, label: 'writing reports' });
  const reports = buildReports(config, sets, runs, efficiencyCountries);
  timings.totalMs = Date.now() - t0;
  emit({ type: 'phase', phase: 'done', done: 1, total: 1, label: 'done' });
  return { config, source: data.source, backend: backend.info + fellBack, rPlus, rMinus, sets, runs, margins, reports, timings };
}

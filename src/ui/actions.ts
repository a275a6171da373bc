// The studio's state shape and its pure actions: (state, args) -> partial state. The zustand store (store.ts)
// applies them; side effects (worker, IndexedDB, URL) live in runner.ts. Components stay thin.
import type { SeedsReport } from '../pipeline/seeds.ts';
import type { EfficiencyEntry } from '../pipeline/eval.ts';
import type { ExperimentConfig, ExperimentEvent, ExperimentResult, LivePoint, Phase, RunResult } from '../pipeline/experiment.ts';
import { DEFAULT_CONFIG } from '../pipeline/experiment.ts';
import type { Item, Method, Pair } from '../pipeline/types.ts';
import type { BackendPref, BackendReport, DataSummary, FromWorker, WorkerError } from '../workers/protocol.ts';
import type { PhaseProgress } from './derive.ts';
import { runKey } from './derive.ts';
import type { RunBundle } from './export.ts';
import type { PendingRun } from './persist.ts';
import { own } from '../pipeline/dict.ts';

export type RunStatus = 'idle' | 'running' | 'paused' | 'done' | 'error' | 'cancelled';

export type DataChoice =
  | { kind: 'synthetic'; seed: number }
  | { kind: 'prism'; utterances: File | null; survey: File | null }
  | { kind: 'goqa'; file: File | null }
  | { kind: 'hub'; id: string };

export type ModelChoice =
  | { kind: 'bundled' }
  /** tune: head (frozen encoder, default) or fine-tuning (lora, top); seqLen: joint sequence length (fine-tuning). */
  | { kind: 'use-lite'; tune?: 'lora' | 'top' | 'head'; seqLen?: number }
  | { kind: 'files'; files: File[]; paths: string[]; name: string } | { kind: 'hub'; id: string };

export type Tab = 'charts' | 'results' | 'pairs' | 'policy';
export type Theme = 'system' | 'light' | 'dark';

export interface Notice {
  id: number;
  level: 'info' | 'warn' | 'error';
  text: string;
}

export interface LiveState {
  points: Record<string, LivePoint[]>;
  totalSteps: Record<string, number>;
  pointCount: number;
  /** ms timestamps: first live point, and when the run ended; lets tests check points came DURING the run. */
  firstPointAt: number | null;
  runs: RunResult[];
  efficiency: Record<string, EfficiencyEntry>;
  rPlus: Float32Array | null;
  rMinus: Float32Array | null;
  /** runKey()s of the main runs reused from an interrupted run (not trained in this page: no weights to export). */
  resumed: string[];
}

export interface RunState {
  id: number;
  status: RunStatus;
  message: string;
  startedAt: number | null;
  endedAt: number | null;
  error: WorkerError | null;
  phases: Partial<Record<Phase, PhaseProgress>>;
  phase: Phase | null;
  /** Fraction of the (country, method) run in progress, from its live points. */
  stepFraction: number;
  /** The config the run was started with (the form may change while it runs). */
  config: ExperimentConfig | null;
}

export interface UiState {
  theme: Theme;
  tab: Tab;
  country: string;
  metric: 'full' | 'edited' | 'both';
  marginMethod: Method;
  educator: number | null;
  /** Presentation mode (projector): large type, the bias story first, fewer controls; remembered per browser. */
  present: boolean;
}

export interface StudioState {
  data: DataChoice;
  model: ModelChoice;
  strict: boolean;
  allowNetwork: boolean;
  summary: DataSummary | null;
  dataStatus: 'none' | 'loading' | 'ready' | 'error';
  dataError: WorkerError | null;
  items: Item[] | null;
  pairs: Pair[] | null;
  config: ExperimentConfig;
  backendPref: BackendPref;
  hashNotice: string | null;
  run: RunState;
  backend: BackendReport | null;
  live: LiveState;
  result: ExperimentResult | null;
  /** 'partial': the finished runs of a run a reload interrupted (no result yet; it can be resumed). */
  resultOrigin: 'run' | 'import' | 'restored' | 'partial' | null;
  resultSavedAt: string | null;
  /** The imported folder's seeds_report.json (a CLI `--seeds` run), shown in the results view; null otherwise. */
  seeds: SeedsReport | null;
  interrupted: PendingRun | null;
  ui: UiState;
  notices: Notice[];
}

export const emptyLive = (): LiveState => ({
  points: {},
  totalSteps: {},
  pointCount: 0,
  firstPointAt: null,
  runs: [],
  efficiency: {},
  rPlus: null,
  rMinus: null,
  resumed: [],
});

export const idleRun = (): RunState => ({
  id: 0,
  status: 'idle',
  message: '',
  startedAt: null,
  endedAt: null,
  error: null,
  phases: {},
  phase: null,
  stepFraction: 0,
  config: null,
});

export function initialState(): StudioState {
  return {
    data: { kind: 'synthetic', seed: 0 },
    model: { kind: 'bundled' },
    strict: false,
    allowNetwork: false,
    summary: null,
    dataStatus: 'none',
    dataError: null,
    items: null,
    pairs: null,
    config: DEFAULT_CONFIG,
    backendPref: 'auto',
    hashNotice: null,
    run: idleRun(),
    backend: null,
    live: emptyLive(),
    result: null,
    resultOrigin: null,
    resultSavedAt: null,
    seeds: null,
    interrupted: null,
    ui: { theme: 'system', tab: 'charts', country: DEFAULT_CONFIG.countries[0], metric: 'both', marginMethod: 'scpo', educator: null, present: false },
    notices: [],
  };
}

type P = Partial<StudioState>;

const DATA_PROBLEM = 'Data problem';

let noticeId = 1;
export function addNotice(s: StudioState, level: Notice['level'], text: string): P {
  // The same text twice is one notice (a repeated failure should not stack up).
  if (s.notices.some((n) => n.text === text)) return {};
  return { notices: [...s.notices, { id: noticeId++, level, text }].slice(-6) };
}

export function dismissNotice(s: StudioState, id: number): P {
  return { notices: s.notices.filter((n) => n.id !== id) };
}

// ---------------------------------------------------------------------------------------------------------------
// Config

export function setConfig(s: StudioState, patch: Partial<ExperimentConfig>): P {
  const config = { ...s.config, ...patch };
  const ui = config.countries.includes(s.ui.country) || config.countries.length === 0 ? s.ui : { ...s.ui, country: config.countries[0] };
  return { config, ui };
}

export function toggleIn<T>(list: readonly T[], v: T, on: boolean): T[] {
  return on ? (list.includes(v) ? [...list] : [...list, v]) : list.filter((x) => x !== v);
}

/** When new data arrives, drop selected countries it lacks (with a notice) so a run does not fail on them. */
function fitConfigToData(s: StudioState, summary: DataSummary): P {
  const has = (c: string) => (own(summary.countries, c)?.pairs ?? 0) > 0;
  const dropped = [...s.config.countries, ...s.config.majority].filter((c) => !has(c));
  if (dropped.length === 0) return {};
  let countries = s.config.countries.filter(has);
  const majority = s.config.majority.filter(has);
  if (countries.length === 0) {
    countries = Object.keys(summary.countries)
      .filter((c) => has(c) && !majority.includes(c))
      .sort((a, b) => summary.countries[b].pairs - summary.countries[a].pairs)
      .slice(0, 7);
  }
  const next = { ...s, ...setConfig(s, { countries, majority }) };
  return {
    config: next.config,
    ui: next.ui,
    ...addNotice(s, 'warn', `Not in ${summary.source}: ${dropped.join(', ')}; ${dropped.length > 1 ? 'they were' : 'it was'} unselected.`),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Worker lifecycle

export function startLoading(_s: StudioState): P {
  return { dataStatus: 'loading', dataError: null };
}

const isActive = (s: StudioState) => s.run.status === 'running' || s.run.status === 'paused';

/** `resumed`: the finished runs a resumed run starts from (shown at once; the worker announces them again). */
export function startRun(s: StudioState, id: number, config: ExperimentConfig, now: number, resumed: RunResult[] = []): P {
  return {
    run: { ...idleRun(), id, status: 'running', message: resumed.length ? 'resuming' : 'starting', startedAt: now, config },
    live: resumed.length ? { ...emptyLive(), ...liveOfRuns(resumed) } : emptyLive(),
    result: null,
    resultOrigin: null,
    resultSavedAt: null,
    seeds: null,
    interrupted: null,
    dataError: null,
    ui: config.countries.includes(s.ui.country) ? s.ui : { ...s.ui, country: config.countries[0] },
  };
}

export function setPaused(s: StudioState, paused: boolean): P {
  if (s.run.status !== 'running' && s.run.status !== 'paused') return {};
  return { run: { ...s.run, status: paused ? 'paused' : 'running', message: paused ? 'paused' : 'resumed' } };
}

function foldEvents(s: StudioState, events: ExperimentEvent[], now: number): P {
  const run: RunState = { ...s.run, phases: { ...s.run.phases } };
  const live: LiveState = { ...s.live };
  let pointsCopied = false;
  let runsCopied = false;
  let fallback: Extract<ExperimentEvent, { type: 'backend-fallback' }> | null = null;
  for (const e of events) {
    switch (e.type) {
      case 'phase': {
        const prev = run.phases[e.phase];
        // A new phase closes the ones before it (the experiment runs them in order).
        if (run.phase && run.phase !== e.phase) {
          const old = run.phases[run.phase];
          if (old && old.endedAt === null) run.phases[run.phase] = { ...old, endedAt: now, done: old.total };
        }
        if (e.phase === 'done') {
          for (const [k, v] of Object.entries(run.phases)) if (v && v.endedAt === null) run.phases[k as Phase] = { ...v, endedAt: now };
          run.phase = 'done';
          break;
        }
        const finished = e.total > 0 && e.done >= e.total && (e.phase === 'score' || e.phase === 'filter' || e.phase === 'load' || e.phase === 'evaluate');
        run.phases[e.phase] = {
          done: e.done,
          total: e.total,
          label: e.label,
          startedAt: prev?.startedAt ?? now,
          endedAt: finished ? now : null,
        };
        if (!prev || prev.done !== e.done) run.stepFraction = 0;
        run.phase = e.phase;
        run.message = e.label;
        break;
      }
      case 'scored':
        live.rPlus = e.rPlus;
        live.rMinus = e.rMinus;
        break;
      case 'point': {
        if (!pointsCopied) {
          live.points = { ...live.points };
          live.totalSteps = { ...live.totalSteps };
          pointsCopied = true;
        }
        const k = runKey(e.country, e.method);
        live.points[k] = [...(live.points[k] ?? []), e.point];
        live.totalSteps[k] = e.totalSteps;
        live.pointCount++;
        if (live.firstPointAt === null) live.firstPointAt = now;
        run.stepFraction = e.totalSteps > 0 ? e.point.step / e.totalSteps : 0;
        break;
      }
      case 'run': {
        if (!runsCopied) {
          live.runs = [...live.runs];
          runsCopied = true;
        }
        const i = live.runs.findIndex((r) => r.country === e.run.country && r.method === e.run.method);
        if (i >= 0) live.runs[i] = e.run;
        else live.runs.push(e.run);
        if (e.resumed) {
          const k = runKey(e.run.country, e.run.method);
          if (!live.resumed.includes(k)) live.resumed = [...live.resumed, k];
          // A reused run has no live points of its own: show its recorded curve.
          if (e.run.points.length && !live.points[k]) live.points = { ...live.points, [k]: e.run.points };
        }
        break;
      }
      case 'efficiency':
        live.efficiency = { ...live.efficiency, [e.country]: e.entry };
        break;
      case 'backend-fallback':
        fallback = e;
        break;
    }
  }
  if (!fallback) return { run, live };
  // The run goes on, on another backend: the badge and a notice say so (once).
  const f = fallback;
  const reason = `fell back from ${f.from} during ${f.run} at step ${f.atStep} (resumed from step ${f.resumedFrom}): ${f.reason}`;
  return {
    run,
    live,
    backend: { name: f.to, info: s.backend?.info ?? '', reason },
    ...addNotice(s, 'warn', `The ${f.from} backend was lost; training continues on ${f.to}. ${f.reason}`),
  };
}

/** Folds one validated worker message into the state. */
export function applyMessage(s: StudioState, msg: FromWorker, now: number): P {
  switch (msg.type) {
    case 'status':
      // A load-only request's progress belongs to the data picker, not to the last run's status line.
      return isActive(s) ? { run: { ...s.run, message: msg.message } } : {};
    case 'data': {
      // Good data clears the notices of earlier bad files.
      const notices = s.notices.filter((n) => !n.text.startsWith(DATA_PROBLEM));
      return {
        summary: msg.summary,
        dataStatus: 'ready',
        dataError: null,
        ...fitConfigToData({ ...s, notices }, msg.summary),
        ...(notices.length !== s.notices.length ? { notices } : {}),
      };
    }
    case 'pairs':
      return { items: msg.items, pairs: msg.pairs };
    case 'saved':
    case 'model':
    case 'job':
      // Answers to exportModel() / exportJob() are resolved by the client itself and never reach the store.
      return {};
    case 'backend':
      return { backend: msg.report };
    case 'events':
      return foldEvents(s, msg.events, now);
    case 'result': {
      const r = msg.result;
      const points: Record<string, LivePoint[]> = {};
      for (const run of r.runs) if (run.points.length) points[runKey(run.country, run.method)] = run.points;
      const efficiency = { ...s.live.efficiency, ...r.reports.efficiency.countries };
      return {
        result: r,
        resultOrigin: 'run',
        resultSavedAt: null,
        seeds: null,
        run: { ...s.run, status: 'done', message: 'done', endedAt: now, phase: 'done', stepFraction: 0 },
        live: { ...s.live, points: { ...s.live.points, ...points }, runs: r.runs, efficiency, rPlus: r.rPlus, rMinus: r.rMinus },
      };
    }
    case 'error': {
      const e = msg.error;
      if (e.kind === 'cancelled') {
        return isActive(s) ? { run: { ...s.run, status: 'cancelled', message: 'cancelled', endedAt: now } } : {};
      }
      // DataError messages already start with file:line:field; add the location only when they do not.
      const where = e.file && !e.message.includes(e.file) ? ` (${e.file}${e.line ? `:${e.line}` : ''}${e.field ? `:${e.field}` : ''})` : '';
      const text = `${e.kind === 'data' ? DATA_PROBLEM : e.kind === 'config' ? 'Config problem' : 'Error'}: ${e.message}${where}`;
      if (!isActive(s)) {
        // A load-only request failed: the data picker shows it; a finished run on screen stays as it is.
        return {
          dataStatus: e.kind === 'data' ? 'error' : s.dataStatus,
          dataError: e.kind === 'data' ? e : s.dataError,
          ...addNotice(s, e.kind === 'data' ? 'error' : 'warn', text),
        };
      }
      return {
        run: { ...s.run, status: 'error', message: e.message, error: e, endedAt: now },
        dataStatus: e.kind === 'data' ? 'error' : s.dataStatus,
        dataError: e.kind === 'data' ? e : s.dataError,
        ...addNotice(s, 'error', text),
      };
    }
  }
}

/** Shows a finished run again (import or IndexedDB restore) in every view. */
export function showBundle(s: StudioState, b: RunBundle, origin: 'import' | 'restored'): P {
  const r = b.result;
  const points: Record<string, LivePoint[]> = {};
  for (const run of r.runs) if (run.points.length) points[runKey(run.country, run.method)] = run.points;
  return {
    result: r,
    resultOrigin: origin,
    resultSavedAt: b.savedAt,
    seeds: null,
    summary: b.summary ?? s.summary,
    // Without its own pairs a bundle may only borrow the loaded ones when they come from the same source.
    items: b.items ?? (s.summary?.source === r.source ? s.items : null),
    pairs: b.pairs ?? (s.summary?.source === r.source ? s.pairs : null),
    config: r.config,
    live: {
      ...emptyLive(),
      points,
      pointCount: Object.values(points).reduce((a, p) => a + p.length, 0),
      runs: r.runs,
      efficiency: r.reports.efficiency?.countries ?? {},
      rPlus: r.rPlus.length ? r.rPlus : null,
      rMinus: r.rMinus.length ? r.rMinus : null,
    },
    run: { ...idleRun(), status: 'done', message: origin === 'import' ? 'imported run' : 'restored last run', config: r.config },
    ui: { ...s.ui, country: r.config.countries.includes(s.ui.country) ? s.ui.country : r.config.countries[0] },
  };
}

/** Live-view fields (runs and their curves) of finished runs. */
function liveOfRuns(runs: RunResult[]): Pick<LiveState, 'runs' | 'points' | 'pointCount'> {
  const points: Record<string, LivePoint[]> = {};
  for (const run of runs) if (run.points.length) points[runKey(run.country, run.method)] = run.points;
  return { runs, points, pointCount: Object.values(points).reduce((a, p) => a + p.length, 0) };
}

/**
 * After a reload mid-run: the interrupted run's finished runs (table and charts, marked partial) with its config;
 * the run itself stays offered for resuming (`interrupted`).
 */
export function showPartial(s: StudioState, p: PendingRun): P {
  const runs = p.runs ?? [];
  const trained = runs.filter((r) => r.method !== 'start').length;
  return {
    result: null,
    resultOrigin: 'partial',
    resultSavedAt: null,
    seeds: null,
    config: p.config,
    live: { ...emptyLive(), ...liveOfRuns(runs) },
    run: { ...idleRun(), status: 'idle', message: `interrupted: ${trained} run${trained === 1 ? '' : 's'} finished`, config: p.config },
    interrupted: p,
    ui: { ...s.ui, country: p.config.countries.includes(s.ui.country) ? s.ui.country : p.config.countries[0] },
  };
}

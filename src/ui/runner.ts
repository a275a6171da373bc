// Side effects of the studio: the experiment worker (run, load, pause, resume, cancel), IndexedDB persistence,
// the URL hash and startup restore. Everything it changes in the store goes through the pure actions.
import { resolveConfig } from '../pipeline/experiment.ts';
import type { CompletedRuns } from '../pipeline/experiment.ts';
import { ConfigError } from '../pipeline/types.ts';
import type { Method, Pair } from '../pipeline/types.ts';
import { ExperimentClient } from '../workers/client.ts';
import { modelStem } from '../pipeline/rm/export.ts';
import type { DataSpec, FromWorker, JobSpec, ModelSpec } from '../workers/protocol.ts';
import * as A from './actions.ts';
import type { DataChoice, ModelChoice, StudioState } from './actions.ts';
import { NETWORK_FLAG_KEY, readNetworkFlag } from './csp.ts';
import { phaseFraction } from './derive.ts';
import { encodeHash, parseHash } from './hash.ts';
import type { HashState } from './hash.ts';
import { bundleJson, download, parseBundle } from './export.ts';
import { zip } from './zip.ts';
import { pickedName, readRunFiles } from './job-import.ts';
import type { RunBundle } from './export.ts';
import { clearPending, loadLast, loadPending, saveLast, savePending } from './persist.ts';
import type { PendingRun } from './persist.ts';
import { update, useStudio } from './store.ts';
import { dict, dictFrom, own } from '../pipeline/dict.ts';

let client: ExperimentClient | null = null;
let pending: PendingRun | null = null;
let lastPendingSave = 0;
/** The pairs of the worker's last load as received (the store shows them while s.pairs is this very array). */
let workerPairs: { pairs: Pair[] | null; version: number } = { pairs: null, version: -1 };

function getClient(): ExperimentClient {
  client ??= new ExperimentClient(onMessage);
  return client;
}

const notice = (level: A.Notice['level'], text: string) => update((s) => A.addNotice(s, level, text));

/**
 * Live messages ('events', 'status') are applied together, at most every LIVE_UPDATE_MS and on an animation frame,
 * so one store update (and one React render) covers everything that arrived meanwhile, however many workers send.
 * Anything else (data, result, error) is applied at once, after what is queued, in arrival order.
 */
export const LIVE_UPDATE_MS = 250;
let queued: FromWorker[] = [];
let flushTimer: ReturnType<typeof setTimeout> | null = null;
let lastFlush = 0;

function onMessage(msg: FromWorker): void {
  queued.push(msg);
  if (msg.type !== 'events' && msg.type !== 'status') return flushMessages();
  if (flushTimer) return;
  const frame = (fn: () => void) => (typeof requestAnimationFrame === 'function' && !document.hidden ? requestAnimationFrame(fn) : fn());
  flushTimer = setTimeout(() => frame(flushMessages), Math.max(0, LIVE_UPDATE_MS - (Date.now() - lastFlush)));
}

function flushMessages(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = null;
  lastFlush = Date.now();
  const msgs = queued;
  queued = [];
  if (msgs.length === 0) return;
  const now = Date.now();
  update((s) => {
    let st = s;
    for (const m of msgs) st = { ...st, ...A.applyMessage(st, m, now) };
    return st;
  });
  for (const m of msgs) afterMessage(m);
}

/** Side effects of a message once the store has it: saving the result or the interrupted run's progress. */
function afterMessage(msg: FromWorker): void {
  const s = useStudio.getState();
  if (msg.type === 'pairs' && msg.version !== undefined) workerPairs = { pairs: msg.pairs, version: msg.version };
  if (msg.type === 'saved') {
    if (msg.error) notice('warn', `The result could not be saved in this browser (${msg.error}).`);
    else update(() => ({ resultSavedAt: msg.savedAt }));
  } else if (msg.type === 'result') {
    pending = null;
    // The worker saves what it announces (no clone of every pair on this thread); anything else is saved here.
    if (!msg.saving) {
      const bundle: RunBundle = { result: msg.result, summary: s.summary, items: s.items, pairs: s.pairs, savedAt: new Date().toISOString() };
      saveLast(bundle)
        .then(() => update(() => ({ resultSavedAt: bundle.savedAt })))
        .catch((e: unknown) => notice('warn', `The result could not be saved in this browser (${String(e)}).`));
    }
    clearPending().catch(() => {});
  } else if (msg.type === 'error' && pending) {
    pending = null;
    clearPending().catch(() => {});
  } else if (msg.type === 'events' && pending) {
    // Each finished run is saved at once (a reload shows it and the run resumes from it); progress every 2 s.
    const finished = msg.events.filter((e) => e.type === 'run');
    if (finished.length === 0 && Date.now() - lastPendingSave <= 2000) return;
    let runs = pending.runs ?? [];
    let margins = pending.margins ?? dict();
    if (finished.length) {
      runs = [...runs];
      margins = dictFrom(Object.entries(margins));
      for (const e of finished) {
        if (e.type !== 'run') continue;
        const { country, method } = e.run;
        runs = [...runs.filter((r) => r.country !== country || r.method !== method), e.run];
        if (e.margins) margins[country] = { ...own(margins, country), [method]: e.margins };
      }
    }
    lastPendingSave = Date.now();
    pending = { ...pending, progress: overallProgress(s), label: s.run.message, runs, margins };
    savePending(pending).catch(() => {});
  }
}

/** Rough overall progress: phases weighted by what usually dominates (training). */
export function overallProgress(s: StudioState): number {
  const w: Record<string, number> = { load: 0.05, score: 0.05, filter: 0.02, train: 0.6, efficiency: 0.25, evaluate: 0.03 };
  let done = 0;
  for (const [k, v] of Object.entries(s.run.phases)) {
    if (!v) continue;
    done += (w[k] ?? 0) * phaseFraction(v, k === s.run.phase ? s.run.stepFraction : 0);
  }
  return Math.min(1, done);
}

export function dataSpecOf(d: DataChoice, allowNetwork: boolean): DataSpec | string {
  switch (d.kind) {
    case 'synthetic':
      return { kind: 'synthetic', seed: d.seed };
    case 'prism':
      if (!d.utterances || !d.survey) return 'PRISM needs both utterances and survey files.';
      return { kind: 'prism', utterances: d.utterances, survey: d.survey };
    case 'goqa':
      if (!d.file) return 'Choose a global_opinions.csv file.';
      return { kind: 'goqa', file: d.file };
    case 'hub':
      if (!allowNetwork) return 'Turn on "allow network" to use a hub dataset.';
      if (!/^[\w.-]+\/[\w.-]+$/.test(d.id.trim())) return 'A hub dataset id looks like owner/name.';
      return { kind: 'hub', id: d.id.trim() };
  }
}

export function modelSpecOf(m: ModelChoice, allowNetwork: boolean): ModelSpec | string {
  switch (m.kind) {
    case 'bundled':
      return { kind: 'bundled' };
    case 'use-lite':
      return { kind: 'use-lite', ...(m.tune ? { tune: m.tune } : {}), ...(m.seqLen ? { seqLen: m.seqLen } : {}) };
    case 'files':
      if (m.files.length === 0) return 'The chosen model folder is empty.';
      return { kind: 'files', files: m.files, paths: m.paths };
    case 'hub':
      if (!allowNetwork) return 'Turn on "allow network" to use a hub model.';
      if (!/^[\w.-]+\/[\w.-]+$/.test(m.id.trim())) return 'A hub model id looks like owner/name.';
      return { kind: 'hub', id: m.id.trim() };
  }
}

/** Loads the chosen data (summary + pairs) without training. Incomplete choices (one PRISM file) wait silently. */
export function loadData(): void {
  const s = useStudio.getState();
  if (s.run.status === 'running' || s.run.status === 'paused') return;
  const spec = dataSpecOf(s.data, s.allowNetwork);
  if (typeof spec === 'string') return;
  getClient().load(spec, s.strict);
  update((st) => A.startLoading(st));
}

export function startRun(): void {
  launch();
}

/**
 * Training workers for runs: by default one per core but one (defaultTrainingThreads in experiment/shards.ts); localStorage
 * "scpo-studio.workers" (an integer) overrides it (e.g. 1 to compare with the parallel result, which is identical).
 */
export const WORKERS_KEY = 'scpo-studio.workers';
function workersOverride(): number | undefined {
  try {
    const n = Number(localStorage.getItem(WORKERS_KEY));
    return Number.isInteger(n) && n >= 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a run of the form's settings; `completed`: finished runs of this same config to resume from. */
function launch(completed?: CompletedRuns): void {
  const s = useStudio.getState();
  let config;
  try {
    config = resolveConfig(s.config);
  } catch (e) {
    notice('error', e instanceof ConfigError ? `Config problem: ${e.message}` : String(e));
    return;
  }
  const data = dataSpecOf(s.data, s.allowNetwork);
  const model = modelSpecOf(s.model, s.allowNetwork);
  if (typeof data === 'string') return notice('error', data);
  if (typeof model === 'string') return notice('error', model);
  // The worker does not send the pairs again when the page still shows the ones of its last load.
  const havePairs = s.pairs !== null && s.pairs === workerPairs.pairs ? workerPairs.version : undefined;
  const id = getClient().run(config, data, model, s.backendPref, s.strict, completed, workersOverride(), havePairs);
  update((st) => A.startRun(st, id, config, Date.now(), completed?.runs));
  pending = { config, data, model, backend: s.backendPref, startedAt: Date.now(), progress: 0, label: 'starting', ...(completed ? { runs: completed.runs, margins: completed.margins } : {}) };
  lastPendingSave = Date.now();
  savePending(pending).catch(() => {});
}

export function pauseRun(): void {
  const s = useStudio.getState();
  if (s.run.status === 'running') {
    getClient().pause();
    update((st) => A.setPaused(st, true));
  } else if (s.run.status === 'paused') {
    getClient().resume();
    update((st) => A.setPaused(st, false));
  }
}

export function cancelRun(): void {
  const s = useStudio.getState();
  if (s.run.status !== 'running' && s.run.status !== 'paused') return;
  getClient().cancel();
  pending = null;
  // The worker confirms with a 'cancelled' error; show it without waiting (it may be inside a long step), but only
  // once the interrupted-run record is gone, so a reload right after a cancel does not offer the run again.
  const done = () =>
    update((st) => (st.run.status === 'running' || st.run.status === 'paused' ? { run: { ...st.run, status: 'cancelled', message: 'cancelled', endedAt: Date.now() } } : {}));
  clearPending().then(done, done);
}

/**
 * Resumes the run that a reload interrupted, with its exact config, data and model: the runs it had finished are
 * passed as `completed` and the worker trains only the missing ones (from scratch when none had finished).
 */
export function rerunInterrupted(): void {
  const s = useStudio.getState();
  const p = s.interrupted;
  if (!p) return;
  const data: DataChoice =
    p.data.kind === 'synthetic'
      ? p.data
      : p.data.kind === 'prism'
        ? { kind: 'prism', utterances: p.data.utterances, survey: p.data.survey }
        : p.data.kind === 'goqa'
          ? { kind: 'goqa', file: p.data.file }
          : { kind: 'hub', id: p.data.id };
  const model: ModelChoice =
    p.model.kind === 'files'
      ? { kind: 'files', files: p.model.files, paths: p.model.paths ?? p.model.files.map((f) => f.name), name: 'restored folder' }
      : p.model;
  update(() => ({ config: p.config, data, model, backendPref: p.backend, interrupted: null }));
  const runs = p.runs ?? [];
  launch(runs.length ? { runs, margins: p.margins ?? {} } : undefined);
}

export function dismissInterrupted(): void {
  update((s) => (s.resultOrigin === 'partial' ? { interrupted: null, resultOrigin: null, live: A.emptyLive(), run: A.idleRun() } : { interrupted: null }));
  clearPending().catch(() => {});
}

/** Import run…: a saved bundle (.json), or a report folder (the PyTorch job's or the CLI's output) as a folder or a zip. */
export async function importRunFiles(files: File[]): Promise<void> {
  const name = pickedName(files);
  try {
    const { bundle, origin, seeds } = await readRunFiles(files);
    update((s) => {
      const shown = A.showBundle(s, bundle, 'import');
      // backend: null so the badge names the imported run's engine (result.backend), not this page's last backend.
      return { ...shown, seeds, backend: null, run: { ...(shown.run as A.RunState), message: `imported: ${origin}` }, ...A.addNotice(s, 'info', `Imported ${name}: ${origin}.`) };
    });
  } catch (e) {
    notice('error', `Could not import ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Downloads a PyTorch job (one zip: data, plan, bag RM, job/run.py, README): of the latest run of this page when
 * there is one (its own global scores), else of the form's settings, data and model, scored and trained nowhere here.
 */
export async function exportJob(): Promise<void> {
  const s = useStudio.getState();
  let fresh: JobSpec | undefined;
  if (!(s.result && s.resultOrigin === 'run')) {
    let config;
    try {
      config = resolveConfig(s.config);
    } catch (e) {
      return notice('error', e instanceof ConfigError ? `Config problem: ${e.message}` : String(e));
    }
    const data = dataSpecOf(s.data, s.allowNetwork);
    const model = modelSpecOf(s.model, s.allowNetwork);
    if (typeof data === 'string') return notice('error', data);
    if (typeof model === 'string') return notice('error', model);
    fresh = { config, data, model, strict: s.strict };
  }
  try {
    const files = await getClient().exportJob(fresh);
    const seed = fresh ? fresh.config.seed : (s.result?.config.seed ?? 0);
    const stem = `scpo-job-${seed}`;
    download(`${stem}.zip`, zip(files.map((f) => ({ path: `${stem}/${f.path}`, bytes: new Uint8Array(f.bytes) }))));
    notice('info', `Saved the run as a PyTorch job, ${stem}.zip: unzip it and run python3 ${stem}/run.py --out OUT (see its README.md).`);
  } catch (e) {
    notice('error', `Job export failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function currentBundleJson(): string | null {
  const s = useStudio.getState();
  if (!s.result) return null;
  return bundleJson({ result: s.result, summary: s.summary, items: s.items, pairs: s.pairs, savedAt: new Date().toISOString() });
}

/** Exports the (country, method) RM of the latest run in this page as HF-layout files (ONNX + tokenizer). */
export async function exportModel(country: string, method: Method): Promise<void> {
  try {
    const files = await getClient().exportModel(country, method);
    // One zip holding the HF folder (<stem>/config.json, tokenizer*.json, onnx/model.onnx): a single download.
    const stem = modelStem(country, method);
    download(`${stem}.zip`, zip(files.map((f) => ({ path: `${stem}/${f.path}`, bytes: new Uint8Array(f.bytes) }))));
    notice('info', `Saved the ${country} · ${method} reward model as ${stem}.zip (${files.map((f) => f.path).join(', ')}).`);
  } catch (e) {
    notice('error', `Model export failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function setAllowNetwork(on: boolean): void {
  try {
    if (on) localStorage.setItem(NETWORK_FLAG_KEY, '1');
    else localStorage.removeItem(NETWORK_FLAG_KEY);
  } catch {
    notice('error', 'This browser blocks storage, so the network setting cannot be kept.');
    return;
  }
  // The page's CSP is fixed at load (src/ui/boot.ts): reload so the new policy applies.
  location.reload();
}

// ---------------------------------------------------------------------------------------------------------------
// URL hash

function hashStateOf(s: StudioState): HashState {
  return {
    config: s.config,
    data: s.data.kind === 'synthetic' ? { kind: 'synthetic', seed: s.data.seed } : { kind: 'files' },
    backend: s.backendPref,
  };
}

function applyHash(hash: string): boolean {
  const h = parseHash(hash);
  if (!h.present) return false;
  update((s) => {
    const data: DataChoice = h.state.data.kind === 'synthetic' ? h.state.data : s.data;
    const fileNote =
      !h.notice && h.state.data.kind === 'files' && s.data.kind === 'synthetic'
        ? A.addNotice(s, 'info', 'This link was made with local data files: load the same files to reproduce the run.')
        : {};
    return {
      ...A.setConfig(s, h.state.config),
      data,
      backendPref: h.state.backend,
      hashNotice: h.notice,
      ...fileNote,
    };
  });
  return true;
}

export function shareLink(): string {
  const s = useStudio.getState();
  return `${location.origin}${location.pathname}#${encodeHash(hashStateOf(s))}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Startup

let started = false;

export async function startStudio(): Promise<void> {
  if (started) return;
  started = true;
  update(() => ({ allowNetwork: readNetworkFlag() }));
  const fromHash = applyHash(location.hash);
  window.addEventListener('hashchange', () => {
    if (location.hash.slice(1) !== encodeHash(hashStateOf(useStudio.getState()))) applyHash(location.hash);
  });
  // Keep the URL true to the form, without adding history entries.
  let lastHash = '';
  const syncHash = (s: StudioState) => {
    const h = encodeHash(hashStateOf(s));
    if (h !== lastHash) {
      lastHash = h;
      history.replaceState(null, '', `#${h}`);
    }
  };
  useStudio.subscribe((s, prev) => {
    if (s.config !== prev.config || s.data !== prev.data || s.backendPref !== prev.backendPref) syncHash(s);
  });

  try {
    const [last, pend] = await Promise.all([loadLast(), loadPending()]);
    const partial = !!pend?.runs?.length;
    if (last && !partial) {
      const sameConfig = !fromHash || JSON.stringify(last.result.config) === JSON.stringify(useStudio.getState().config);
      if (sameConfig) update((s) => A.showBundle(s, last, 'restored'));
      else update((s) => A.addNotice(s, 'info', 'A saved run exists for other settings; the link\u2019s settings were kept.'));
    }
    // An interrupted run that finished some runs is shown (partial) instead of the last finished one.
    if (pend && partial) update((s) => A.showPartial(s, pend));
    else if (pend) update(() => ({ interrupted: pend }));
  } catch (e) {
    update((s) => A.addNotice(s, 'warn', `Saved runs are unavailable (${e instanceof Error ? e.message : String(e)}).`));
  }
  syncHash(useStudio.getState());
  loadData();
}

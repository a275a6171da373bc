// Node only: one experiment session split over worker_threads by (country, method) run. Each worker re-loads the
// data and the model from a serialisable description, runs the same runSession as one shard (experiment/shards.ts:
// every shard scores and builds the sets, then trains the runs the shared plan gives it), forwards its progress
// events, and the parent merges the shards with mergeShards. Every run's randomness comes from
// hashSeed(seed, country, method, tag), so the reports are the same as one in-process runSession.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Backend } from '../gpu/backend.ts';
import { cpuBackend } from '../gpu/cpu/trainer.ts';
import { getNodeGpu, prepareVulkan } from '../gpu/node-webgpu.node.ts';
import { selectBackend } from '../gpu/select.ts';
import type { BackendPreference } from '../gpu/select.ts';
import { loadSynthetic } from './data/index.ts';
import { loadDataPath } from './data/node.ts';
import { checkCountries, mergeShards, resolveConfig } from './experiment.ts';
import type { ExperimentConfig, ExperimentEvent, ExperimentResult } from './experiment.ts';
import { loadBagRM } from './rm/files.ts';
import { dirReader } from './rm/files.node.ts';
import { METHOD_SPECS } from './scpo.ts';
import { runSession } from './session.ts';
import type { SessionInputs, SessionOutput } from './session.ts';
import { CancelledError } from './train/loop.ts';
import { ConfigError, DataError } from './types.ts';
import type { DataFormat, PreferenceData } from './types.ts';
import type { LoadOptions } from './data/index.ts';

/** Where the data comes from, in a form a worker can load again. */
export type DataSpec =
  | { kind: 'synthetic'; seed: number; loadOpts?: LoadOptions }
  | { kind: 'path'; path: string; format?: DataFormat; loadOpts?: LoadOptions };

export function loadDataSpec(spec: DataSpec): Promise<PreferenceData> {
  return spec.kind === 'synthetic'
    ? loadSynthetic(spec.seed, undefined, spec.loadOpts)
    : loadDataPath(spec.path, spec.format, spec.loadOpts);
}

/** Everything a worker needs to rebuild a session's data, model and backend. */
export interface SessionSource {
  data: DataSpec;
  /** Folder of the (global) bag RM, as loadBagRM(dirReader(dir)) reads it. */
  modelDir: string;
  backend: BackendPreference;
}

export interface ParallelSessionInputs extends Pick<SessionInputs, 'config' | 'globalRm' | 'globalTrain' | 'onEvent'> {
  source: SessionSource;
  /** The loaded data (balances the groups and checks the countries in the parent); loaded from `source` if absent. */
  data?: PreferenceData;
}

interface WorkerTask {
  kind: 'scpo-session-worker';
  source: SessionSource;
  config: ExperimentConfig;
  globalRm: SessionInputs['globalRm'];
  globalTrain?: SessionInputs['globalTrain'];
  shard: { index: number; of: number };
}

type WorkerMessage =
  | { type: 'event'; event: ExperimentEvent }
  | { type: 'result'; result: ExperimentResult }
  | { type: 'error'; name: string; message: string; stack?: string };

async function backendFor(pref: BackendPreference, model: Awaited<ReturnType<typeof loadBagRM>>): Promise<Backend> {
  if (pref === 'cpu') return cpuBackend;
  const { gpu } = await getNodeGpu();
  return (await selectBackend(pref, gpu, { model: model.params.config })).backend;
}

function rebuildError(m: Extract<WorkerMessage, { type: 'error' }>): Error {
  let e: Error;
  // Bad input stays a one-line, exit-2 error in the CLI (a DataError's message already names file:line:field).
  if (m.name === 'ConfigError' || m.name === 'DataError') e = new ConfigError(m.message);
  else if (m.name === 'CancelledError') e = new CancelledError();
  else e = new Error(m.message);
  if (m.stack) e.stack = m.stack;
  return e;
}

// Workers get tsx's ESM hooks from a tiny ESM bootstrap: on Node 20, tsx's `--import tsx` loader registers its
// hooks on the main thread only, so the bootstrap calls tsx's register() API itself, then imports this module,
// whose worker branch at the bottom runs the task.
const require_ = createRequire(import.meta.url);
function startWorker(task: WorkerTask): Worker {
  const api = pathToFileURL(join(dirname(require_.resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const code =
    `const { register } = await import(${JSON.stringify(api)});\nregister();\n` +
    `await import(${JSON.stringify(import.meta.url)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: task, execArgv: [] });
}

/**
 * The session of `inp` with its countries split over `workers` worker threads (at most one per country). Returns
 * what runSession returns for the result (merged with mergeResults); `encoded` / `globalParams` are not returned
 * (they live in the workers). Progress: the workers' events, with train / efficiency progress summed over them.
 */
export async function runSessionParallel(
  inp: ParallelSessionInputs,
  workers: number,
): Promise<Pick<SessionOutput, 'result' | 'timings'>> {
  const emit = inp.onEvent ?? (() => {});
  const config = resolveConfig(inp.config);
  const data = inp.data ?? (await loadDataSpec(inp.source.data));
  checkCountries(config, data);
  // Same run count as runExperiment's progress on the whole config.
  const trainMethods = config.methods.filter((m) => METHOD_SPECS[m].trains).length;
  const doEfficiency = config.efficiency && config.methods.includes('full_ft') && config.methods.includes('scpo');
  const total = config.countries.length * (trainMethods + (doEfficiency ? config.efficiencyFractions.length : 0));
  const shards = Math.max(1, Math.min(Math.floor(workers), total));
  const groups = Array.from({ length: shards }, (_, i) => i);
  const source: SessionSource = {
    ...inp.source,
    data: inp.source.data.kind === 'path' ? { ...inp.source.data, path: resolve(inp.source.data.path) } : inp.source.data,
    modelDir: resolve(inp.source.modelDir),
  };
  const done = groups.map(() => 0);
  const pool: Worker[] = [];
  // The workers' Dawn needs the real environment and the preloaded Vulkan loader of this (main) thread.
  if (inp.source.backend !== 'cpu') prepareVulkan();
  const onWorkerEvent = (g: number, e: ExperimentEvent) => {
    if (e.type === 'phase') {
      if (e.phase === 'train' || e.phase === 'efficiency') {
        done[g] = e.done;
        emit({ ...e, done: done.reduce((s, d) => s + d, 0), total });
      } else if (g === 0 && e.phase !== 'evaluate' && e.phase !== 'done') emit(e);
      return;
    }
    if (e.type === 'scored') return; // the same in every shard; the merged scores come with the result
    emit(e);
  };
  const runGroup = (g: number) =>
    new Promise<ExperimentResult>((res, rej) => {
      const task: WorkerTask = {
        kind: 'scpo-session-worker',
        source,
        config,
        globalRm: inp.globalRm,
        globalTrain: inp.globalTrain,
        shard: { index: g, of: shards },
      };
      const w = startWorker(task);
      pool.push(w);
      let settled = false;
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'event') onWorkerEvent(g, m.event);
        else if (m.type === 'result') {
          settled = true;
          res(m.result);
        } else {
          settled = true;
          rej(rebuildError(m));
        }
      });
      w.on('error', (e) => {
        settled = true;
        rej(e);
      });
      w.on('exit', (code) => {
        if (!settled) rej(new Error(`worker for shard ${g + 1}/${shards} exited with code ${code} before its result`));
      });
    });
  try {
    const parts = await Promise.all(groups.map((g) => runGroup(g)));
    emit({ type: 'phase', phase: 'evaluate', done: 0, total: 1, label: 'writing reports' });
    const result = mergeShards(parts, config);
    result.timings.workers = groups.length;
    emit({ type: 'scored', rPlus: result.rPlus, rMinus: result.rMinus });
    emit({ type: 'phase', phase: 'done', done: 1, total: 1, label: 'done' });
    return { result, timings: result.timings };
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

async function workerMain(task: WorkerTask): Promise<void> {
  const port = parentPort!;
  const post = (m: WorkerMessage) => port.postMessage(m);
  try {
    const data = await loadDataSpec(task.source.data);
    const model = await loadBagRM(dirReader(task.source.modelDir));
    const backend = await backendFor(task.source.backend, model);
    const { result } = await runSession({
      data,
      model,
      backend,
      config: task.config,
      globalRm: task.globalRm,
      globalTrain: task.globalTrain,
      shard: task.shard,
      onEvent: (event) => post({ type: 'event', event }),
    });
    post({ type: 'result', result });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const name = e instanceof ConfigError ? 'ConfigError' : e instanceof DataError ? 'DataError' : err.name;
    post({ type: 'error', name, message: err.message, stack: err.stack });
  }
}

if (!isMainThread && (workerData as WorkerTask | undefined)?.kind === 'scpo-session-worker') {
  void workerMain(workerData as WorkerTask);
}

// Node only: one experiment session split over worker_threads by (country, method) run, as the studio's shard workers
// do it: this thread runs the session and trains shard 0; the workers, started at once, get the data, tokens, global
// params and global scores when they are known and train their shards (experiment/shards.ts) with the same
// runExperiment; the parent merges the shards with mergeShards. Every run's randomness comes from
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
import { mergeShards, resolveConfig, runExperiment, scoresScorer } from './experiment.ts';
import type { ExperimentConfig, ExperimentEvent, ExperimentResult } from './experiment.ts';
import { loadBagRM } from './rm/files.ts';
import type { LoadedBagRM } from './rm/files.ts';
import type { BagRMConfig, BagRMParams, EncodedItems } from './rm/types.ts';
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
  /** The loaded data; loaded from `source` if absent. */
  data?: PreferenceData;
  /** The loaded (global) bag RM; loaded from `source.modelDir` if absent. */
  model?: LoadedBagRM;
}

/** What a shard worker is started with: it loads its modules, then waits for its inputs. */
interface WorkerTask {
  kind: 'scpo-session-worker';
  backend: BackendPreference;
  config: ExperimentConfig;
  shard: { index: number; of: number };
}

/** Shard 0's session scored: what the other shards train from (the data without its texts, the tokens, the global RM and its scores). */
interface ShardInputs {
  type: 'inputs';
  data: PreferenceData;
  encoded: EncodedItems;
  globalParams: BagRMParams;
  gScores: Float32Array;
}

type WorkerMessage =
  | { type: 'event'; event: ExperimentEvent }
  | { type: 'result'; result: ExperimentResult }
  | { type: 'error'; name: string; message: string; stack?: string };

async function backendFor(pref: BackendPreference, model: BagRMConfig): Promise<Backend> {
  if (pref === 'cpu') return cpuBackend;
  const { gpu } = await getNodeGpu();
  return (await selectBackend(pref, gpu, { model })).backend;
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
 * The session of `inp` with its training split over `workers` shards by (country, method) run (experiment/shards.ts).
 * This thread runs the session (data, model, tokens, global scores; with --global-rm train, the global RM) and trains
 * shard 0; workers 1..n-1 start at once (their module loading overlaps that work) and, when the global scores are
 * known, get the data (without texts), tokens, global params and scores, and train their shards with the same
 * runExperiment. mergeShards gives exactly the one-thread result. Progress: train / efficiency summed over shards.
 */
export async function runSessionParallel(
  inp: ParallelSessionInputs,
  workers: number,
): Promise<Pick<SessionOutput, 'result' | 'timings'>> {
  const emit = inp.onEvent ?? (() => {});
  const config = resolveConfig(inp.config);
  const trainMethods = config.methods.filter((m) => METHOD_SPECS[m].trains).length;
  const doEfficiency = config.efficiency && config.methods.includes('full_ft') && config.methods.includes('scpo');
  // Same run count as runExperiment's progress on the whole config.
  const total = config.countries.length * (trainMethods + (doEfficiency ? config.efficiencyFractions.length : 0));
  const shards = Math.max(1, Math.min(Math.floor(workers), total));
  const done = new Array<number>(shards).fill(0);
  // The workers' Dawn needs the real environment and the preloaded Vulkan loader of this (main) thread.
  if (inp.source.backend !== 'cpu') prepareVulkan();
  const onShardEvent = (g: number, e: ExperimentEvent) => {
    if (e.type === 'phase') {
      if (e.phase === 'train' || e.phase === 'efficiency') {
        done[g] = e.done;
        emit({ ...e, done: done.reduce((s, d) => s + d, 0), total });
      } else if (g === 0 && e.phase !== 'evaluate' && e.phase !== 'done') emit(e);
      return;
    }
    if (e.type === 'scored') return; // the merged scores come with the result
    emit(e);
  };
  const abort = new AbortController();
  const pool: Worker[] = [];
  const parts = Array.from({ length: shards - 1 }, (_, k) => {
    const g = k + 1;
    const w = startWorker({ kind: 'scpo-session-worker', backend: inp.source.backend, config, shard: { index: g, of: shards } });
    pool.push(w);
    const result = new Promise<ExperimentResult>((res, rej) => {
      let settled = false;
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'event') onShardEvent(g, m.event);
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
    // A failed shard stops this thread's session too.
    result.catch(() => abort.abort());
    return result;
  });
  try {
    const data = inp.data ?? (await loadDataSpec(inp.source.data));
    const model = inp.model ?? (await loadBagRM(dirReader(resolve(inp.source.modelDir))));
    const backend = await backendFor(inp.source.backend, model.params.config);
    const own = runSession({
      data,
      model,
      backend,
      config,
      globalRm: inp.globalRm,
      globalTrain: inp.globalTrain,
      shard: shards > 1 ? { index: 0, of: shards } : undefined,
      control: { signal: abort.signal },
      onEvent: (e) => onShardEvent(0, e),
      onGlobalScores: ({ gScores, encoded, globalParams }) => {
        const msg: ShardInputs = { type: 'inputs', data: { ...data, items: [] }, encoded, globalParams, gScores };
        for (const w of pool) w.postMessage(msg);
      },
    }).then((o) => o.result);
    own.catch(() => {});
    const all = await Promise.all([own, ...parts]);
    emit({ type: 'phase', phase: 'evaluate', done: 0, total: 1, label: 'writing reports' });
    const result = shards > 1 ? mergeShards(all, config) : all[0];
    result.timings.workers = shards;
    emit({ type: 'scored', rPlus: result.rPlus, rMinus: result.rMinus });
    emit({ type: 'phase', phase: 'done', done: 1, total: 1, label: 'done' });
    return { result, timings: result.timings };
  } finally {
    abort.abort();
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/** A shard worker: waits for its inputs, then trains its shard from the scores shard 0 computed. */
async function workerMain(task: WorkerTask): Promise<void> {
  const port = parentPort!;
  const post = (m: WorkerMessage) => port.postMessage(m);
  try {
    const inputs = await new Promise<ShardInputs>((res) => port.once('message', (m: ShardInputs) => res(m)));
    const backend = await backendFor(task.backend, inputs.globalParams.config);
    const result = await runExperiment({
      data: inputs.data,
      encoded: inputs.encoded,
      globalParams: inputs.globalParams,
      backend,
      globalScorer: scoresScorer(inputs.gScores),
      config: task.config,
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

// The experiment worker: loads data and the reward model, runs the shared session (scoring, filter/weights,
// country RM training, evaluation) off the main thread, and streams throttled events back.
import { cpuBackend } from '../gpu/cpu/trainer.ts';
import type { Backend } from '../gpu/backend.ts';
import { loadGoqa, loadPrism, loadSynthetic } from '../pipeline/data/index.ts';
import type { ExperimentEvent } from '../pipeline/experiment.ts';
import { fetchReader, loadBagRM, memoryReader } from '../pipeline/rm/files.ts';
import type { ReadFile } from '../pipeline/rm/files.ts';
import { runSession } from '../pipeline/session.ts';
import { CancelledError } from '../pipeline/train/loop.ts';
import { ConfigError, DataError } from '../pipeline/types.ts';
import type { PreferenceData } from '../pipeline/types.ts';
import { parseToWorker } from './protocol.ts';
import type { BackendPref, BackendReport, DataSpec, FromWorker, ModelSpec, WorkerError } from './protocol.ts';

// The worker global, typed by what this file uses (the DOM lib has no DedicatedWorkerGlobalScope here).
declare const self: {
  location: Location;
  postMessage(msg: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<unknown>) => void) | null;
};

const BASE = new URL(import.meta.env.BASE_URL, self.location.origin).href;
export const BUNDLED_MODEL_URL = new URL('models/scpo-glove-rm/', BASE).href;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

interface RunState {
  id: number;
  abort: AbortController;
  paused: boolean;
  resume: (() => void) | null;
}

let current: RunState | null = null;

const HUB = 'https://huggingface.co';

/** Fetches one file of a hub dataset (only reachable when the user enabled the network). */
async function hubFile(id: string, path: string): Promise<{ name: string; blob: Blob }> {
  const url = `${HUB}/datasets/${id}/resolve/main/${path}`;
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new DataError({ file: url, line: 0, field: '(file)', message: `could not be fetched: ${e instanceof Error ? e.message : String(e)}` });
  }
  if (!res.ok) throw new DataError({ file: url, line: 0, field: '(file)', message: `HTTP ${res.status}` });
  return { name: path, blob: await res.blob() };
}

async function loadData(spec: DataSpec, strict: boolean, seed: number): Promise<PreferenceData> {
  switch (spec.kind) {
    case 'synthetic':
      return loadSynthetic(spec.seed, undefined, { strict, seed });
    case 'prism':
      return loadPrism(
        { utterances: { name: spec.utterances.name, blob: spec.utterances }, survey: { name: spec.survey.name, blob: spec.survey } },
        { strict, seed },
      );
    case 'goqa':
      return loadGoqa({ name: spec.file.name, blob: spec.file }, { strict, seed, goqaMargin: spec.margin });
    case 'hub':
      // PRISM's HF layout when the id names it, GlobalOpinionQA's otherwise.
      if (/prism/i.test(spec.id)) {
        const [utterances, survey] = await Promise.all([hubFile(spec.id, 'utterances.jsonl'), hubFile(spec.id, 'survey.jsonl')]);
        return loadPrism({ utterances, survey }, { strict, seed });
      }
      return loadGoqa(await hubFile(spec.id, 'data/global_opinions.csv'), { strict, seed });
  }
}

/** A picked model folder: `paths[i]` is files[i]'s path inside it (else its webkitRelativePath minus the root). */
async function filesReader(files: File[], paths?: string[]): Promise<ReadFile> {
  const map: Record<string, Uint8Array> = {};
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    const rel = paths?.[i] ?? (f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : f.name);
    map[rel] = new Uint8Array(await f.arrayBuffer());
  }
  return memoryReader(map);
}

function modelReader(spec: ModelSpec): Promise<ReadFile> | ReadFile {
  switch (spec.kind) {
    case 'bundled':
      return fetchReader(BUNDLED_MODEL_URL);
    case 'files':
      return filesReader(spec.files, spec.paths);
    case 'hub':
      return fetchReader(`${HUB}/${spec.id}/resolve/main/`);
  }
}

async function selectBackend(pref: BackendPref): Promise<{ backend: Backend; report: BackendReport }> {
  // The WGSL engine plugs in here; until then every preference resolves to the reference cpu trainer.
  const reason = pref === 'cpu' ? 'cpu requested' : 'the WebGPU training engine is not in this build; using the cpu trainer';
  return { backend: cpuBackend, report: { name: cpuBackend.name, info: cpuBackend.info, reason } };
}

function toWorkerError(e: unknown): WorkerError {
  if (e instanceof DataError) return { kind: 'data', message: e.message, file: e.file, line: e.line, field: e.field };
  if (e instanceof ConfigError) return { kind: 'config', message: e.message };
  if (e instanceof CancelledError) return { kind: 'cancelled', message: 'run cancelled' };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/** Batches experiment events and posts them at most every 100 ms (points are cheap; messages are not). */
function eventSink(id: number): { push: (e: ExperimentEvent) => void; flush: () => void } {
  let queue: ExperimentEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (queue.length === 0) return;
    post({ type: 'events', id, events: queue });
    queue = [];
    last = Date.now();
  };
  return {
    push(e) {
      queue.push(e);
      if (timer) return;
      const wait = Math.max(0, 100 - (Date.now() - last));
      timer = setTimeout(flush, wait);
    },
    flush,
  };
}

/** Loads the data and posts its summary and pairs (the 'load' request and the first part of a run). */
async function loadAndReport(id: number, spec: DataSpec, strict: boolean, seed: number): Promise<PreferenceData> {
  post({ type: 'status', id, message: 'loading data' });
  const data = await loadData(spec, strict, seed);
  post({
    type: 'data',
    id,
    summary: {
      format: data.format,
      source: data.source,
      items: data.items.length,
      pairs: data.pairs.length,
      tiesDropped: data.tiesDropped,
      countries: data.countries,
      issues: data.issues,
    },
  });
  post({ type: 'pairs', id, items: data.items, pairs: data.pairs });
  return data;
}

async function run(msg: Extract<ReturnType<typeof parseToWorker>, { type: 'run' }>): Promise<void> {
  const state: RunState = { id: msg.id, abort: new AbortController(), paused: false, resume: null };
  current = state;
  const sink = eventSink(msg.id);
  try {
    const data = await loadAndReport(msg.id, msg.data, msg.strict, msg.config.seed);
    post({ type: 'status', id: msg.id, message: 'loading the reward model' });
    const model = await loadModel(msg.model);
    const { backend, report } = await selectBackend(msg.backend);
    post({ type: 'backend', id: msg.id, report });
    const { result } = await runSession({
      data,
      model,
      backend,
      config: msg.config,
      globalRm: 'as-loaded',
      onEvent: sink.push,
      control: {
        signal: state.abort.signal,
        waitIfPaused: () => (state.paused ? new Promise<void>((r) => (state.resume = r)) : Promise.resolve()),
      },
    });
    sink.flush();
    post({ type: 'result', id: msg.id, result });
  } catch (e) {
    sink.flush();
    post({ type: 'error', id: msg.id, error: toWorkerError(e) });
  } finally {
    if (current === state) current = null;
  }
}

async function loadModel(spec: ModelSpec) {
  try {
    return await loadBagRM(await modelReader(spec));
  } catch (e) {
    throw new ConfigError(`reward model: ${e instanceof Error ? e.message : String(e)}`);
  }
}

self.onmessage = (ev: MessageEvent<unknown>) => {
  const msg = parseToWorker(ev.data);
  if (!msg) return;
  if (msg.type === 'load') {
    loadAndReport(msg.id, msg.data, msg.strict, 0).catch((e: unknown) =>
      post({ type: 'error', id: msg.id, error: toWorkerError(e) }),
    );
    return;
  }
  if (msg.type === 'run') {
    if (current) {
      current.abort.abort();
      current.resume?.();
    }
    void run(msg);
    return;
  }
  if (!current || current.id !== msg.id) return;
  if (msg.type === 'cancel') {
    current.abort.abort();
    current.resume?.();
  } else if (msg.type === 'pause') {
    current.paused = true;
  } else if (msg.type === 'resume') {
    current.paused = false;
    current.resume?.();
    current.resume = null;
  }
};

// The experiment worker: loads data and the reward model, runs the shared session (scoring, filter/weights,
// country RM training, evaluation) off the main thread, and streams throttled events back.
import type { Backend } from '../gpu/backend.ts';
import { describeReport, navigatorGpu } from '../gpu/device.ts';
import { selectBackend as pickBackend } from '../gpu/select.ts';
import { WebGpuBackend } from '../gpu/webgpu.ts';
import { loadGoqa, loadPrism, loadSynthetic } from '../pipeline/data/index.ts';
import { mergeShards, optimizerConfig, resolveConfig } from '../pipeline/experiment.ts';
import { defaultTrainingThreads } from '../pipeline/experiment/shards.ts';
import { METHOD_SPECS } from '../pipeline/scpo.ts';
import type { ExperimentConfig, ExperimentEvent, ItemScorer } from '../pipeline/experiment.ts';
import { countryRMFiles } from '../pipeline/rm/export.ts';
import { fetchReader, loadBagRM, memoryReader, ONNX_FILE } from '../pipeline/rm/files.ts';
import type { LoadedBagRM, ReadFile } from '../pipeline/rm/files.ts';
import { ModelStore } from '../pipeline/rm/model-store.ts';
import { exportBagRMOnnx } from '../pipeline/rm/onnx.ts';
import type { OrtPreference, OrtScorer } from './ort-scorer.ts';
import { ScoringClient } from './scoring-client.ts';
import type { ScoringReady } from './scoring-client.ts';
import { APP_VERSION, summarizeData } from '../pipeline/report.ts';
import type { JobInputs } from '../pipeline/job/build.ts';
import { runSession } from '../pipeline/session.ts';
import { CancelledError } from '../pipeline/train/loop.ts';
import { ConfigError, DataError } from '../pipeline/types.ts';
import type { PreferenceData } from '../pipeline/types.ts';
import { parseToWorker } from './protocol.ts';
import { batcher, type Batcher } from './batcher.ts';
import { RunSlot } from './run-slot.ts';
import { saveLast } from '../ui/persist.ts';
import { dict } from '../pipeline/dict.ts';
import type { ExperimentResult } from '../pipeline/experiment.ts';
import type { Method } from '../pipeline/types.ts';
import { startShards } from './shards-client.ts';
import type { ShardPool } from './shards-client.ts';
import { exportUseLiteModel, runUseLiteInWorker, type UseLiteTrained } from './use-lite-run.ts';
import { exportUseLiteTuned, runUseLiteTuneInWorker, type UseLiteTuned } from './use-lite-tune-run.ts';
import type { RunControl } from '../pipeline/train/loop.ts';
import type { BackendPref, BackendReport, DataSpec, FromWorker, JobSpec, ModelFile, ModelSpec, ToWorker, WorkerError } from './protocol.ts';
import { encodeItems } from '../pipeline/rm/tokenizer.ts';
import type { EncodedItems } from '../pipeline/rm/types.ts';

// The worker global, typed by what this file uses (the DOM lib has no DedicatedWorkerGlobalScope here).
declare const self: {
  location: Location;
  postMessage(msg: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<unknown>) => void) | null;
};

const BASE = new URL(import.meta.env.BASE_URL, self.location.origin).href;
export const BUNDLED_MODEL_URL = new URL('models/scpo-glove-rm/', BASE).href;
/** onnxruntime-web's wasm files (scripts/build-models.ts copies them; never a CDN). */
export const ORT_WASM_URL = new URL('ort/', BASE).href;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

const slot = new RunSlot();

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
    case 'use-lite':
      throw new ConfigError('the USE-lite model is loaded by its own run path (use-lite-run.ts)');
    case 'files':
      return filesReader(spec.files, spec.paths);
    case 'hub':
      return fetchReader(`${HUB}/${spec.id}/resolve/main/`);
  }
}

let workerGpuBackend: WebGpuBackend | null = null;

/**
 * select.ts's policy on this worker's own navigator.gpu (probing requestAdapter() and the limits): 'auto' takes a
 * hardware adapter and passes over software ones (SwiftShader trains slower than the cpu trainer), 'webgpu'
 * takes any adapter, and both fall back to cpu with the reason. The report carries the adapter (description and
 * limits) whenever one was found, also when it was passed over.
 */
async function selectBackend(pref: BackendPref): Promise<{ backend: Backend; report: BackendReport }> {
  // One GPU device per worker: reuse the last run's while it is alive and fits the preference.
  const last = workerGpuBackend;
  if (last && pref !== 'cpu' && !last.ctx.lostError && (pref === 'webgpu' || !last.report.isFallbackAdapter)) {
    return { backend: last, report: { name: last.name, info: last.info, reason: `${last.info} (device reused)` } };
  }
  last?.dispose();
  workerGpuBackend = null;
  const sel = await pickBackend(pref, navigatorGpu() ?? null);
  const { backend } = sel;
  if (backend instanceof WebGpuBackend) workerGpuBackend = backend;
  const info = backend.name !== 'webgpu' && sel.adapter ? `${backend.info}; WebGPU adapter not used: ${describeReport(sel.adapter)}` : backend.info;
  return { backend, report: { name: backend.name, info, reason: sel.reason } };
}

function toWorkerError(e: unknown): WorkerError {
  if (e instanceof DataError) return { kind: 'data', message: e.message, file: e.file, line: e.line, field: e.field };
  if (e instanceof ConfigError) return { kind: 'config', message: e.message };
  if (e instanceof CancelledError) return { kind: 'cancelled', message: 'run cancelled' };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/** Experiment events, posted in batches at most every 100 ms (points are cheap; messages are not). */
function eventSink(id: number): Batcher<ExperimentEvent> {
  return batcher((events) => post({ type: 'events', id, events }));
}

/** The last loaded data, reused by a run of the same spec (Run after the startup load does not load it again). */
let lastData: { key: string; version: number; data: PreferenceData } | null = null;
let dataVersion = 0;

/** What identifies a data load: the spec (files by name, size and date), strictness and split seed; null: never reuse. */
function dataKey(spec: DataSpec, strict: boolean, seed: number): string | null {
  const file = (f: File) => [f.name, f.size, f.lastModified];
  const what =
    spec.kind === 'synthetic' ? [spec.seed] : spec.kind === 'prism' ? [file(spec.utterances), file(spec.survey)] : spec.kind === 'goqa' ? [file(spec.file), spec.margin ?? null] : null;
  return what === null ? null : JSON.stringify([spec.kind, what, strict, seed]);
}

/**
 * Loads the data (or reuses the last load of the same spec) and posts its summary and pairs (the 'load' request and
 * the first part of a run). The pairs are not posted again when the page says it holds that load's (`havePairs`):
 * cloning every pair and text again would block the page's thread at the start of each run.
 */
async function loadAndReport(id: number, spec: DataSpec, strict: boolean, seed: number, havePairs?: number): Promise<{ data: PreferenceData; version: number }> {
  const key = dataKey(spec, strict, seed);
  let entry = key !== null && lastData?.key === key ? lastData : null;
  if (!entry) {
    post({ type: 'status', id, message: 'loading data' });
    const data = await loadData(spec, strict, seed);
    entry = { key: key ?? '', version: ++dataVersion, data };
    lastData = key !== null ? entry : null;
  }
  post({ type: 'data', id, summary: summarizeData(entry.data) });
  if (havePairs !== entry.version) post({ type: 'pairs', id, items: entry.data.items, pairs: entry.data.pairs, version: entry.version });
  return { data: entry.data, version: entry.version };
}

/**
 * How many shards a run's training is split into: `requested` (the studio's override), else
 * defaultTrainingThreads(navigator.hardwareConcurrency) (one per core but one, for the page); at most 8 and at most
 * one per run. This worker trains shard 0; shard workers train the others (shards-client.ts).
 */
function shardCount(config: ExperimentConfig, requested?: number): number {
  const trainMethods = config.methods.filter((m) => METHOD_SPECS[m].trains).length;
  const eff = config.efficiency && config.methods.includes('full_ft') && config.methods.includes('scpo') ? config.efficiencyFractions.length : 0;
  const tasks = config.countries.length * (trainMethods + eff);
  const threads = requested ?? defaultTrainingThreads(typeof navigator !== 'undefined' ? navigator.hardwareConcurrency : 1);
  return Math.max(1, Math.min(threads, 8, tasks));
}

async function run(msg: Extract<ReturnType<typeof parseToWorker>, { type: 'run' }>): Promise<void> {
  const { control, end, onControl } = slot.begin(msg.id);
  const sink = eventSink(msg.id);
  let disposeScoring: (() => void) | null = null;
  let pool: ShardPool | null = null;
  try {
    // A run cancelled while loading stops at the next step instead of finishing its loads for nothing.
    const live = () => {
      if (control.signal?.aborted) throw new CancelledError();
    };
    const { data, version } = await loadAndReport(msg.id, msg.data, msg.strict, msg.config.seed, msg.havePairs);
    live();
    // Another model: the prepared onnxruntime-web session of the bundled one would only hold memory during this run.
    if (msg.model.kind !== 'bundled') dropPreparedScoring();
    if (msg.model.kind === 'use-lite') {
      await runUseLite(msg, data, sink, control);
      return;
    }
    // The bundled model's tokens: made after the data load, or now. Its scoring worker: the spare one started with the
    // data load when there is one (a run takes it), else one started now (ortGlobalScorer).
    const bundled = msg.model.kind === 'bundled';
    if (bundled) prepareRun(version, data);
    post({ type: 'status', id: msg.id, message: 'loading the reward model' });
    const { model, onnx } = await loadModel(msg.model);
    live();
    const { backend, report } = await selectBackend(msg.backend);
    post({ type: 'backend', id: msg.id, report });
    const fallback: ItemScorer = async (encoded, indices) => {
      const t = await backend.createTrainer(model.params, optimizerConfig(msg.config));
      try {
        return await t.score(encoded, indices);
      } finally {
        t.dispose();
      }
    };
    const encoded = bundled ? await prepared!.encoded : undefined;
    live();
    const scoring = ortGlobalScorer(msg.id, onnx, model, msg.backend, backend.name, fallback, bundled ? takePreparedScoring() : null);
    disposeScoring = scoring.dispose;
    const store = new ModelStore(model.params);
    const config = resolveConfig(msg.config);
    const shards = shardCount(config, msg.workers);
    // Progress over all shards: each counts its own finished runs against the whole experiment's total.
    const done = new Array<number>(shards).fill(0);
    const relay = (k: number, e: ExperimentEvent) => {
      if (e.type === 'phase') {
        if (e.phase === 'train' || e.phase === 'efficiency') {
          done[k] = e.done;
          sink.push({ ...e, done: done.reduce((a, b) => a + b, 0) });
        } else if (k === 0 && (shards === 1 || (e.phase !== 'evaluate' && e.phase !== 'done'))) sink.push(e);
        return;
      }
      if (k > 0 && e.type === 'scored') return;
      sink.push(e);
    };
    onControl((type) => {
      if (type === 'cancel') pool?.cancel();
      else if (type === 'pause') pool?.pause();
      else pool?.resume();
    });
    // The global scores are computed once, here; then onnxruntime-web's session is released (its wasm heap is no
    // longer needed) and the shard workers start from the same tokenized items, params and scores.
    const globalScorer: ItemScorer = async (encoded, indices) => {
      const s = await scoring.scorer(encoded, indices);
      scoring.dispose();
      disposeScoring = null;
      if (shards > 1 && !control.signal?.aborted) {
        const { items: _texts, ...rest } = data;
        const shared = { ...rest, items: [] as [] };
        pool = startShards(
          Array.from({ length: shards - 1 }, (_, i) => ({
            type: 'run' as const,
            shard: { index: i + 1, of: shards },
            config,
            data: shared,
            encoded,
            globalParams: model.params,
            scoredItems: indices,
            scores: s,
            backend: msg.backend,
            completed: msg.completed,
          })),
          relay,
          (c, m, entry) => store.putEntry(c, m, entry),
        );
        post({ type: 'status', id: msg.id, message: `training on ${shards} workers (${shards - 1} shard worker${shards > 2 ? 's' : ''} + this one), balanced by (country, method)` });
      }
      return s;
    };
    const resumed = new Set((msg.completed?.runs ?? []).map((r) => `${r.country}\u0000${r.method}`));
    trainedUseLite = null;
    trained = { model, store, config: msg.config, modelName: describeModel(msg.model), resumed };
    const session = await runSession({
      data,
      encoded,
      model,
      backend,
      config: msg.config,
      globalRm: 'as-loaded',
      globalScorer,
      onModel: (c, m, params) => store.put(c, m, params),
      completed: msg.completed,
      onEvent: (e) => relay(0, e),
      control,
      shard: shards > 1 ? { index: 0, of: shards } : undefined,
    });
    let result = session.result;
    if (shards > 1) {
      if (!pool) throw new CancelledError();
      const others = await (pool as ShardPool).results;
      result = mergeShards([result, ...others], config);
      result.timings.workers = shards;
      // The shards could not build the efficiency entries (they need each other's runs): the merge did.
      for (const [country, entry] of Object.entries(result.reports.efficiency.countries)) sink.push({ type: 'efficiency', country, entry });
      sink.push({ type: 'phase', phase: 'done', done: 1, total: 1, label: 'done' });
    }
    // What a PyTorch job export of this run needs (the scores are copied: the result's buffers go to the page).
    lastJob = {
      data,
      encoded: session.encoded,
      globalParams: session.globalParams,
      config: msg.config,
      scores: { rPlus: result.rPlus.slice(), rMinus: result.rMinus.slice() },
      globalRm: describeModel(msg.model),
    };
    sink.flush();
    const transfer = resultTransfers(result);
    // Saved as the last run from here (IndexedDB works in workers), so the page's thread never clones every pair and
    // text; the copy of the result's arrays is taken before they are transferred to the page.
    const savedAt = new Date().toISOString();
    const saving = saveLast({ result: copyResult(result), summary: summarizeData(data), items: data.items, pairs: data.pairs, savedAt });
    post({ type: 'result', id: msg.id, result, saving: true }, transfer);
    const id = msg.id;
    saving.then(
      () => post({ type: 'saved', id, savedAt }),
      (e: unknown) => post({ type: 'saved', id, savedAt, error: e instanceof Error ? e.message : String(e) }),
    );
  } catch (e) {
    sink.flush();
    post({ type: 'error', id: msg.id, error: toWorkerError(e) });
  } finally {
    disposeScoring?.();
    (pool as ShardPool | null)?.cancel();
    end();
  }
}

/** The result with its own copies of the typed arrays (the originals are transferred away). */
function copyResult(r: ExperimentResult): ExperimentResult {
  const margins: ExperimentResult['margins'] = dict();
  for (const [c, byMethod] of Object.entries(r.margins)) {
    margins[c] = {};
    for (const [m, a] of Object.entries(byMethod)) if (a) margins[c][m as Method] = a.slice();
  }
  return { ...r, rPlus: r.rPlus.slice(), rMinus: r.rMinus.slice(), margins };
}

/** A `use-lite` run (use-lite-run.ts): same events and result messages as the bag RM's. */
async function runUseLite(
  msg: Extract<ReturnType<typeof parseToWorker>, { type: 'run' }>,
  data: PreferenceData,
  sink: Batcher<ExperimentEvent>,
  control: RunControl,
): Promise<void> {
  post({ type: 'status', id: msg.id, message: 'loading the USE-lite reward model' });
  const spec = msg.model as Extract<ModelSpec, { kind: 'use-lite' }>;
  const tune = spec.tune ?? 'head';
  if (tune !== 'head') {
    if (tune !== 'lora' && tune !== 'top') throw new ConfigError(`USE-lite: unknown tune mode "${String(tune)}" (lora, top or head)`);
    if (spec.seqLen !== undefined && !(Number.isInteger(spec.seqLen) && spec.seqLen >= 2 && spec.seqLen <= 128)) {
      throw new ConfigError(`USE-lite: sequence length must be an integer in [2, 128], got ${String(spec.seqLen)}`);
    }
    trained = null;
    lastJob = null;
    trainedUseLite = null;
    // Country runs on the WGSL trainer or on this worker's wasm matmul (the cpu trainer), by the backend preference.
    const { session, trained: tt } = await runUseLiteTuneInWorker({
      backend: msg.backend,
      onBackend: (report) => post({ type: 'backend', id: msg.id, report }),
      data,
      config: msg.config,
      tune,
      seqLen: spec.seqLen,
      baseUrl: BASE,
      say: (message) => post({ type: 'status', id: msg.id, message }),
      onEvent: sink.push,
      control,
    });
    trainedUseLite = tt;
    const { result } = session;
    sink.flush();
    const transfer = resultTransfers(result);
    post({ type: 'result', id: msg.id, result }, transfer);
    return;
  }
  const { backend, report } = await selectBackend(msg.backend);
  post({ type: 'backend', id: msg.id, report });
  trained = null;
  lastJob = null;
  trainedUseLite = null;
  const { session, trained: t } = await runUseLiteInWorker({
    data,
    config: msg.config,
    backend,
    prefer: msg.backend === 'cpu' ? 'wasm' : 'auto',
    baseUrl: BASE,
    wasmPaths: ORT_WASM_URL,
    say: (message) => post({ type: 'status', id: msg.id, message }),
    onEvent: sink.push,
    control,
    completed: msg.completed,
  });
  trainedUseLite = t;
  const { result } = session;
  sink.flush();
  const transfer = resultTransfers(result);
  post({ type: 'result', id: msg.id, result }, transfer);
}

let trainedUseLite: UseLiteTrained | UseLiteTuned | null = null;

/** A finished result's typed arrays are not used in this worker again: moved to the page instead of copied. */
function resultTransfers(result: ExperimentResult): Transferable[] {
  const transfer: Transferable[] = [result.rPlus.buffer, result.rMinus.buffer];
  for (const byMethod of Object.values(result.margins)) {
    for (const m of Object.values(byMethod)) if (m) transfer.push(m.buffer);
  }
  return transfer;
}

/** Loads the RM and keeps the bytes of its ONNX file (for the onnxruntime-web scorer). */
async function loadModelFiles(spec: ModelSpec): Promise<{ model: LoadedBagRM; onnx: Uint8Array | null }> {
  try {
    const read = await modelReader(spec);
    let onnx: Uint8Array | null = null;
    const model = await loadBagRM(async (path) => {
      const b = await read(path);
      if (path === ONNX_FILE) onnx = b;
      return b;
    });
    return { model, onnx };
  } catch (e) {
    throw new ConfigError(`reward model: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The bundled model, loaded once per worker and shared by every run: Run / Cancel / Run in a hurry then starts no
 * second fetch of the 12 MB ONNX file racing the first. A failed load is forgotten, so the next run tries again.
 * Only the parsed model is kept, not the file's bytes: a scoring worker gets the same bytes re-exported from the
 * params (exportBagRMOnnx, ~10 ms; the bundled file is that export, src/pipeline/rm/build-models.test.ts). Keeping
 * the bytes cost this worker 12 MB for the session's life, and each run's copy of them another 12 MB.
 */
let bundledModel: Promise<LoadedBagRM> | null = null;

async function loadModel(spec: ModelSpec): Promise<{ model: LoadedBagRM; onnx: Uint8Array | null }> {
  if (spec.kind !== 'bundled') return loadModelFiles(spec);
  const p = (bundledModel ??= loadModelFiles(spec).then(
    ({ model }) => model,
    (e: unknown) => {
      bundledModel = null;
      throw e;
    },
  ));
  return { model: await p, onnx: null };
}

const SCORING_INIT_TIMEOUT_MS = 60_000;

/** A scoring worker being started: its client and the answer to init (rejects after SCORING_INIT_TIMEOUT_MS). */
interface ScoringStart {
  client: ScoringClient;
  ready: Promise<ScoringReady>;
  prefer: OrtPreference;
}

/** Spawns the scoring worker and loads `onnx` into onnxruntime-web there (the bytes are transferred, or a URL). */
function startScoring(onnx: Uint8Array | { url: string }, prefer: OrtPreference): ScoringStart {
  const client = ScoringClient.spawn();
  // A worker that starts but never answers must not stall the run.
  const ready = Promise.race([
    client.init(onnx, { prefer, wasmPaths: ORT_WASM_URL }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${SCORING_INIT_TIMEOUT_MS / 1000} s`)), SCORING_INIT_TIMEOUT_MS)),
  ]);
  ready.catch(() => {});
  return { client, ready, prefer };
}

/**
 * The bundled model's scoring worker, started ahead: onnxruntime-web's wasm compiled and the session created
 * (~0.5 s of CPU, then ~0.6 s of V8 optimizing onnxruntime's init code on a background thread and ~+80 MiB meanwhile,
 * bench:studio). It starts with the data load, not after it (it needs only the model), so that compile and its memory
 * are over by the time a user who has read the data presses Run; a Run within about a second of the data showing
 * still meets their tail (bench:studio's default --settle 1000). A run with the bundled model takes it (and releases
 * it after scoring, as always); the next data load starts another. Another model's run drops it. Its fetch of the
 * file overlaps this worker's own (a fresh Chromium context can then fail one body; both readers retry).
 */
let spare: { start: ScoringStart; warmed: boolean } | null = null;

function prepareScoring(): void {
  // The scoring worker fetches the file itself (from the HTTP cache after the first time): it starts now, while this
  // worker loads the data and parses the model. The file is exportBagRMOnnx of the params this worker parses from it
  // (src/pipeline/rm/build-models.test.ts), so a spare and a run-started scoring worker score alike.
  spare ??= { start: startScoring({ url: new URL(ONNX_FILE, BUNDLED_MODEL_URL).href }, 'auto'), warmed: false };
}

/** Releases the prepared scoring worker. */
function dropPreparedScoring(): void {
  spare?.start.client.dispose();
  spare = null;
}

/** The prepared scoring worker (taken: a run uses it once), or null. */
function takePreparedScoring(): ScoringStart | null {
  const st = spare?.start ?? null;
  spare = null;
  return st;
}

/**
 * The tokenized items of the loaded data for the bundled model, made in the idle time after the data load (the user
 * reads the page before pressing Run); kept for later runs on that data.
 */
let prepared: { version: number; encoded: Promise<EncodedItems> } | null = null;

const WARMUP_ITEMS = 2048;

function prepareRun(version: number, data: PreferenceData): void {
  if (prepared?.version === version) return;
  const entry = {
    version,
    encoded: loadModel({ kind: 'bundled' }).then(({ model: m }) => encodeItems(m.tokenizer, data.items, m.params.config)),
  };
  entry.encoded.catch(() => {});
  prepared = entry;
  // A first small scoring call on the spare scoring worker: V8 compiles onnxruntime's hot wasm functions with its
  // optimizing tier while it runs, better now than during the run. Its scores are not used; the run's own call queues
  // behind it and scores the same way (inference keeps no state).
  const sp = spare;
  if (!sp || sp.warmed) return;
  sp.warmed = true;
  void Promise.all([sp.start.ready, entry.encoded])
    .then(([, enc]) => (spare === sp ? sp.start.client.score(enc, Int32Array.from({ length: Math.min(WARMUP_ITEMS, enc.count) }, (_, i) => i)) : null))
    .catch(() => {});
}

/**
 * The global-RM scorer of a run: onnxruntime-web in its own (nested) scoring worker, started right away so the
 * wasm download/compile overlaps tokenization; inline in this worker when that worker cannot start; the trainer's
 * forward pass (`fallback`, the experiment's default) when onnxruntime-web fails. Every choice is said in a 'status'.
 */
function ortGlobalScorer(
  id: number,
  onnx: Uint8Array | null,
  model: LoadedBagRM,
  pref: BackendPref,
  trainerName: string,
  fallback: ItemScorer,
  warm: ScoringStart | null,
): { scorer: ItemScorer; dispose: () => void } {
  // 'cpu' means no GPU at all. Otherwise webgpu on a hardware adapter only, even when training was asked to run on
  // a software one: ORT's webgpu EP scored ~200 items/s on SwiftShader vs ~15,000 with wasm (bench/results/bench.md).
  const prefer: OrtPreference = pref === 'cpu' ? 'wasm' : 'auto';
  const say = (message: string) => post({ type: 'status', id, message });
  let client: ScoringClient | null = null;
  let inline: OrtScorer | null = null;
  let disposed = false;
  const ready = (async (): Promise<string | null> => {
    const t0 = performance.now();
    try {
      // The scoring worker started ahead for this model and preference (prepareScoring), else a new one.
      const start = warm && warm.prefer === prefer ? warm : startScoring(onnx ?? exportBagRMOnnx(model.params), prefer);
      if (warm && start !== warm) warm.client.dispose();
      client = start.client;
      const r = await start.ready;
      const when = start === warm ? 'started before the run' : `ready in ${Math.round(performance.now() - t0)} ms`;
      return `onnxruntime-web ${r.ep} in the scoring worker (${r.reason}; ${when})`;
    } catch (e) {
      client?.dispose();
      client = null;
      if (disposed) return null;
      say(`scoring worker unavailable (${(e as Error).message}); trying onnxruntime-web inline`);
    }
    try {
      const { OrtScorer } = await import('./ort-scorer.ts');
      // The file's bytes went to the failed worker (transferred): re-export the same params.
      inline = await OrtScorer.create(exportBagRMOnnx(model.params), { prefer, wasmPaths: ORT_WASM_URL });
      return `onnxruntime-web ${inline.info.ep} inline in the experiment worker (${inline.info.reason})`;
    } catch (e) {
      say(`onnxruntime-web unavailable (${(e as Error).message}); scoring with the ${trainerName} trainer`);
      return null;
    }
  })();
  const scorer: ItemScorer = async (encoded, indices) => {
    const how = await ready;
    if (how) {
      const t0 = performance.now();
      try {
        const s = client ? await client.score(encoded, indices) : await inline!.score(encoded, indices);
        say(`global RM scored ${indices.length} items in ${Math.round(performance.now() - t0)} ms with ${how}`);
        return s;
      } catch (e) {
        if (disposed) throw e;
        say(`onnxruntime-web scoring failed (${(e as Error).message}); scoring with the ${trainerName} trainer instead`);
      }
    }
    return fallback(encoded, indices);
  };
  return {
    scorer,
    dispose: () => {
      disposed = true;
      client?.dispose();
      void inline?.release();
    },
  };
}

/** The latest run's trained country RMs (kept after the run so they can be exported). */
let trained: { model: LoadedBagRM; store: ModelStore; config: ExperimentConfig; modelName: string; resumed: Set<string> } | null = null;

function describeModel(spec: ModelSpec): string {
  return spec.kind === 'bundled' ? 'bundled scpo-glove-rm' : spec.kind === 'hub' ? `hub ${spec.id}` : 'local folder';
}

function ownBuffer(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer ? b.buffer : (new Uint8Array(b).buffer as ArrayBuffer);
}

function exportModel(msg: Extract<ToWorker, { type: 'export-model' }>): void {
  const fail = (message: string) => post({ type: 'error', id: msg.id, error: { kind: 'config', message } });
  if (trainedUseLite) {
    const t = trainedUseLite;
    (t.kind === 'use-lite-tuned' ? Promise.resolve().then(() => exportUseLiteTuned(t, msg.country, msg.method)) : exportUseLiteModel(t, BASE, msg.country, msg.method)).then(
      (files) => {
        const list: ModelFile[] = Object.entries(files).map(([path, bytes]) => ({ path, bytes: ownBuffer(bytes) }));
        post({ type: 'model', id: msg.id, country: msg.country, method: msg.method, files: list }, list.map((f) => f.bytes));
      },
      (e: unknown) => post({ type: 'error', id: msg.id, error: toWorkerError(e) }),
    );
    return;
  }
  if (!trained) return fail('no run has trained a model yet');
  const { store, model, config, modelName } = trained;
  const params = msg.method === 'start' ? store.baseCopy() : store.get(msg.country, msg.method);
  if (!params) {
    const have = store.keys().map((k) => `${k.country} · ${k.method}`);
    const resumed = trained.resumed.has(`${msg.country}\u0000${msg.method}`);
    return fail(
      resumed
        ? `${msg.country} · ${msg.method} was finished before a reload and not retrained when the run resumed, so its weights are not in this page`
        : `no trained model for ${msg.country} · ${msg.method} in the latest run${have.length ? ` (have: ${have.join(', ')})` : ''}`,
    );
  }
  try {
    const files = countryRMFiles(params, model, {
      country: msg.country,
      method: msg.method,
      base: modelName,
      seed: config.seed,
      steps: config.steps,
      tau: config.tau,
      beta: config.beta,
    });
    const list: ModelFile[] = Object.entries(files).map(([path, bytes]) => ({ path, bytes: ownBuffer(bytes) }));
    post({ type: 'model', id: msg.id, country: msg.country, method: msg.method, files: list }, list.map((f) => f.bytes));
  } catch (e) {
    post({ type: 'error', id: msg.id, error: toWorkerError(e) });
  }
}

/** The latest finished run's inputs, for 'export-job'. */
let lastJob: Omit<JobInputs, 'info' | 'template'> & { globalRm: string } | null = null;

async function exportJob(id: number, fresh?: JobSpec): Promise<void> {
  const useLite = 'the PyTorch job export holds the bag RM; it is not available for USE-lite runs yet';
  if (fresh ? fresh.model.kind === 'use-lite' : trainedUseLite) return post({ type: 'error', id, error: { kind: 'config', message: useLite } });
  if (!lastJob && !fresh) return post({ type: 'error', id, error: { kind: 'config', message: 'no finished run in this page to export as a job' } });
  try {
    // Loaded on first use: the job's Python files stay out of the worker's main chunk.
    const [{ buildJob }, { loadJobTemplate }] = await Promise.all([import('../pipeline/job/build.ts'), import('../pipeline/job/template.browser.ts')]);
    let job = lastJob;
    if (fresh) {
      // No run: the data and model as a run would load them; buildJob scores with the CPU forward pass.
      const data = await loadData(fresh.data, fresh.strict, fresh.config.seed);
      const { model } = await loadModel(fresh.model);
      const encoded = encodeItems(model.tokenizer, data.items, model.params.config);
      job = { data, encoded, globalParams: model.params, config: fresh.config, globalRm: describeModel(fresh.model) };
    }
    const { globalRm, ...inputs } = job!;
    const files = buildJob({ ...inputs, info: { data: summarizeData(inputs.data), globalRm, versions: { app: APP_VERSION } }, template: loadJobTemplate() });
    const list: ModelFile[] = Object.entries(files).map(([path, bytes]) => ({ path, bytes: ownBuffer(bytes) }));
    post({ type: 'job', id, files: list }, list.map((f) => f.bytes));
  } catch (e) {
    post({ type: 'error', id, error: toWorkerError(e) });
  }
}

self.onmessage = (ev: MessageEvent<unknown>) => {
  const msg = parseToWorker(ev.data);
  if (!msg) return;
  if (msg.type === 'export-job') {
    void exportJob(msg.id, msg.fresh);
    return;
  }
  if (msg.type === 'export-model') {
    exportModel(msg);
    return;
  }
  if (msg.type === 'load') {
    // The default model's scoring worker needs no data: it starts now, alongside the data load.
    prepareScoring();
    loadAndReport(msg.id, msg.data, msg.strict, 0).then(
      // The default model's run on this data, made ready while the user looks at the page.
      ({ data, version }) => prepareRun(version, data),
      (e: unknown) => post({ type: 'error', id: msg.id, error: toWorkerError(e) }),
    );
    return;
  }
  if (msg.type === 'run') {
    void run(msg);
    return;
  }
  slot.control(msg.type, msg.id);
};

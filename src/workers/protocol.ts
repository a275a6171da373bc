// The ONE typed message protocol between the page and the experiment worker: discriminated unions on `type`,
// errors as values, and validators so neither side trusts a received message by cast.
import type { RunInfo } from '../pipeline/report.ts';
import type { CompletedRuns, ExperimentConfig, ExperimentEvent, ExperimentResult } from '../pipeline/experiment.ts';
import type { Item, Method, Pair } from '../pipeline/types.ts';
import { METHODS } from '../pipeline/types.ts';

export type BackendPref = 'auto' | 'cpu' | 'webgpu';

export type DataSpec =
  | { kind: 'synthetic'; seed: number }
  | { kind: 'prism'; utterances: File; survey: File }
  | { kind: 'goqa'; file: File; margin?: number }
  /** Opt-in only (the studio's "allow network"): a dataset id on the Hugging Face hub. */
  | { kind: 'hub'; id: string };

export type ModelSpec =
  | { kind: 'bundled' }
  /**
   * The bundled USE-lite transformer RM (public/models/scpo-use-lite-rm). tune 'head' (default): frozen encoder,
   * heads trained per run; 'lora' / 'top': country RMs fine-tuned by the USE-lite cpu trainer (wasm SIMD), joint
   * sequences of seqLen tokens (default 128). Checked by the worker (ConfigError naming the field).
   */
  | { kind: 'use-lite'; tune?: 'lora' | 'top' | 'head'; seqLen?: number }
  /**
   * A local folder in HF layout picked by the user (turned into blob URLs in the worker). `paths[i]` is files[i]'s
   * path inside that folder (e.g. "onnx/model.onnx"): File.webkitRelativePath is not part of a File's structured clone.
   */
  | { kind: 'files'; files: File[]; paths?: string[] }
  /** Opt-in only (the studio's "allow network"): a model id on the Hugging Face hub. */
  | { kind: 'hub'; id: string };

export type ToWorker =
  /** `completed`: main runs of this same config that already finished (a resumed run): the worker trains only the rest. */
  /** `workers`: training workers to use (default: navigator.hardwareConcurrency; the results are the same). */
  | { type: 'run'; id: number; config: ExperimentConfig; data: DataSpec; model: ModelSpec; backend: BackendPref; strict: boolean; completed?: CompletedRuns; workers?: number; havePairs?: number }
  /** Load and validate the data only (no model, no training): answered by 'status', 'data' + 'pairs', or 'error'. */
  | { type: 'load'; id: number; data: DataSpec; strict: boolean }
  | { type: 'pause'; id: number }
  | { type: 'resume'; id: number }
  | { type: 'cancel'; id: number }
  /**
   * The trained RM of (country, method) from the latest run ('start' = the global RM), in HF layout:
   * answered by 'model' (files as transferred ArrayBuffers) or 'error'. Its id is the request's own, not a run id.
   */
  | { type: 'export-model'; id: number; country: string; method: Method }
  /**
   * A PyTorch job folder (src/pipeline/job/): of the latest finished run (its own global scores), or with `fresh`,
   * of that config, data and model, scored here on the CPU and trained nowhere. Answered by 'job' or 'error'.
   */
  | { type: 'export-job'; id: number; fresh?: JobSpec };

/** What a job exported without a run needs: the run request's config, data and model. */
export interface JobSpec {
  config: ExperimentConfig;
  data: DataSpec;
  model: ModelSpec;
  strict: boolean;
}

/** One file of an exported model: its path in the HF layout (e.g. "onnx/model.onnx") and its bytes. */
export interface ModelFile {
  path: string;
  bytes: ArrayBuffer;
}

/** What the studio shows about loaded data: the same summary run.json records (report.ts). */
export type DataSummary = RunInfo['data'];

export interface BackendReport {
  name: string;
  info: string;
  reason: string;
}

export type WorkerErrorKind = 'data' | 'config' | 'cancelled' | 'internal';

export interface WorkerError {
  kind: WorkerErrorKind;
  message: string;
  file?: string;
  line?: number;
  field?: string;
}

export type FromWorker =
  | { type: 'status'; id: number; message: string }
  | { type: 'data'; id: number; summary: DataSummary }
  /** The loaded pairs and their texts, for the studio's pair inspector (sent once per load, right after 'data'). */
  /** `version`: which load of the worker they come from (a run with `havePairs` = this version is not sent them again). */
  | { type: 'pairs'; id: number; items: Item[]; pairs: Pair[]; version?: number }
  | { type: 'backend'; id: number; report: BackendReport }
  /** Experiment events, batched and throttled (at most ~10 messages per second). */
  | { type: 'events'; id: number; events: ExperimentEvent[] }
  /** `saving`: the worker itself saves the run as the last one in IndexedDB (answered by 'saved'), off the page's thread. */
  | { type: 'result'; id: number; result: ExperimentResult; saving?: boolean }
  /** The run of `id` was saved in IndexedDB at `savedAt` (or could not be: `error`). */
  | { type: 'saved'; id: number; savedAt: string; error?: string }
  | { type: 'model'; id: number; country: string; method: Method; files: ModelFile[] }
  | { type: 'job'; id: number; files: ModelFile[] }
  | { type: 'error'; id: number; error: WorkerError };

const FROM_TYPES = new Set(['status', 'data', 'pairs', 'backend', 'events', 'result', 'saved', 'model', 'job', 'error']);
const TO_TYPES = new Set(['run', 'load', 'pause', 'resume', 'cancel', 'export-model', 'export-job']);

function isMethod(v: unknown): v is Method {
  return typeof v === 'string' && (METHODS as readonly string[]).includes(v);
}

/** A relative path inside a model folder: no absolute paths, no "..", no backslashes. */
function isModelFile(v: unknown): boolean {
  return (
    isRecord(v) &&
    typeof v.path === 'string' &&
    v.path.length > 0 &&
    !v.path.startsWith('/') &&
    !v.path.includes('\\') &&
    !v.path.split('/').some((p) => p === '' || p === '.' || p === '..') &&
    v.bytes instanceof ArrayBuffer
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isItem(v: unknown): boolean {
  return isRecord(v) && typeof v.prompt === 'string' && typeof v.response === 'string';
}

function isPair(v: unknown, items: number): boolean {
  return (
    isRecord(v) &&
    typeof v.chosen === 'number' &&
    typeof v.rejected === 'number' &&
    v.chosen >= 0 &&
    v.chosen < items &&
    v.rejected >= 0 &&
    v.rejected < items &&
    typeof v.country === 'string' &&
    (v.split === 'train' || v.split === 'test')
  );
}

/** Checks every element: the lists are at most ~10^5 long, so a full pass costs a few ms and nothing is cast blind. */
function everyOf(a: unknown[], ok: (v: unknown) => boolean): boolean {
  for (let i = 0; i < a.length; i++) if (!ok(a[i])) return false;
  return true;
}

/** Shape check of a message from the worker; returns null (and the caller reports it) when malformed. */
export function parseFromWorker(v: unknown): FromWorker | null {
  if (!isRecord(v) || typeof v.type !== 'string' || !FROM_TYPES.has(v.type) || typeof v.id !== 'number') return null;
  switch (v.type) {
    case 'status':
      return typeof v.message === 'string' ? { type: 'status', id: v.id, message: v.message } : null;
    case 'data':
      return isRecord(v.summary) ? { type: 'data', id: v.id, summary: v.summary as unknown as DataSummary } : null;
    case 'pairs': {
      const { items, pairs } = v;
      if (!Array.isArray(items) || !Array.isArray(pairs)) return null;
      if (!everyOf(items, isItem) || !everyOf(pairs, (p) => isPair(p, items.length))) return null;
      return { type: 'pairs', id: v.id, items: items as Item[], pairs: pairs as Pair[], ...(typeof v.version === 'number' ? { version: v.version } : {}) };
    }
    case 'backend':
      return isRecord(v.report) && typeof v.report.name === 'string'
        ? { type: 'backend', id: v.id, report: v.report as unknown as BackendReport }
        : null;
    case 'events':
      return Array.isArray(v.events) && v.events.every((e) => isRecord(e) && typeof e.type === 'string')
        ? { type: 'events', id: v.id, events: v.events as ExperimentEvent[] }
        : null;
    case 'saved':
      return typeof v.savedAt === 'string' ? { type: 'saved', id: v.id, savedAt: v.savedAt, ...(typeof v.error === 'string' ? { error: v.error } : {}) } : null;
    case 'result':
      return isRecord(v.result) && isRecord(v.result.reports)
        ? { type: 'result', id: v.id, result: v.result as unknown as ExperimentResult, ...(v.saving === true ? { saving: true } : {}) }
        : null;
    case 'model':
      return typeof v.country === 'string' && isMethod(v.method) && Array.isArray(v.files) && v.files.length > 0 && everyOf(v.files, isModelFile)
        ? { type: 'model', id: v.id, country: v.country, method: v.method, files: v.files as ModelFile[] }
        : null;
    case 'job':
      return Array.isArray(v.files) && v.files.length > 0 && everyOf(v.files, isModelFile) ? { type: 'job', id: v.id, files: v.files as ModelFile[] } : null;
    case 'error':
      return isRecord(v.error) && typeof v.error.message === 'string' && typeof v.error.kind === 'string'
        ? { type: 'error', id: v.id, error: v.error as unknown as WorkerError }
        : null;
  }
  return null;
}

const isNum = (v: unknown) => typeof v === 'number';

function isLivePoint(v: unknown): boolean {
  return isRecord(v) && isNum(v.step) && (v.loss === null || isNum(v.loss)) && isNum(v.accFull) && isNum(v.accEdited);
}

function isRunResult(v: unknown): boolean {
  return (
    isRecord(v) &&
    typeof v.country === 'string' &&
    isMethod(v.method) &&
    isNum(v.trainPairs) &&
    isNum(v.steps) &&
    isNum(v.accFull) &&
    isNum(v.accEdited) &&
    isNum(v.accMajority) &&
    isNum(v.ms) &&
    Array.isArray(v.losses) &&
    everyOf(v.losses, isNum) &&
    Array.isArray(v.points) &&
    everyOf(v.points, isLivePoint)
  );
}

/** The `completed` field of a 'run' request: finished RunResults and their margins (Float32Array per method). */
export function isCompletedRuns(v: unknown): v is CompletedRuns {
  if (!isRecord(v) || !Array.isArray(v.runs) || !everyOf(v.runs, isRunResult) || !isRecord(v.margins)) return false;
  for (const byMethod of Object.values(v.margins)) {
    if (!isRecord(byMethod)) return false;
    for (const [m, a] of Object.entries(byMethod)) if (!isMethod(m) || !(a instanceof Float32Array)) return false;
  }
  return true;
}

export function parseToWorker(v: unknown): ToWorker | null {
  if (!isRecord(v) || typeof v.type !== 'string' || !TO_TYPES.has(v.type) || typeof v.id !== 'number') return null;
  if (v.type === 'run') {
    if (!isRecord(v.config) || !isRecord(v.data) || !isRecord(v.model) || typeof v.backend !== 'string') return null;
    if (v.completed !== undefined && !isCompletedRuns(v.completed)) return null;
    if (v.workers !== undefined && !(typeof v.workers === 'number' && Number.isInteger(v.workers) && v.workers >= 1)) return null;
    return v as unknown as ToWorker;
  }
  if (v.type === 'load') {
    if (!isRecord(v.data) || typeof v.data.kind !== 'string') return null;
    return { type: 'load', id: v.id, data: v.data as unknown as DataSpec, strict: v.strict === true };
  }
  if (v.type === 'export-model') {
    return typeof v.country === 'string' && isMethod(v.method) ? { type: 'export-model', id: v.id, country: v.country, method: v.method } : null;
  }
  if (v.type === 'export-job') {
    if (v.fresh === undefined) return { type: 'export-job', id: v.id };
    const f = v.fresh;
    if (!isRecord(f) || !isRecord(f.config) || !isRecord(f.data) || typeof f.data.kind !== 'string' || !isRecord(f.model) || typeof f.model.kind !== 'string') return null;
    return { type: 'export-job', id: v.id, fresh: { config: f.config as unknown as ExperimentConfig, data: f.data as unknown as DataSpec, model: f.model as unknown as ModelSpec, strict: f.strict === true } };
  }
  return { type: v.type as 'pause' | 'resume' | 'cancel', id: v.id };
}

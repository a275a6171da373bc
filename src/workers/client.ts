// Page-side handle of the experiment worker: starts runs, forwards pause/resume/cancel, validates every
// message coming back and hands typed messages to one listener.
import type { CompletedRuns, ExperimentConfig } from '../pipeline/experiment.ts';
import { parseFromWorker } from './protocol.ts';
import type { BackendPref, DataSpec, FromWorker, JobSpec, ModelFile, ModelSpec, ToWorker } from './protocol.ts';
import type { Method } from '../pipeline/types.ts';

export type Listener = (msg: FromWorker) => void;

export class ExperimentClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private current = 0;
  /** Export requests in flight, by their own id (answered outside the current run's stream). */
  private exports = new Map<number, { resolve: (files: ModelFile[]) => void; reject: (e: Error) => void }>();

  constructor(private readonly listener: Listener) {}

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./experiment.worker.ts', import.meta.url), { type: 'module', name: 'scpo-experiment' });
    w.onmessage = (ev: MessageEvent<unknown>) => {
      const msg = parseFromWorker(ev.data);
      if (!msg) {
        this.listener({ type: 'error', id: this.current, error: { kind: 'internal', message: 'malformed message from the worker' } });
        return;
      }
      const ex = this.exports.get(msg.id);
      if (ex && (msg.type === 'model' || msg.type === 'job' || msg.type === 'error')) {
        this.exports.delete(msg.id);
        if (msg.type === 'model' || msg.type === 'job') ex.resolve(msg.files);
        else ex.reject(new Error(msg.error.message));
        return;
      }
      if (msg.id === this.current) this.listener(msg);
    };
    w.onerror = (ev) => {
      this.listener({ type: 'error', id: this.current, error: { kind: 'internal', message: `worker failed: ${ev.message}` } });
      for (const ex of this.exports.values()) ex.reject(new Error(`worker failed: ${ev.message}`));
      this.exports.clear();
      this.worker = null;
    };
    this.worker = w;
    return w;
  }

  private post(msg: ToWorker): void {
    this.ensureWorker().postMessage(msg);
  }

  /**
   * Starts a run; a run already going is cancelled first. Returns the run id. `completed`: finished main runs of
   * this same config (resuming an interrupted run), which the worker does not train again.
   */
  run(config: ExperimentConfig, data: DataSpec, model: ModelSpec, backend: BackendPref, strict = false, completed?: CompletedRuns, workers?: number, havePairs?: number): number {
    if (this.current) this.cancel();
    const id = this.nextId++;
    this.current = id;
    this.post({ type: 'run', id, config, data, model, backend, strict, ...(completed ? { completed } : {}), ...(workers ? { workers } : {}), ...(havePairs !== undefined ? { havePairs } : {}) });
    return id;
  }

  /** Loads the data only (summary + pairs for the inspector); a run already going is cancelled first. */
  load(data: DataSpec, strict = false): number {
    if (this.current) this.cancel();
    const id = this.nextId++;
    this.current = id;
    this.post({ type: 'load', id, data, strict });
    return id;
  }

  /**
   * The trained RM of (country, method) from the latest run, as HF-layout files (the studio saves them as one
   * zip, src/ui/zip.ts). Does not touch the current run.
   */
  exportModel(country: string, method: Method): Promise<ModelFile[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.exports.set(id, { resolve, reject });
      this.post({ type: 'export-model', id, country, method });
    });
  }

  /**
   * A PyTorch job folder (paths inside the job, e.g. "job/run.py"): of the latest run, or with `fresh` of that
   * config/data/model without training. Does not touch the current run.
   */
  exportJob(fresh?: JobSpec): Promise<ModelFile[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.exports.set(id, { resolve, reject });
      this.post(fresh ? { type: 'export-job', id, fresh } : { type: 'export-job', id });
    });
  }

  pause(): void {
    if (this.current) this.post({ type: 'pause', id: this.current });
  }

  resume(): void {
    if (this.current) this.post({ type: 'resume', id: this.current });
  }

  cancel(): void {
    if (this.current) this.post({ type: 'cancel', id: this.current });
  }

  dispose(): void {
    for (const ex of this.exports.values()) ex.reject(new Error('experiment worker disposed'));
    this.exports.clear();
    this.worker?.terminate();
    this.worker = null;
    this.current = 0;
  }
}

// The training loop over a compute Backend: seeded epoch shuffling into fixed-size batches (a schedule that can
// be replayed from the seed and a step number), step budget, live evaluation points, pause/cancel checks,
// cooperative yielding so a worker stays responsive, and fault tolerance: on a non-cpu backend the trainer is
// checkpointed every K steps, and when the device is lost (or the backend cannot make a trainer) the SAME run
// continues on the cpu backend from the last checkpoint, replaying the batches after it.
import type { Backend, BackendName, StepResult, Trainer, TrainerCheckpoint } from '../../gpu/backend.ts';
import { cpuBackend } from '../../gpu/cpu/trainer.ts';
import { GpuDeviceLostError, GpuUnavailableError } from '../../gpu/device.ts';
import type { BagRMParams, EncodedItems, OptimizerConfig, PairBatch } from '../rm/types.ts';
import { Rng } from '../rng.ts';

export class CancelledError extends Error {
  constructor() {
    super('run cancelled');
    this.name = 'CancelledError';
  }
}

/** Hooks that let a host (CLI, worker, test) observe and steer a long computation. */
export interface RunControl {
  signal?: AbortSignal;
  /** Awaited between steps; resolves when the run may continue (the studio's pause). */
  waitIfPaused?: () => Promise<void>;
}

let lastYield = Date.now();

/** Checks cancel/pause and, every ~30 ms of work, yields to the event loop so messages get handled. */
export async function checkpointTick(control: RunControl | undefined): Promise<void> {
  if (control?.signal?.aborted) throw new CancelledError();
  if (control?.waitIfPaused) await control.waitIfPaused();
  if (control?.signal?.aborted) throw new CancelledError();
  const now = Date.now();
  if (now - lastYield > 30) {
    await new Promise<void>((r) => setTimeout(r, 0));
    lastYield = Date.now();
  }
}

export interface TrainSpec {
  /** Item indices of chosen / rejected per training pair, and the pair weights. */
  chosen: Int32Array;
  rejected: Int32Array;
  weights: Float32Array;
  steps: number;
  batch: number;
  seed: number;
  /** Evaluate every `evalEvery` steps (0: never) via `onEval`. */
  evalEvery: number;
}

/** Step count of a run: the step budget, capped at `epochs` passes over the data. */
export function plannedSteps(nPairs: number, batch: number, maxSteps: number, epochs: number): number {
  if (nPairs === 0) return 0;
  return Math.max(1, Math.min(maxSteps, Math.ceil((epochs * nPairs) / batch)));
}

/**
 * The batches of a run as a pure function of (spec, step): a seeded permutation of the pairs consumed in
 * order, reshuffled (in place, by the same stream) at each epoch end. batch(s) for any step s >= 1, in any
 * order; going back to an earlier epoch replays the shuffles from the seed. Each call returns new arrays (a
 * failover replays earlier steps while the caller still holds the batch it was stepping).
 */
export class BatchSchedule {
  readonly size: number;
  private readonly n: number;
  private rng!: Rng;
  private order!: number[];
  /** Epoch whose permutation `order` holds (-1: none drawn yet). */
  private epoch = -1;

  constructor(private readonly spec: Pick<TrainSpec, 'chosen' | 'rejected' | 'weights' | 'batch' | 'seed'>) {
    this.n = spec.chosen.length;
    this.size = this.n === 0 ? 0 : Math.min(spec.batch, this.n);
    this.reset();
  }

  private reset(): void {
    this.rng = new Rng(this.spec.seed);
    this.order = Array.from({ length: this.n }, (_, i) => i);
    this.epoch = -1;
  }

  private seekEpoch(e: number): void {
    if (e < this.epoch) this.reset();
    while (this.epoch < e) {
      this.rng.shuffle(this.order);
      this.epoch++;
    }
  }

  /** The batch of 1-based step `step`. */
  batch(step: number): PairBatch {
    if (!Number.isInteger(step) || step < 1) throw new RangeError(`BatchSchedule.batch: step must be an integer >= 1, got ${step}`);
    const { n, size, spec } = this;
    const out: PairBatch = { chosen: new Int32Array(size), rejected: new Int32Array(size), weight: new Float32Array(size) };
    for (let k = 0; k < size; k++) {
      const pos = (step - 1) * size + k;
      this.seekEpoch(Math.floor(pos / n));
      const p = this.order[pos % n];
      out.chosen[k] = spec.chosen[p];
      out.rejected[k] = spec.rejected[p];
      out.weight[k] = spec.weights[p];
    }
    return out;
  }
}

/** What a host is told when a run leaves its backend. */
export interface BackendFallback {
  from: BackendName;
  to: BackendName;
  /** Why: the device-lost or unavailable error's message. */
  reason: string;
  /** Steps of the run completed when the loss was noticed (0: the trainer could not be created). */
  atStep: number;
  /** The step of the checkpoint the fallback backend resumed from (its later steps were replayed). */
  resumedFrom: number;
}

export interface FailoverOptions<P = BagRMParams> {
  /** Checkpoint a non-cpu trainer every this many steps (0: only the start). Default 50. */
  checkpointEvery?: number;
  /** Where a lost run continues. Default the bag RM's cpu backend: other models pass their own cpu backend. */
  fallback?: Backend<P>;
  /** Told once when the run falls back; `backend` is the one to use from now on. */
  onFallback?: (info: BackendFallback, backend: Backend<P>) => void;
}

export const DEFAULT_CHECKPOINT_EVERY = 50;

export interface FailoverTrainerOptions<P = BagRMParams> extends FailoverOptions<P> {
  /** The batch of a 1-based step, for replays; without it the trainer keeps copies of the batches it steps. */
  batchAt?: (runStep: number) => PairBatch;
  /** Called with each replayed step's recomputed loss. */
  onReplay?: (runStep: number, loss: number) => void;
}

/**
 * Errors after which a backend is gone for good: the device was lost, or WebGPU cannot hold the trainer
 * (out of memory, limits). Any error while the backend reports its device lost counts too.
 */
export function isBackendLoss(e: unknown, backend?: Backend<unknown>): boolean {
  if (e instanceof GpuDeviceLostError || e instanceof GpuUnavailableError) return true;
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'GpuDeviceLostError' || name === 'GpuUnavailableError') return true;
  // WebGpuBackend keeps its GpuContext in `ctx`; read structurally so this module needs no WebGPU code.
  const ctx = (backend as { ctx?: { lostError?: unknown } } | undefined)?.ctx;
  return Boolean(ctx?.lostError);
}

/**
 * The backend a lost run continues on: the caller's, else the bag RM's cpu backend (whose trainer rejects other
 * models' params with a clear error, so a model without its own fallback cannot silently train the wrong thing).
 */
function fallbackOf<P>(options: FailoverOptions<P>): Backend<P> {
  return options.fallback ?? (cpuBackend as unknown as Backend<P>);
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A Trainer that survives the loss of its backend. On a non-cpu backend it keeps the init (step 0) and a
 * checkpoint every K steps; when a step, score or checkpoint fails with a backend loss it builds a trainer on
 * the fallback backend from the last checkpoint, replays the steps since then (batches from `batchAt`, or from
 * its own copies when none is given) and retries the failed call there. The run's step count and results
 * continue as if nothing happened; steps replayed are reported through `onReplay` (their recomputed losses).
 */
export class FailoverTrainer<P = BagRMParams> implements Trainer<P> {
  private inner: Trainer<P>;
  private current: Backend<P>;
  private saved: { state: P | TrainerCheckpoint<P>; runStep: number };
  /** Steps taken through this wrapper (the run's 1-based step numbers). */
  private runStep = 0;
  /** Copies of the batches since the last checkpoint, when there is no schedule to replay from. */
  private log: PairBatch[] = [];
  private items: EncodedItems | null = null;
  private fallbackInfo: BackendFallback | null = null;
  private readonly every: number;

  private constructor(
    trainer: Trainer<P>,
    backend: Backend<P>,
    init: P | TrainerCheckpoint<P>,
    private readonly opt: OptimizerConfig,
    private readonly options: FailoverTrainerOptions<P>,
  ) {
    this.inner = trainer;
    this.current = backend;
    this.saved = { state: init, runStep: 0 };
    this.every = Math.max(0, Math.floor(options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY));
  }

  /** A trainer on `backend`, or (when that backend cannot make one) on the fallback backend, reported as such. */
  static async create<P = BagRMParams>(
    backend: Backend<P>,
    init: P | TrainerCheckpoint<P>,
    opt: OptimizerConfig,
    options: FailoverTrainerOptions<P> = {},
  ): Promise<FailoverTrainer<P>> {
    const fallback = fallbackOf(options);
    try {
      return new FailoverTrainer<P>(await backend.createTrainer(init, opt), backend, init, opt, options);
    } catch (e) {
      if (backend.name === fallback.name || !isBackendLoss(e, backend)) throw e;
      const t = new FailoverTrainer<P>(await fallback.createTrainer(init, opt), fallback, init, opt, options);
      t.report({ from: backend.name, to: fallback.name, reason: reasonOf(e), atStep: 0, resumedFrom: 0 }, fallback);
      return t;
    }
  }

  get backend(): BackendName {
    return this.inner.backend;
  }

  /** The backend the run is on now. */
  get currentBackend(): Backend<P> {
    return this.current;
  }

  /** The fallback that happened, or null. */
  get fallback(): BackendFallback | null {
    return this.fallbackInfo;
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.runStep;
  }

  async step(items: EncodedItems, batch: PairBatch): Promise<StepResult> {
    this.items = items;
    const r = await this.guard((t) => t.step(items, batch));
    this.runStep++;
    if (!this.options.batchAt && this.canFail) {
      this.log.push({ chosen: batch.chosen.slice(), rejected: batch.rejected.slice(), weight: batch.weight.slice() });
    }
    if (this.canFail && this.every > 0 && this.runStep % this.every === 0) {
      try {
        const state = await this.inner.checkpoint();
        this.saved = { state, runStep: this.runStep };
        this.log = [];
      } catch (e) {
        if (!isBackendLoss(e, this.current)) throw e;
        await this.failover(e);
      }
    }
    return r;
  }

  score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    return this.guard((t) => t.score(items, indices));
  }

  checkpoint(): Promise<TrainerCheckpoint<P>> {
    return this.guard((t) => t.checkpoint());
  }

  /** A copy of the current parameters (the backend's params() where it has one, else its checkpoint's). */
  params(): Promise<P> {
    return this.guard((t) => (t.params ? t.params() : t.checkpoint().then((c) => c.params)));
  }

  dispose(): void {
    this.inner.dispose();
  }

  private get canFail(): boolean {
    return this.current.name !== fallbackOf(this.options).name;
  }

  private async guard<T>(call: (t: Trainer<P>) => Promise<T>): Promise<T> {
    try {
      return await call(this.inner);
    } catch (e) {
      if (!this.canFail || !isBackendLoss(e, this.current)) throw e;
      await this.failover(e);
      return call(this.inner);
    }
  }

  private async failover(e: unknown): Promise<void> {
    const fallback = fallbackOf(this.options);
    const from = this.current.name;
    try {
      this.inner.dispose();
    } catch {
      // A lost device may refuse even this; nothing of it is needed any more.
    }
    const next = await fallback.createTrainer(this.saved.state, this.opt);
    const first = this.saved.runStep + 1;
    for (let s = first; s <= this.runStep; s++) {
      if (!this.items) throw new Error('failover: no items to replay the steps with');
      const b = this.options.batchAt ? this.options.batchAt(s) : this.log[s - first];
      const { loss } = await next.step(this.items, b);
      this.options.onReplay?.(s, loss);
    }
    this.inner = next;
    this.current = fallback;
    this.log = [];
    this.report({ from, to: fallback.name, reason: reasonOf(e), atStep: this.runStep, resumedFrom: this.saved.runStep }, fallback);
  }

  private report(info: BackendFallback, backend: Backend<P>): void {
    this.fallbackInfo = info;
    this.options.onFallback?.(info, backend);
  }
}

export interface TrainOutcome<P = BagRMParams> {
  /** The run's trainer; it keeps falling back (from its last checkpoint) if its backend is lost later. */
  trainer: FailoverTrainer<P>;
  losses: number[];
}

/**
 * Trains a fresh trainer initialised from `init` on the weighted pairs of `spec` (batches from a
 * BatchSchedule). Survives the loss of a non-cpu backend (see FailoverTrainer): `losses` then holds the
 * recomputed losses of the replayed steps, and `onStep` is called once per step number (never again for a
 * step replayed after a fallback).
 */
export async function train<P = BagRMParams>(
  backend: Backend<P>,
  init: P | TrainerCheckpoint<P>,
  opt: OptimizerConfig,
  items: EncodedItems,
  spec: TrainSpec,
  control: RunControl | undefined,
  onStep?: (step: number, loss: number, trainer: Trainer<P>) => Promise<void> | void,
  failover: FailoverOptions<P> = {},
): Promise<TrainOutcome<P>> {
  const schedule = new BatchSchedule(spec);
  const losses: number[] = [];
  const trainer = await FailoverTrainer.create<P>(backend, init, opt, {
    ...failover,
    batchAt: (s) => schedule.batch(s),
    onReplay: (s, loss) => {
      losses[s - 1] = loss;
    },
  });
  if (schedule.size === 0 || spec.steps === 0) return { trainer, losses };
  try {
    for (let step = 1; step <= spec.steps; step++) {
      await checkpointTick(control);
      const { loss } = await trainer.step(items, schedule.batch(step));
      losses[step - 1] = loss;
      if (onStep) await onStep(step, loss, trainer);
    }
  } catch (e) {
    trainer.dispose();
    throw e;
  }
  return { trainer, losses };
}

// The training loop over a compute Backend: seeded epoch shuffling into fixed-size batches, step budget,
// live evaluation points, pause/cancel checks and cooperative yielding so a worker stays responsive.
import type { Backend, Trainer, TrainerCheckpoint } from '../../gpu/backend.ts';
import type { BagRMParams, EncodedItems, OptimizerConfig } from '../rm/types.ts';
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

export interface TrainOutcome {
  trainer: Trainer;
  losses: number[];
}

/**
 * Trains a fresh trainer initialised from `init` on the weighted pairs of `spec`.
 * Batches: a seeded permutation of the pairs consumed in order, reshuffled at each epoch end.
 */
export async function train(
  backend: Backend,
  init: BagRMParams | TrainerCheckpoint,
  opt: OptimizerConfig,
  items: EncodedItems,
  spec: TrainSpec,
  control: RunControl | undefined,
  onStep?: (step: number, loss: number, trainer: Trainer) => Promise<void> | void,
): Promise<TrainOutcome> {
  const trainer = await backend.createTrainer(init, opt);
  const n = spec.chosen.length;
  const losses: number[] = [];
  if (n === 0 || spec.steps === 0) return { trainer, losses };
  const rng = new Rng(spec.seed);
  const order = Array.from({ length: n }, (_, i) => i);
  rng.shuffle(order);
  let cursor = 0;
  const b = Math.min(spec.batch, n);
  const chosen = new Int32Array(b);
  const rejected = new Int32Array(b);
  const weight = new Float32Array(b);
  try {
    for (let step = 1; step <= spec.steps; step++) {
      await checkpointTick(control);
      for (let k = 0; k < b; k++) {
        if (cursor === n) {
          rng.shuffle(order);
          cursor = 0;
        }
        const p = order[cursor++];
        chosen[k] = spec.chosen[p];
        rejected[k] = spec.rejected[p];
        weight[k] = spec.weights[p];
      }
      const { loss } = await trainer.step(items, { chosen, rejected, weight });
      losses.push(loss);
      if (onStep) await onStep(step, loss, trainer);
    }
  } catch (e) {
    trainer.dispose();
    throw e;
  }
  return { trainer, losses };
}

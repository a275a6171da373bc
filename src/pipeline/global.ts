// Training a global RM: the pooled training pairs of ALL countries (majority-dominated, like a real global RM).
// Used by the model build script (the bundled RM) and by the CLI's `--global-rm train`.
import type { Backend } from '../gpu/backend.ts';
import type { BagRMParams, EncodedItems } from './rm/types.ts';
import { hashSeed } from './rng.ts';
import { plannedSteps, train } from './train/loop.ts';
import type { RunControl } from './train/loop.ts';
import type { PreferenceData } from './types.ts';

export interface GlobalTrainOptions {
  steps: number;
  epochs: number;
  batch: number;
  lr: number;
  weightDecay: number;
  seed: number;
  /** Train only the MLP head (the table holds frozen encoder features, e.g. USE-lite's). Default false. */
  freezeEmbeddings?: boolean;
}

export const DEFAULT_GLOBAL_TRAIN: GlobalTrainOptions = {
  steps: 3000,
  epochs: 2,
  batch: 32,
  lr: 2e-3,
  weightDecay: 0.01,
  seed: 0,
};

export interface GlobalTrainResult {
  params: BagRMParams;
  pairs: number;
  steps: number;
  losses: number[];
}

export async function trainGlobalRM(
  backend: Backend,
  init: BagRMParams,
  encoded: EncodedItems,
  data: PreferenceData,
  opts: Partial<GlobalTrainOptions> = {},
  control?: RunControl,
): Promise<GlobalTrainResult> {
  const o = { ...DEFAULT_GLOBAL_TRAIN, ...opts };
  const trainPairs = data.pairs.filter((p) => p.split === 'train');
  const steps = plannedSteps(trainPairs.length, o.batch, o.steps, o.epochs);
  const { trainer, losses } = await train(
    backend,
    init,
    { lr: o.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay, freezeEmbeddings: o.freezeEmbeddings ?? false },
    encoded,
    {
      chosen: Int32Array.from(trainPairs, (p) => p.chosen),
      rejected: Int32Array.from(trainPairs, (p) => p.rejected),
      weights: new Float32Array(trainPairs.length).fill(1),
      steps,
      batch: o.batch,
      seed: hashSeed(o.seed, 'global'),
      evalEvery: 0,
    },
    control,
  );
  try {
    const ck = await trainer.checkpoint();
    return { params: ck.params, pairs: trainPairs.length, steps, losses };
  } finally {
    trainer.dispose();
  }
}

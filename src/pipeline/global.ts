// The global RM: training one on pooled training pairs of ALL countries (majority-dominated, like a real global
// RM; used by the model build script and by `--global-rm train`), and its provenance: which groups (PRISM users,
// GOQA questions) its preference training saw. Every session checks that none of its test or validation groups
// is among them (checkLeak), so a test user can never have been trained on by the model that scores the test set.
import type { Backend } from '../gpu/backend.ts';
import type { BagRMParams, EncodedItems } from './rm/types.ts';
import { hashSeed } from './rng.ts';
import { plannedSteps, train } from './train/loop.ts';
import type { RunControl } from './train/loop.ts';
import { validationGroups } from './data/split.ts';
import { ConfigError } from './types.ts';
import type { DataFormat, Pair, PreferenceData, SplitInfo } from './types.ts';

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

/** The key of a model's provenance block in its config.json. */
export const PROVENANCE_KEY = 'scpo_training_data';

/** What a reward model's preference training saw (config.json's `scpo_training_data`). */
export interface GlobalRmProvenance {
  /** In words, for run.json and error messages. */
  description: string;
  /** PreferenceData.source of the training data, e.g. "synthetic:1000". */
  source: string;
  format: DataFormat;
  /** The split of that data (null: every pair of the data was used). */
  split: SplitInfo | null;
  /** Groups (PRISM users, GOQA questions) whose pairs it was trained on, sorted. */
  trainGroups: string[];
  pairs: number;
  steps: number;
  /** The model its weights started from, when that one was trained on preference data too (its groups count). */
  inherits: GlobalRmProvenance | null;
}

export interface GlobalTrainResult {
  params: BagRMParams;
  pairs: number;
  steps: number;
  losses: number[];
  /** The groups whose pairs were trained on, sorted. */
  groups: string[];
}

/**
 * Trains `init` on the pairs `include` selects (default: every train-split pair) of all countries, with the
 * same trainer and loop as the country RMs.
 */
export async function trainGlobalRM(
  backend: Backend,
  init: BagRMParams,
  encoded: EncodedItems,
  data: PreferenceData,
  opts: Partial<GlobalTrainOptions> = {},
  control?: RunControl,
  include: (p: Pair) => boolean = (p) => p.split === 'train',
): Promise<GlobalTrainResult> {
  const o = { ...DEFAULT_GLOBAL_TRAIN, ...opts };
  const trainPairs = data.pairs.filter(include);
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
    const groups = [...new Set(trainPairs.map((p) => p.group))].sort();
    return { params: ck.params, pairs: trainPairs.length, steps, losses, groups };
  } finally {
    trainer.dispose();
  }
}

/**
 * The pairs a session may train its global RM on: train split, not validation (so validation accuracy of
 * `start` is not inflated either). `valFraction`/`seed` as in the experiment's config.
 */
export function globalTrainFilter(data: PreferenceData, seed: number, valFraction: number): (p: Pair) => boolean {
  const val = validationGroups(data.pairs, data.split.rule, seed, valFraction);
  return (p) => p.split === 'train' && !val.has(p.group);
}

/** The provenance of a global RM trained by trainGlobalRM on `data`. */
export function trainedProvenance(
  data: PreferenceData,
  g: Pick<GlobalTrainResult, 'groups' | 'pairs' | 'steps'>,
  inherits: GlobalRmProvenance | null,
  description?: string,
): GlobalRmProvenance {
  return {
    description: description ?? `the train pairs of all countries of ${data.source} (split seed ${data.split.seed}, ${data.split.rule})`,
    source: data.source,
    format: data.format,
    split: data.split,
    trainGroups: g.groups,
    pairs: g.pairs,
    steps: g.steps,
    inherits,
  };
}

/** The provenance block of a model's config.json, or null when it records none; ConfigError when malformed. */
export function parseProvenance(configJson: unknown, where = 'config.json'): GlobalRmProvenance | null {
  const block = (configJson as Record<string, unknown> | null)?.[PROVENANCE_KEY];
  if (block === undefined || block === null) return null;
  const check = (v: unknown, path: string): GlobalRmProvenance => {
    const b = v as Record<string, unknown>;
    const bad = (field: string) => new ConfigError(`${where}: ${path}.${field} is missing or malformed`);
    if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new ConfigError(`${where}: ${path} must be an object`);
    if (typeof b.source !== 'string') throw bad('source');
    if (!Array.isArray(b.trainGroups) || !b.trainGroups.every((g) => typeof g === 'string')) throw bad('trainGroups');
    return {
      description: typeof b.description === 'string' ? b.description : b.source,
      source: b.source,
      format: b.format === 'goqa' ? 'goqa' : 'prism',
      split: (b.split as SplitInfo | null) ?? null,
      trainGroups: b.trainGroups as string[],
      pairs: typeof b.pairs === 'number' ? b.pairs : 0,
      steps: typeof b.steps === 'number' ? b.steps : 0,
      inherits: b.inherits === undefined || b.inherits === null ? null : check(b.inherits, `${path}.inherits`),
    };
  };
  return check(block, PROVENANCE_KEY);
}

/** Every group a model's weights were trained on, its ancestors' included. */
export function provenanceGroups(p: GlobalRmProvenance | null): Set<string> {
  const out = new Set<string>();
  for (let q = p; q; q = q.inherits) for (const g of q.trainGroups) out.add(g);
  return out;
}

/** run.json's record of the global RM: what it was trained on and how many held-out groups it saw (must be 0). */
export interface LeakCheck {
  /** Provenance without the group lists (their sizes instead); null when the model records none. */
  provenance: ProvenanceSummary | null;
  /** Distinct test / validation groups of the run's countries (selected and majority). */
  testGroups: number;
  valGroups: number;
  /** How many of them the global RM was trained on; null when it records no provenance (unknown). */
  testOverlap: number | null;
  valOverlap: number | null;
}

export interface ProvenanceSummary extends Omit<GlobalRmProvenance, 'trainGroups' | 'inherits'> {
  trainGroups: number;
  inherits: ProvenanceSummary | null;
}

export function summarizeProvenance(p: GlobalRmProvenance | null): ProvenanceSummary | null {
  if (!p) return null;
  const { trainGroups, inherits, ...rest } = p;
  return { ...rest, trainGroups: trainGroups.length, inherits: summarizeProvenance(inherits) };
}

/**
 * Counts the run's test and validation groups (of `countries`) that the global RM was trained on. Throws
 * ConfigError when any is (the run would score held-out users with a model that saw them); a model without a
 * provenance record gives null overlaps (unknown) and the caller says so.
 */
export function checkLeak(
  provenance: GlobalRmProvenance | null,
  data: PreferenceData,
  countries: readonly string[],
  seed: number,
  valFraction: number,
): LeakCheck {
  const wanted = new Set(countries);
  const val = validationGroups(data.pairs, data.split.rule, seed, valFraction);
  const test = new Set<string>();
  const valGroups = new Set<string>();
  for (const p of data.pairs) {
    if (!wanted.has(p.country)) continue;
    if (p.split === 'test') test.add(p.group);
    else if (val.has(p.group)) valGroups.add(p.group);
  }
  const check: LeakCheck = {
    provenance: summarizeProvenance(provenance),
    testGroups: test.size,
    valGroups: valGroups.size,
    testOverlap: null,
    valOverlap: null,
  };
  if (!provenance) return check;
  const seen = provenanceGroups(provenance);
  check.testOverlap = [...test].filter((g) => seen.has(g)).length;
  check.valOverlap = [...valGroups].filter((g) => seen.has(g)).length;
  if (check.testOverlap > 0 || check.valOverlap > 0) {
    throw new ConfigError(
      `the global RM was trained on ${check.testOverlap} of this run's ${check.testGroups} test and ${check.valOverlap} of its ` +
        `${check.valGroups} validation ${data.format === 'goqa' ? 'questions' : 'users'} (it was trained on ${provenance.description}); ` +
        `held-out data must be unseen: use data or a seed whose held-out users it did not see, or a global RM trained elsewhere`,
    );
  }
  return check;
}

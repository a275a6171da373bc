// The experiment's inputs, events and results: the types shared by the run loop, the reports, the merge of
// parallel parts, the worker protocol and the UI.
import type { Backend } from '../../gpu/backend.ts';
import type { AccuracyTable, EfficiencyEntry } from '../eval.ts';
import type { BagRMParams, EncodedItems } from '../rm/types.ts';
import type { BackendFallback, RunControl } from '../train/loop.ts';
import type { Method, PreferenceData } from '../types.ts';
import type { LeakCheck } from '../global.ts';
import type { ExperimentConfig } from './config.ts';

export type Phase = 'load' | 'score' | 'filter' | 'train' | 'efficiency' | 'evaluate' | 'done';

export interface LivePoint {
  step: number;
  loss: number | null;
  accFull: number;
  accEdited: number;
}

export interface RunResult {
  country: string;
  method: Method;
  trainPairs: number;
  steps: number;
  /** Fractions on the country's full / edited test set. */
  accFull: number;
  accEdited: number;
  /** Fraction on the majority countries' test pairs (bias view). */
  accMajority: number;
  /** Fraction on the country's validation pairs (what sweeps choose on); NaN without a validation set. */
  accVal: number;
  losses: number[];
  points: LivePoint[];
  ms: number;
}

export type ExperimentEvent =
  | { type: 'phase'; phase: Phase; done: number; total: number; label: string }
  | { type: 'scored'; rPlus: Float32Array; rMinus: Float32Array }
  | { type: 'point'; country: string; method: Method; point: LivePoint; totalSteps: number }
  /** `margins`: the main run's margins (as in ExperimentResult.margins); `resumed`: reused from ExperimentInputs.completed, not trained. */
  | { type: 'run'; run: RunResult; margins?: Float32Array; resumed?: boolean }
  | { type: 'efficiency'; country: string; entry: EfficiencyEntry }
  /** The backend was lost (or could not hold a trainer): the run went on from its last checkpoint on `to`, and so do all later runs. */
  | ({ type: 'backend-fallback'; run: string } & BackendFallback);

export interface Reports {
  full: AccuracyTable;
  partial: AccuracyTable;
  /** Accuracy on the validation pairs (held-out train users): what hyperparameter sweeps choose on. */
  validation: AccuracyTable;
  /**
   * Kept share of the training pairs and edited share of the test pairs. Per country, and under `avg` pooled over
   * the countries (total kept / total train pairs), as the reference code computes it; `macro` is the mean of the
   * per-country ratios.
   */
  editedRatios: {
    train: Record<string, number | null>;
    test: Record<string, number | null>;
    macro: { train: number | null; test: number | null };
  };
  bias: {
    majority: string[];
    countries: Record<string, Partial<Record<Method, { own: number | null; majority: number | null }>>>;
    avg: Partial<Record<Method, { own: number | null; majority: number | null }>>;
  };
  efficiency: {
    fractions: number[];
    countries: Record<string, EfficiencyEntry>;
    /** Mean of the per-country ratios where full_ft reaches scpo's accuracy at all. */
    avgRatio: number | null;
    /** Countries where full_ft, even with all its pairs, stays below scpo's accuracy (scpo strictly more efficient). */
    neverReached: string[];
    skipped?: string;
  };
}

export interface CountrySets {
  /** Pair indices the country RMs train on (train split minus validation). */
  train: number[];
  /** Pair indices of the validation users (train split, held out; see ExperimentConfig.valFraction). */
  val: number[];
  test: number[];
  kept: number;
  edited: number;
}

export interface ExperimentResult {
  config: ExperimentConfig;
  source: string;
  backend: string;
  /** Global-RM scores of every pair's chosen / rejected item, aligned with data.pairs. */
  rPlus: Float32Array;
  rMinus: Float32Array;
  sets: Record<string, CountrySets>;
  runs: RunResult[];
  /** After training: each (country, method) RM's margin s_c - s_r on all of that country's pairs (train, val, test). */
  margins: Record<string, Partial<Record<Method, Float32Array>>>;
  reports: Reports;
  timings: Record<string, number>;
  /** The global RM's provenance and its overlap with the run's held-out users (set by the session). */
  globalRm?: LeakCheck;
  /** A shard's efficiency subset runs (sharded runs only; mergeShards turns them into the efficiency entries). */
  efficiencyRuns?: EfficiencyRun[];
}

/** Scores items with the global RM (e.g. onnxruntime-web in its own worker); result aligned with `indices`. */
export type ItemScorer = (encoded: EncodedItems, indices: Int32Array) => Promise<Float32Array>;

/** Generic over the reward model's params (the bag RM by default; the USE-lite trainer's UseLiteRM). */
export interface ExperimentInputs<P = BagRMParams> {
  data: PreferenceData;
  encoded: EncodedItems;
  globalParams: P;
  backend: Backend<P>;
  /** Where a lost non-cpu run continues (default: the bag RM's cpu backend; other models pass their own). */
  fallback?: Backend<P>;
  /** Global-RM scoring; defaults to the backend's trainer forward pass on globalParams. */
  globalScorer?: ItemScorer;
  /** Checkpoint cadence of training on a non-cpu backend, for falling back to cpu (default 50 steps). */
  checkpointEvery?: number;
  config: ExperimentConfig;
  onEvent?: (e: ExperimentEvent) => void;
  control?: RunControl;
  /** Receives the final params of each main (country, method) run (not the efficiency subsets), e.g. for ONNX export. */
  onModel?: (country: string, method: Method, params: P) => void | Promise<void>;
  /**
   * Main runs of this same config (data, model, seed) that already finished, e.g. before a reload: those
   * (country, method) runs are not trained again (their results and margins are reused and their 'run' events
   * emitted as usual, with `resumed: true`). Entries that do not fit this config are ignored (trained).
   */
  completed?: CompletedRuns;
  /**
   * Run only this shard's part of the training work (parallel workers, shards.ts): every shard scores and builds the
   * sets, then trains the (country, method) runs and efficiency subsets assigned to it. Its result holds only those
   * runs (and `efficiencyRuns` instead of efficiency entries); mergeShards puts the shards' results together into
   * exactly what one unsharded run gives.
   */
  shard?: Shard;
  /**
   * Called once the global scores are known, before any training: per item of `encoded` (NaN where not scored). A
   * parallel runner starts its other shards from here (scoresScorer in shards.ts gives them the same scores).
   */
  onGlobalScores?: (gScores: Float32Array) => void;
}

/** One of `of` shards of an experiment's training work (index 0-based). */
export interface Shard {
  index: number;
  of: number;
}

/** One data-efficiency subset run (full_ft on a random fraction of a country's train pairs). */
export interface EfficiencyRun {
  country: string;
  fraction: number;
  pairs: number;
  accuracy: number;
}

export interface CompletedRuns {
  runs: RunResult[];
  margins: Record<string, Partial<Record<Method, Float32Array>>>;
}

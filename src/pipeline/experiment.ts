// The SCPO experiment's public entry point (the CLI, the Web Worker, the UI and the tests import from here).
// The code lives in experiment/: config.ts (defaults, validation), types.ts (inputs, events, results),
// run.ts (the run loop, with scoring.ts and country-runs.ts), reports.ts (report tables), merge.ts (parallel parts).
export { checkCountries, DEFAULT_CONFIG, optimizerConfig, resolveConfig } from './experiment/config.ts';
export type { ExperimentConfig } from './experiment/config.ts';
export type {
  CompletedRuns,
  CountrySets,
  EfficiencyRun,
  ExperimentEvent,
  ExperimentInputs,
  ExperimentResult,
  ItemScorer,
  LivePoint,
  Phase,
  Reports,
  RunResult,
  Shard,
} from './experiment/types.ts';
export { buildReports } from './experiment/reports.ts';
export { mergeResults } from './experiment/merge.ts';
export { mergeShards, scoresScorer, shardPlan, taskKey } from './experiment/shards.ts';
export { runExperiment } from './experiment/run.ts';

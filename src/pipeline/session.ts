// One experiment session from loaded inputs: validate the config against the data, pick the global RM (bundled /
// retrained on this data), check that it never saw a held-out user, tokenize the items once, run the experiment.
// Shared verbatim by the CLI, the Web Worker and the end-to-end tests.
import type { Backend } from '../gpu/backend.ts';
import { checkCountries, resolveConfig, runExperiment } from './experiment.ts';
import type { ExperimentConfig, ExperimentEvent, ExperimentInputs, ExperimentResult, ItemScorer } from './experiment.ts';
import { checkLeak, globalTrainFilter, parseProvenance, trainGlobalRM, trainedProvenance } from './global.ts';
import type { GlobalRmProvenance, GlobalTrainOptions, LeakCheck } from './global.ts';
import { initBagRM } from './rm/bag.ts';
import type { LoadedBagRM } from './rm/files.ts';
import { encodeItems } from './rm/tokenizer.ts';
import type { BagRMParams, EncodedItems } from './rm/types.ts';
import type { RunControl } from './train/loop.ts';
import type { PreferenceData } from './types.ts';

export type GlobalRmMode = 'as-loaded' | 'train';

export interface SessionInputs {
  data: PreferenceData;
  model: LoadedBagRM;
  /** `data`'s items already tokenized with `model` (encodeItems), e.g. prepared before the run; tokenized here if absent. */
  encoded?: EncodedItems;
  backend: Backend;
  config: ExperimentConfig;
  /** 'as-loaded': the model is the global RM; 'train': fresh MLP on its embeddings, trained on this data's pooled train pairs. */
  globalRm: GlobalRmMode;
  globalTrain?: Partial<GlobalTrainOptions>;
  /** Global-RM scorer for the as-loaded model (e.g. onnxruntime-web); ignored when the global RM is retrained. */
  globalScorer?: ItemScorer;
  onEvent?: (e: ExperimentEvent) => void;
  control?: RunControl;
  /** Passed to the experiment: final params of each main (country, method) run. */
  onModel?: ExperimentInputs['onModel'];
  /** Passed to the experiment: main runs of this config that already finished (not trained again). */
  completed?: ExperimentInputs['completed'];
  /** Passed to the experiment: this shard's part of the training work (parallel workers). */
  shard?: ExperimentInputs['shard'];
  /** The global scores per item once known (see ExperimentInputs.onGlobalScores), with the tokens and global params used. */
  onGlobalScores?: (s: { gScores: Float32Array; encoded: EncodedItems; globalParams: BagRMParams }) => void;
}

export interface SessionOutput {
  result: ExperimentResult;
  encoded: EncodedItems;
  globalParams: BagRMParams;
  /** What the global RM used was trained on (null: the loaded model records nothing). */
  provenance: GlobalRmProvenance | null;
  timings: Record<string, number>;
}

/**
 * Everything that can be checked before any work: the config, its countries against the data, and that the
 * global RM (as loaded; a retrained one inherits the loaded model's embeddings) saw none of the run's test or
 * validation users. Throws ConfigError; returns the leak check for run.json.
 */
export function preflight(inp: {
  data: PreferenceData;
  model: Pick<LoadedBagRM, 'configJson'>;
  config: Partial<ExperimentConfig>;
}): { config: ExperimentConfig; leak: LeakCheck } {
  const config = resolveConfig(inp.config);
  checkCountries(config, inp.data);
  const leak = checkLeak(
    parseProvenance(inp.model.configJson),
    inp.data,
    [...config.countries, ...config.majority],
    config.seed,
    config.valFraction,
  );
  return { config, leak };
}

export async function runSession(inp: SessionInputs): Promise<SessionOutput> {
  const { config } = preflight(inp);
  const emit = inp.onEvent ?? (() => {});
  const t0 = Date.now();
  const cfg = inp.model.params.config;
  if (inp.encoded && inp.encoded.count !== inp.data.items.length) {
    throw new Error(`session: ${inp.encoded.count} tokenized items given for ${inp.data.items.length} texts`);
  }
  if (!inp.encoded) emit({ type: 'phase', phase: 'load', done: 0, total: 1, label: `tokenizing ${inp.data.items.length} texts` });
  const encoded = inp.encoded ?? encodeItems(inp.model.tokenizer, inp.data.items, cfg);
  const timings: Record<string, number> = { tokenizeMs: Date.now() - t0 };
  let globalParams = inp.model.params;
  let provenance = parseProvenance(inp.model.configJson);
  if (inp.globalRm === 'train') {
    const t1 = Date.now();
    emit({ type: 'phase', phase: 'load', done: 0, total: 1, label: 'training a global RM on the pooled training pairs' });
    const init = initBagRM(inp.model.params.E, cfg, config.seed);
    const include = globalTrainFilter(inp.data, config.seed, config.valFraction);
    const g = await trainGlobalRM(inp.backend, init, encoded, inp.data, { seed: config.seed, ...inp.globalTrain }, inp.control, include);
    globalParams = g.params;
    // Its embeddings start from the loaded model's, so what that one saw counts too.
    provenance = trainedProvenance(inp.data, g, provenance, `the train pairs (validation users excluded) of all countries of ${inp.data.source}`);
    timings.globalTrainMs = Date.now() - t1;
  }
  // Checked again on what was actually used (for 'train': this run's own train users plus the loaded model's).
  const leak = checkLeak(provenance, inp.data, [...config.countries, ...config.majority], config.seed, config.valFraction);
  emit({ type: 'phase', phase: 'load', done: 1, total: 1, label: 'loaded' });
  const result = await runExperiment({
    data: inp.data,
    encoded,
    globalParams,
    backend: inp.backend,
    globalScorer: inp.globalRm === 'as-loaded' ? inp.globalScorer : undefined,
    config,
    onEvent: inp.onEvent,
    control: inp.control,
    onModel: inp.onModel,
    completed: inp.completed,
    shard: inp.shard,
    onGlobalScores: inp.onGlobalScores ? (gScores) => inp.onGlobalScores!({ gScores, encoded, globalParams }) : undefined,
  });
  Object.assign(result.timings, timings);
  result.globalRm = leak;
  return { result, encoded, globalParams, provenance, timings: result.timings };
}

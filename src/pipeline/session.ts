// One experiment session from loaded inputs: pick the global RM (bundled / retrained on this data), tokenize
// the items once, run the experiment. Shared verbatim by the CLI, the Web Worker and the end-to-end tests.
import type { Backend } from '../gpu/backend.ts';
import { runExperiment } from './experiment.ts';
import type { ExperimentConfig, ExperimentEvent, ExperimentInputs, ExperimentResult, ItemScorer } from './experiment.ts';
import { trainGlobalRM } from './global.ts';
import type { GlobalTrainOptions } from './global.ts';
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
}

export interface SessionOutput {
  result: ExperimentResult;
  encoded: EncodedItems;
  globalParams: BagRMParams;
  timings: Record<string, number>;
}

export async function runSession(inp: SessionInputs): Promise<SessionOutput> {
  const emit = inp.onEvent ?? (() => {});
  const t0 = Date.now();
  emit({ type: 'phase', phase: 'load', done: 0, total: 1, label: `tokenizing ${inp.data.items.length} texts` });
  const cfg = inp.model.params.config;
  const encoded = encodeItems(inp.model.tokenizer, inp.data.items, cfg);
  const timings: Record<string, number> = { tokenizeMs: Date.now() - t0 };
  let globalParams = inp.model.params;
  if (inp.globalRm === 'train') {
    const t1 = Date.now();
    emit({ type: 'phase', phase: 'load', done: 0, total: 1, label: 'training a global RM on the pooled training pairs' });
    const init = initBagRM(inp.model.params.E, cfg, inp.config.seed);
    const g = await trainGlobalRM(inp.backend, init, encoded, inp.data, { seed: inp.config.seed, ...inp.globalTrain }, inp.control);
    globalParams = g.params;
    timings.globalTrainMs = Date.now() - t1;
  }
  emit({ type: 'phase', phase: 'load', done: 1, total: 1, label: 'loaded' });
  const result = await runExperiment({
    data: inp.data,
    encoded,
    globalParams,
    backend: inp.backend,
    globalScorer: inp.globalRm === 'as-loaded' ? inp.globalScorer : undefined,
    config: inp.config,
    onEvent: inp.onEvent,
    control: inp.control,
    onModel: inp.onModel,
    completed: inp.completed,
    shard: inp.shard,
  });
  Object.assign(result.timings, timings);
  return { result, encoded, globalParams, timings: result.timings };
}

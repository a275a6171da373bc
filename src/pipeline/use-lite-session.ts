// An experiment session with the USE-lite reward model (`--rm use-lite`), frozen-encoder path: tokenize (USE's
// Unigram tokenizer), embed the joint sequences of only the items the run needs (feature cache), train the global
// head on pooled TRAINING users' pairs, then the usual experiment on the features (the bag-RM trainer trains the
// heads, rm/use-lite/frozen.ts). Shared by the CLI, the worker and the tests, like session.ts for the bag RM.
// The tune mode seam: `tune: 'head'` is this path; LoRA/top fine-tuning (issue 12) plugs in beside it.
import type { Backend } from '../gpu/backend.ts';
import { runExperiment } from './experiment.ts';
import type { ExperimentConfig, ExperimentInputs } from './experiment.ts';
import { checkLeak, DEFAULT_GLOBAL_TRAIN, globalTrainFilter, trainedProvenance, trainGlobalRM } from './global.ts';
import type { GlobalTrainOptions } from './global.ts';
import { hashSeed, Rng } from './rng.ts';
import type { BagRMParams } from './rm/types.ts';
import type { LoadedUseLite } from './rm/use-lite/files.ts';
import { FeatureCache, featuresAsBagRM, itemFeatures, type FeatureStats, type UseLiteEncoder } from './rm/use-lite/frozen.ts';
import { USE_LITE_MODEL_ID } from './rm/use-lite/spec.ts';
import { encodeUseItems, USE_SEP_PIECE } from './rm/use-lite/tokenizer.ts';
import type { SessionInputs, SessionOutput } from './session.ts';
import type { Pair } from './types.ts';

export type RmKind = 'bag' | 'use-lite';
export const RM_KINDS: readonly RmKind[] = ['bag', 'use-lite'];

export interface UseLiteGlobalOptions extends Partial<GlobalTrainOptions> {
  /**
   * Pooled training pairs the global head is trained on, sampled uniformly (seeded) from the training users of all
   * countries: every sampled item must be embedded, so this caps the encoder work of the global RM. Default 4000.
   */
  maxPairs?: number;
}

export const DEFAULT_USE_LITE_GLOBAL: Required<Pick<UseLiteGlobalOptions, 'maxPairs' | 'epochs'>> = { maxPairs: 4000, epochs: 4 };

export interface UseLiteSessionInputs extends Pick<SessionInputs, 'data' | 'backend' | 'config' | 'onEvent' | 'control' | 'onModel' | 'completed'> {
  model: LoadedUseLite;
  encoder: UseLiteEncoder;
  /** Joint sequence length (default: the model's maxLen, 128). */
  maxLen?: number;
  /** Hidden width of the MLP head on the 512-d embedding (default 64, like the bag RM). */
  hidden?: number;
  globalTrain?: UseLiteGlobalOptions;
  /** Reused across sessions on the same model and maxLen (e.g. the worker keeps one); a fresh one otherwise. */
  cache?: FeatureCache;
}

export interface UseLiteSessionOutput extends SessionOutput {
  /** For run.json and exported model folders: what the RM is and how its global head was trained. */
  rmInfo: Record<string, unknown>;
  features: FeatureStats;
}

/** Items the run needs: every item of the selected and majority countries' pairs, plus the global sample's. */
export function neededItems(pairs: readonly Pair[], countries: readonly string[], majority: readonly string[], globalPairs: readonly Pair[]): Int32Array {
  const wanted = new Set([...countries, ...majority]);
  const s = new Set<number>();
  for (const p of pairs) {
    if (wanted.has(p.country)) {
      s.add(p.chosen);
      s.add(p.rejected);
    }
  }
  for (const p of globalPairs) {
    s.add(p.chosen);
    s.add(p.rejected);
  }
  return Int32Array.from(s).sort();
}

/** A uniform seeded sample of at most `max` pooled training pairs (training users of every country, never test users). */
export function globalSample(pairs: readonly Pair[], max: number, seed: number): Pair[] {
  const train = pairs.filter((p) => p.split === 'train');
  if (train.length <= max) return train;
  const idx = Array.from(train.keys());
  new Rng(hashSeed(seed, 'use-lite-global-sample')).shuffle(idx);
  return idx
    .slice(0, max)
    .sort((a, b) => a - b)
    .map((i) => train[i]);
}

export function cacheKeyOf(model: LoadedUseLite, maxLen: number): string {
  const src = model.configJson.scpo as { source_sha256?: string };
  return `${USE_LITE_MODEL_ID}:${src.source_sha256 ?? 'unknown'}:${maxLen}`;
}

export async function runUseLiteSession(inp: UseLiteSessionInputs): Promise<UseLiteSessionOutput> {
  const emit = inp.onEvent ?? (() => {});
  const cfgModel = inp.model.config;
  const maxLen = inp.maxLen ?? cfgModel.maxLen;
  if (!(Number.isInteger(maxLen) && maxLen >= 2 && maxLen <= cfgModel.maxPositions)) {
    throw new Error(`use-lite: maxLen must be an integer in [2, ${cfgModel.maxPositions}], got ${maxLen}`);
  }
  const cache = inp.cache ?? new FeatureCache(cacheKeyOf(inp.model, maxLen), cfgModel.modelDim);
  if (cache.key !== cacheKeyOf(inp.model, maxLen)) throw new Error(`use-lite: the feature cache is for ${cache.key}, not ${cacheKeyOf(inp.model, maxLen)}`);
  const data = inp.data;
  const seed = inp.config.seed;
  const t0 = Date.now();
  emit({ type: 'phase', phase: 'load', done: 0, total: 1, label: `tokenizing ${data.items.length} texts (USE-lite)` });
  const encoded = encodeUseItems(inp.model.tokenizer, data.items, maxLen);
  const timings: Record<string, number> = { tokenizeMs: Date.now() - t0 };

  const g = { ...DEFAULT_GLOBAL_TRAIN, ...DEFAULT_USE_LITE_GLOBAL, seed, ...inp.globalTrain };
  // Validation users are held out of the global head too (as for the bag RM's --global-rm train).
  const sample = globalSample(data.pairs.filter(globalTrainFilter(data, seed, inp.config.valFraction)), g.maxPairs, g.seed);
  const need = neededItems(data.pairs, inp.config.countries, inp.config.majority, sample);
  const t1 = Date.now();
  const label = `encoding ${need.length} of ${data.items.length} texts with USE-lite (${inp.encoder.name})`;
  emit({ type: 'phase', phase: 'load', done: 0, total: need.length, label });
  const { features, stats } = await itemFeatures(inp.encoder, encoded, need, maxLen, cache, (done, total) =>
    emit({ type: 'phase', phase: 'load', done, total, label }),
  );
  timings.encodeMs = Date.now() - t1;

  const hidden = inp.hidden ?? 64;
  const frozen = featuresAsBagRM(encoded.count, cfgModel.modelDim, need, features, hidden, seed);
  const t2 = Date.now();
  emit({ type: 'phase', phase: 'load', done: 0, total: 1, label: `training the global head on ${sample.length} pooled training pairs` });
  const gr = await trainGlobalRM(inp.backend, frozen.params, frozen.items, { ...data, pairs: sample }, { ...g, freezeEmbeddings: true }, inp.control);
  timings.globalTrainMs = Date.now() - t2;
  const globalParams: BagRMParams = gr.params;

  const trainPairsTotal = data.pairs.filter((p) => p.split === 'train').length;
  const rmInfo: Record<string, unknown> = {
    kind: 'use-lite',
    model: USE_LITE_MODEL_ID,
    source: inp.model.configJson.scpo.source,
    sourceSha256: (inp.model.configJson.scpo as { source_sha256?: string }).source_sha256,
    tune: 'head',
    input: { maxLen, separator: USE_SEP_PIECE, truncation: 'prompt end first, then response end' },
    head: { kind: 'mlp', hidden, on: 'frozen USE-lite embedding (512)' },
    encoder: inp.encoder.name,
    features: stats,
    globalRm: {
      trainedOn: 'pooled training users of all countries (split train only, validation users excluded; no test user)',
      data: data.source,
      splitSeed: seed,
      pairs: gr.pairs,
      sampledFrom: trainPairsTotal,
      sampleSeed: g.seed,
      steps: gr.steps,
      batch: g.batch,
      lr: g.lr,
      epochs: g.epochs,
      finalLoss: gr.losses.length ? gr.losses[gr.losses.length - 1] : null,
    },
  };
  emit({ type: 'phase', phase: 'load', done: 1, total: 1, label: 'loaded' });
  const config: ExperimentConfig = { ...inp.config, freezeEmbeddings: true };
  const result = await runExperiment({
    data,
    encoded: frozen.items,
    globalParams,
    backend: inp.backend,
    config,
    onEvent: inp.onEvent,
    control: inp.control,
    onModel: inp.onModel as ExperimentInputs['onModel'],
    completed: inp.completed,
  });
  Object.assign(result.timings, timings);
  // The pretrained encoder saw no preference data; the head saw exactly `sample`'s users.
  const provenance = trainedProvenance(data, gr, null, `a sample of the train pairs (validation users excluded) of ${data.source}`);
  result.globalRm = checkLeak(provenance, data, [...config.countries, ...config.majority], seed, config.valFraction);
  return { result, encoded: frozen.items, globalParams, provenance, timings: result.timings, rmInfo, features: stats };
}

/** Multiply-adds of the linear layers per token (USE-LITE.md), times 2 for FLOPs. */
export const USE_LITE_FLOP_PER_TOKEN = 2 * 4.65e6;
/** Characters per USE-lite token, measured on the default synthetic set (6.59M characters, 1.43M tokens). */
export const USE_LITE_CHARS_PER_TOKEN = 4.6;
/**
 * Encoder throughput per thread assumed by the estimate: onnxruntime-web's wasm EP measured ~20 GFLOP/s per core
 * on the 2-core dev VM (30 ms of CPU per 67-token sequence, bench/use-lite-score.ts).
 */
export const USE_LITE_GFLOPS_PER_THREAD = 20;

export interface UseLiteEstimate {
  /** Texts the run encodes (after deduplication of identical prompt+response rows). */
  items: number;
  tokens: number;
  gflop: number;
  threads: number;
  seconds: number;
}

/**
 * Before a run: how much encoder work `--rm use-lite` needs for this data and these countries (the items
 * neededItems picks), and roughly how long it takes at USE_LITE_GFLOPS_PER_THREAD per thread. Tokens are estimated
 * from characters (no tokenizer needed); attention adds ~4 * T^2 * (256 + 512) FLOPs per sequence.
 */
export function estimateUseLite(
  items: readonly { prompt: string; response: string }[],
  pairs: readonly Pair[],
  countries: readonly string[],
  majority: readonly string[],
  opts: { maxLen?: number; maxPairs?: number; seed?: number; threads?: number; gflopsPerThread?: number } = {},
): UseLiteEstimate {
  const maxLen = opts.maxLen ?? 128;
  const sample = globalSample(pairs, opts.maxPairs ?? DEFAULT_USE_LITE_GLOBAL.maxPairs, opts.seed ?? 0);
  const need = neededItems(pairs, countries, majority, sample);
  const seen = new Set<string>();
  let tokens = 0;
  let flop = 0;
  for (const k of need) {
    const it = items[k];
    if (!it) continue;
    const key = `${it.prompt}\u0000${it.response}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const T = Math.min(maxLen, 1 + Math.ceil((it.prompt.length + it.response.length) / USE_LITE_CHARS_PER_TOKEN));
    tokens += T;
    flop += T * USE_LITE_FLOP_PER_TOKEN + 4 * T * T * (256 + 512);
  }
  const threads = Math.max(1, opts.threads ?? 1);
  const gflop = flop / 1e9;
  return { items: seen.size, tokens, gflop, threads, seconds: gflop / ((opts.gflopsPerThread ?? USE_LITE_GFLOPS_PER_THREAD) * threads) };
}

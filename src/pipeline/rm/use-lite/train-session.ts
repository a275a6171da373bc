// An experiment session that fine-tunes the USE-lite reward model (`--rm use-lite --tune lora|top`): tokenize,
// train the global RM's linear head on the frozen encoder over a seeded sample of pooled TRAINING users' pairs
// (never test users), then the usual experiment (filter, weights, six methods, bias, efficiency, reports) with
// every country RM fine-tuned from that global RM by the USE-lite trainer (LoRA adapters + head, or layer 1 +
// tanh + head). `--tune head` is the frozen-encoder path of use-lite-session.ts (features + MLP head).
// Shared by the CLI, the worker and the tests, like session.ts for the bag RM.
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Backend } from '../../../gpu/backend.ts';
import type { MatOps } from '../../../gpu/matops.ts';
import type { GradPeer } from './data-parallel.ts';
import { runExperiment } from '../../experiment.ts';
import type { CompletedRuns, ExperimentConfig, ExperimentEvent, ExperimentResult } from '../../experiment.ts';
import { plannedSteps, train, type RunControl } from '../../train/loop.ts';
import type { Method, PreferenceData } from '../../types.ts';
import { globalSample } from '../../use-lite-session.ts';
import type { EncodedItems, OptimizerConfig } from '../types.ts';
import { DEFAULT_LORA, USE_LITE_MODEL_ID, type LoraConfig, type TuneMode, type UseLiteParams } from './spec.ts';
import { useLiteFiles } from './files.ts';
import { encodeUseItems, jointLength, USE_SEP_PIECE, type TokenizerJson } from './tokenizer.ts';
import type { Trainer } from '../../../gpu/backend.ts';
import { clearFrozenCaches, exportParams, UseLiteCpuTrainer, useLiteCpuBackend, useLiteRM, type UseLiteRM } from './train.ts';

export interface UseLiteGlobalHeadOptions {
  /** Pooled training pairs the global head is trained on (seeded uniform sample). Default 1000. */
  maxPairs: number;
  epochs: number;
  batch: number;
  /** The head sees l2-normalised embeddings (norm 1): it needs a larger step than the country runs. */
  lr: number;
  steps: number;
}

// A linear head on frozen, l2-normalised embeddings underfits with few steps: on the default synthetic data (seq len 64)
// 4 epochs at lr 1e-2 ended at training loss 0.656 (chance 0.693), 20 epochs at lr 3e-2 at 0.518. Each sampled pair's
// texts are encoded once; the head's own steps cost next to nothing.
export const DEFAULT_GLOBAL_HEAD: UseLiteGlobalHeadOptions = { maxPairs: 1000, epochs: 20, batch: 32, lr: 3e-2, steps: 2000 };

export interface UseLiteTuneSessionInputs {
  data: PreferenceData;
  /** The converted USE-lite weights (model.safetensors) and its tokenizer. */
  params: UseLiteParams;
  tokenizer: PreTrainedTokenizer;
  /** The matmul of the cpu trainer (wasmMatOps in the product; jsMatOps in tiny tests). */
  ops: MatOps;
  config: ExperimentConfig;
  tune: Exclude<TuneMode, 'head'>;
  lora?: LoraConfig;
  /** Joint sequence length (prompt [SEP] response), <= 128. Default the model's maxLen. */
  seqLen?: number;
  /** Pairs per micro-batch (activations are kept for one at a time). Default 8. */
  microBatch?: number;
  /**
   * Data-parallel peers of the cpu trainers and the global scorer (data-parallel.ts; e.g. startUseLitePeers in
   * Node): each step's micro-batches and each scoring pass are shared with them. `ops` should then be one thread.
   */
  peers?: readonly GradPeer[];
  /**
   * The country runs' backend (e.g. the webgpu one from selectUseLiteBackend); default the cpu trainer on `ops`,
   * which is also where a run continues if this backend loses its device. The global head always trains on cpu.
   */
  backend?: Backend<UseLiteRM>;
  globalHead?: Partial<UseLiteGlobalHeadOptions>;
  onEvent?: (e: ExperimentEvent) => void;
  control?: RunControl;
  onModel?: (country: string, method: Method, rm: UseLiteRM) => void | Promise<void>;
  completed?: CompletedRuns;
}

export interface UseLiteTuneSessionOutput {
  result: ExperimentResult;
  encoded: EncodedItems;
  globalRM: UseLiteRM;
  rmInfo: Record<string, unknown>;
  timings: Record<string, number>;
}

export async function runUseLiteTuneSession(inp: UseLiteTuneSessionInputs): Promise<UseLiteTuneSessionOutput> {
  const emit = inp.onEvent ?? (() => {});
  const c0 = inp.params.config;
  const seqLen = inp.seqLen ?? c0.maxLen;
  if (!(Number.isInteger(seqLen) && seqLen >= 2 && seqLen <= c0.maxPositions)) {
    throw new Error(`--seq-len must be an integer in [2, ${c0.maxPositions}], got ${seqLen}`);
  }
  const lora = inp.lora ?? DEFAULT_LORA;
  const params: UseLiteParams = { config: { ...c0, maxLen: seqLen }, tensors: inp.params.tensors };
  const data = inp.data;
  const seed = inp.config.seed;
  const t0 = Date.now();
  emit({ type: 'phase', phase: 'load', done: 0, total: 1, label: `tokenizing ${data.items.length} texts (USE-lite)` });
  const encoded = encodeUseItems(inp.tokenizer, data.items, seqLen);
  const timings: Record<string, number> = { tokenizeMs: Date.now() - t0 };
  const cpu = useLiteCpuBackend({ ops: inp.ops, microBatch: inp.microBatch, peers: inp.peers });
  // The country runs' work is counted at their trainers; the global head's (features of the sample's and the needed
  // items, each encoded once) below.
  const work: UseLiteWork = { trainTokens: 0, forwardTokens: 0 };
  const backend = countingBackend(cpu, seqLen, work);

  // Global RM: the pretrained encoder with a linear head trained on pooled training users (frozen encoder:
  // embeddings are computed once per item and cached by the head trainer).
  const g = { ...DEFAULT_GLOBAL_HEAD, ...inp.globalHead };
  const sample = globalSample(data.pairs, g.maxPairs, seed);
  const t1 = Date.now();
  const headInit = { ...params, tensors: { ...params.tensors, 'head.w': new Float32Array(c0.modelDim), 'head.b': new Float32Array(1) } };
  const gOpt: OptimizerConfig = { lr: g.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: inp.config.weightDecay, freezeEmbeddings: true };
  const gSteps = plannedSteps(sample.length, g.batch, g.steps, g.epochs);
  emit({ type: 'phase', phase: 'load', done: 0, total: gSteps, label: `training the global head on ${sample.length} pooled training pairs (encoding their texts once)` });
  const gr = await train<UseLiteRM>(
    cpu,
    useLiteRM(headInit, 'head', lora, seed),
    gOpt,
    encoded,
    {
      chosen: Int32Array.from(sample, (p) => p.chosen),
      rejected: Int32Array.from(sample, (p) => p.rejected),
      weights: new Float32Array(sample.length).fill(1),
      steps: gSteps,
      batch: g.batch,
      seed,
      evalEvery: 0,
    },
    inp.control,
    (step) => {
      if (step % 50 === 0 || step === gSteps) emit({ type: 'phase', phase: 'load', done: step, total: gSteps, label: 'training the global head' });
    },
  );
  const headRM = (await gr.trainer.checkpoint()).params;
  gr.trainer.dispose();
  timings.globalTrainMs = Date.now() - t1;
  const globalRM: UseLiteRM = { ...headRM, tune: inp.tune, lora: null, loraConfig: { ...lora }, seed };

  // Global scores through a head-mode trainer on the same frozen tensors: it reuses the cached embeddings. Only the
  // items a report uses are encoded: every pair of the selected countries, the TEST pairs of the majority countries
  // (the bias view); the majority's training pairs (most of the data: US + UK) get NaN, as pairs outside the run do.
  const scorer = new UseLiteCpuTrainer({ ...globalRM, tune: 'head' }, gOpt, { ops: inp.ops, peers: inp.peers });
  const needed = new Set<number>();
  const selected = new Set(inp.config.countries);
  const majority = new Set(inp.config.majority);
  for (const p of data.pairs) {
    if (selected.has(p.country) || (majority.has(p.country) && p.split === 'test')) {
      needed.add(p.chosen);
      needed.add(p.rejected);
    }
  }
  const encodedOnce = new Set(needed);
  for (const p of sample) encodedOnce.add(p.chosen).add(p.rejected);
  work.forwardTokens += jointTokens(encoded, [...encodedOnce], seqLen);
  const globalScorer = async (items: EncodedItems, idx: Int32Array): Promise<Float32Array> => {
    const want = idx.filter((k) => needed.has(k));
    const s = await scorer.score(items, want);
    const byItem = new Map<number, number>();
    want.forEach((k, i) => byItem.set(k, s[i]));
    return Float32Array.from(idx, (k) => byItem.get(k) ?? Number.NaN);
  };
  emit({ type: 'phase', phase: 'load', done: 1, total: 1, label: 'loaded' });
  try {
    const result = await runExperiment<UseLiteRM>({
      data,
      encoded,
      globalParams: globalRM,
      backend: inp.backend ? countingBackend(inp.backend, seqLen, work) : backend,
      fallback: backend,
      globalScorer,
      config: { ...inp.config, freezeEmbeddings: true },
      onEvent: inp.onEvent,
      control: inp.control,
      onModel: inp.onModel,
      completed: inp.completed,
    });
    Object.assign(result.timings, timings);
    const trainPairsTotal = data.pairs.filter((p) => p.split === 'train').length;
    const rmInfo: Record<string, unknown> = {
      kind: 'use-lite',
      model: USE_LITE_MODEL_ID,
      tune: inp.tune,
      ...(inp.tune === 'lora' ? { lora: { rank: lora.rank, alpha: lora.alpha, targets: 'qkv, out, ff1, ff2 of both layers; plus the head' } } : { trained: 'layer 1, tanh layer, head' }),
      input: { maxLen: seqLen, separator: USE_SEP_PIECE, truncation: 'prompt end first, then response end' },
      head: { kind: 'linear', on: 'USE-lite embedding (512)' },
      matmul: inp.peers?.length ? `${inp.ops.name}, data-parallel over ${1 + inp.peers.length} threads` : inp.ops.name,
      globalRm: {
        trainedOn: 'pooled training users of all countries (split train only; no test user); frozen encoder, linear head',
        data: data.source,
        splitSeed: seed,
        pairs: sample.length,
        sampledFrom: trainPairsTotal,
        steps: gSteps,
        batch: g.batch,
        lr: g.lr,
        epochs: g.epochs,
        finalLoss: gr.losses.length ? gr.losses[gr.losses.length - 1] : null,
      },
      work: describeWork(work),
    };
    return { result, encoded, globalRM, rmInfo, timings: result.timings };
  } finally {
    scorer.dispose();
    clearFrozenCaches();
  }
}

/**
 * A fine-tuned country RM as an HF-layout folder: adapters merged into the weights, written by the USE-lite ONNX
 * writer with the linear head, plus model.safetensors (the encoder's weights changed, so they are not the base
 * model's) and config.json recording the base model and how it was tuned.
 */
export function useLiteTunedRMFiles(rm: UseLiteRM, tokenizerJson: TokenizerJson, scpo: Record<string, unknown>): Record<string, Uint8Array> {
  const tuned = rm.tune === 'lora' ? { tune: 'lora', lora: { rank: rm.loraConfig.rank, alpha: rm.loraConfig.alpha, merged: true } } : { tune: rm.tune };
  return useLiteFiles(exportParams(rm), tokenizerJson, { base_model: USE_LITE_MODEL_ID, ...tuned, ...scpo }, { kind: 'linear' }, { withWeights: true });
}

/** Gemm FLOPs per token of a LoRA training step (forward + backward through the frozen weights), measured by bench/use-lite-train.ts: 2.46 GFLOP per pair of 64-token sequences. */
export const USE_LITE_TRAIN_FLOP_PER_TOKEN = 19.2e6;
/**
 * GFLOP/s per thread of the data-parallel cpu trainer, a little below what bench/use-lite-train.ts measured on the idle
 * 2-core machine (36.8 on 1 thread, 70-71 on 2) and what whole runs achieved there (66-67 GFLOP/s on 2 threads,
 * scoring and evaluation included): 30 leaves room for a browser and a busier laptop.
 */
export const USE_LITE_TRAIN_GFLOPS_PER_THREAD = 30;

/**
 * Training FLOPs and time of a fine-tuned run before it starts: every trained (country, method) run takes its
 * step budget of `batch` pairs (2 sequences of <= seqLen tokens each; the synthetic data's joint sequences are
 * ~70 tokens). Encoding (global head, global scores, evaluations) comes on top: estimateUseLite's figure.
 */
export function estimateUseLiteTune(trainedRuns: number, steps: number, batch: number, seqLen: number, threads: number): { gflop: number; seconds: number } {
  const tokensPerPair = 2 * Math.min(seqLen, 70);
  const gflop = (trainedRuns * steps * batch * tokensPerPair * USE_LITE_TRAIN_FLOP_PER_TOKEN) / 1e9;
  return { gflop, seconds: gflop / (USE_LITE_TRAIN_GFLOPS_PER_THREAD * Math.max(1, threads)) };
}

/** Gemm FLOPs per token of a forward pass (scoring): half a LoRA training step's (backward ~ forward through frozen weights). */
export const USE_LITE_FORWARD_FLOP_PER_TOKEN = USE_LITE_TRAIN_FLOP_PER_TOKEN / 2;
/** A sustained fp32 rate a current data-centre GPU reaches on these small matmuls (a fraction of its peak), for projections. */
export const GPU_PROJECTION_TFLOPS = 10;

/** Tokens a session processed: trained (forward + backward, country runs) and forwarded only (scoring, evaluation, the global head's features). */
export interface UseLiteWork {
  trainTokens: number;
  forwardTokens: number;
}

/** The work as FLOPs (gemm) and what it would take at GPU_PROJECTION_TFLOPS. */
export function describeWork(w: UseLiteWork): { trainTokens: number; forwardTokens: number; tflop: number; gpuSecondsAt10Tflops: number; note: string } {
  const tflop = (w.trainTokens * USE_LITE_TRAIN_FLOP_PER_TOKEN + w.forwardTokens * USE_LITE_FORWARD_FLOP_PER_TOKEN) / 1e12;
  return {
    ...w,
    tflop,
    gpuSecondsAt10Tflops: tflop / GPU_PROJECTION_TFLOPS,
    note: `gemm FLOPs from the tokens processed (${USE_LITE_TRAIN_FLOP_PER_TOKEN / 1e6} MFLOP per trained token, ${USE_LITE_FORWARD_FLOP_PER_TOKEN / 1e6} per forwarded token, measured by bench/use-lite-train.ts); the GPU figure assumes a sustained ${GPU_PROJECTION_TFLOPS} TFLOP/s`,
  };
}

/** Tokens of the joint sequences of items `idx`. */
function jointTokens(items: EncodedItems, idx: ArrayLike<number>, maxLen: number): number {
  let n = 0;
  for (let i = 0; i < idx.length; i++) n += jointLength(items, idx[i], maxLen);
  return n;
}

/** `b` with every trainer counting the tokens it steps (both sequences of each pair) and scores into `work`. */
function countingBackend(b: Backend<UseLiteRM>, maxLen: number, work: UseLiteWork): Backend<UseLiteRM> {
  const tokens = (items: EncodedItems, idx: ArrayLike<number>) => jointTokens(items, idx, maxLen);
  return {
    name: b.name,
    info: b.info,
    async createTrainer(init, opt) {
      const t = await b.createTrainer(init, opt);
      const counted: Trainer<UseLiteRM> = {
        get backend() {
          return t.backend;
        },
        step(items, batch) {
          work.trainTokens += tokens(items, batch.chosen) + tokens(items, batch.rejected);
          return t.step(items, batch);
        },
        score(items, indices) {
          work.forwardTokens += tokens(items, indices ?? Int32Array.from({ length: items.count }, (_, i) => i));
          return t.score(items, indices);
        },
        checkpoint: () => t.checkpoint(),
        dispose: () => t.dispose(),
      };
      return counted;
    },
  };
}

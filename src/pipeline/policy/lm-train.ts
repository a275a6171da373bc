// Supervised training of the bundled policy on a dataset's responses: the corpus (RM-tokenized items mapped to the
// policy's vocabularies), the initial model (GloVe rows of the bundled RM, unigram output bias) and the seeded
// training loop over a PolicyTrainer (cpu or webgpu).
import { checkpointTick, type RunControl } from '../train/loop.ts';
import { Rng } from '../rng.ts';
import type { BagRMParams, EncodedItems } from '../rm/types.ts';
import { appendResponseExamples, emptyExamples, initMlpLm, toLmBatch, type LmBatch, type MlpLmParams } from './lm.ts';
import type { PolicyTrainer } from './trainer.ts';
import { buildPolicyVocab, EOS_OUT, UNK_IN, UNK_OUT, type PolicyVocab, type VocabOptions } from './vocab.ts';

export interface PolicyCorpus {
  vocab: PolicyVocab;
  /** Per item: prompt as input ids (unknown words -> [UNK]). */
  prompts: Int32Array[];
  /** Per item: response as output ids, without [EOS]. */
  responses: Int32Array[];
  /** Output-token counts over all responses ([EOS] counted once per response). */
  unigram: Float64Array;
}

/** Maps RM-tokenized items into the policy's vocabularies (built from the same items unless `vocab` is given). */
export function buildCorpus(encoded: EncodedItems, rmVocab: readonly string[], opts: VocabOptions & { vocab?: PolicyVocab } = {}): PolicyCorpus {
  const vocab = opts.vocab ?? buildPolicyVocab(encoded, rmVocab, opts);
  const inId = new Map<string, number>();
  vocab.inWords.forEach((w, i) => inId.set(w, i));
  // RM id -> input id, filled lazily.
  const rmToIn = new Map<number, number>();
  const toIn = (rmId: number): number => {
    let v = rmToIn.get(rmId);
    if (v === undefined) {
      v = inId.get(rmVocab[rmId]) ?? UNK_IN;
      rmToIn.set(rmId, v);
    }
    return v;
  };
  const prompts: Int32Array[] = [];
  const responses: Int32Array[] = [];
  const unigram = new Float64Array(vocab.outWords.length);
  for (let i = 0; i < encoded.count; i++) {
    const p = encoded.promptIds.subarray(encoded.promptOffsets[i], encoded.promptOffsets[i + 1]);
    prompts.push(Int32Array.from(p, toIn));
    const r = encoded.responseIds.subarray(encoded.responseOffsets[i], encoded.responseOffsets[i + 1]);
    const out = Int32Array.from(r, (id) => {
      const o = vocab.inOut[toIn(id)];
      return o < 0 ? UNK_OUT : o;
    });
    responses.push(out);
    for (const o of out) unigram[o]++;
    unigram[EOS_OUT]++;
  }
  return { vocab, prompts, responses, unigram };
}

/** The initial bundled policy: GloVe rows from the bundled RM's table for every input word it knows. */
export function initPolicyFromRM(
  corpus: PolicyCorpus,
  rm: Pick<BagRMParams, 'E' | 'config'>,
  rmVocab: readonly string[],
  shape: { context?: number; hidden?: number; maxPromptTokens?: number } = {},
  seed = 0,
): MlpLmParams {
  const D = rm.config.dim;
  const rmId = new Map<string, number>();
  rmVocab.forEach((w, i) => rmId.set(w, i));
  const row = (w: string) => {
    const id = rmId.get(w);
    return id === undefined ? null : rm.E.subarray(id * D, id * D + D);
  };
  return initMlpLm(corpus.vocab, { dim: D, ...shape }, seed, row, corpus.unigram);
}

/** Token examples of whole responses (every position plus [EOS]), weights 1/n. */
export function responseBatch(corpus: PolicyCorpus, items: ArrayLike<number>, k: number, maxPromptTokens: number): LmBatch {
  const e = emptyExamples();
  for (let j = 0; j < items.length; j++) {
    const i = items[j];
    const resp = [...corpus.responses[i], EOS_OUT];
    appendResponseExamples(corpus.vocab, k, corpus.prompts[i].subarray(0, maxPromptTokens), resp, e);
  }
  return toLmBatch(e);
}

export interface PolicyTrainOptions {
  steps: number;
  /** Responses per step (all their tokens are examples). */
  batch: number;
  seed: number;
}

export const DEFAULT_POLICY_TRAIN: PolicyTrainOptions = { steps: 400, batch: 8, seed: 0 };

/** Mean token cross-entropy (nats) of the model on whole responses `items` (for held-out perplexity). */
export async function evaluateNll(trainer: PolicyTrainer, corpus: PolicyCorpus, items: ArrayLike<number>, k: number, maxPromptTokens: number): Promise<number> {
  const b = responseBatch(corpus, items, k, maxPromptTokens);
  if (b.n === 0) return Number.NaN;
  const logits = await trainer.logits(b);
  const Vo = corpus.vocab.outWords.length;
  let nll = 0;
  for (let i = 0; i < b.n; i++) {
    let m = -Infinity;
    for (let c = 0; c < Vo; c++) m = Math.max(m, logits[i * Vo + c]);
    let s = 0;
    for (let c = 0; c < Vo; c++) s += Math.exp(logits[i * Vo + c] - m);
    nll += m + Math.log(s) - logits[i * Vo + b.target[i]];
  }
  return nll / b.n;
}

/**
 * Trains on whole responses of `items` (a seeded permutation consumed `batch` at a time, reshuffled each
 * epoch). `onStep(step, loss)` after each step. Returns the losses.
 */
export async function trainPolicyLM(
  trainer: PolicyTrainer,
  corpus: PolicyCorpus,
  items: ArrayLike<number>,
  opts: PolicyTrainOptions,
  cfg: { context: number; maxPromptTokens: number },
  onStep?: (step: number, loss: number) => void,
  control?: RunControl,
): Promise<number[]> {
  const losses: number[] = [];
  const n = items.length;
  if (n === 0 || opts.steps === 0) return losses;
  const rng = new Rng(opts.seed);
  const order = Array.from(items);
  rng.shuffle(order);
  let cursor = 0;
  const b = Math.min(opts.batch, n);
  const pick = new Int32Array(b);
  for (let step = 1; step <= opts.steps; step++) {
    for (let j = 0; j < b; j++) {
      if (cursor === n) {
        rng.shuffle(order);
        cursor = 0;
      }
      pick[j] = order[cursor++];
    }
    const { loss } = await trainer.step(responseBatch(corpus, pick, cfg.context, cfg.maxPromptTokens));
    losses.push(loss);
    onStep?.(step, loss);
    await checkpointTick(control);
  }
  return losses;
}

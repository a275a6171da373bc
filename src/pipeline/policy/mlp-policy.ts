// Sampling from the bundled MLP policy on the CPU: one prompt (the Policy interface, tokens streamed) or many
// prompts in lockstep (PPO rollouts, best-of-N). Each sequence draws from its own Rng(seed), and a row's logits do
// not depend on which rows share the forward pass, so a (prompt, seed) pair gives the same tokens either way.
import { Rng } from '../rng.ts';
import type { PreTrainedTokenizer } from '../rm/tokenizer.ts';
import { lmForward, LmScratch, type LmBatch, type MlpLmParams } from './lm.ts';
import { sampleLogits } from './sampling.ts';
import type { Generation, Policy, SamplingOptions, TokenCallback } from './types.ts';
import { BOS_IN, encodeText, EOS_OUT, policyTokenizer, tokenText, type PolicyVocab } from './vocab.ts';

export interface BatchSample {
  /** Output ids per sequence ([EOS] included when sampled). */
  tokens: number[][];
  /** Raw-model log-probabilities of those tokens. */
  logprobs: number[][];
  finish: ('eos' | 'length' | 'cancelled')[];
}

/**
 * Samples one response per prompt (prompt = input ids, already truncated), all in lockstep. `seeds[i]` seeds
 * sequence i. `onToken(i, id, logprob, step)` streams every token.
 */
export function sampleBatch(
  p: MlpLmParams,
  outIn: Int32Array,
  prompts: readonly ArrayLike<number>[],
  opts: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP' | 'maxTokens'>,
  seeds: readonly number[],
  onToken?: (seq: number, id: number, logprob: number, step: number) => void,
  signal?: AbortSignal,
  scratch?: LmScratch,
): BatchSample {
  const B = prompts.length;
  const { context: k, vocabOut: Vo } = p.config;
  const rngs = seeds.map((s) => new Rng(s));
  const tokens: number[][] = prompts.map(() => []);
  const logprobs: number[][] = prompts.map(() => []);
  const finish: BatchSample['finish'] = prompts.map(() => 'length');
  // Contexts hold input ids: sampled output ids are mapped back through outIn.
  const ctxIn: number[][] = prompts.map(() => new Array<number>(k).fill(BOS_IN));
  const active: number[] = prompts.map((_, i) => i);
  const s = scratch ?? new LmScratch(p.config, Math.max(1, B));
  const probs = { probs: new Float64Array(Vo), order: new Int32Array(Vo) };
  if (outIn.length !== Vo) throw new Error(`sampleBatch: outIn has ${outIn.length} entries, the model ${Vo} outputs`);
  for (let step = 0; step < opts.maxTokens && active.length > 0; step++) {
    if (signal?.aborted) {
      for (const i of active) finish[i] = 'cancelled';
      break;
    }
    const batch = buildStepBatch(active, ctxIn, prompts, k);
    lmForward(p, batch, 0, batch.n, s);
    const still: number[] = [];
    for (let r = 0; r < active.length; r++) {
      const i = active[r];
      const { index, logprob } = sampleLogits(s.L, r * Vo, Vo, opts, rngs[i], probs);
      tokens[i].push(index);
      logprobs[i].push(logprob);
      onToken?.(i, index, logprob, step);
      if (index === EOS_OUT) {
        finish[i] = 'eos';
        continue;
      }
      const c = ctxIn[i];
      c.shift();
      c.push(outIn[index]);
      still.push(i);
    }
    active.length = 0;
    active.push(...still);
  }
  return { tokens, logprobs, finish };
}

function buildStepBatch(active: number[], ctxIn: number[][], prompts: readonly ArrayLike<number>[], k: number): LmBatch {
  const n = active.length;
  const ctx = new Int32Array(n * k);
  const promptOffsets = new Int32Array(n + 1);
  let total = 0;
  for (let r = 0; r < n; r++) total += prompts[active[r]].length;
  const promptIds = new Int32Array(total);
  let q = 0;
  for (let r = 0; r < n; r++) {
    const i = active[r];
    ctx.set(ctxIn[i], r * k);
    const pr = prompts[i];
    for (let t = 0; t < pr.length; t++) promptIds[q++] = pr[t];
    promptOffsets[r + 1] = q;
  }
  return { n, ctx, promptOffsets, promptIds, target: new Int32Array(n), weight: new Float32Array(n) };
}

/** The bundled policy behind the Policy interface (CPU sampling). `params` may be swapped between calls (PPO). */
export class MlpLmPolicy implements Policy {
  readonly kind = 'mlp-lm' as const;
  private readonly tok: PreTrainedTokenizer;
  private readonly scratch: LmScratch;

  constructor(
    public params: MlpLmParams,
    readonly vocab: PolicyVocab,
    readonly name = 'bundled MLP policy',
    tokenizer?: PreTrainedTokenizer,
  ) {
    this.tok = tokenizer ?? policyTokenizer(vocab);
    this.scratch = new LmScratch(params.config, 64);
  }

  /** Input ids of a prompt as the model sees it. */
  encodePrompt(prompt: string): number[] {
    return encodeText(this.tok, prompt, this.params.config.maxPromptTokens);
  }

  async generate(prompt: string, opts: SamplingOptions, onToken?: TokenCallback, signal?: AbortSignal): Promise<Generation> {
    const t0 = performance.now();
    let text = '';
    const r = sampleBatch(
      this.params,
      this.vocab.outIn,
      [this.encodePrompt(prompt)],
      opts,
      [opts.seed],
      (_i, id, logprob, step) => {
        const piece = tokenText(this.vocab, id, step);
        text += piece;
        onToken?.({ index: step, id, text: piece, logprob, eos: id === EOS_OUT });
      },
      signal,
      this.scratch,
    );
    return { prompt, text, tokens: r.tokens[0], logprobs: r.logprobs[0], finish: r.finish[0], ms: performance.now() - t0 };
  }

  /** Many prompts in lockstep (same result per prompt and seed as generate()). */
  generateMany(prompts: string[], opts: SamplingOptions, seeds: number[], signal?: AbortSignal): Generation[] {
    const t0 = performance.now();
    const r = sampleBatch(this.params, this.vocab.outIn, prompts.map((q) => this.encodePrompt(q)), opts, seeds, undefined, signal);
    const ms = performance.now() - t0;
    return prompts.map((prompt, i) => {
      let text = '';
      r.tokens[i].forEach((id, j) => (text += tokenText(this.vocab, id, j)));
      return { prompt, text, tokens: r.tokens[i], logprobs: r.logprobs[i], finish: r.finish[i], ms };
    });
  }
}

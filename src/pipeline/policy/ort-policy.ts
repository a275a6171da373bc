// The bundled policy sampled through onnxruntime-web (wasm or webgpu EP): the same sampler as the CPU policy
// (sampling.ts, one Rng per generation) over logits from the exported ONNX step (onnx.ts). Works in Node (wasm),
// workers and pages.
import * as ort from 'onnxruntime-web';
import { Rng } from '../rng.ts';
import type { PreTrainedTokenizer } from '../rm/tokenizer.ts';
import { policyOnnxInputs, POLICY_OUTPUT } from './onnx.ts';
import type { MlpLmConfig } from './lm.ts';
import { sampleLogits } from './sampling.ts';
import type { Generation, Policy, SamplingOptions, TokenCallback } from './types.ts';
import { BOS_IN, encodeText, EOS_OUT, policyTokenizer, tokenText, type PolicyVocab } from './vocab.ts';

export interface OrtPolicyOptions {
  executionProviders?: ('wasm' | 'webgpu')[];
  /** URL prefix of the ort wasm files in the browser (e.g. '/ort/'); unset in Node. */
  wasmPaths?: string;
  numThreads?: number;
}

export class OrtPolicy implements Policy {
  readonly kind = 'onnx' as const;
  private readonly tok: PreTrainedTokenizer;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: MlpLmConfig,
    readonly vocab: PolicyVocab,
    readonly name: string,
    readonly ep: string,
  ) {
    this.tok = policyTokenizer(vocab);
  }

  static async create(onnxBytes: Uint8Array, config: MlpLmConfig, vocab: PolicyVocab, opts: OrtPolicyOptions = {}): Promise<OrtPolicy> {
    if (opts.wasmPaths) ort.env.wasm.wasmPaths = opts.wasmPaths;
    if (opts.numThreads) ort.env.wasm.numThreads = opts.numThreads;
    const eps = opts.executionProviders ?? ['wasm'];
    const session = await ort.InferenceSession.create(onnxBytes, { executionProviders: eps });
    return new OrtPolicy(session, config, vocab, `bundled MLP policy (onnxruntime-web ${eps.join('/')})`, eps[0]);
  }

  /** Logits [rows, vocabOut] of one step for explicit contexts (input ids) and prompts (input ids). */
  async logits(rows: readonly { ctx: ArrayLike<number>; prompt: ArrayLike<number> }[]): Promise<Float32Array> {
    const x = policyOnnxInputs(this.config.context, rows);
    const feeds = {
      context_ids: new ort.Tensor('int64', x.context_ids, [x.n, this.config.context]),
      prompt_ids: new ort.Tensor('int64', x.prompt_ids, [x.n, x.P]),
      prompt_mask: new ort.Tensor('int64', x.prompt_mask, [x.n, x.P]),
    };
    const run = this.queue.then(() => this.session.run(feeds));
    this.queue = run.catch(() => undefined);
    const out = await run;
    return out[POLICY_OUTPUT].data as Float32Array;
  }

  async generate(prompt: string, opts: SamplingOptions, onToken?: TokenCallback, signal?: AbortSignal): Promise<Generation> {
    const t0 = performance.now();
    const k = this.config.context;
    const Vo = this.config.vocabOut;
    const ids = encodeText(this.tok, prompt, this.config.maxPromptTokens);
    const ctx = new Array<number>(k).fill(BOS_IN);
    const rng = new Rng(opts.seed);
    const tokens: number[] = [];
    const logprobs: number[] = [];
    let text = '';
    let finish: Generation['finish'] = 'length';
    const scratch = { probs: new Float64Array(Vo), order: new Int32Array(Vo) };
    for (let step = 0; step < opts.maxTokens; step++) {
      if (signal?.aborted) {
        finish = 'cancelled';
        break;
      }
      const logits = await this.logits([{ ctx, prompt: ids }]);
      const { index, logprob } = sampleLogits(logits, 0, Vo, opts, rng, scratch);
      tokens.push(index);
      logprobs.push(logprob);
      const piece = tokenText(this.vocab, index, step);
      text += piece;
      onToken?.({ index: step, id: index, text: piece, logprob, eos: index === EOS_OUT });
      if (index === EOS_OUT) {
        finish = 'eos';
        break;
      }
      ctx.shift();
      ctx.push(this.vocab.outIn[index]);
    }
    return { prompt, text, tokens, logprobs, finish, ms: performance.now() - t0 };
  }

  dispose(): void {
    void this.session.release();
  }
}

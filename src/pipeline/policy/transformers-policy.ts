// A Policy over a transformers.js causal LM (a local HF-layout folder such as public/models/tiny-policy, or a hub
// id when the user opts in). Generation runs through the model's own generate() (its KV cache, stopping at
// eos_token_id), while a logits processor does the sampling with the studio's sampler and seeded Rng: it draws
// the token from the raw logits (temperature/top-k/top-p), records the raw log-probability, and masks every other
// token so generate()'s greedy step takes exactly that one. So a (prompt, seed) pair replays, like the bundled policy.
import { env, pipeline, type TextGenerationPipeline } from '@huggingface/transformers';
import { Rng } from '../rng.ts';
import { sampleLogits } from './sampling.ts';
import type { Generation, Policy, SamplingOptions, TokenCallback } from './types.ts';

export type { TextGenerationPipeline };

export interface TextGenerationLoadOptions {
  /** Allow the Hugging Face hub when the model is not found locally (needs a network). Default false. */
  allowRemote?: boolean;
  device?: 'cpu' | 'wasm' | 'webgpu';
  dtype?: 'fp32' | 'fp16' | 'q8' | 'q4';
  /** Where the page serves transformers.js's onnxruntime-web files (e.g. '/ort/transformers/'): no CDN. */
  wasmPaths?: string;
}

/** pipeline('text-generation') for a model folder (local path, or origin-relative URL path in the page) or hub id. */
export async function loadTextGeneration(modelDirOrId: string, opts: TextGenerationLoadOptions = {}): Promise<TextGenerationPipeline> {
  env.allowLocalModels = true;
  const allowRemote = opts.allowRemote ?? false;
  env.allowRemoteModels = allowRemote;
  if (opts.wasmPaths) {
    const wasm = env.backends.onnx.wasm;
    if (wasm) wasm.wasmPaths = opts.wasmPaths;
  }
  try {
    return (await pipeline('text-generation', modelDirOrId, {
      local_files_only: !allowRemote,
      ...(opts.device ? { device: opts.device } : {}),
      ...(opts.dtype ? { dtype: opts.dtype } : {}),
    })) as TextGenerationPipeline;
  } catch (e) {
    const hint = allowRemote ? '' : ' (local files only; allow the hub to download)';
    throw new Error(`text-generation model ${modelDirOrId} could not be loaded${hint}: ${(e as Error).message}`);
  }
}

class Cancelled extends Error {}

interface LogitsLike {
  data: Float32Array;
  dims: number[];
}

export class TransformersPolicy implements Policy {
  readonly kind = 'transformers' as const;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly pipe: TextGenerationPipeline,
    readonly name = 'transformers.js text-generation',
  ) {}

  static async load(modelDirOrId: string, opts: TextGenerationLoadOptions = {}): Promise<TransformersPolicy> {
    return new TransformersPolicy(await loadTextGeneration(modelDirOrId, opts), `transformers.js ${modelDirOrId}`);
  }

  generate(prompt: string, opts: SamplingOptions, onToken?: TokenCallback, signal?: AbortSignal): Promise<Generation> {
    // One generation at a time per model (its session is not reentrant).
    const run = this.queue.then(() => this.run(prompt, opts, onToken, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(prompt: string, opts: SamplingOptions, onToken?: TokenCallback, signal?: AbortSignal): Promise<Generation> {
    const t0 = performance.now();
    const tok = this.pipe.tokenizer;
    const model = this.pipe.model;
    const eos = (model.config as unknown as { eos_token_id?: number | number[] }).eos_token_id;
    const eosIds = new Set<number>(Array.isArray(eos) ? eos : eos === undefined ? [] : [eos]);
    const rng = new Rng(opts.seed);
    const tokens: number[] = [];
    const logprobs: number[] = [];
    let text = '';
    let finish: Generation['finish'] = 'length';
    let scratch: { probs: Float64Array; order: Int32Array } | null = null;
    const processor = (_ids: bigint[][], logits: LogitsLike) => {
      if (signal?.aborted) throw new Cancelled();
      const V = logits.dims[logits.dims.length - 1];
      scratch ??= { probs: new Float64Array(V), order: new Int32Array(V) };
      const data = logits.data;
      // Batch of one: the row is the whole tensor.
      const { index, logprob } = sampleLogits(data, 0, V, opts, rng, scratch);
      data.fill(-Infinity, 0, V);
      data[index] = 0;
      const step = tokens.length;
      tokens.push(index);
      logprobs.push(logprob);
      const isEos = eosIds.has(index);
      let piece = '';
      if (!isEos) {
        const now = tok.decode(tokens.filter((t) => !eosIds.has(t)), { skip_special_tokens: true });
        piece = now.slice(text.length);
        text = now;
      } else {
        finish = 'eos';
      }
      onToken?.({ index: step, id: index, text: piece, logprob, eos: isEos });
      return logits;
    };
    const inputs = tok(prompt, { add_special_tokens: false }) as Record<string, unknown>;
    try {
      await model.generate({
        ...inputs,
        max_new_tokens: opts.maxTokens,
        do_sample: false,
        logits_processor: [processor] as unknown as never,
      } as never);
    } catch (e) {
      if (!(e instanceof Cancelled)) throw e;
      finish = 'cancelled';
    }
    return { prompt, text, tokens, logprobs, finish, ms: performance.now() - t0 };
  }

  dispose(): void {
    void this.pipe.dispose();
  }
}

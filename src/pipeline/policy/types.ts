// The policy side of the studio: a Policy generates responses to prompts (token by token, streamed through a
// callback) under seeded sampling options; best-of-N and PPO are written against these types.
import { ConfigError } from '../types.ts';

export interface SamplingOptions {
  /** Divides the logits; 0 means greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK: number;
  /** Nucleus: keep the smallest set of most likely tokens whose probability reaches p (1 = off). */
  topP: number;
  /** Generated tokens at most (the end-of-sequence token counts as one). */
  maxTokens: number;
  /** Seed of this generation's own RNG stream (src/pipeline/rng.ts), so a (prompt, seed) pair replays exactly. */
  seed: number;
}

export const DEFAULT_SAMPLING: SamplingOptions = { temperature: 1, topK: 0, topP: 1, maxTokens: 64, seed: 0 };

/** Throws ConfigError naming the bad field; fills omitted fields from DEFAULT_SAMPLING. */
export function resolveSampling(partial: Partial<SamplingOptions> = {}): SamplingOptions {
  const s = { ...DEFAULT_SAMPLING, ...partial };
  const bad = (k: string, v: unknown, want: string): never => {
    throw new ConfigError(`sampling: ${k} must be ${want}, got ${String(v)}`);
  };
  if (!(typeof s.temperature === 'number' && s.temperature >= 0 && s.temperature <= 100)) bad('temperature', s.temperature, 'in [0, 100]');
  if (!(Number.isInteger(s.topK) && s.topK >= 0)) bad('topK', s.topK, 'an integer >= 0');
  if (!(typeof s.topP === 'number' && s.topP > 0 && s.topP <= 1)) bad('topP', s.topP, 'in (0, 1]');
  if (!(Number.isInteger(s.maxTokens) && s.maxTokens >= 1 && s.maxTokens <= 4096)) bad('maxTokens', s.maxTokens, 'an integer in [1, 4096]');
  if (!(Number.isInteger(s.seed) && s.seed >= 0 && s.seed <= 2 ** 32 - 1)) bad('seed', s.seed, 'an integer in [0, 2^32-1]');
  return s;
}

/** One generated token, as streamed. */
export interface GeneratedToken {
  /** Position in the generation (0-based). */
  index: number;
  /** Token id in the policy's own output vocabulary. */
  id: number;
  /** Text to append to the response so far (with its leading space, if any; '' for end-of-sequence). */
  text: string;
  /**
   * log pi(token | context) under the model's own distribution at temperature 1, before top-k/top-p: the
   * quantity PPO's ratio uses. (The sampling distribution may differ when temperature/top-k/top-p are set.)
   */
  logprob: number;
  eos: boolean;
}

export interface Generation {
  prompt: string;
  /** The response text (end-of-sequence not included). */
  text: string;
  /** Output-vocabulary ids, end-of-sequence included when it was sampled. */
  tokens: number[];
  logprobs: number[];
  finish: 'eos' | 'length' | 'cancelled';
  ms: number;
}

export type TokenCallback = (t: GeneratedToken) => void;

export interface Policy {
  /** Human-readable name for reports and the UI. */
  readonly name: string;
  readonly kind: 'mlp-lm' | 'onnx' | 'transformers';
  generate(prompt: string, opts: SamplingOptions, onToken?: TokenCallback, signal?: AbortSignal): Promise<Generation>;
  dispose?(): void;
}

// Types of the bundled reward model ("bag RM"): GloVe embedding bag over prompt and response tokens -> MLP -> scalar.
//
// Architecture (one source of truth; the ONNX export, the CPU trainer and the WGSL kernels all follow it):
//   p = mean_{t in prompt tokens}   E[t]        (D)     zero vector when the prompt has no tokens
//   r = mean_{t in response tokens} E[t]        (D)     zero vector when the response has no tokens
//   x = concat(r, p)                            (2D)
//   h = relu(x @ W1 + b1)                       (H)     W1 is row-major [2D, H]
//   score = h @ W2 + b2                         scalar  W2 is [H], b2 is [1]

export interface BagRMConfig {
  vocabSize: number;
  dim: number; // D
  hidden: number; // H
  maxPromptTokens: number;
  maxResponseTokens: number;
}

export interface BagRMParams {
  config: BagRMConfig;
  /** [vocabSize, dim] row-major. */
  E: Float32Array;
  /** [2*dim, hidden] row-major. */
  W1: Float32Array;
  /** [hidden] */
  b1: Float32Array;
  /** [hidden] */
  W2: Float32Array;
  /** [1] */
  b2: Float32Array;
}

/**
 * Token ids of many items in CSR layout: item i's prompt tokens are
 * promptIds[promptOffsets[i] .. promptOffsets[i+1]), likewise for the response.
 * Already truncated to the model's max lengths; padding and unknown-word handling happen in the tokenizer.
 */
export interface EncodedItems {
  count: number;
  promptOffsets: Int32Array; // length count+1
  promptIds: Int32Array;
  responseOffsets: Int32Array; // length count+1
  responseIds: Int32Array;
}

/** A training batch: B pairs given as item indices into an EncodedItems, plus per-pair weights. */
export interface PairBatch {
  chosen: Int32Array; // length B
  rejected: Int32Array; // length B
  weight: Float32Array; // length B
}

export interface OptimizerConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** When true, E receives no updates. */
  freezeEmbeddings: boolean;
}

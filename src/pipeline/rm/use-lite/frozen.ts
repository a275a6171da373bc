// The frozen-encoder path of the USE-lite RM: the encoder turns each item's joint sequence (prompt [SEP] response)
// into its 512-d embedding once; the embeddings become the "embedding table" of a bag RM with one row per item
// (one table row of features per item), so the existing cpu/webgpu trainers train the reward head unchanged. Exported country
// RMs put the trained head back on top of the encoder in ONNX (exportFrozenHeadOnnx).
import type { MatOps } from '../../../gpu/matops.ts';
import { initBagRM } from '../bag.ts';
import type { BagRMConfig, BagRMParams, EncodedItems } from '../types.ts';
import { encodeSequences } from './forward.ts';
import type { UseLiteHead } from './onnx.ts';
import type { UseLiteParams } from './spec.ts';
import { jointIds, jointLength } from './tokenizer.ts';

/** Anything that embeds items' joint sequences: onnxruntime-web (OrtScorer.embed) or a MatOps forward. */
export interface UseLiteEncoder {
  /** For logs and run.json, e.g. "onnxruntime-web wasm". */
  readonly name: string;
  /** [indices.length, 512] embeddings of items `indices`, in that order. */
  embed(items: EncodedItems, indices: Int32Array, onProgress?: (done: number, total: number) => void): Promise<Float32Array>;
}

/** The encoder run by grad.ts's forward over a MatOps (jsMatOps: tests; the wasm MatOps: fast CPU path). */
export function matOpsEncoder(params: UseLiteParams, ops: MatOps, maxLen = params.config.maxLen): UseLiteEncoder {
  return {
    name: `use-lite forward on ${ops.name} MatOps`,
    async embed(items, indices, onProgress) {
      const seqs = Array.from(indices, (k) => {
        const s = new Int32Array(jointLength(items, k, maxLen));
        jointIds(items, k, maxLen, s);
        return s;
      });
      return encodeSequences(ops, params, seqs, { onProgress }).emb;
    },
  };
}

/**
 * Features of the frozen encoder, kept across the phases of a session (global training, global scoring, country
 * runs): valid as long as the encoder weights and maxLen do not change, which is what `key` names. Identical
 * joint sequences (e.g. the same prompt and response in two rows) are embedded once.
 */
export class FeatureCache {
  private rows = new Map<string, Float32Array>();
  constructor(
    readonly key: string,
    readonly dim = 512,
  ) {}
  get size(): number {
    return this.rows.size;
  }
  static seqKey(items: EncodedItems, k: number, maxLen: number): string {
    const s = new Int32Array(jointLength(items, k, maxLen));
    jointIds(items, k, maxLen, s);
    return s.join(',');
  }
  get(seqKey: string): Float32Array | undefined {
    return this.rows.get(seqKey);
  }
  set(seqKey: string, row: Float32Array): void {
    this.rows.set(seqKey, row);
  }
  entries(): IterableIterator<[string, Float32Array]> {
    return this.rows.entries();
  }
}

export interface FeatureStats {
  /** Items asked for. */
  items: number;
  /** Distinct joint sequences among them. */
  distinct: number;
  /** Of those, found in the cache (not encoded again). */
  cached: number;
  /** Tokens actually encoded (sum of joint lengths of the new sequences). */
  tokens: number;
  ms: number;
}

/**
 * Embeddings [indices.length, dim] of items `indices`: cached rows are reused, new distinct sequences are encoded
 * (in one call, so the encoder can sort and batch them) and added to the cache.
 */
export async function itemFeatures(
  encoder: UseLiteEncoder,
  items: EncodedItems,
  indices: Int32Array,
  maxLen: number,
  cache: FeatureCache,
  onProgress?: (done: number, total: number) => void,
): Promise<{ features: Float32Array; stats: FeatureStats }> {
  const t0 = Date.now();
  const D = cache.dim;
  const keys = Array.from(indices, (k) => FeatureCache.seqKey(items, k, maxLen));
  const todo = new Map<string, number>(); // key -> item index to encode
  let cachedDistinct = 0;
  const seen = new Set<string>();
  for (let i = 0; i < keys.length; i++) {
    if (seen.has(keys[i])) continue;
    seen.add(keys[i]);
    if (cache.get(keys[i])) cachedDistinct++;
    else todo.set(keys[i], indices[i]);
  }
  let tokens = 0;
  if (todo.size > 0) {
    const idx = Int32Array.from(todo.values());
    for (const k of idx) tokens += jointLength(items, k, maxLen);
    const emb = await encoder.embed(items, idx, onProgress);
    if (emb.length !== idx.length * D) throw new Error(`${encoder.name}: returned ${emb.length} values for ${idx.length} items x ${D}`);
    let r = 0;
    for (const key of todo.keys()) {
      cache.set(key, emb.slice(r * D, (r + 1) * D));
      r++;
    }
  }
  const features = new Float32Array(indices.length * D);
  keys.forEach((key, i) => features.set(cache.get(key)!, i * D));
  return { features, stats: { items: indices.length, distinct: seen.size, cached: cachedDistinct, tokens, ms: Date.now() - t0 } };
}

export interface FrozenBagRM {
  params: BagRMParams;
  /** One "token" per item with features: item i's response bag is [i]; prompts are empty (the joint embedding already holds the prompt). */
  items: EncodedItems;
}

/**
 * Item features as a bag RM: E [count, dim] holds item i's embedding in row i (zeros for items without features,
 * which have empty bags and must not be scored), the MLP head reads concat(embedding, 0) -> hidden -> 1.
 */
export function featuresAsBagRM(count: number, dim: number, indices: Int32Array, features: Float32Array, hidden: number, seed: number): FrozenBagRM {
  if (features.length !== indices.length * dim) throw new Error('featuresAsBagRM: features do not match indices x dim');
  const E = new Float32Array(Math.max(count, 1) * dim);
  const has = new Uint8Array(count);
  indices.forEach((k, i) => {
    E.set(features.subarray(i * dim, (i + 1) * dim), k * dim);
    has[k] = 1;
  });
  const cfg: BagRMConfig = { vocabSize: Math.max(count, 1), dim, hidden, maxPromptTokens: 1, maxResponseTokens: 1 };
  const responseOffsets = new Int32Array(count + 1);
  const r: number[] = [];
  for (let i = 0; i < count; i++) {
    if (has[i]) r.push(i);
    responseOffsets[i + 1] = r.length;
  }
  return {
    params: initBagRM(E, cfg, seed),
    items: { count, promptOffsets: new Int32Array(count + 1), promptIds: new Int32Array(0), responseOffsets, responseIds: Int32Array.from(r) },
  };
}

/** The trained head of a frozen-encoder bag RM as the ONNX MLP head: the response half of W1 (the prompt half sees zeros). */
export function frozenHead(p: BagRMParams): UseLiteHead {
  const { dim: D, hidden: H } = p.config;
  return { kind: 'mlp', hidden: H, W1: p.W1.slice(0, D * H), b1: p.b1.slice(), W2: p.W2.slice(), b2: p.b2.slice() };
}

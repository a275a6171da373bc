// Frozen transformer backbones via transformers.js feature extraction, turned into a bag RM so the same trainer trains the head.
import { env, pipeline, type FeatureExtractionPipeline } from '@huggingface/transformers';
import type { Item } from '../types.ts';
import { initBagRM } from './bag.ts';
import type { BagRMConfig, BagRMParams, EncodedItems } from './types.ts';

export type { FeatureExtractionPipeline };

export interface BackboneLoadOptions {
  /** Allow fetching from the Hugging Face hub when the model is not found locally (needs a network). Default false. */
  allowRemote?: boolean;
  /** transformers.js device ('cpu' in Node, 'wasm' or 'webgpu' in the page); its default when omitted. */
  device?: 'cpu' | 'wasm' | 'webgpu';
  /** transformers.js dtype (e.g. 'fp32', 'q8'); the model's transformers.js_config or the device default when omitted. */
  dtype?: 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'bnb4' | 'q4f16';
  /** Where the page serves transformers.js's onnxruntime-web files (e.g. '/ort/transformers/'): no CDN. */
  wasmPaths?: string;
  progress?: (info: unknown) => void;
}

/**
 * A feature-extraction pipeline for a model folder (a local path in Node, an origin-relative URL path in the
 * page, e.g. '/models/tiny-backbone') or, with allowRemote, a hub id. Local files only by default.
 */
export async function loadBackbone(modelDirOrId: string, opts: BackboneLoadOptions = {}): Promise<FeatureExtractionPipeline> {
  env.allowLocalModels = true;
  if (opts.wasmPaths) {
    const wasm = env.backends.onnx.wasm;
    if (wasm) wasm.wasmPaths = opts.wasmPaths;
  }
  const allowRemote = opts.allowRemote ?? false;
  try {
    return await pipeline('feature-extraction', modelDirOrId, {
      local_files_only: !allowRemote,
      ...(opts.device ? { device: opts.device } : {}),
      ...(opts.dtype ? { dtype: opts.dtype } : {}),
      ...(opts.progress ? { progress_callback: opts.progress } : {}),
    });
  } catch (e) {
    const hint = allowRemote ? '' : ' (local files only; pass allowRemote to use the hub)';
    throw new Error(`backbone ${modelDirOrId} could not be loaded${hint}: ${(e as Error).message}`);
  }
}

/** Mean-pooled backbone features of each item's response and prompt, [count, dim] each. */
export interface BackboneFeatures {
  count: number;
  dim: number;
  response: Float32Array;
  prompt: Float32Array;
  /** 1 where the text is non-empty; empty texts get zero features and no token in the bag RM (like an empty bag). */
  hasResponse: Uint8Array;
  hasPrompt: Uint8Array;
}

export interface EmbedOptions extends BackboneLoadOptions {
  /** Texts per pipeline call. Default 32. */
  batchSize?: number;
  /** L2-normalize the pooled features (sentence-transformers style). Default false. */
  normalize?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Embeds every distinct prompt and response text once (PRISM repeats prompts) with mean pooling over the
 * attention mask. `source` is a loaded pipeline or a model folder / hub id for loadBackbone.
 */
export async function embedWithBackbone(
  source: FeatureExtractionPipeline | string,
  items: readonly Item[],
  opts: EmbedOptions = {},
): Promise<BackboneFeatures> {
  const extractor = typeof source === 'string' ? await loadBackbone(source, opts) : source;
  const n = items.length;
  const textRow = new Map<string, number>();
  const texts: string[] = [];
  const rowOf = (t: string): number => {
    if (t.trim().length === 0) return -1;
    let r = textRow.get(t);
    if (r === undefined) {
      r = texts.length;
      textRow.set(t, r);
      texts.push(t);
    }
    return r;
  };
  const respRow = new Int32Array(n);
  const promptRow = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    respRow[i] = rowOf(items[i].response);
    promptRow[i] = rowOf(items[i].prompt);
  }
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  let dim = 0;
  let unique = new Float32Array(0);
  for (let start = 0; start < texts.length; start += batchSize) {
    const chunk = texts.slice(start, start + batchSize);
    const out = await extractor(chunk, { pooling: 'mean', normalize: opts.normalize ?? false });
    const [rows, d] = out.dims as number[];
    if (rows !== chunk.length || out.dims.length !== 2) {
      throw new Error(`backbone returned shape [${out.dims.join(', ')}] for ${chunk.length} texts`);
    }
    if (dim === 0) {
      dim = d;
      unique = new Float32Array(texts.length * dim);
    }
    unique.set(out.data as Float32Array, start * dim);
    opts.onProgress?.(Math.min(start + batchSize, texts.length), texts.length);
  }
  if (dim === 0) {
    // No non-empty text at all: ask the model once for its width.
    const out = await extractor(['a'], { pooling: 'mean' });
    dim = (out.dims as number[])[1];
  }
  const response = new Float32Array(n * dim);
  const prompt = new Float32Array(n * dim);
  const hasResponse = new Uint8Array(n);
  const hasPrompt = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (respRow[i] >= 0) {
      response.set(unique.subarray(respRow[i] * dim, (respRow[i] + 1) * dim), i * dim);
      hasResponse[i] = 1;
    }
    if (promptRow[i] >= 0) {
      prompt.set(unique.subarray(promptRow[i] * dim, (promptRow[i] + 1) * dim), i * dim);
      hasPrompt[i] = 1;
    }
  }
  return { count: n, dim, response, prompt, hasResponse, hasPrompt };
}

export interface BackboneBagRM {
  params: BagRMParams;
  /** One "token" per text: item i's response is row i, its prompt row count + i. */
  items: EncodedItems;
  /** Train with this: the table holds backbone features, not word embeddings. */
  freezeEmbeddings: true;
}

/**
 * A frozen backbone as a bag RM: the "embedding table" holds one row per item text (the mean of a
 * one-token bag is that row), so the cpu/webgpu trainers and kernels train the MLP head unchanged.
 */
export function backboneAsBagRM(features: BackboneFeatures, head: { hidden: number }, seed: number): BackboneBagRM {
  const { count: n, dim: D } = features;
  if (n < 1) throw new Error('backboneAsBagRM: no items');
  const E = new Float32Array(2 * n * D);
  E.set(features.response, 0);
  E.set(features.prompt, n * D);
  const cfg: BagRMConfig = { vocabSize: 2 * n, dim: D, hidden: head.hidden, maxPromptTokens: 1, maxResponseTokens: 1 };
  const promptOffsets = new Int32Array(n + 1);
  const responseOffsets = new Int32Array(n + 1);
  const p: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < n; i++) {
    if (features.hasResponse[i]) r.push(i);
    if (features.hasPrompt[i]) p.push(n + i);
    promptOffsets[i + 1] = p.length;
    responseOffsets[i + 1] = r.length;
  }
  return {
    params: initBagRM(E, cfg, seed),
    items: { count: n, promptOffsets, promptIds: Int32Array.from(p), responseOffsets, responseIds: Int32Array.from(r) },
    freezeEmbeddings: true,
  };
}

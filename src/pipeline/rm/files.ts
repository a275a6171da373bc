// HF-layout files of a bag RM (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx): building and loading.
// Loading goes through a `read(path)` callback so Node (fs) and the browser (fetch) share one code path.
import { validateConfig } from './bag.ts';
import { exportBagRMOnnx, importBagRMOnnx } from './onnx.ts';
import { loadTokenizer, tokenizerVocab, type PreTrainedTokenizer, type TokenizerConfigJson, type TokenizerJson } from './tokenizer.ts';
import type { BagRMConfig, BagRMParams } from './types.ts';

export const CONFIG_FILE = 'config.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const ONNX_FILE = 'onnx/model.onnx';
export const MODEL_FILES = [CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, ONNX_FILE] as const;

export const ARCHITECTURE = 'ScpoBagRewardModel';
export const MODEL_TYPE = 'scpo-bag';

export interface BagRMConfigJson extends BagRMConfig {
  architectures: string[];
  model_type: string;
  num_labels: number;
  [extra: string]: unknown;
}

export function buildConfigJson(cfg: BagRMConfig, extra: Record<string, unknown> = {}): BagRMConfigJson {
  return {
    architectures: [ARCHITECTURE],
    model_type: MODEL_TYPE,
    num_labels: 1,
    vocabSize: cfg.vocabSize,
    dim: cfg.dim,
    hidden: cfg.hidden,
    maxPromptTokens: cfg.maxPromptTokens,
    maxResponseTokens: cfg.maxResponseTokens,
    ...extra,
  };
}

/** The BagRMConfig inside a config.json object; errors name the file and the field. */
export function parseConfigJson(json: unknown, where = CONFIG_FILE): BagRMConfig {
  if (typeof json !== 'object' || json === null) throw new Error(`${where}: not a JSON object`);
  const o = json as Record<string, unknown>;
  if (o.model_type !== MODEL_TYPE) {
    throw new Error(`${where}: model_type is ${JSON.stringify(o.model_type)}, expected "${MODEL_TYPE}"`);
  }
  const num = (k: keyof BagRMConfig): number => {
    const v = o[k];
    if (typeof v !== 'number') throw new Error(`${where}: field ${k} is missing or not a number`);
    return v;
  };
  const cfg: BagRMConfig = {
    vocabSize: num('vocabSize'),
    dim: num('dim'),
    hidden: num('hidden'),
    maxPromptTokens: num('maxPromptTokens'),
    maxResponseTokens: num('maxResponseTokens'),
  };
  validateConfig(cfg, where);
  return cfg;
}

const enc = new TextEncoder();

function jsonBytes(x: unknown): Uint8Array {
  return enc.encode(JSON.stringify(x, null, 1) + '\n');
}

/** Every file of the HF layout, path -> bytes, ready to be written to a folder or zipped. */
export function bagRMFiles(
  params: BagRMParams,
  tokenizerJson: TokenizerJson,
  tokenizerConfig: TokenizerConfigJson,
  extraConfig: Record<string, unknown> = {},
): Record<string, Uint8Array> {
  checkVocab(tokenizerJson, params.config, 'bagRMFiles');
  return {
    [CONFIG_FILE]: jsonBytes(buildConfigJson(params.config, extraConfig)),
    // tokenizer.json is large (30k-word vocab): no indentation.
    [TOKENIZER_FILE]: enc.encode(JSON.stringify(tokenizerJson)),
    [TOKENIZER_CONFIG_FILE]: jsonBytes(tokenizerConfig),
    [ONNX_FILE]: exportBagRMOnnx(params),
  };
}

function checkVocab(tokenizerJson: TokenizerJson, cfg: BagRMConfig, where: string): void {
  const vocab = tokenizerVocab(tokenizerJson);
  if (vocab.length !== cfg.vocabSize) {
    throw new Error(`${where}: ${TOKENIZER_FILE} has ${vocab.length} tokens but ${CONFIG_FILE} says vocabSize ${cfg.vocabSize}`);
  }
}

export interface LoadedBagRM {
  params: BagRMParams;
  tokenizer: PreTrainedTokenizer;
  tokenizerJson: TokenizerJson;
  tokenizerConfig: TokenizerConfigJson;
  configJson: BagRMConfigJson;
}

export type ReadFile = (path: string) => Promise<Uint8Array>;

const dec = new TextDecoder();

async function readOrFail(read: ReadFile, path: string): Promise<Uint8Array> {
  try {
    return await read(path);
  } catch (e) {
    throw new Error(`model file ${path} could not be read: ${(e as Error).message}`);
  }
}

async function readJson(read: ReadFile, path: string): Promise<unknown> {
  const bytes = await readOrFail(read, path);
  try {
    return JSON.parse(dec.decode(bytes));
  } catch (e) {
    throw new Error(`model file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Loads and cross-checks a bag RM in HF layout; each error names the file at fault. */
export async function loadBagRM(read: ReadFile): Promise<LoadedBagRM> {
  const [configRaw, tokJson, tokCfg, onnxBytes] = await Promise.all([
    readJson(read, CONFIG_FILE),
    readJson(read, TOKENIZER_FILE),
    readJson(read, TOKENIZER_CONFIG_FILE),
    readOrFail(read, ONNX_FILE),
  ]);
  const config = parseConfigJson(configRaw);
  const tokenizerJson = tokJson as TokenizerJson;
  const tokenizerConfig = tokCfg as TokenizerConfigJson;
  checkVocab(tokenizerJson, config, TOKENIZER_FILE);
  const params = importBagRMOnnx(onnxBytes, config, ONNX_FILE);
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = loadTokenizer(tokenizerJson, tokenizerConfig);
  } catch (e) {
    throw new Error(`${TOKENIZER_FILE}: the tokenizer could not be built: ${(e as Error).message}`);
  }
  return { params, tokenizer, tokenizerJson, tokenizerConfig, configJson: configRaw as BagRMConfigJson };
}

/** A ReadFile over HTTP(S) relative to `baseUrl` (a folder URL; works in the page, Workers and Node 20). */
export function fetchReader(baseUrl: string, init?: RequestInit, attempts = 3): ReadFile {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  return async (path) => {
    // A fetch that fails at the network level (a TypeError, not an HTTP error) is tried again: Chromium can fail a big
    // response while another request for the same URL (another worker loading the same model) writes its cache
    // entry (net::ERR_CACHE_WRITE_FAILURE).
    for (let k = 1; ; k++) {
      try {
        const res = await fetch(base + path, init);
        if (!res.ok) throw new Error(`HTTP ${res.status} for ${base + path}`);
        return new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        if (k >= attempts || !(e instanceof TypeError)) throw e;
        await new Promise((r) => setTimeout(r, 150 * k));
      }
    }
  };
}

/** A ReadFile over in-memory files (e.g. from bagRMFiles or a user's dropped folder). */
export function memoryReader(files: Record<string, Uint8Array>): ReadFile {
  return async (path) => {
    const f = files[path];
    if (!f) throw new Error('no such file');
    return f;
  };
}

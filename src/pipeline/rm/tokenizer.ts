// Word-level tokenizer of the bag RM: HF tokenizer.json/tokenizer_config.json builders, loading via transformers.js, and item encoding.
import { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Item } from '../types.ts';
import type { BagRMConfig, EncodedItems } from './types.ts';

export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';
export const SEP_TOKEN = '[SEP]';
export const SPECIAL_TOKENS = [PAD_TOKEN, UNK_TOKEN, SEP_TOKEN] as const;
export const PAD_ID = 0;
export const UNK_ID = 1;
export const SEP_ID = 2;

export type TokenizerJson = Record<string, unknown>;
export type TokenizerConfigJson = Record<string, unknown>;

/**
 * HF `tokenizer.json` with a WordLevel model: [PAD]=0, [UNK]=1, [SEP]=2, then `words` in order.
 * Duplicates (after the same NFKC+lowercase the normalizer applies) keep their first id so ids stay dense
 * and match the embedding rows the caller builds from the returned vocabulary order.
 */
export function buildTokenizerJson(words: string[]): TokenizerJson {
  const vocab: Record<string, number> = {};
  for (const t of SPECIAL_TOKENS) vocab[t] = Object.keys(vocab).length;
  let next = SPECIAL_TOKENS.length;
  for (const w of words) {
    if (Object.prototype.hasOwnProperty.call(vocab, w)) continue;
    vocab[w] = next++;
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    // No special tokens; a (prompt, response) text pair gets token_type_ids 0 then 1, which is exactly the
    // ONNX model's input layout, so `tokenizer(prompts, { text_pair: responses, return_token_type_ids: true })`
    // feeds the exported model directly (e.g. via transformers.js AutoModel).
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: {},
    },
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: UNK_TOKEN },
  };
}

/** The vocabulary words of a tokenizer.json in id order (special tokens included), for embedding-table checks. */
export function tokenizerVocab(json: TokenizerJson): string[] {
  const model = json.model as { vocab?: Record<string, number> } | undefined;
  if (!model || typeof model.vocab !== 'object' || model.vocab === null) {
    throw new Error('tokenizer.json: model.vocab is missing');
  }
  const out: string[] = [];
  for (const [w, id] of Object.entries(model.vocab)) out[id] = w;
  return out;
}

export function buildTokenizerConfig(maxLen: number): TokenizerConfigJson {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    pad_token: PAD_TOKEN,
    unk_token: UNK_TOKEN,
    sep_token: SEP_TOKEN,
    model_max_length: maxLen,
    do_lower_case: true,
    clean_up_tokenization_spaces: true,
  };
}

export function loadTokenizer(tokenizerJson: TokenizerJson, tokenizerConfig: TokenizerConfigJson): PreTrainedTokenizer {
  return new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);
}

export type { PreTrainedTokenizer };

/**
 * Token ids of every item's prompt and response, each tokenized on its own without special tokens and
 * truncated from the right. Identical texts are tokenized once (PRISM repeats each prompt for 2-4 responses).
 */
export function encodeItems(
  tokenizer: PreTrainedTokenizer,
  items: readonly Item[],
  cfg: Pick<BagRMConfig, 'maxPromptTokens' | 'maxResponseTokens'>,
): EncodedItems {
  const n = items.length;
  const cache = new Map<string, number[]>();
  const idsOf = (text: string): number[] => {
    let ids = cache.get(text);
    if (ids === undefined) {
      ids = text.length === 0 ? [] : tokenizer.encode(text, { add_special_tokens: false });
      cache.set(text, ids);
    }
    return ids;
  };
  const promptLists: number[][] = new Array(n);
  const responseLists: number[][] = new Array(n);
  let promptTotal = 0;
  let responseTotal = 0;
  for (let i = 0; i < n; i++) {
    const it = items[i];
    const p = idsOf(it.prompt);
    const r = idsOf(it.response);
    promptLists[i] = p;
    responseLists[i] = r;
    promptTotal += countKept(p, cfg.maxPromptTokens);
    responseTotal += countKept(r, cfg.maxResponseTokens);
  }
  const promptOffsets = new Int32Array(n + 1);
  const responseOffsets = new Int32Array(n + 1);
  const promptIds = new Int32Array(promptTotal);
  const responseIds = new Int32Array(responseTotal);
  let po = 0;
  let ro = 0;
  for (let i = 0; i < n; i++) {
    po = copyKept(promptLists[i], cfg.maxPromptTokens, promptIds, po);
    promptOffsets[i + 1] = po;
    ro = copyKept(responseLists[i], cfg.maxResponseTokens, responseIds, ro);
    responseOffsets[i + 1] = ro;
  }
  return { count: n, promptOffsets, promptIds, responseOffsets, responseIds };
}

// A literal "[PAD]" in user text matches the added special token; drop it so PAD never reaches the model.
function countKept(ids: number[], max: number): number {
  let k = 0;
  for (let j = 0; j < ids.length && k < max; j++) if (ids[j] !== PAD_ID) k++;
  return k;
}

function copyKept(ids: number[], max: number, out: Int32Array, at: number): number {
  let k = 0;
  for (let j = 0; j < ids.length && k < max; j++) {
    if (ids[j] === PAD_ID) continue;
    out[at++] = ids[j];
    k++;
  }
  return at;
}

/** Items `indices` (all when omitted) of `src` as a new, compact EncodedItems. */
export function selectEncoded(src: EncodedItems, indices: Int32Array): EncodedItems {
  const n = indices.length;
  const promptOffsets = new Int32Array(n + 1);
  const responseOffsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const k = indices[i];
    promptOffsets[i + 1] = promptOffsets[i] + src.promptOffsets[k + 1] - src.promptOffsets[k];
    responseOffsets[i + 1] = responseOffsets[i] + src.responseOffsets[k + 1] - src.responseOffsets[k];
  }
  const promptIds = new Int32Array(promptOffsets[n]);
  const responseIds = new Int32Array(responseOffsets[n]);
  for (let i = 0; i < n; i++) {
    const k = indices[i];
    promptIds.set(src.promptIds.subarray(src.promptOffsets[k], src.promptOffsets[k + 1]), promptOffsets[i]);
    responseIds.set(src.responseIds.subarray(src.responseOffsets[k], src.responseOffsets[k + 1]), responseOffsets[i]);
  }
  return { count: n, promptOffsets, promptIds, responseOffsets, responseIds };
}

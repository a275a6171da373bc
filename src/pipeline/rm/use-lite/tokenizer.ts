// USE-lite's SentencePiece tokenizer as an HF Unigram tokenizer.json (loaded by transformers.js, no hand-written
// tokenizer), and the reward model's joint input: prompt [SEP] response in one sequence.
import { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Item } from '../../types.ts';
import type { EncodedItems } from '../types.ts';

export type UseVocab = [string, number | null][];
export type TokenizerJson = Record<string, unknown>;

/** USE never produces ids 0-5 (unknown, <s>, </s>, extra_token_id_1-3) except 0 for unknown characters. */
export const RESERVED_IDS = 6;
/** Padding id for batches: `<s>`, which USE's tokenizer never emits, so a padded id is never a real token. */
export const USE_PAD_ID = 1;
/**
 * The separator between prompt and response: the pretrained piece "▁|" (id 1775). USE has no [SEP] token and was
 * trained on single texts; "▁|" is one pretrained token, a neutral boundary mark with little meaning of its own,
 * rare in chat text (so the encoder and head can tell it apart from content) and costs one position of the budget.
 */
export const USE_SEP_PIECE = '▁|';
export const USE_SEP_ID = 1775;

/**
 * tokenizer.json reproducing USE's tokenizer (@tensorflow-models/universal-sentence-encoder's Tokenizer):
 * NFKC, prepend "▁", only U+0020 becomes "▁" (no pre-tokenizer: Metaspace would skip the prefix before a leading
 * space). Vocab fixes: null scores (the 7 ":"-family pieces) become 0 as in USE's arithmetic; ids 1-5 get a very low
 * score so literal "<s>", "</s>", "extra_token_id_1" in text are split like USE does (its trie leaves them out).
 * Known residual (docs/USE-LITE-RM.md): Viterbi score ties on repeated characters and texts starting with a
 * ":"-family piece can segment differently.
 */
export function buildUseTokenizerJson(vocab: UseVocab): TokenizerJson {
  if (!Array.isArray(vocab) || vocab.length < RESERVED_IDS + 1) throw new Error('vocab.json: expected an array of [piece, score] pairs');
  const pieces = vocab.map(([p, s], i): [string, number] => {
    if (typeof p !== 'string') throw new Error(`vocab.json: entry ${i} has no piece string`);
    if (i > 0 && i < RESERVED_IDS) return [p, -1e4];
    return [p, typeof s === 'number' ? s : 0];
  });
  if (pieces[USE_SEP_ID]?.[0] !== USE_SEP_PIECE) throw new Error(`vocab.json: id ${USE_SEP_ID} is not the separator piece ${USE_SEP_PIECE}`);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFKC' }, { type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces, byte_fallback: false },
  };
}

export function buildUseTokenizerConfig(maxLen: number): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    pad_token: '<s>',
    unk_token: vocabUnk,
    sep_token: USE_SEP_PIECE,
    model_max_length: maxLen,
    clean_up_tokenization_spaces: false,
  };
}
const vocabUnk = '\uFFFD';

export function loadUseTokenizer(tokenizerJson: TokenizerJson, tokenizerConfig: Record<string, unknown>): PreTrainedTokenizer {
  return new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);
}

/** Token ids of one text; "" gives [] like USE (the Prepend normalizer would otherwise emit a lone "▁"). */
export function useTokenize(tokenizer: PreTrainedTokenizer, text: string): number[] {
  return text.length === 0 ? [] : tokenizer.encode(text, { add_special_tokens: false });
}

/**
 * Prompt and response ids of every item (each text tokenized once), each capped at maxLen - 1 tokens (no more
 * can ever reach the joint sequence). The joint sequence is built per batch by `jointIds`.
 */
export function encodeUseItems(tokenizer: PreTrainedTokenizer, items: readonly Item[], maxLen: number): EncodedItems {
  const cache = new Map<string, number[]>();
  const cap = Math.max(0, maxLen - 1);
  const idsOf = (t: string): number[] => {
    let ids = cache.get(t);
    if (!ids) {
      ids = useTokenize(tokenizer, t).slice(0, cap);
      cache.set(t, ids);
    }
    return ids;
  };
  const n = items.length;
  const promptOffsets = new Int32Array(n + 1);
  const responseOffsets = new Int32Array(n + 1);
  const p: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const id of idsOf(items[i].prompt)) p.push(id);
    for (const id of idsOf(items[i].response)) r.push(id);
    promptOffsets[i + 1] = p.length;
    responseOffsets[i + 1] = r.length;
  }
  return { count: n, promptOffsets, promptIds: Int32Array.from(p), responseOffsets, responseIds: Int32Array.from(r) };
}

/** Length of item k's joint sequence (prompt, separator, response) after truncation to maxLen. */
export function jointLength(items: EncodedItems, k: number, maxLen: number): number {
  const p = items.promptOffsets[k + 1] - items.promptOffsets[k];
  const r = items.responseOffsets[k + 1] - items.responseOffsets[k];
  return Math.min(maxLen, p + 1 + r);
}

/**
 * Writes item k's joint ids `prompt [SEP] response` into `out` at `at`, returns the length. When too long the
 * prompt is cut first (its end: the response must stay whole as long as possible, since it is what the RM judges),
 * then the response's end. maxLen >= 1 always keeps the separator.
 */
export function jointIds(items: EncodedItems, k: number, maxLen: number, out: Int32Array | BigInt64Array, at = 0): number {
  const p0 = items.promptOffsets[k];
  const r0 = items.responseOffsets[k];
  const rLen = Math.min(items.responseOffsets[k + 1] - r0, Math.max(0, maxLen - 1));
  const pLen = Math.min(items.promptOffsets[k + 1] - p0, Math.max(0, maxLen - 1 - rLen));
  const big = out instanceof BigInt64Array;
  let o = at;
  const put = (v: number): void => {
    if (big) (out as BigInt64Array)[o++] = BigInt(v);
    else (out as Int32Array)[o++] = v;
  };
  for (let q = 0; q < pLen; q++) put(items.promptIds[p0 + q]);
  put(USE_SEP_ID);
  for (let q = 0; q < rLen; q++) put(items.responseIds[r0 + q]);
  return o - at;
}

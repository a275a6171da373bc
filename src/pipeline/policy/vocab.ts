// The bundled policy's vocabularies, cut from the bundled RM's word-level vocabulary: the input vocabulary
// (context and prompt words: [PAD]=0, [UNK]=1, [SEP]=2 used as beginning-of-response, then words) and the
// output vocabulary ([EOS]=0, [UNK]=1, then the words the dataset's responses use). Same normalizer and
// pre-tokenizer as the RM, so the policy's text re-tokenizes to exactly the RM's tokens.
import type { EncodedItems } from '../rm/types.ts';
import { buildTokenizerConfig, buildTokenizerJson, loadTokenizer, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, UNK_TOKEN, type PreTrainedTokenizer } from '../rm/tokenizer.ts';

export const BOS_IN = SEP_ID;
export const UNK_IN = UNK_ID;
export const EOS_OUT = 0;
export const UNK_OUT = 1;
export const EOS_TOKEN = '[EOS]';

export interface PolicyVocab {
  /** Input vocabulary in id order, special tokens first (PAD, UNK, SEP = BOS). */
  inWords: string[];
  /** Output vocabulary in id order: [EOS], [UNK], words. */
  outWords: string[];
  /** Output id -> input id ([EOS] -> -1). */
  outIn: Int32Array;
  /** Input id -> output id (-1 for PAD/SEP; words outside the output vocabulary -> [UNK]). */
  inOut: Int32Array;
}

export interface VocabOptions {
  /** Most frequent response words kept as outputs (default 4000). */
  maxOutput?: number;
  /** Most frequent input words kept (outputs first, then prompt-only words; default 8000). */
  maxInput?: number;
}

/**
 * Vocabularies from a dataset already tokenized by the RM (`rmVocab[id]` = the RM's word of id). Order:
 * frequency descending, then RM id, so the same data always gives the same ids.
 */
export function buildPolicyVocab(encoded: EncodedItems, rmVocab: readonly string[], opts: VocabOptions = {}): PolicyVocab {
  const maxOut = opts.maxOutput ?? 4000;
  const maxIn = opts.maxInput ?? 8000;
  const respCount = new Map<number, number>();
  const promptCount = new Map<number, number>();
  const seenPrompt = new Set<string>();
  for (let i = 0; i < encoded.count; i++) {
    for (let q = encoded.responseOffsets[i]; q < encoded.responseOffsets[i + 1]; q++) {
      const id = encoded.responseIds[q];
      respCount.set(id, (respCount.get(id) ?? 0) + 1);
    }
    // Prompts repeat for every response of a turn; count each distinct prompt once.
    const key = encoded.promptIds.subarray(encoded.promptOffsets[i], encoded.promptOffsets[i + 1]).join(',');
    if (seenPrompt.has(key)) continue;
    seenPrompt.add(key);
    for (let q = encoded.promptOffsets[i]; q < encoded.promptOffsets[i + 1]; q++) {
      const id = encoded.promptIds[q];
      promptCount.set(id, (promptCount.get(id) ?? 0) + 1);
    }
  }
  const isWord = (id: number) => id >= SPECIAL_TOKENS.length && id < rmVocab.length && rmVocab[id] !== undefined;
  const byFreq = (m: Map<number, number>) =>
    [...m.entries()].filter(([id]) => isWord(id)).sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id]) => id);
  const outRm = byFreq(respCount).slice(0, maxOut);
  const inRm = [...outRm];
  const inSet = new Set(inRm);
  for (const id of byFreq(promptCount)) {
    if (inRm.length >= maxIn) break;
    if (!inSet.has(id)) {
      inSet.add(id);
      inRm.push(id);
    }
  }
  return vocabFromWords(
    inRm.slice(0, maxIn).map((id) => rmVocab[id]),
    outRm.map((id) => rmVocab[id]),
  );
}

/** Vocabularies from word lists (input words without specials; output words, each also an input word). */
export function vocabFromWords(inputWords: readonly string[], outputWords: readonly string[]): PolicyVocab {
  const inWords = [...SPECIAL_TOKENS, ...inputWords];
  const inId = new Map<string, number>();
  inWords.forEach((w, i) => {
    if (!inId.has(w)) inId.set(w, i);
  });
  if (inId.size !== inWords.length) throw new Error('policy vocabulary: duplicate input words');
  const outWords = [EOS_TOKEN, UNK_TOKEN, ...outputWords];
  const outIn = new Int32Array(outWords.length);
  outIn[EOS_OUT] = -1;
  outIn[UNK_OUT] = UNK_IN;
  const inOut = new Int32Array(inWords.length).fill(UNK_OUT);
  inOut[PAD_ID] = -1;
  inOut[BOS_IN] = -1;
  for (let o = 2; o < outWords.length; o++) {
    const i = inId.get(outWords[o]);
    if (i === undefined) throw new Error(`policy vocabulary: output word "${outWords[o]}" is not an input word`);
    outIn[o] = i;
    inOut[i] = o;
  }
  return { inWords, outWords, outIn, inOut };
}

/** The policy's own word-level tokenizer (same normalizer/pre-tokenizer as the RM; ids = input ids). */
export function policyTokenizerJson(v: PolicyVocab): Record<string, unknown> {
  return buildTokenizerJson(v.inWords.slice(SPECIAL_TOKENS.length));
}

export function policyTokenizer(v: PolicyVocab, maxLen = 512): PreTrainedTokenizer {
  return loadTokenizer(policyTokenizerJson(v), buildTokenizerConfig(maxLen));
}

/** Input ids of a text (no special tokens, [PAD] dropped). */
export function encodeText(tok: PreTrainedTokenizer, text: string, max = Infinity): number[] {
  if (text.length === 0) return [];
  const ids = tok.encode(text, { add_special_tokens: false }).filter((id) => id !== PAD_ID);
  return ids.length > max ? ids.slice(0, max) : ids;
}

const PUNCT_RE = /^[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]$/u;

/** Text of output token `o` as appended after `prevCount` tokens: words get a leading space, punctuation none. */
export function tokenText(v: PolicyVocab, o: number, prevCount: number): string {
  if (o === EOS_OUT) return '';
  const w = v.outWords[o];
  if (prevCount === 0 || PUNCT_RE.test(w)) return w;
  return ' ' + w;
}

/** Text of a sequence of output ids (stops at [EOS]). */
export function detokenize(v: PolicyVocab, ids: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === EOS_OUT) break;
    s += tokenText(v, ids[i], i);
  }
  return s;
}

// The generated Unigram tokenizer.json, loaded by transformers.js, against USE's own tokenizer (devDependency) on
// 240 texts; joint-input construction and truncation.
import { describe, expect, it } from 'vitest';
import { readUseArtefacts, referenceTokenizer } from '../../../../test/helpers/use-lite-ref.ts';
import { useTestTexts } from '../../../../test/helpers/use-lite-texts.ts';
import type { EncodedItems } from '../types.ts';
import {
  buildUseTokenizerConfig,
  buildUseTokenizerJson,
  encodeUseItems,
  jointIds,
  jointLength,
  loadUseTokenizer,
  USE_SEP_ID,
  useTokenize,
  type UseVocab,
} from './tokenizer.ts';

const { vocab } = readUseArtefacts();
const tok = loadUseTokenizer(buildUseTokenizerJson(vocab), buildUseTokenizerConfig(128));
const ref = referenceTokenizer(vocab);

/** USE's path score of a segmentation (null scores count 0, as in its arithmetic), and the text it spells. */
function pathOf(v: UseVocab, ids: number[]): { score: number; text: string } {
  let score = 0;
  let text = '';
  for (const id of ids) {
    score += v[id][1] ?? 0;
    text += v[id][0];
  }
  return { score, text };
}

describe('USE-lite tokenizer (tokenizer.json through transformers.js)', () => {
  it('matches USE reference ids on 240 texts, except documented Viterbi ties and leading ":" pieces', async () => {
    const texts = await useTestTexts(240);
    expect(texts.length).toBeGreaterThanOrEqual(240);
    let exact = 0;
    const residual: string[] = [];
    for (const t of texts) {
      const ours = useTokenize(tok, t);
      const theirs = ref.encode(t);
      if (JSON.stringify(ours) === JSON.stringify(theirs)) {
        exact++;
        continue;
      }
      // A mismatch is acceptable only when both are segmentations of the same string with the same total score
      // (USE's `>=` prefers a later start on ties, transformers.js an earlier one), or when USE's path starts
      // with a zero-score ":" piece (USE treats a zero path score as unset). Anything else fails.
      const a = pathOf(vocab, ours);
      const b = pathOf(vocab, theirs);
      const tie = !ours.includes(0) && a.text === b.text && Math.abs(a.score - b.score) < 1e-6;
      const colon = vocab[ours[0]]?.[1] === null || vocab[ours[1]]?.[1] === null;
      expect(tie || colon, `unexplained mismatch for ${JSON.stringify(t)}: ours ${ours} vs USE ${theirs}`).toBe(true);
      residual.push(t);
    }
    console.log(`USE tokenizer parity: ${exact}/${texts.length} identical; residual (ties / ':' pieces): ${JSON.stringify(residual.map((r) => r.slice(0, 40)))}`);
    expect(exact / texts.length).toBeGreaterThanOrEqual(0.97);
    expect(useTokenize(tok, '')).toEqual([]);
  });

  it('gives the documented ids on fixed examples', () => {
    expect(useTokenize(tok, 'Hello world!')).toEqual([341, 4125, 311, 78]);
    // Only U+0020 becomes "▁"; a tab is an unknown character (id 0) and consecutive unknowns merge.
    expect(useTokenize(tok, 'tab\there')).toEqual([5520, 0, 586, 53]);
    expect(useTokenize(tok, '中文字符')).toEqual([30, 0]);
    expect(vocab[USE_SEP_ID][0]).toBe('▁|');
  });

  it('builds prompt [SEP] response, cutting the prompt first, then the response', () => {
    const items: EncodedItems = {
      count: 3,
      promptOffsets: Int32Array.of(0, 3, 8, 8),
      promptIds: Int32Array.of(10, 11, 12, 20, 21, 22, 23, 24),
      responseOffsets: Int32Array.of(0, 2, 4, 10),
      responseIds: Int32Array.of(30, 31, 40, 41, 50, 51, 52, 53, 54, 55),
    };
    const out = new Int32Array(16);
    const get = (k: number, maxLen: number): number[] => Array.from(out.subarray(0, jointIds(items, k, maxLen, out)));
    expect(get(0, 128)).toEqual([10, 11, 12, USE_SEP_ID, 30, 31]);
    expect(jointLength(items, 0, 128)).toBe(6);
    expect(get(1, 5)).toEqual([20, 21, USE_SEP_ID, 40, 41]);
    expect(get(1, 3)).toEqual([USE_SEP_ID, 40, 41]);
    expect(get(1, 2)).toEqual([USE_SEP_ID, 40]);
    expect(jointLength(items, 1, 2)).toBe(2);
    expect(get(2, 4)).toEqual([USE_SEP_ID, 50, 51, 52]);
    const big = new BigInt64Array(8);
    expect(jointIds(items, 0, 128, big, 1)).toBe(6);
    expect(Array.from(big.subarray(1, 7), Number)).toEqual([10, 11, 12, USE_SEP_ID, 30, 31]);
  });

  it('encodes items once per distinct text, capped at maxLen - 1 tokens per side', () => {
    const long = 'word '.repeat(200);
    const enc = encodeUseItems(tok, [{ prompt: 'Hi there', response: long }, { prompt: '', response: 'Hello world!' }], 16);
    expect(enc.responseOffsets[1] - enc.responseOffsets[0]).toBe(15);
    expect(Array.from(enc.promptIds.subarray(0, enc.promptOffsets[1]))).toEqual(useTokenize(tok, 'Hi there'));
    expect(enc.promptOffsets[2] - enc.promptOffsets[1]).toBe(0);
    expect(Array.from(enc.responseIds.subarray(enc.responseOffsets[1]))).toEqual([341, 4125, 311, 78]);
  });
});

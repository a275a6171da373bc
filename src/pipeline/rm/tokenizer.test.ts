// Tests of the word-level tokenizer files and item encoding through @huggingface/transformers.
import { describe, expect, it } from 'vitest';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTokenizerConfig, buildTokenizerJson, encodeItems, loadTokenizer, PAD_ID, SEP_ID, tokenizerVocab, UNK_ID } from './tokenizer.ts';

const WORDS = ['the', 'cat', 'sat', 'on', 'mat', ',', '.', '!', "'", 'don', 't', 'café', 'hello', 'world'];
const CFG = { maxPromptTokens: 4, maxResponseTokens: 6 };

function make() {
  return loadTokenizer(buildTokenizerJson(WORDS), buildTokenizerConfig(64));
}

describe('tokenizer', () => {
  it('builds a WordLevel vocab with the special tokens first, deduplicating words', () => {
    const json = buildTokenizerJson(['a', 'b', 'a', 'c']);
    expect(tokenizerVocab(json)).toEqual(['[PAD]', '[UNK]', '[SEP]', 'a', 'b', 'c']);
    const model = json.model as { type: string; unk_token: string };
    expect(model.type).toBe('WordLevel');
    expect(model.unk_token).toBe('[UNK]');
    expect(json.padding).toBeNull();
    expect(json.truncation).toBeNull();
  });

  it('loads through transformers.js, normalizes (NFKC, lowercase), splits punctuation, maps unknown words to [UNK]', () => {
    const t = make();
    expect(t.pad_token_id).toBe(PAD_ID);
    expect(t.unk_token_id).toBe(UNK_ID);
    expect(t.sep_token_id).toBe(SEP_ID);
    const id = (w: string): number => 3 + WORDS.indexOf(w);
    expect(t.encode("The CAT sat, on zebra! Don't", { add_special_tokens: false })).toEqual([
      id('the'), id('cat'), id('sat'), id(','), id('on'), UNK_ID, id('!'), id('don'), id("'"), id('t'),
    ]);
    // NFKC folds the decomposed "cafe\u0301" into "café"; full-width letters fold to ASCII.
    expect(t.encode('CAFE\u0301 ｈｅｌｌｏ', { add_special_tokens: false })).toEqual([id('café'), id('hello')]);
    expect(t.encode('', { add_special_tokens: false })).toEqual([]);
  });

  it('loads with AutoTokenizer from a local folder too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scpo-tok-'));
    try {
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(buildTokenizerJson(WORDS)));
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(buildTokenizerConfig(64)));
      const prevRemote = env.allowRemoteModels;
      env.allowRemoteModels = false;
      try {
        const t = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
        expect(t.encode('the zebra', { add_special_tokens: false })).toEqual([3, UNK_ID]);
      } finally {
        env.allowRemoteModels = prevRemote;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('encodes prompts and responses separately, truncated, without padding or special tokens', () => {
    const t = make();
    const enc = encodeItems(
      t,
      [
        { prompt: 'the cat sat on the mat', response: 'hello world' },
        { prompt: '', response: 'the cat' },
        { prompt: 'hello', response: '' },
        { prompt: '[PAD] hello [PAD]', response: 'the the the the the the the the' },
      ],
      CFG,
    );
    expect(enc.count).toBe(4);
    const prompt = (i: number) => Array.from(enc.promptIds.subarray(enc.promptOffsets[i], enc.promptOffsets[i + 1]));
    const response = (i: number) => Array.from(enc.responseIds.subarray(enc.responseOffsets[i], enc.responseOffsets[i + 1]));
    expect(prompt(0)).toEqual([3, 4, 5, 6]);
    expect(response(0)).toEqual([15, 16]);
    expect(prompt(1)).toEqual([]);
    expect(response(1)).toEqual([3, 4]);
    expect(response(2)).toEqual([]);
    expect(prompt(3)).toEqual([15]);
    expect(response(3)).toEqual([3, 3, 3, 3, 3, 3]);
    expect(enc.promptIds.includes(PAD_ID) || enc.responseIds.includes(PAD_ID)).toBe(false);
  });

  it('is fast enough for 10k items (timing is logged)', () => {
    const vocab = Array.from({ length: 30000 }, (_, i) => `w${i}`);
    const t = loadTokenizer(buildTokenizerJson(vocab), buildTokenizerConfig(512));
    const items = Array.from({ length: 10000 }, (_, i) => ({
      prompt: `What do you think about w${i % 500} and w${(i * 7) % 30000}, honestly? Tell me w1 w2 w3.`,
      response: Array.from({ length: 30 }, (_, j) => `w${(i * 31 + j * 17) % 30000}`).join(' ') + '.',
    }));
    const t0 = performance.now();
    const enc = encodeItems(t, items, { maxPromptTokens: 64, maxResponseTokens: 64 });
    const ms = performance.now() - t0;
    console.log(`encodeItems: ${ms.toFixed(0)} ms per 10k items (~17-token prompts, 31-token responses)`);
    expect(enc.responseOffsets[10000]).toBe(310000);
    expect(ms).toBeLessThan(20000);
  });
});

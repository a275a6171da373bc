// A fixed text corpus for the USE-lite tokenizer and golden tests: hand-written edge cases (punctuation, unicode,
// emoji, whitespace, control characters, empty, very long, literal special pieces) plus synthetic-data prompts and
// responses (deterministic: loadSynthetic(0)).
import { loadSynthetic } from '../../src/pipeline/data/index.ts';

export const EDGE_TEXTS: readonly string[] = [
  '',
  'a',
  'I',
  ' ',
  '  leading and trailing spaces  ',
  'Hello, world!',
  "Don't you think it's 5 o'clock somewhere?",
  'What is 999 + 1? And 1,000,000 / 3 = 333,333.33...',
  'Email me at someone@example.com or visit https://example.org/path?q=1&r=2.',
  'Tabs\tand\nnewlines\r\nand\u000bvertical tabs',
  'Smileys :) :-) :( and a colon: here',
  ':',
  '!!!',
  '???',
  '...',
  '"Quoted" and \'single\' and «guillemets» and „low“ quotes',
  'Em—dash, en–dash, and a hyphen-ated word',
  'Café, naïve, façade, coöperate, résumé, Über, Ångström',
  'e\u0301 combining accent vs é precomposed',
  'ﬁ ﬂ ligatures and Ｆｕｌｌｗｉｄｔｈ letters and ①②③',
  '中文字符和日本語のテキスト와 한국어',
  'Русский текст и ελληνικά',
  'العربية עברית हिन्दी',
  'Emoji: 😀🎉👍🏽 👨‍👩‍👧‍👦 ❤️ 🇨🇱 🇲🇽',
  'Math: ∑ x² ≤ ∞, π ≈ 3.14159, √2',
  'Currency: $100, €50, £20, ¥1000, ₹500',
  '<s> </s> extra_token_id_1 are literal text here',
  'ALL CAPS SHOUTING TEXT',
  'mIxEd CaSe WoRdS',
  'Numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 2026',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  '9999999999',
  '----- ===== _____ ~~~~~',
  '#hashtag @mention $TICKER %percent ^caret &amp; *star*',
  '(parentheses) [brackets] {braces} <angles>',
  'back\\slash and forward/slash and pipe|pipe',
  'zero\u200bwidth\u200bspace and soft\u00adhyphen',
  'non\u00a0breaking\u00a0space',
  'The quick brown fox jumps over the lazy dog. '.repeat(40),
  Array.from({ length: 300 }, (_, i) => `word${i}`).join(' '),
];

/** At least `n` texts: the edge cases, then distinct synthetic prompts and responses. */
export async function useTestTexts(n: number): Promise<string[]> {
  const out = [...EDGE_TEXTS];
  const seen = new Set(out);
  const data = await loadSynthetic(0);
  for (let i = 0; out.length < n && i < data.items.length; i += 37) {
    for (const t of [data.items[i].prompt, data.items[i].response]) {
      if (!seen.has(t) && out.length < n) {
        seen.add(t);
        out.push(t);
      }
    }
  }
  return out;
}

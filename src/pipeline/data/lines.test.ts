// Tests of the streaming line reader: BOM, CRLF, blank lines, chunk boundaries, early exit.
import { describe, expect, it } from 'vitest';
import { readLines, type TextLine } from './lines.ts';
import { ChunkedBlob, textFile } from '../../../test/helpers/data/fixtures.ts';
import type { InputFile } from '../types.ts';

async function collect(file: InputFile): Promise<TextLine[]> {
  const out: TextLine[] = [];
  for await (const l of readLines(file)) out.push(l);
  return out;
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('readLines', () => {
  it('numbers physical lines, skips blank ones, keeps a last line without newline', async () => {
    const lines = await collect(textFile('a.jsonl', 'one\n\n  \nfour\nfive'));
    expect(lines).toEqual([
      { line: 1, text: 'one' },
      { line: 4, text: 'four' },
      { line: 5, text: 'five' },
    ]);
  });

  it('strips a UTF-8 BOM and CRLF endings', async () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...enc('{"a":1}\r\n\r\n{"b":2}\r\n')]);
    const lines = await collect(textFile('bom.jsonl', bytes));
    expect(lines).toEqual([
      { line: 1, text: '{"a":1}' },
      { line: 3, text: '{"b":2}' },
    ]);
    expect(JSON.parse(lines[0].text)).toEqual({ a: 1 });
  });

  it('decodes multi-byte characters split across chunks', async () => {
    const bytes = enc('héllo wörld ✓\nzwei\n');
    // Split inside the 2-byte "é" and inside the 3-byte "✓".
    const cut1 = 2;
    const cut2 = bytes.indexOf(0xe2) + 1;
    const blob = new ChunkedBlob([bytes.slice(0, cut1), bytes.slice(cut1, cut2), bytes.slice(cut2)]);
    const lines = await collect({ name: 'x', blob });
    expect(lines.map((l) => l.text)).toEqual(['héllo wörld ✓', 'zwei']);
  });

  it('joins a long line delivered in many small chunks, with CR split from LF', async () => {
    const long = 'x'.repeat(100_000);
    const bytes = enc(`${long}\r\nshort\r\n`);
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    for (let i = 0; i < bytes.length; i += 999) chunks.push(bytes.slice(i, i + 999));
    const lines = await collect({ name: 'x', blob: new ChunkedBlob(chunks) });
    expect(lines).toHaveLength(2);
    expect(lines[0].text.length).toBe(100_000);
    expect(lines[1]).toEqual({ line: 2, text: 'short' });
  });

  it('yields nothing for an empty or blank file and stops cleanly on early break', async () => {
    expect(await collect(textFile('e', ''))).toEqual([]);
    expect(await collect(textFile('e', '\n\r\n  \n'))).toEqual([]);
    const file = textFile('many', Array.from({ length: 1000 }, (_v, i) => `l${i}`).join('\n'));
    let seen = 0;
    for await (const l of readLines(file)) {
      seen = l.line;
      if (seen === 3) break;
    }
    expect(seen).toBe(3);
    // The blob is not left locked: it can be read again.
    expect((await collect(file)).length).toBe(1000);
  });
});

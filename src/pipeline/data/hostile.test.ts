// Crafted input files (issue 10, "hostile input"): duplicate utterance ids, control characters and huge quoted
// content in messages, files where every row is bad, UTF-16 and binary files.
import { describe, expect, it } from 'vitest';
import { DataError, type InputFile } from '../types.ts';
import { loadGoqa } from './goqa.ts';
import { loadPrism } from './prism.ts';
import { textFile } from '../../../test/helpers/data/fixtures.ts';

const ESC = '\u001b';

function survey(users: [string, string][]): InputFile {
  return textFile('survey.jsonl', users.map(([u, c]) => JSON.stringify({ user_id: u, location: { reside_country: c } })).join('\n') + '\n');
}

function utt(id: string | number, user: string, inter: string, response: string, score: unknown): string {
  return JSON.stringify({ utterance_id: id, user_id: user, interaction_id: inter, user_prompt: 'p', model_response: response, score });
}

async function dataError(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DataError) return e;
    throw new Error(`expected DataError, got ${String(e)}`);
  }
  throw new Error('expected DataError, got success');
}

/** No raw control character (ANSI escape, NUL, C1, bidi override) anywhere in `s`. */
function printable(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s);
}

describe('duplicate utterance_ids', () => {
  const users = survey([['u1', 'Chile'], ['u2', 'Chile']]);
  const rows = [
    utt('a', 'u1', 'i1', 'first', 80),
    utt('b', 'u1', 'i1', 'second', 20),
    utt('a', 'u1', 'i1', 'first', 10), // same id, contradicting score
    utt('c', 'u2', 'i2', 'x', 60),
    utt('d', 'u2', 'i2', 'y', 40),
    utt(7, 'u2', 'i3', 'z', 50),
    utt(7, 'u2', 'i3', 'w', 50), // integer id repeated with the same score
  ];
  const file = () => textFile('utterances.jsonl', rows.join('\n') + '\n');

  it('are bad rows (file:line:field) and the first row is kept', async () => {
    const d = await loadPrism({ utterances: file(), survey: users });
    expect(d.issues.byReason['duplicate utterance_id']).toBe(2);
    const [e3, e7] = d.issues.examples.filter((e) => e.field === 'utterance_id');
    expect(e3).toMatchObject({ file: 'utterances.jsonl', line: 3, field: 'utterance_id' });
    expect(e3.message).toMatch(/utterance_id a already appeared on line 1 with score 80; this row's score 10 contradicts it/);
    expect(e7).toMatchObject({ line: 7 });
    // The kept first row decides the pair: "first" (80) beats "second" (20), no contradicting pair.
    const i1 = d.pairs.filter((p) => p.key === 'i1');
    expect(i1).toHaveLength(1);
    expect(d.items[i1[0].chosen].response).toBe('first');
    expect(i1[0].scoreChosen).toBe(80);
  });

  it('stop a strict load at the repeated row', async () => {
    const e = await dataError(loadPrism({ utterances: file(), survey: users }, { strict: true }));
    expect(e.message).toMatch(/^utterances\.jsonl:3:utterance_id: utterance_id a already appeared on line 1/);
  });
});

describe('messages built from file contents', () => {
  it('escape control characters in lenient examples and strict errors', async () => {
    const evil = `${ESC}[31mred${ESC}[0m\u0000\u202e`;
    const utterances = textFile('utterances.jsonl', [utt('a', evil, 'i', 'r1', 50), utt('b', 'u1', 'i', 'r1', 40), utt('c', 'u1', 'i', 'r2', 60)].join('\n'));
    const d = await loadPrism({ utterances, survey: survey([['u1', 'Chile']]) });
    const ex = d.issues.examples.find((e) => e.field === 'user_id');
    expect(ex?.message).toContain('user \\x1b[31mred\\x1b[0m\\x00\\u202e is not in survey.jsonl');
    for (const e of d.issues.examples) expect(printable(e.message), e.message).toBe(true);
    const strict = await dataError(loadPrism({ utterances, survey: survey([['u1', 'Chile']]) }, { strict: true }));
    expect(printable(strict.message), strict.message).toBe(true);
    expect(strict.message).toContain('\\x1b[31m');
  });

  it('cap quoted content: a 65,000-character CSV header gives a short error', async () => {
    const header = 'x'.repeat(65_000);
    const e = await dataError(loadGoqa(textFile('global_opinions.csv', `${header}\nq,s,o\n`)));
    expect(e.message).toMatch(/column "question" is missing from the header \(found: x+… \(64800 more characters\)\)/);
    expect(e.message.length).toBeLessThan(700);
  });

  it('when every row is bad, a lenient load lists the reasons and the first rows, like strict mode', async () => {
    const utterances = textFile('utterances.jsonl', [utt('a', 'u1', 'i', 'r1', 'high'), utt('b', 'u1', 'i', 'r2', 500), '{oops'].join('\n'));
    const e = await dataError(loadPrism({ utterances, survey: survey([['u1', 'Chile']]) }));
    expect(e.message).toMatch(/^utterances\.jsonl:0:\(file\): no usable utterance rows .*: 3 bad rows \(/);
    expect(e.message).toMatch(/wrong type 1/);
    expect(e.message).toMatch(/out of range 1/);
    expect(e.message).toMatch(/bad json 1/);
    expect(e.message).toMatch(/first: line 1, score: score must be a number, got the string "high" \(utterance_id a\); line 2, score: score 500 is outside 1\.\.100/);
  });
});

function utf16le(text: string, bom: boolean): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array((bom ? 2 : 0) + text.length * 2);
  let o = 0;
  if (bom) {
    out[o++] = 0xff;
    out[o++] = 0xfe;
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[o++] = c & 0xff;
    out[o++] = c >> 8;
  }
  return out;
}

describe('files that are not UTF-8 text', () => {
  const good = [utt('a', 'u1', 'i', 'r1', 50), utt('b', 'u1', 'i', 'r2', 40)].join('\n') + '\n';

  it('UTF-16 with and without a byte-order mark is named as such, strict or not', async () => {
    for (const bom of [true, false]) {
      for (const strict of [false, true]) {
        const e = await dataError(loadPrism({ utterances: textFile('utterances.jsonl', utf16le(good, bom)), survey: survey([['u1', 'Chile']]) }, { strict }));
        expect(e.message).toMatch(/^utterances\.jsonl:0:\(file\): looks like UTF-16 \(little-endian.*save it as UTF-8/);
      }
    }
    const g = await dataError(loadGoqa(textFile('global_opinions.csv', utf16le('question,selections,options\n', true))));
    expect(g.message).toMatch(/looks like UTF-16/);
  });

  it('a binary file is named as such, with a short printable message', async () => {
    const bytes = new Uint8Array(70_000);
    let x = 12345;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    for (const strict of [false, true]) {
      const e = await dataError(loadGoqa(textFile('global_opinions.csv', bytes), { strict }));
      expect(e.message).toMatch(/looks like a binary file/);
      expect(printable(e.message)).toBe(true);
      expect(e.message.length).toBeLessThan(300);
      const p = await dataError(loadPrism({ utterances: textFile('utterances.jsonl', bytes), survey: survey([['u1', 'Chile']]) }, { strict }));
      expect(p.message).toMatch(/^utterances\.jsonl:0:\(file\): looks like a binary file/);
    }
  });

  it('UTF-8 text with a few Latin-1 bytes is still read (its bad rows reported per row)', async () => {
    const latin = new TextEncoder().encode(good + utt('c', 'u1', 'i', 'caf', 30) + '\n');
    const bytes = new Uint8Array([...latin.slice(0, -3), 0xe9, ...latin.slice(-3)]);
    const d = await loadPrism({ utterances: textFile('utterances.jsonl', bytes), survey: survey([['u1', 'Chile']]) });
    expect(d.pairs.length).toBeGreaterThan(0);
  });
});

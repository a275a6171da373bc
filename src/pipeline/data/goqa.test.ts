// Tests of the GlobalOpinionQA loader on valid and malformed CSV, margins, split by question, fatal errors.
import { describe, expect, it } from 'vitest';
import { DataError } from '../types.ts';
import { loadGoqa, parseGoqaCells } from './goqa.ts';
import { fixtureFile, fixtureText, textFile } from '../../../test/helpers/data/fixtures.ts';

async function dataError(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DataError) return e;
    throw new Error(`expected DataError, got ${String(e)}`);
  }
  throw new Error('expected DataError, got success');
}

const validFile = () => fixtureFile('goqa/global_opinions.csv');
const malformedFile = () => fixtureFile('goqa/global_opinions_malformed.csv', 'global_opinions.csv');

describe('loadGoqa on the valid fixture', () => {
  it('builds option pairs per country and question with the 0.05 margin', async () => {
    const d = await loadGoqa(validFile());
    expect(d.format).toBe('goqa');
    expect(d.issues.count).toBe(0);
    // q1: Belgium 1 pair, Côte d'Ivoire a tie; q2: 3 + 3; q3: Belgium 3 (0.30 vs 0.25 is exactly the margin),
    // Côte d'Ivoire nan skipped + a tie; q4: 1.
    expect(d.pairs).toHaveLength(11);
    expect(d.tiesDropped).toBe(2);
    expect(d.items).toHaveLength(10);
    expect(Object.keys(d.countries)).toEqual(['Belgium', "Côte d'Ivoire"]);
    expect(d.countries.Belgium).toMatchObject({ users: 4, pairs: 8 });
    // "users" of a GOQA country = questions that gave it at least one pair.
    expect(d.countries["Côte d'Ivoire"]).toMatchObject({ users: 1, pairs: 3 });
    const q1 = d.pairs.filter((p) => p.key === 'q1');
    expect(q1).toHaveLength(1);
    expect(d.items[q1[0].chosen]).toEqual({ prompt: 'Do you think it is acceptable to eat meat?', response: 'No' });
    expect([q1[0].scoreChosen, q1[0].scoreRejected]).toEqual([0.79, 0.21]);
    expect(q1[0].group).toBe('q1');
  });

  it('unescapes option strings and keeps multi-line questions whole', async () => {
    const d = await loadGoqa(validFile());
    const responses = new Set(d.items.map((i) => i.response));
    for (const r of ["It's fine", 'He said "no"', 'Back\\slash', "Don't know"]) expect(responses.has(r)).toBe(true);
    expect(d.items.some((i) => i.prompt === 'How important is religion\nin your life?')).toBe(true);
  });

  it('honours goqaMargin', async () => {
    const wider = await loadGoqa(validFile(), { goqaMargin: 0.06 });
    expect(wider.pairs).toHaveLength(10); // Belgium 0.30 vs 0.25 in q3 no longer qualifies
    expect(wider.tiesDropped).toBe(3);
    const strict = await loadGoqa(validFile(), { goqaMargin: 0.3 });
    expect(strict.pairs.every((p) => p.scoreChosen - p.scoreRejected >= 0.3 - 1e-9)).toBe(true);
    expect(strict.pairs.length).toBeLessThan(11);
  });

  it('reads the same data with a BOM and CRLF line endings', async () => {
    const text = fixtureText('goqa/global_opinions.csv');
    const bom = textFile('global_opinions.csv', '\ufeff' + text.replace(/\n/g, '\r\n'));
    const a = await loadGoqa(validFile());
    const b = await loadGoqa(bom);
    expect(b.pairs).toEqual(a.pairs);
    // The multi-line question's CRLF stays inside the cell, so only the prompt text differs.
    expect(b.items.map((i) => i.response)).toEqual(a.items.map((i) => i.response));
  });

  it('splits by question: the same test questions for every country, ~15%', async () => {
    const questions = Array.from({ length: 40 }, (_v, i) => `Question ${i}?,"{'A': [0.1, 0.9], 'B': [0.8, 0.2]}","['x', 'y']",GAS`);
    const d = await loadGoqa(textFile('g.csv', `question,selections,options,source\n${questions.join('\n')}\n`), { seed: 9 });
    const testQ = (c: string) => new Set(d.pairs.filter((p) => p.country === c && p.split === 'test').map((p) => p.group));
    expect([...testQ('A')].sort()).toEqual([...testQ('B')].sort());
    expect(testQ('A').size).toBe(6);
    const other = await loadGoqa(textFile('g.csv', `question,selections,options,source\n${questions.join('\n')}\n`), { seed: 10 });
    expect(other.pairs.map((p) => p.split)).not.toEqual(d.pairs.map((p) => p.split));
  });
});

describe('loadGoqa on the malformed fixture', () => {
  it('skips bad rows with reasons and editor line numbers', async () => {
    const d = await loadGoqa(malformedFile());
    expect(d.issues.count).toBe(7);
    expect(d.issues.byReason).toEqual({
      'bad selections': 1,
      'selections length mismatch': 1,
      'empty field': 1,
      'bad options': 1,
      'missing field': 1,
      'empty country': 1,
      'out of range': 1,
    });
    expect(d.issues.examples.map((e) => `${e.line}:${e.field}`)).toEqual([
      '3:selections',
      '4:selections',
      '5:question',
      '6:options',
      '7:selections',
      '8:selections',
      '10:selections',
    ]);
    expect(d.issues.examples[1].message).toMatch(/Belgium has 2 shares for 3 options/);
    expect(d.pairs).toHaveLength(3);
    expect(d.countries).toMatchObject({ Belgium: { pairs: 2 }, Chile: { pairs: 1 } });
  });

  it('strict mode throws at the first bad row', async () => {
    const e = await dataError(loadGoqa(malformedFile(), { strict: true }));
    expect([e.file, e.line, e.field]).toEqual(['global_opinions.csv', 3, 'selections']);
    expect(e.message).toMatch(/not a Python literal/);
  });

  it('reports extra fields and unterminated quotes as row problems', async () => {
    const good = `ok,"{'A': [0.1, 0.9]}","['x', 'y']",GAS`;
    const text = `question,selections,options,source\n${good}\nextra,"{'A': [0.1, 0.9]}","['x', 'y']",GAS,more\nopen,"{'A': [0.1, 0.9]}","['x', 'y']\n`;
    const d = await loadGoqa(textFile('g.csv', text));
    expect(d.issues.byReason).toEqual({ 'wrong column count': 1, 'bad csv': 1 });
    expect(d.issues.examples.map((e) => [e.line, e.field])).toEqual([
      [3, '(row)'],
      [4, '(row)'],
    ]);
    expect(d.pairs).toHaveLength(1);
  });

  it('line numbers count the lines of multi-line cells before the bad row', async () => {
    const text = `question,selections,options\n"two\nlines","{'A': [0.1, 0.9]}","['x', 'y']"\nbad,"{'A': [0.1]}","['x', 'y']"\n`;
    const d = await loadGoqa(textFile('g.csv', text));
    expect(d.issues.examples[0]).toMatchObject({ line: 4, field: 'selections' });
  });
});

describe('loadGoqa fatal problems', () => {
  it('missing file, empty file, header only, missing column, no pairs', async () => {
    const e0 = await dataError(loadGoqa(undefined as unknown as Parameters<typeof loadGoqa>[0]));
    expect([e0.file, e0.line]).toEqual(['global_opinions.csv', 0]);
    const e1 = await dataError(loadGoqa(textFile('g.csv', '')));
    expect([e1.file, e1.line]).toEqual(['g.csv', 0]);
    const e2 = await dataError(loadGoqa(textFile('g.csv', 'question,selections,options,source\n')));
    expect(e2.line).toBe(0);
    const e3 = await dataError(loadGoqa(textFile('g.csv', `question,options\nq,"['a']"\n`)));
    expect([e3.line, e3.field]).toEqual([0, 'selections']);
    const e4 = await dataError(loadGoqa(textFile('g.csv', `question,selections,options\nq,"{'A': [0.5, 0.5]}","['a', 'b']"\n`)));
    expect(e4.line).toBe(0);
    expect(e4.message).toMatch(/no preference pairs/);
  });

  it('wraps unexpected failures (unreadable file) into DataError', async () => {
    const blob = new Blob(['x']);
    Object.defineProperty(blob, 'text', { value: () => Promise.reject(new TypeError('boom')) });
    const e = await dataError(loadGoqa({ name: 'g.csv', blob }));
    expect([e.file, e.line]).toEqual(['g.csv', 0]);
    expect(e.message).toMatch(/boom/);
  });
});

describe('parseGoqaCells', () => {
  it('accepts nan shares and rejects non-numeric shares', () => {
    const ok = parseGoqaCells('q', `{'A': [nan, 0.5]}`, `['x', 'y']`);
    expect('selections' in ok && Number.isNaN(ok.selections.get('A')?.[0])).toBe(true);
    expect(parseGoqaCells('q', `{'A': ['0.5', 0.5]}`, `['x', 'y']`)).toMatchObject({ reason: 'bad selections' });
    expect(parseGoqaCells('q', `{'A': [0.5, 0.5]}`, `['x', 2]`)).toMatchObject({ reason: 'bad options' });
    expect(parseGoqaCells('q', `[0.5]`, `['x']`)).toMatchObject({ reason: 'bad selections' });
  });
});

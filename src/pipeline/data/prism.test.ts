// Tests of the PRISM loader on JSONL and Parquet fixtures, malformed rows, strict mode and fatal errors.
import { describe, expect, it } from 'vitest';
import { DataError, type InputFile, type PreferenceData } from '../types.ts';
import { buildPrism, loadPrism } from './prism.ts';
import { memoryRows } from './rows.ts';
import { FailingBlob, fixtureBytes, fixtureFile, fixtureText, textFile } from '../../../test/helpers/data/fixtures.ts';
import { writeParquet, type Column } from '../../../test/helpers/data/parquet-writer.ts';
import { jsonlToRows, SURVEY_PARQUET_COLUMNS, UTTERANCE_PARQUET_COLUMNS } from '../../../test/helpers/data/prism-parquet.ts';

const valid = () => ({
  utterances: fixtureFile('prism-valid/utterances.jsonl'),
  survey: fixtureFile('prism-valid/survey.jsonl'),
});
const malformed = () => ({
  utterances: fixtureFile('prism-malformed/utterances.jsonl'),
  survey: fixtureFile('prism-malformed/survey.jsonl'),
});

async function dataError(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DataError) return e;
    throw new Error(`expected DataError, got ${String(e)}`);
  }
  throw new Error('expected DataError, got success');
}

function pairKeys(d: PreferenceData): string[] {
  return d.pairs
    .map((p) => `${p.group}|${p.key}|${d.items[p.chosen].response}>${d.items[p.rejected].response}|${p.split}`)
    .sort();
}

describe('loadPrism on the valid JSONL fixture', () => {
  it('builds pairs per user x interaction, drops and counts ties, dedups items', async () => {
    const d = await loadPrism(valid());
    expect(d.format).toBe('prism');
    expect(d.issues).toEqual({ count: 0, byReason: {}, examples: [] });
    // user1: 4-response turn with one tie -> 5, plus a 2-response turn -> 1; user2: 6; user3: tie + 1;
    // user4: 3-response turn -> 3, plus 1; user5: 1.
    expect(d.pairs).toHaveLength(18);
    expect(d.tiesDropped).toBe(2);
    expect(d.items).toHaveLength(20); // 21 rows, one identical (prompt, response) shared by user1 and user2
    expect(d.countries['United States']).toMatchObject({ users: 2, pairs: 12 });
    expect(d.countries.Chile).toMatchObject({ users: 3, pairs: 6 });
    const perGroup = (g: string) => d.pairs.filter((p) => p.group === g).length;
    expect([perGroup('user1'), perGroup('user2'), perGroup('user3'), perGroup('user4'), perGroup('user5')]).toEqual([6, 6, 1, 4, 1]);
    for (const p of d.pairs) expect(p.scoreChosen).toBeGreaterThan(p.scoreRejected);
  });

  it('never pairs across users or interactions (even when an interaction_id repeats across users)', async () => {
    const d = await loadPrism(valid());
    const rows = jsonlToRows(fixtureText('prism-valid/utterances.jsonl'));
    const owner = (item: number, user: string, key: string) =>
      rows.some(
        (r) =>
          r.user_id === user &&
          r.interaction_id === key &&
          r.user_prompt === d.items[item].prompt &&
          r.model_response === d.items[item].response,
      );
    for (const p of d.pairs) {
      expect(owner(p.chosen, p.group, p.key)).toBe(true);
      expect(owner(p.rejected, p.group, p.key)).toBe(true);
    }
    // c1-0 exists for user1 (4 responses) and user4 (3 responses): 5 + 3 pairs, never 7 x 6 / 2.
    expect(d.pairs.filter((p) => p.key === 'c1-0').length).toBe(8);
  });

  it('keeps every user in one split and puts at least one user per country in test', async () => {
    const d = await loadPrism(valid());
    const splitOf = new Map<string, Set<string>>();
    for (const p of d.pairs) splitOf.set(p.group, (splitOf.get(p.group) ?? new Set()).add(p.split));
    expect([...splitOf.values()].every((s) => s.size === 1)).toBe(true);
    expect(d.countries['United States'].testPairs).toBeGreaterThan(0);
    expect(d.countries.Chile.testPairs).toBeGreaterThan(0);
    expect(d.countries.Chile.trainPairs).toBeGreaterThan(0);
  });

  it('gives the same split whatever the row order, and a different one for another seed', async () => {
    const text = fixtureText('prism-valid/utterances.jsonl');
    const reversed = text.trim().split('\n').reverse().join('\n');
    const a = await loadPrism(valid(), { seed: 3 });
    const b = await loadPrism({ ...valid(), utterances: textFile('utterances.jsonl', reversed) }, { seed: 3 });
    expect(pairKeys(b)).toEqual(pairKeys(a));
    const splits = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const d = await loadPrism(valid(), { seed });
      splits.add(d.pairs.filter((p) => p.split === 'test').map((p) => p.group).sort().join(','));
    }
    expect(splits.size).toBeGreaterThan(1);
  });
});

describe('loadPrism on Parquet (HF mirror shape, written by the test writer)', () => {
  const uttRows = () => jsonlToRows(fixtureText('prism-valid/utterances.jsonl'));
  const surRows = () => jsonlToRows(fixtureText('prism-valid/survey.jsonl'));
  const pq = (name: string, cols: Column[], rows: Record<string, unknown>[], codec: 'snappy' | 'uncompressed' = 'snappy'): InputFile => ({
    name,
    blob: new Blob([writeParquet(cols, rows, { codec })]),
  });

  it('gives exactly the JSONL result (snappy and uncompressed, nested location struct, int64 scores)', async () => {
    const fromJsonl = await loadPrism(valid());
    for (const codec of ['snappy', 'uncompressed'] as const) {
      const d = await loadPrism({
        utterances: pq('utterances.parquet', UTTERANCE_PARQUET_COLUMNS, uttRows(), codec),
        survey: pq('survey.parquet', SURVEY_PARQUET_COLUMNS, surRows(), codec),
      });
      expect(d.items).toEqual(fromJsonl.items);
      expect(d.pairs).toEqual(fromJsonl.pairs);
      expect(d.countries).toEqual(fromJsonl.countries);
      expect(d.tiesDropped).toBe(2);
    }
  });

  it('detects Parquet by the PAR1 magic when the name does not say so, and mixes formats', async () => {
    const d = await loadPrism({
      utterances: pq('utterances.bin', UTTERANCE_PARQUET_COLUMNS, uttRows()),
      survey: fixtureFile('prism-valid/survey.jsonl'),
    });
    expect(d.pairs).toHaveLength(18);
  });

  it('loads the committed Parquet fixtures, which match the writer output', async () => {
    expect(fixtureBytes('prism-parquet/utterances.parquet')).toEqual(
      writeParquet(UTTERANCE_PARQUET_COLUMNS, uttRows(), { codec: 'snappy' }),
    );
    const d = await loadPrism({
      utterances: fixtureFile('prism-parquet/utterances.parquet'),
      survey: fixtureFile('prism-parquet/survey.parquet'),
    });
    expect(d.pairs).toHaveLength(18);
    expect(d.countries.Chile.users).toBe(3);
  });

  it('reports bad Parquet values per row (row number as line) and nulls as missing', async () => {
    const rows = uttRows();
    rows[2] = { ...rows[2], score: null };
    rows[4] = { ...rows[4], user_id: null };
    const cols = UTTERANCE_PARQUET_COLUMNS.map((c) => (c.name === 'score' ? { name: 'score', type: 'double' as const } : c));
    rows[6] = { ...rows[6], score: NaN };
    const surveys = surRows();
    surveys[4] = { ...surveys[4], location: null };
    const d = await loadPrism({
      utterances: pq('utterances.parquet', cols, rows),
      survey: pq('survey.parquet', SURVEY_PARQUET_COLUMNS, surveys),
    });
    const at = (file: string, line: number) => d.issues.examples.find((e) => e.file === file && e.line === line);
    expect(at('survey.parquet', 5)).toMatchObject({ field: 'location' });
    expect(at('utterances.parquet', 3)).toMatchObject({ field: 'score', message: expect.stringContaining('ut2') });
    expect(at('utterances.parquet', 5)).toMatchObject({ field: 'user_id' });
    expect(at('utterances.parquet', 7)).toMatchObject({ field: 'score' });
    expect(d.issues.byReason['non-finite number']).toBe(1);
  });

  it('turns an unreadable or column-less Parquet file into a line-0 DataError', async () => {
    const bad = new Uint8Array([...new TextEncoder().encode('PAR1'), 1, 2, 3, 4, 5, 6, 7, 8, ...new TextEncoder().encode('PAR1')]);
    const e1 = await dataError(loadPrism({ utterances: textFile('utterances.parquet', bad), survey: fixtureFile('prism-valid/survey.jsonl') }));
    expect(e1.file).toBe('utterances.parquet');
    expect(e1.line).toBe(0);
    const other = writeParquet([{ name: 'something', type: 'string' }], [{ something: 'x' }]);
    const e2 = await dataError(loadPrism({ utterances: textFile('utterances.parquet', other), survey: fixtureFile('prism-valid/survey.jsonl') }));
    expect(e2.line).toBe(0);
    expect(e2.message).toMatch(/none of the columns/);
  });
});

describe('loadPrism on the malformed fixture', () => {
  it('skips and counts every bad row with its reason', async () => {
    const d = await loadPrism(malformed());
    expect(d.issues.byReason).toEqual({
      'empty country': 1,
      'bad json': 1,
      'wrong type': 2,
      'missing field': 1,
      'unknown user': 1,
      'user without country': 1,
      'non-finite number': 2,
      'out of range': 1,
      'not an object': 1,
    });
    expect(d.issues.count).toBe(11);
    // u1 keeps rows 1, 2, 17 (80, 40, 10) -> 3 pairs; u2 rows 10, 11 -> 1; u5 rows 12, 13 -> 1.
    expect(d.pairs).toHaveLength(5);
    expect(d.countries).toMatchObject({ 'United States': { users: 1, pairs: 3 }, Chile: { users: 2, pairs: 2 } });
  });

  it('locates each example by file, line and field (BOM and CRLF do not shift anything)', async () => {
    const d = await loadPrism(malformed());
    const loc = d.issues.examples.map((e) => `${e.file}:${e.line}:${e.field}`);
    expect(loc).toEqual([
      'survey.jsonl:3:location.reside_country',
      'utterances.jsonl:3:(row)',
      'utterances.jsonl:4:score',
      'utterances.jsonl:5:user_id',
      'utterances.jsonl:6:user_id',
      'utterances.jsonl:7:user_id',
      'utterances.jsonl:8:score',
      'utterances.jsonl:9:score',
      'utterances.jsonl:14:score',
      'utterances.jsonl:15:(row)',
      'utterances.jsonl:16:user_prompt',
    ]);
    const msg = (line: number) => d.issues.examples.find((e) => e.file === 'utterances.jsonl' && e.line === line)?.message ?? '';
    expect(msg(3)).toMatch(/not valid JSON/);
    expect(msg(4)).toMatch(/must be a number, got the string "NaN" \(utterance_id a4\)/);
    expect(msg(6)).toMatch(/user u9 is not in survey\.jsonl/);
    expect(msg(7)).toMatch(/survey\.jsonl:3/);
    expect(msg(8)).toMatch(/score is NaN/);
    expect(msg(9)).toMatch(/150 is outside 1\.\.100/);
    expect(msg(14)).toMatch(/Infinity/);
  });

  it('keeps at most 20 examples but counts everything', async () => {
    const lines = Array.from({ length: 30 }, (_v, i) => `{"user_id": "u${i}", "broken`);
    lines.push(fixtureText('prism-valid/utterances.jsonl'));
    const d = await loadPrism({ utterances: textFile('utterances.jsonl', lines.join('\n')), survey: fixtureFile('prism-valid/survey.jsonl') });
    expect(d.issues.count).toBe(30);
    expect(d.issues.byReason['bad json']).toBe(30);
    expect(d.issues.examples).toHaveLength(20);
    expect(d.issues.examples[19].line).toBe(20);
  });

  it('strict mode throws DataError at the first bad row with its location', async () => {
    const e1 = await dataError(loadPrism(malformed(), { strict: true }));
    expect([e1.file, e1.line, e1.field]).toEqual(['survey.jsonl', 3, 'location.reside_country']);
    expect(e1.message).toBe('survey.jsonl:3:location.reside_country: location.reside_country is empty');

    const survey = textFile('survey.jsonl', fixtureText('prism-malformed/survey.jsonl').replace('"reside_country": ""', '"reside_country": "Chile"'));
    const e2 = await dataError(loadPrism({ utterances: fixtureFile('prism-malformed/utterances.jsonl'), survey }, { strict: true }));
    expect([e2.file, e2.line, e2.field]).toEqual(['utterances.jsonl', 3, '(row)']);

    const fixed = fixtureText('prism-malformed/utterances.jsonl').split('\r\n');
    fixed.splice(2, 1); // drop the bad-JSON line: the next problem is the string score, now on line 3
    const e3 = await dataError(loadPrism({ utterances: textFile('utterances.jsonl', fixed.join('\r\n')), survey }, { strict: true }));
    expect([e3.line, e3.field]).toEqual([3, 'score']);
    // The valid fixture passes strict mode untouched.
    expect((await loadPrism(valid(), { strict: true })).pairs).toHaveLength(18);
  });
});

describe('loadPrism fatal problems: always a line-0 DataError, never a raw exception', () => {
  const survey = () => fixtureFile('prism-valid/survey.jsonl');

  it('missing file', async () => {
    const e = await dataError(loadPrism({ utterances: fixtureFile('prism-valid/utterances.jsonl') } as unknown as Parameters<typeof loadPrism>[0]));
    expect([e.file, e.line]).toEqual(['survey.jsonl', 0]);
    expect(e.message).toMatch(/missing/);
  });

  it('empty file, blank file, and a file with zero usable rows (also in non-strict mode)', async () => {
    const e1 = await dataError(loadPrism({ utterances: textFile('utterances.jsonl', ''), survey: survey() }));
    expect([e1.file, e1.line]).toEqual(['utterances.jsonl', 0]);
    const e2 = await dataError(loadPrism({ utterances: textFile('utterances.jsonl', '\n\r\n  \n'), survey: survey() }));
    expect([e2.file, e2.line]).toEqual(['utterances.jsonl', 0]);
    const e3 = await dataError(loadPrism({ utterances: fixtureFile('prism-valid/utterances.jsonl'), survey: textFile('survey.jsonl', '{"user_id": "x"}\nnot json\n') }));
    expect([e3.file, e3.line]).toEqual(['survey.jsonl', 0]);
    const e4 = await dataError(loadPrism({ utterances: textFile('utterances.jsonl', '[]\n{"score": "1"}\n'), survey: survey() }));
    expect([e4.file, e4.line]).toEqual(['utterances.jsonl', 0]);
  });

  it('only ties: no pairs is fatal', async () => {
    const row = (r: string, s: number) =>
      JSON.stringify({ utterance_id: r, user_id: 'user1', interaction_id: 'c1-0', user_prompt: 'p', model_response: r, score: s });
    const e = await dataError(loadPrism({ utterances: textFile('utterances.jsonl', `${row('a', 50)}\n${row('b', 50)}\n`), survey: survey() }));
    expect(e.line).toBe(0);
    expect(e.message).toMatch(/1 ties dropped/);
  });

  it('a read failure mid-stream becomes a DataError naming the file', async () => {
    const e = await dataError(loadPrism({ utterances: { name: 'utterances.jsonl', blob: new FailingBlob('{"a": 1}\n') }, survey: survey() }));
    expect([e.file, e.line]).toEqual(['utterances.jsonl', 0]);
    expect(e.message).toMatch(/simulated read failure/);
  });

  it('in-memory rows go through the same validation, under the given file name', async () => {
    const d = await buildPrism(
      {
        utterances: memoryRows('synthetic/utterances.jsonl', [
          { user_id: 'a', interaction_id: 'i', user_prompt: 'p', model_response: 'x', score: 10 },
          { user_id: 'a', interaction_id: 'i', user_prompt: 'p', model_response: 'y', score: 20 },
          { user_id: 'a', interaction_id: 'i', user_prompt: 'p', model_response: 'z', score: '30' },
        ]),
        survey: memoryRows('synthetic/survey.jsonl', [{ user_id: 'a', location: { reside_country: 'Chile' } }]),
      },
      {},
      'mem',
    );
    expect(d.pairs).toHaveLength(1);
    expect(d.issues.examples[0]).toMatchObject({ file: 'synthetic/utterances.jsonl', line: 3, field: 'score' });
  });
});

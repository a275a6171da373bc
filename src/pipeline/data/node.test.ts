// Tests of openDataPath / loadDataPath on fixture folders, nested Parquet mirrors and missing paths.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../types.ts';
import { loadDataPath, openDataPath } from './node.ts';
import { fixturePath } from '../../../test/helpers/data/fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'scpo-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function dataError(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DataError) return e;
    throw new Error(`expected DataError, got ${String(e)}`);
  }
  throw new Error('expected DataError, got success');
}

describe('openDataPath', () => {
  it('opens a PRISM JSONL folder', async () => {
    const opened = await openDataPath(fixturePath('prism-valid'));
    expect(opened.format).toBe('prism');
    if (opened.format !== 'prism') return;
    expect(opened.files.utterances.name).toBe('utterances.jsonl');
    expect(opened.files.survey.name).toBe('survey.jsonl');
    expect(opened.files.utterances.blob.size).toBeGreaterThan(1000);
  });

  it('opens a PRISM Parquet folder, nested HF-mirror style, and a PRISM file given directly', async () => {
    const dir = join(tmp, 'mirror');
    mkdirSync(join(dir, 'utterances', 'train'), { recursive: true });
    mkdirSync(join(dir, 'survey', 'train'), { recursive: true });
    copyFileSync(fixturePath('prism-parquet/utterances.parquet'), join(dir, 'utterances', 'train', '0000.parquet'));
    copyFileSync(fixturePath('prism-parquet/survey.parquet'), join(dir, 'survey', 'train', '0000.parquet'));
    const d = await loadDataPath(dir);
    expect(d.format).toBe('prism');
    expect(d.source).toBe(dir);
    expect(d.pairs).toHaveLength(18);
    const direct = await openDataPath(fixturePath('prism-valid/utterances.jsonl'));
    expect(direct.format).toBe('prism');
  });

  it('opens a GOQA csv file or a folder holding global_opinions.csv', async () => {
    const f = await openDataPath(fixturePath('goqa/global_opinions.csv'));
    expect(f.format).toBe('goqa');
    const folder = await openDataPath(fixturePath('goqa'));
    expect(folder.format).toBe('goqa');
    if (folder.format === 'goqa') expect(folder.files.csv.name).toBe('global_opinions.csv');
    const d = await loadDataPath(fixturePath('goqa/global_opinions.csv'));
    expect(d.pairs).toHaveLength(11);
  });

  it('missing or incomplete paths throw DataError with line 0 naming the path', async () => {
    const missing = join(tmp, 'nope');
    const e1 = await dataError(openDataPath(missing));
    expect([e1.file, e1.line]).toEqual([missing, 0]);
    expect(e1.message).toContain(missing);
    const half = join(tmp, 'half');
    mkdirSync(half);
    writeFileSync(join(half, 'utterances.jsonl'), '{}\n');
    const e2 = await dataError(openDataPath(half));
    expect([e2.file, e2.line]).toEqual([half, 0]);
    expect(e2.message).toMatch(/survey/);
    const e3 = await dataError(openDataPath(half, 'goqa'));
    expect(e3.message).toMatch(/csv/);
  });
});

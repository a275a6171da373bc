// A country named "__proto__" (or "constructor") in the data is a country like any other: every report keeps it,
// in-process and merged from parts (the CLI's --workers), and nothing reaches Object.prototype.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { loadPrism } from '../src/pipeline/data/index.ts';
import { mergeResults, resolveConfig } from '../src/pipeline/experiment.ts';
import { formatTable, reportCsv, reportFiles, summarizeData } from '../src/pipeline/report.ts';
import { runSession } from '../src/pipeline/session.ts';
import { tinyModel } from './helpers/tiny-model.ts';

const FX = join(process.cwd(), 'e2e/fixtures/prism');

async function hostileData() {
  const survey = readFileSync(join(FX, 'survey.jsonl'), 'utf8')
    .replaceAll('"reside_country": "Chile"', '"reside_country": "__proto__"')
    .replaceAll('"reside_country": "Mexico"', '"reside_country": "constructor"');
  return loadPrism({
    survey: { name: 'survey.jsonl', blob: new Blob([survey]) },
    utterances: { name: 'utterances.jsonl', blob: new Blob([readFileSync(join(FX, 'utterances.jsonl'))]) },
  });
}

describe('a country named __proto__', () => {
  it('is kept in every report, in process and merged from per-country parts', async () => {
    const data = await hostileData();
    expect(Object.keys(data.countries)).toContain('__proto__');
    expect(data.countries.__proto__.pairs).toBeGreaterThan(0);
    const model = tinyModel(data);
    const countries = ['__proto__', 'constructor', 'Canada'];
    const config = resolveConfig({ countries, majority: ['United States'], steps: 8, evalPoints: 2, efficiencyFractions: [0.5] });
    const run = (cs: string[]) => runSession({ data, model, backend: cpuBackend, config: { ...config, countries: cs }, globalRm: 'as-loaded' });
    const { result } = await run(countries);
    const merged = mergeResults([(await run(['__proto__'])).result, (await run(['constructor', 'Canada'])).result], config);
    for (const r of [result, merged]) {
      const files = reportFiles(r, { data: summarizeData(data), globalRm: 'tiny', versions: {} });
      const full = JSON.parse(files['full_report.json']);
      const partial = JSON.parse(files['partial_report.json']);
      const ratios = JSON.parse(files['edited_ratios.json']);
      const bias = JSON.parse(files['bias_report.json']);
      const eff = JSON.parse(files['efficiency.json']);
      const counts = JSON.parse(files['run.json']).counts;
      for (const t of [full, partial]) expect(Object.keys(t)).toEqual([...countries, 'avg']);
      expect(Object.keys(ratios.train)).toEqual([...countries, 'avg']);
      expect(Object.keys(bias.countries)).toEqual(countries);
      expect(Object.keys(eff.countries)).toEqual(countries);
      expect(Object.keys(counts).sort()).toEqual([...countries, 'United States'].sort());
      expect(typeof full.__proto__.scpo).toBe('number');
      // The average is over exactly the countries in the table.
      const mean = countries.reduce((s, c) => s + full[c].start, 0) / countries.length;
      expect(full.avg.start).toBeCloseTo(mean, 1);
      expect(Object.keys(r.margins)).toEqual(countries);
      expect(reportCsv(r)).toMatch(/^__proto__,scpo,/m);
      expect(formatTable(r)).toMatch(/^__proto__ /m);
    }
    expect(JSON.parse(reportFiles(merged, { data: summarizeData(data), globalRm: 't', versions: {} })['full_report.json'])).toEqual(
      JSON.parse(reportFiles(result, { data: summarizeData(data), globalRm: 't', versions: {} })['full_report.json']),
    );
    // Nothing was written through a "__proto__" key onto Object.prototype.
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>).start).toBeUndefined();
  });
});

describe('a country named avg', () => {
  it('is refused before any work with a message naming the clash (the report tables key the macro average "avg")', async () => {
    const survey = readFileSync(join(FX, 'survey.jsonl'), 'utf8').replaceAll('"reside_country": "Chile"', '"reside_country": "avg"');
    const data = await loadPrism({
      survey: { name: 'survey.jsonl', blob: new Blob([survey]) },
      utterances: { name: 'utterances.jsonl', blob: new Blob([readFileSync(join(FX, 'utterances.jsonl'))]) },
    });
    expect(data.countries.avg.pairs).toBeGreaterThan(0);
    const model = tinyModel(data);
    for (const [countries, majority] of [[['avg'], ['United States']], [['Canada'], ['avg']]]) {
      const config = resolveConfig({ countries, majority, steps: 2 });
      await expect(runSession({ data, model, backend: cpuBackend, config, globalRm: 'as-loaded' })).rejects.toThrow(/country named "avg" cannot be reported/);
    }
  });
});

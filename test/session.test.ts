// The whole experiment on a small synthetic set with a tiny model: report schema, invariants, determinism.
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig } from '../src/pipeline/experiment.ts';
import type { ExperimentEvent } from '../src/pipeline/experiment.ts';
import { reportFiles, summarizeData } from '../src/pipeline/report.ts';
import { encodeItems } from '../src/pipeline/rm/tokenizer.ts';
import { runSession } from '../src/pipeline/session.ts';
import { CancelledError } from '../src/pipeline/train/loop.ts';
import { ConfigError, METHODS } from '../src/pipeline/types.ts';
import { tinyModel } from './helpers/tiny-model.ts';

const countries = ['Chile', 'Mexico'];

async function runSmall(seed = 0, events?: ExperimentEvent[]) {
  const data = await loadSynthetic(0, { scale: 0.3 }, { seed });
  const model = tinyModel(data);
  const config = resolveConfig({ countries, steps: 30, evalPoints: 3, seed });
  const out = await runSession({
    data,
    model,
    backend: cpuBackend,
    config,
    globalRm: 'train',
    globalTrain: { steps: 150 },
    onEvent: events ? (e) => events.push(e) : undefined,
  });
  return { data, ...out };
}

describe('experiment session', () => {
  it('produces every report with the reference shapes and consistent counts', async () => {
    const events: ExperimentEvent[] = [];
    const { data, result } = await runSmall(0, events);
    const r = result.reports;
    for (const table of [r.full, r.partial]) {
      expect(Object.keys(table).sort()).toEqual([...countries, 'avg'].sort());
      for (const row of Object.values(table)) expect(Object.keys(row).sort()).toEqual([...METHODS].sort());
    }
    const { rPlus, rMinus } = result;
    const total = { train: 0, kept: 0, test: 0, edited: 0 };
    for (const c of countries) {
      const s = result.sets[c];
      // Recomputed here from the global scores with the paper's formulas, not with scpo.ts: a flipped comparison
      // or a wrong tau in the filter, or a wrong edited rule, changes these counts.
      const kept = s.train.filter((i) => 1 / (1 + Math.exp(rMinus[i] - rPlus[i])) < 0.7).length;
      const edited = s.test.filter((i) => rPlus[i] < rMinus[i]).length;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(s.train.length);
      expect(s.kept).toBe(kept);
      expect(s.edited).toBe(edited);
      total.train += s.train.length;
      total.kept += kept;
      total.test += s.test.length;
      total.edited += edited;
      expect(r.editedRatios.train[c]).toBeCloseTo(kept / s.train.length, 12);
      // The split, from the data: train + validation = the country's train-split pairs, test = its test-split
      // pairs; validation users are never training users; ~10% of the train users are validation users.
      const own = data.pairs.map((p, i) => ({ p, i })).filter(({ p }) => p.country === c);
      expect([...s.train, ...s.val].sort((a, b) => a - b)).toEqual(own.filter(({ p }) => p.split === 'train').map(({ i }) => i));
      expect([...s.test].sort((a, b) => a - b)).toEqual(own.filter(({ p }) => p.split === 'test').map(({ i }) => i));
      const trainUsers = new Set(s.train.map((i) => data.pairs[i].group));
      const valUsers = new Set(s.val.map((i) => data.pairs[i].group));
      expect([...valUsers].some((u) => trainUsers.has(u))).toBe(false);
      expect(valUsers.size).toBe(Math.max(1, Math.round((trainUsers.size + valUsers.size) * 0.1)));
      const scpo = result.runs.find((x) => x.country === c && x.method === 'scpo');
      const full = result.runs.find((x) => x.country === c && x.method === 'full_ft');
      expect(scpo?.trainPairs).toBe(kept);
      expect(full?.trainPairs).toBe(s.train.length);
      expect(Number.isFinite(scpo?.accVal)).toBe(true);
      expect(r.validation[c].scpo).toBeCloseTo((scpo?.accVal ?? NaN) * 100, 1);
      expect(result.margins[c].scpo?.length).toBe(s.train.length + s.val.length + s.test.length);
      // start's edited accuracy is 0 by construction: the edited set is what the global RM gets wrong.
      expect(r.partial[c].start).toBe(0);
      expect(r.efficiency.countries[c].fullFt.length).toBe(4);
      const e = r.efficiency.countries[c];
      expect(r.efficiency.neverReached.includes(c)).toBe(e.fullFtPairsForScpoAccuracy === null);
    }
    // The reference pools the pairs of all countries for its "avg" ratio; the mean of the ratios sits beside it.
    expect(r.editedRatios.train.avg).toBeCloseTo(total.kept / total.train, 12);
    expect(r.editedRatios.test.avg).toBeCloseTo(total.edited / total.test, 12);
    const macro = countries.reduce((a, c) => a + result.sets[c].kept / result.sets[c].train.length, 0) / countries.length;
    expect(r.editedRatios.macro.train).toBeCloseTo(macro, 12);
    expect(r.bias.majority).toEqual(['United States', 'United Kingdom']);
    expect(r.bias.countries.Chile.scpo?.majority).not.toBeNull();
    // Live points arrive during training, before the last run finishes.
    const firstRun = events.findIndex((e) => e.type === 'run' && e.run.method !== 'start');
    const firstPoint = events.findIndex((e) => e.type === 'point' && e.point.step > 0);
    expect(firstPoint).toBeGreaterThan(-1);
    expect(firstPoint).toBeLessThan(firstRun);
    const files = reportFiles(result, { data: summarizeData(data), globalRm: 'train', versions: {} });
    for (const text of Object.values(files)) expect(() => JSON.parse(text)).not.toThrow();
    expect(JSON.parse(files['run.json']).seed).toBe(0);
  });

  it('is deterministic for a seed and changes with it', async () => {
    const a = await runSmall(3);
    const b = await runSmall(3);
    expect(JSON.stringify(b.result.reports)).toBe(JSON.stringify(a.result.reports));
    expect(Array.from(b.result.rPlus)).toEqual(Array.from(a.result.rPlus));
    const c = await runSmall(4);
    expect(JSON.stringify(c.result.reports)).not.toBe(JSON.stringify(a.result.reports));
  });

  it('items tokenized ahead (the worker prepares them before Run) give the same run; a wrong count is refused', async () => {
    const data = await loadSynthetic(0, { scale: 0.2 });
    const model = tinyModel(data);
    const config = resolveConfig({ countries: ['Chile'], steps: 10, evalPoints: 2, efficiency: false });
    const events: ExperimentEvent[] = [];
    const own = await runSession({ data, model, backend: cpuBackend, config, globalRm: 'as-loaded' });
    const ahead = encodeItems(model.tokenizer, data.items, model.params.config);
    const given = await runSession({ data, encoded: ahead, model, backend: cpuBackend, config, globalRm: 'as-loaded', onEvent: (e) => events.push(e) });
    expect(given.encoded).toBe(ahead);
    expect(given.encoded).toEqual(own.encoded);
    expect(JSON.stringify(given.result.reports)).toBe(JSON.stringify(own.result.reports));
    expect(events.some((e) => e.type === 'phase' && /tokenizing/.test(e.label))).toBe(false);
    const short = encodeItems(model.tokenizer, data.items.slice(1), model.params.config);
    await expect(runSession({ data, encoded: short, model, backend: cpuBackend, config, globalRm: 'as-loaded' })).rejects.toThrow(/tokenized items/);
  });

  it('rejects unknown countries with the available list', async () => {
    const data = await loadSynthetic(0, { scale: 0.1 });
    const model = tinyModel(data);
    await expect(
      runSession({ data, model, backend: cpuBackend, config: resolveConfig({ countries: ['Atlantis'] }), globalRm: 'as-loaded' }),
    ).rejects.toThrow(ConfigError);
    await expect(
      runSession({ data, model, backend: cpuBackend, config: resolveConfig({ countries: ['Atlantis'] }), globalRm: 'as-loaded' }),
    ).rejects.toThrow(/Atlantis.*available: .*Chile/);
  });

  it('stops on cancel', async () => {
    const data = await loadSynthetic(0, { scale: 0.1 });
    const model = tinyModel(data);
    const abort = new AbortController();
    abort.abort();
    await expect(
      runSession({
        data,
        model,
        backend: cpuBackend,
        config: resolveConfig({ countries: ['Chile'], steps: 10 }),
        globalRm: 'as-loaded',
        control: { signal: abort.signal },
      }),
    ).rejects.toThrow(CancelledError);
  });
});

describe('config validation', () => {
  it('names the bad field', () => {
    expect(() => resolveConfig({ tau: 2 })).toThrow(/tau/);
    expect(() => resolveConfig({ batch: 0 })).toThrow(/batch/);
    expect(() => resolveConfig({ methods: ['magic' as never] })).toThrow(/unknown method "magic"/);
  });
});

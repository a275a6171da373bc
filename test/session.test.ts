// The whole experiment on a small synthetic set with a tiny model: report schema, invariants, determinism.
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig } from '../src/pipeline/experiment.ts';
import type { ExperimentEvent } from '../src/pipeline/experiment.ts';
import { reportFiles, summarizeData } from '../src/pipeline/report.ts';
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
    for (const c of countries) {
      const s = result.sets[c];
      expect(s.kept).toBeLessThanOrEqual(s.train.length);
      expect(s.edited).toBeLessThanOrEqual(s.test.length);
      expect(r.editedRatios.train[c]).toBeCloseTo(s.kept / s.train.length, 12);
      for (const i of s.train) expect(data.pairs[i].split).toBe('train');
      for (const i of s.test) expect(data.pairs[i].country).toBe(c);
      const scpo = result.runs.find((x) => x.country === c && x.method === 'scpo');
      const full = result.runs.find((x) => x.country === c && x.method === 'full_ft');
      expect(scpo?.trainPairs).toBe(s.kept);
      expect(full?.trainPairs).toBe(s.train.length);
      expect(result.margins[c].scpo?.length).toBe(s.train.length + s.test.length);
      // start's edited accuracy is 0 by construction: the edited set is what the global RM gets wrong.
      expect(r.partial[c].start).toBe(0);
      expect(r.efficiency.countries[c].fullFt.length).toBe(4);
      const e = r.efficiency.countries[c];
      expect(r.efficiency.neverReached.includes(c)).toBe(e.fullFtPairsForScpoAccuracy === null);
    }
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

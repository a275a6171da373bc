// Parallelism: mergeResults on per-country parts and mergeShards on (country, method) shards equal one runExperiment
// on all the countries, and the CLI's --workers 2 (worker threads, src/pipeline/parallel.node.ts) writes the same reports as --workers 1.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { mergeResults, mergeShards, resolveConfig } from '../src/pipeline/experiment.ts';
import type { ExperimentConfig } from '../src/pipeline/experiment.ts';
import { runSession } from '../src/pipeline/session.ts';
import { runSessionParallel } from '../src/pipeline/parallel.node.ts';
import { defaultTrainingThreads } from '../src/pipeline/experiment/shards.ts';
import { tinyModel } from './helpers/tiny-model.ts';

const TSX = join(process.cwd(), 'node_modules/.bin/tsx');

describe('mergeResults', () => {
  it('merges two per-country partial results into the single-run result', async () => {
    const data = await loadSynthetic(0, { scale: 0.3 });
    const model = tinyModel(data);
    // `start` after a trained method: runExperiment still puts start first; the merge keeps each part's order.
    const config = resolveConfig({
      countries: ['Mexico', 'Chile', 'Israel'],
      methods: ['full_ft', 'start', 'scpo', 'inverse'],
      steps: 12,
      evalPoints: 2,
      seed: 5,
    });
    const run = (c: ExperimentConfig) =>
      runSession({ data, model, backend: cpuBackend, config: c, globalRm: 'as-loaded' }).then((o) => o.result);
    const whole = await run(config);
    const a = await run({ ...config, countries: ['Chile'] });
    const b = await run({ ...config, countries: ['Mexico', 'Israel'] });
    a.timings = { trainMs: 10, efficiencyMs: 4, scoreMs: 7 };
    b.timings = { trainMs: 30, efficiencyMs: 1, scoreMs: 2 };
    const merged = mergeResults([a, b], config);

    expect(JSON.stringify(merged.reports)).toBe(JSON.stringify(whole.reports));
    expect(merged.runs.map((r) => `${r.country}/${r.method}`)).toEqual(whole.runs.map((r) => `${r.country}/${r.method}`));
    expect(merged.runs.map((r) => [r.accFull, r.accEdited, r.accMajority, r.trainPairs, r.steps, r.losses])).toEqual(
      whole.runs.map((r) => [r.accFull, r.accEdited, r.accMajority, r.trainPairs, r.steps, r.losses]),
    );
    expect(Object.keys(merged.sets)).toEqual(Object.keys(whole.sets));
    expect(merged.sets).toEqual(whole.sets);
    expect(Object.keys(merged.margins)).toEqual(config.countries);
    for (const c of config.countries) {
      for (const m of config.methods) expect(Array.from(merged.margins[c][m]!)).toEqual(Array.from(whole.margins[c][m]!));
    }
    expect(Array.from(merged.rPlus)).toEqual(Array.from(whole.rPlus));
    expect(Array.from(merged.rMinus)).toEqual(Array.from(whole.rMinus));
    expect(merged.config).toBe(config);
    expect(merged.source).toBe(whole.source);
    expect(merged.backend).toBe(whole.backend);
    expect(merged.timings).toEqual({ trainMs: 30, efficiencyMs: 4, scoreMs: 7, trainMsSum: 40, efficiencyMsSum: 5, parts: 2 });
    expect(() => mergeResults([a], config)).toThrow(/no part ran country "Mexico"/);
  });
});

describe('defaultTrainingThreads', () => {
  it('is one per core but one (a core stays with the page), at least 1 and at most 8', () => {
    expect([undefined, 0, 1, 2, 3, 4, 8, 9, 64, 2.5].map((c) => defaultTrainingThreads(c))).toEqual([1, 1, 1, 1, 2, 3, 7, 8, 8, 1]);
  });
});

describe('mergeShards', () => {
  it('3 shards balanced by (country, method) give exactly the single-run result', async () => {
    const data = await loadSynthetic(0, { scale: 0.3 });
    const model = tinyModel(data);
    const config = resolveConfig({ countries: ['Mexico', 'Chile'], steps: 12, evalPoints: 2, seed: 3, efficiencyFractions: [0.25, 0.5] });
    const run = (shard?: { index: number; of: number }) =>
      runSession({ data, model, backend: cpuBackend, config, globalRm: 'as-loaded', shard }).then((o) => o.result);
    const whole = await run();
    const parts = [await run({ index: 0, of: 3 }), await run({ index: 1, of: 3 }), await run({ index: 2, of: 3 })];
    // Every shard trained something, and no (country, method) run twice.
    for (const p of parts) expect(p.runs.length + (p.efficiencyRuns?.length ?? 0)).toBeGreaterThan(0);
    const keys = parts.flatMap((p) => p.runs.map((r) => `${r.country}/${r.method}`));
    expect(new Set(keys).size).toBe(keys.length);
    // A country's methods are spread over shards (balanced by run, not by country).
    const owners = new Set(parts.map((p, i) => (p.runs.some((r) => r.country === 'Chile' && r.method !== 'start') ? i : -1)).filter((i) => i >= 0));
    expect(owners.size).toBeGreaterThan(1);
    const merged = mergeShards(parts, config);
    expect(JSON.stringify(merged.reports)).toBe(JSON.stringify(whole.reports));
    expect(merged.runs.map((r) => `${r.country}/${r.method}`)).toEqual(whole.runs.map((r) => `${r.country}/${r.method}`));
    expect(merged.runs.map((r) => [r.accFull, r.accEdited, r.accMajority, r.trainPairs, r.steps, r.losses, r.points])).toEqual(
      whole.runs.map((r) => [r.accFull, r.accEdited, r.accMajority, r.trainPairs, r.steps, r.losses, r.points]),
    );
    for (const c of config.countries) {
      for (const m of config.methods) expect(Array.from(merged.margins[c][m]!)).toEqual(Array.from(whole.margins[c][m]!));
    }
    expect(merged.sets).toEqual(whole.sets);
    expect(() => mergeShards(parts.slice(1), config)).toThrow(/no shard ran/);
  });
});

describe('runSessionParallel', () => {
  it('trains shard 0 here and the others in workers from its scores: the one-thread result, also with a retrained global RM', async () => {
    const data = await loadSynthetic(0, { scale: 0.3 });
    const model = tinyModel(data);
    const config = resolveConfig({ countries: ['Mexico', 'Chile'], methods: ['start', 'full_ft', 'scpo', 'inverse'], steps: 12, evalPoints: 2, seed: 3, efficiencyFractions: [0.25, 0.5] });
    // The data and the tiny model are given, so nothing is loaded from `source` (the folder does not exist).
    const source = { data: { kind: 'synthetic' as const, seed: 0 }, modelDir: join(tmpdir(), 'no-such-model'), backend: 'cpu' as const };
    for (const globalRm of ['as-loaded', 'train'] as const) {
      const globalTrain = { steps: 40 };
      const whole = (await runSession({ data, model, backend: cpuBackend, config, globalRm, globalTrain })).result;
      const events: string[] = [];
      const par = (await runSessionParallel({ data, model, source, config, globalRm, globalTrain, onEvent: (e) => events.push(e.type) }, 3)).result;
      expect(par.timings.workers, globalRm).toBe(3);
      expect(JSON.stringify(par.reports), globalRm).toBe(JSON.stringify(whole.reports));
      expect(par.runs.map((r) => [r.country, r.method, r.accFull, r.losses])).toEqual(whole.runs.map((r) => [r.country, r.method, r.accFull, r.losses]));
      expect(Array.from(par.rPlus)).toEqual(Array.from(whole.rPlus));
      expect(par.globalRm).toEqual(whole.globalRm);
      // Every shard's runs reached the caller live.
      expect(events.filter((t) => t === 'run').length).toBe(whole.runs.length);
    }
  });
});

describe('scpo CLI --workers', () => {
  it('writes byte-identical reports with --workers 1 and --workers 2', () => {
    const root = mkdtempSync(join(tmpdir(), 'scpo-workers-'));
    const dirs = { 1: join(root, 'w1'), 2: join(root, 'w2') };
    for (const n of [1, 2] as const) {
      const r = spawnSync(
        TSX,
        [
          'src/pipeline/cli.ts',
          '--data', 'synthetic:0',
          '--countries', 'Chile,Mexico,Israel',
          '--methods', 'start,full_ft,scpo',
          '--steps', '40',
          '--workers', String(n),
          '--out', dirs[n],
        ],
        { encoding: 'utf8', timeout: 300_000 },
      );
      expect(r.status, r.stderr).toBe(0);
    }
    for (const f of ['full_report.json', 'partial_report.json', 'bias_report.json', 'efficiency.json', 'edited_ratios.json']) {
      const one = readFileSync(join(dirs[1], f), 'utf8');
      expect(readFileSync(join(dirs[2], f), 'utf8'), f).toBe(one);
    }
    expect(JSON.parse(readFileSync(join(dirs[2], 'efficiency.json'), 'utf8')).countries.Mexico.fullFt.length).toBe(4);
    const run2 = JSON.parse(readFileSync(join(dirs[2], 'run.json'), 'utf8'));
    expect(run2.timings.workers).toBe(2);
    expect(run2.runs.map((r: { country: string }) => r.country)).toEqual(
      JSON.parse(readFileSync(join(dirs[1], 'run.json'), 'utf8')).runs.map((r: { country: string }) => r.country),
    );
  });

  it('rejects a bad --workers value with exit 2', () => {
    const r = spawnSync(TSX, ['src/pipeline/cli.ts', '--data', 'synthetic', '--workers', '0', '--quiet'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--workers must be an integer/);
  });
});

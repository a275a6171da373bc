// Per-country parallelism: mergeResults on partial results equals one runExperiment on all the countries, and the
// CLI's --workers 2 (worker threads, src/pipeline/parallel.node.ts) writes the same reports as --workers 1.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { mergeResults, resolveConfig } from '../src/pipeline/experiment.ts';
import type { ExperimentConfig } from '../src/pipeline/experiment.ts';
import { splitCountries } from '../src/pipeline/parallel.node.ts';
import { runSession } from '../src/pipeline/session.ts';
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

describe('splitCountries', () => {
  it('balances by weight and keeps the input order inside a group', () => {
    const w: Record<string, number> = { A: 5, B: 1, C: 4, D: 2, E: 3 };
    expect(splitCountries(['A', 'B', 'C', 'D', 'E'], 2, (c) => w[c])).toEqual([['A', 'B', 'D'], ['C', 'E']]);
    expect(splitCountries(['A', 'B'], 4, (c) => w[c])).toEqual([['A'], ['B']]);
    expect(splitCountries(['A', 'B'], 1, (c) => w[c])).toEqual([['A', 'B']]);
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

// No test or validation user of a run may have been trained on by its global RM: the RM's config.json records
// what it was trained on (global.ts provenance) and every session checks it before any work (session.preflight).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { BUNDLED_MODEL_DIR } from '../src/pipeline/cli.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig } from '../src/pipeline/experiment.ts';
import { globalTrainFilter, parseProvenance, PROVENANCE_KEY } from '../src/pipeline/global.ts';
import type { GlobalRmProvenance } from '../src/pipeline/global.ts';
import { reportFiles, summarizeData } from '../src/pipeline/report.ts';
import { preflight, runSession } from '../src/pipeline/session.ts';
import { ConfigError } from '../src/pipeline/types.ts';
import type { PreferenceData } from '../src/pipeline/types.ts';
import { tinyModel } from './helpers/tiny-model.ts';

const countries = ['Chile', 'Mexico'];

/** A provenance for a global RM trained on the pairs `include` selects. */
function provenanceOf(data: PreferenceData, include: (p: PreferenceData['pairs'][number]) => boolean): GlobalRmProvenance {
  const groups = [...new Set(data.pairs.filter(include).map((p) => p.group))].sort();
  return { description: 'test', source: data.source, format: data.format, split: data.split, trainGroups: groups, pairs: 0, steps: 0, inherits: null };
}

describe('global-RM provenance and the held-out overlap check', () => {
  it('refuses a run whose split seed puts users the RM trained on into test; passes a disjoint one', async () => {
    const seed0 = await loadSynthetic(0, { scale: 0.2 }, { seed: 0 });
    const config = resolveConfig({ countries, seed: 0 });
    const prov = provenanceOf(seed0, globalTrainFilter(seed0, 0, config.valFraction));
    const configJson = { [PROVENANCE_KEY]: prov };
    const ok = preflight({ data: seed0, model: { configJson } as never, config });
    expect(ok.leak.testOverlap).toBe(0);
    expect(ok.leak.valOverlap).toBe(0);
    expect(ok.leak.testGroups).toBeGreaterThan(0);
    expect(ok.leak.valGroups).toBeGreaterThan(0);
    // Another split seed: the RM's train users now include test users of the run.
    const seed1 = await loadSynthetic(0, { scale: 0.2 }, { seed: 1 });
    expect(() => preflight({ data: seed1, model: { configJson } as never, config: { ...config, seed: 1 } })).toThrow(ConfigError);
    expect(() => preflight({ data: seed1, model: { configJson } as never, config: { ...config, seed: 1 } })).toThrow(/trained on [1-9]\d* of this run's/);
    // Trained on validation users too (the plain train split): refused, sweeps would choose on seen users.
    const withVal = { [PROVENANCE_KEY]: provenanceOf(seed0, (p) => p.split === 'train') };
    expect(() => preflight({ data: seed0, model: { configJson: withVal } as never, config })).toThrow(/0 of this run's \d+ test and [1-9]\d* of its/);
    // An ancestor's users count too (a retrained head on embeddings that saw them).
    const inherited = { [PROVENANCE_KEY]: { ...prov, trainGroups: [], inherits: provenanceOf(seed1, (p) => p.split === 'train') } };
    expect(() => preflight({ data: seed0, model: { configJson: inherited } as never, config })).toThrow(ConfigError);
    // No record: unknown, not refused, and said so (null overlaps).
    const none = preflight({ data: seed1, model: { configJson: {} } as never, config: { ...config, seed: 1 } });
    expect(none.leak.testOverlap).toBeNull();
    expect(none.leak.provenance).toBeNull();
  });

  it('writes the overlap (0) and the provenance into run.json, and checks before training the global RM', async () => {
    const data = await loadSynthetic(0, { scale: 0.2 }, { seed: 2 });
    const model = tinyModel(data);
    const config = resolveConfig({ countries: ['Chile'], seed: 2, steps: 5, efficiency: false, methods: ['start', 'scpo'] });
    const { result } = await runSession({ data, model, backend: cpuBackend, config, globalRm: 'train', globalTrain: { steps: 20 } });
    const run = JSON.parse(reportFiles(result, { data: summarizeData(data), globalRm: 'train', versions: {} })['run.json']);
    expect(run.globalRmTraining.testOverlap).toBe(0);
    expect(run.globalRmTraining.valOverlap).toBe(0);
    expect(run.globalRmTraining.provenance.source).toBe('synthetic:0');
    // The retrained RM saw exactly the run's train users minus validation.
    const expected = new Set(data.pairs.filter(globalTrainFilter(data, 2, config.valFraction)).map((p) => p.group));
    expect(run.globalRmTraining.provenance.trainGroups).toBe(expected.size);
    // A leaking loaded model is refused before the (slow) global training starts: no event at all.
    const leaky = { ...model, configJson: { ...model.configJson, [PROVENANCE_KEY]: provenanceOf(data, () => true) } };
    const events: unknown[] = [];
    await expect(
      runSession({ data, model: leaky, backend: cpuBackend, config, globalRm: 'train', onEvent: (e) => events.push(e) }),
    ).rejects.toThrow(ConfigError);
    expect(events).toEqual([]);
  });

  const hasModel = existsSync(join(BUNDLED_MODEL_DIR, 'config.json'));
  it.skipIf(!hasModel)('the bundled global RM saw no user of synthetic:0 under any split seed, and is refused on its own data', async () => {
    const configJson = JSON.parse(readFileSync(join(BUNDLED_MODEL_DIR, 'config.json'), 'utf8'));
    const prov = parseProvenance(configJson);
    expect(prov?.source).toBe('synthetic:1000');
    for (const seed of [0, 1, 2, 3, 4]) {
      const data = await loadSynthetic(0, undefined, { seed });
      const { leak } = preflight({ data, model: { configJson } as never, config: { seed } });
      expect(leak.testOverlap).toBe(0);
      expect(leak.valOverlap).toBe(0);
    }
    const own = await loadSynthetic(1000, undefined, { seed: 0 });
    expect(() => preflight({ data: own, model: { configJson } as never, config: {} })).toThrow(/trained on [1-9]/);
  });
});

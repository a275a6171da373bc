// The `--rm use-lite` session end to end on the small PRISM fixture: onnxruntime-web encodes only the needed items
// (and agrees with the plain-TS forward on joint, padded sequences), the global head trains on pooled TRAINING users
// only (provenance recorded), the feature cache makes a second session encode nothing, and an exported country RM
// reloaded in onnxruntime-web scores within 1e-4 of the trainer. Uses the model folder built by `npm install`.
// CI cost: ~10-20 s CPU (the ORT encoder over ~200 fixture texts dominates).
import { globalTrainFilter } from '../src/pipeline/global.ts';
import { validationGroups } from '../src/pipeline/data/split.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { jsMatOps } from '../src/gpu/matops.ts';
import { loadDataPath } from '../src/pipeline/data/node.ts';
import { DEFAULT_CONFIG, optimizerConfig, resolveConfig } from '../src/pipeline/experiment.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import type { BagRMParams } from '../src/pipeline/rm/types.ts';
import { loadUseLite, useLiteCountryRMFiles, type LoadedUseLite } from '../src/pipeline/rm/use-lite/files.ts';
import { FeatureCache, frozenHead, matOpsEncoder, type UseLiteEncoder } from '../src/pipeline/rm/use-lite/frozen.ts';
import { encodeUseItems } from '../src/pipeline/rm/use-lite/tokenizer.ts';
import type { PreferenceData } from '../src/pipeline/types.ts';
import { ortEncoder, USE_LITE_MODEL_DIR } from '../src/pipeline/use-lite-cli.node.ts';
import { cacheKeyOf, estimateUseLite, globalSample, neededItems, runUseLiteSession } from '../src/pipeline/use-lite-session.ts';
import { OrtScorer } from '../src/workers/ort-scorer.ts';
import { parseCli } from '../src/pipeline/cli.ts';

let model: LoadedUseLite;
let data: PreferenceData;
let ort: { encoder: UseLiteEncoder; release(): Promise<void> };

beforeAll(async () => {
  model = await loadUseLite(dirReader(USE_LITE_MODEL_DIR), { weights: true });
  data = await loadDataPath('e2e/fixtures/prism', undefined, { seed: 0 });
  ort = await ortEncoder(model, 128, 1);
}, 400_000);
afterAll(async () => ort?.release());

/** Counts the items an encoder is asked for. */
function counting(e: UseLiteEncoder): UseLiteEncoder & { asked: number } {
  const c = {
    name: e.name,
    asked: 0,
    embed(items: Parameters<UseLiteEncoder['embed']>[0], idx: Int32Array) {
      c.asked += idx.length;
      return e.embed(items, idx);
    },
  };
  return c;
}

describe('USE-lite session (frozen encoder + trained heads)', () => {
  it('onnxruntime-web embeds joint, padded sequences like the plain-TS forward (1e-4)', async () => {
    const enc = encodeUseItems(model.tokenizer, data.items, 128);
    // Mixed lengths in one ORT batch; a 16-token cap forces prompt truncation on some.
    for (const maxLen of [128, 16]) {
      const idx = Int32Array.from({ length: 12 }, (_, i) => i * 17);
      const a = await (maxLen === 128 ? ort.encoder : (await ortEncoder(model, maxLen, 1)).encoder).embed(enc, idx);
      const b = await matOpsEncoder(model.params!, jsMatOps, maxLen).embed(enc, idx);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst, `maxLen ${maxLen}`).toBeLessThan(1e-4);
    }
  }, 400_000);

  it('trains the global head on pooled training pairs only and encodes only the items the run needs', async () => {
    const config = resolveConfig({ ...DEFAULT_CONFIG, countries: ['Chile'], majority: ['Mexico'], methods: ['start', 'full_ft', 'scpo'], steps: 40, efficiency: false });
    const enc = counting(ort.encoder);
    const models: Record<string, BagRMParams> = {};
    const cache = new FeatureCache(cacheKeyOf(model, 128));
    const out = await runUseLiteSession({
      data,
      model,
      encoder: enc,
      backend: cpuBackend,
      config,
      globalTrain: { maxPairs: 120 },
      cache,
      onModel: (c, m, p) => void (models[`${c}/${m}`] = p),
    });
    const sample = globalSample(data.pairs.filter(globalTrainFilter(data, config.seed, config.valFraction)), 120, config.seed);
    expect(sample.length).toBe(120);
    expect(sample.every((p) => p.split === 'train')).toBe(true);
    // No validation user either, and the session's leak check says so.
    const val = validationGroups(data.pairs, data.split.rule, config.seed, config.valFraction);
    expect(sample.some((p) => val.has(p.group))).toBe(false);
    expect(out.result.globalRm?.testOverlap).toBe(0);
    expect(out.result.globalRm?.valOverlap).toBe(0);
    const need = neededItems(data.pairs, ['Chile'], ['Mexico'], sample);
    expect(need.length).toBeLessThan(data.items.length);
    expect(out.features.items).toBe(need.length);
    expect(enc.asked).toBe(out.features.distinct);
    const g = out.rmInfo.globalRm as Record<string, unknown>;
    expect(g).toMatchObject({ pairs: 120, splitSeed: 0, trainedOn: expect.stringMatching(/training users/) });
    expect(g.steps).toBeGreaterThan(0);
    expect(out.result.config.freezeEmbeddings).toBe(true);
    expect(out.result.runs.map((r) => r.method).sort()).toEqual(['full_ft', 'scpo', 'start']);
    for (const r of out.result.runs) expect(r.accFull).toBeGreaterThanOrEqual(0);

    // Same model and maxLen: a second session finds every sequence in the cache and encodes nothing.
    const again = counting(ort.encoder);
    const out2 = await runUseLiteSession({ data, model, encoder: again, backend: cpuBackend, config, globalTrain: { maxPairs: 120 }, cache });
    expect(again.asked).toBe(0);
    expect(out2.features.cached).toBe(out2.features.distinct);
    expect(out2.result.reports.full).toEqual(out.result.reports.full);

    // Export the Chile scpo RM; reloaded in onnxruntime-web it scores like the trainer (1e-4).
    const params = models['Chile/scpo'];
    expect(params).toBeDefined();
    const files = useLiteCountryRMFiles(model.params!, model.tokenizerJson, frozenHead(params), { country: 'Chile', method: 'scpo', global: g });
    const cfgJson = JSON.parse(new TextDecoder().decode(files['config.json'])) as { head: string; scpo: Record<string, unknown> };
    expect(cfgJson.head).toBe('mlp');
    expect(cfgJson.scpo).toMatchObject({ country: 'Chile', base_model: 'scpo-use-lite-rm' });
    expect(files['model.safetensors']).toBeUndefined();
    const scorer = await OrtScorer.create(files['onnx/model.onnx'], { prefer: 'wasm', numThreads: 1, model: { kind: 'use-lite', maxLen: 128 } });
    try {
      const chileTest = data.pairs.filter((p) => p.country === 'Chile' && p.split === 'test').flatMap((p) => [p.chosen, p.rejected]);
      const idx = Int32Array.from(new Set(chileTest));
      expect(idx.length).toBeGreaterThan(4);
      const useEnc = encodeUseItems(model.tokenizer, data.items, 128);
      const fromOnnx = await scorer.score(useEnc, idx);
      const trainer = await cpuBackend.createTrainer(params, optimizerConfig(config));
      const fromTrainer = await trainer.score(out.encoded, idx);
      trainer.dispose();
      let worst = 0;
      for (let i = 0; i < idx.length; i++) worst = Math.max(worst, Math.abs(fromOnnx[i] - fromTrainer[i]));
      expect(worst).toBeLessThan(1e-4);
      // Not trivially equal: the scores vary across items.
      expect(Math.max(...fromOnnx) - Math.min(...fromOnnx)).toBeGreaterThan(1e-3);
    } finally {
      await scorer.release();
    }
  }, 400_000);

  it('CLI: --rm picks the reward model; bad combinations are one clear line', () => {
    expect(parseCli(['--data', 'synthetic']).rm).toBe('bag');
    expect(parseCli(['--data', 'synthetic', '--rm', 'use-lite']).rm).toBe('use-lite');
    expect(parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--feature-cache', 'none']).featureCache).toBeNull();
    expect(() => parseCli(['--data', 'synthetic', '--rm', 'bert'])).toThrow(/--rm must be bag or use-lite, got "bert"/);
    expect(() => parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--workers', '2'])).toThrow(/--workers > 1 is not supported with --rm use-lite/);
    expect(() => parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--global-rm', '/tmp/x'])).toThrow(/global head is always trained/);
  });

  it('estimates the encoder work before a run from characters: the needed distinct texts, FLOPs and time', () => {
    const sample = globalSample(data.pairs, 4000, 0);
    const need = neededItems(data.pairs, ['Chile'], ['Mexico'], sample);
    const e1 = estimateUseLite(data.items, data.pairs, ['Chile'], ['Mexico'], { threads: 1 });
    const distinct = new Set(Array.from(need, (k) => `${data.items[k].prompt}\u0000${data.items[k].response}`)).size;
    expect(e1.items).toBe(distinct);
    // Within 25% of the real token count of those texts (the estimate reads characters, not the tokenizer).
    const enc = encodeUseItems(model.tokenizer, data.items, 128);
    let real = 0;
    const seen = new Set<string>();
    for (const k of need) {
      const key = `${data.items[k].prompt}\u0000${data.items[k].response}`;
      if (seen.has(key)) continue;
      seen.add(key);
      real += Math.min(128, 1 + enc.promptOffsets[k + 1] - enc.promptOffsets[k] + enc.responseOffsets[k + 1] - enc.responseOffsets[k]);
    }
    expect(Math.abs(e1.tokens - real) / real).toBeLessThan(0.25);
    expect(e1.gflop).toBeGreaterThan((real * 9.3e6) / 1e9 * 0.7);
    const e2 = estimateUseLite(data.items, data.pairs, ['Chile'], ['Mexico'], { threads: 2 });
    expect(e2.seconds).toBeCloseTo(e1.seconds / 2, 6);
  });
});

// Country-RM export: a few cpu-trainer steps through the experiment's onModel hook, the compact ModelStore,
// the HF-layout files, then the exported ONNX reloaded in onnxruntime-web (Node, wasm EP) and by loadBagRM.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { cpuBackend } from '../../gpu/cpu/trainer.ts';
import { BUNDLED_MODEL_DIR } from '../cli.ts';
import { loadSynthetic } from '../data/index.ts';
import { optimizerConfig, resolveConfig, runExperiment } from '../experiment.ts';
import type { Method } from '../types.ts';
import { cloneParams, initBagRM } from './bag.ts';
import { countryRMFiles, modelStem } from './export.ts';
import { CONFIG_FILE, loadBagRM, memoryReader, MODEL_FILES, ONNX_FILE } from './files.ts';
import { dirReader } from './files.node.ts';
import { ModelStore } from './model-store.ts';
import { encodeForOnnx } from './onnx.ts';
import { encodeItems } from './tokenizer.ts';
import type { BagRMParams } from './types.ts';

ort.env.wasm.numThreads = 1;

async function onnxLogits(bytes: Uint8Array, items: Parameters<typeof encodeForOnnx>[0], idx: Int32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const b = encodeForOnnx(items, idx);
    const t = (a: BigInt64Array) => new ort.Tensor('int64', a, [b.batch, b.seq]);
    const out = await session.run({ input_ids: t(b.input_ids), attention_mask: t(b.attention_mask), token_type_ids: t(b.token_type_ids) });
    return out.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Bitwise equality of two param sets (vitest's deep equality walks a 3M-element table slowly). */
function sameParams(a: BagRMParams, b: BagRMParams): boolean {
  const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return JSON.stringify(a.config) === JSON.stringify(b.config) && (['E', 'W1', 'b1', 'W2', 'b2'] as const).every((k) => bytes(a[k]).equals(bytes(b[k])));
}

describe('country RM export', () => {
  it('trained params -> HF files: ONNX logits equal the trainer forward within 1e-4, and loadBagRM reads them', async () => {
    const base = await loadBagRM(dirReader(BUNDLED_MODEL_DIR));
    const data = await loadSynthetic(0, { scale: 0.25 });
    const encoded = encodeItems(base.tokenizer, data.items, base.params.config);
    const config = resolveConfig({ countries: ['Chile'], methods: ['start', 'scpo', 'full_ft'], steps: 6, evalPoints: 0, efficiency: false });
    const store = new ModelStore(base.params);
    const raw = new Map<string, BagRMParams>();
    await runExperiment({
      data,
      encoded,
      globalParams: base.params,
      backend: cpuBackend,
      config,
      onModel: (c, m, p) => {
        raw.set(`${c}/${m}`, cloneParams(p));
        store.put(c, m, p);
      },
    });
    // Only trained main runs arrive ('start' trains nothing).
    expect([...raw.keys()].sort()).toEqual(['Chile/full_ft', 'Chile/scpo']);
    const trained = store.get('Chile', 'scpo') as BagRMParams;
    expect(sameParams(trained, raw.get('Chile/scpo') as BagRMParams)).toBe(true);
    expect(trained.W1).not.toEqual(base.params.W1);
    // Lazy Adam touched only the batches' rows: the store keeps a small fraction of E.
    expect(store.bytes()).toBeLessThan(base.params.E.byteLength / 4);

    const files = countryRMFiles(trained, base, { country: 'Chile', method: 'scpo' as Method });
    expect(Object.keys(files).sort()).toEqual([...MODEL_FILES].sort());
    const cfg = JSON.parse(new TextDecoder().decode(files[CONFIG_FILE]));
    expect(cfg).toMatchObject({ model_type: 'scpo-bag', scpo: { country: 'Chile', method: 'scpo' } });
    expect(cfg['transformers.js_config']).toEqual(base.configJson['transformers.js_config']);

    // The trainer's own forward pass on the trained params vs onnxruntime-web on the exported file.
    const idx = Int32Array.from({ length: Math.min(300, encoded.count) }, (_, i) => (i * 7) % encoded.count);
    const trainer = await cpuBackend.createTrainer(trained, optimizerConfig(config));
    const want = await trainer.score(encoded, idx);
    trainer.dispose();
    const got = await onnxLogits(files[ONNX_FILE], encoded, idx);
    let maxErr = 0;
    for (let i = 0; i < idx.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
    expect(maxErr).toBeLessThan(1e-4);

    const back = await loadBagRM(memoryReader(files));
    expect(sameParams(back.params, trained)).toBe(true);
    expect(back.tokenizer.encode('hello world', { add_special_tokens: false })).toEqual(
      base.tokenizer.encode('hello world', { add_special_tokens: false }),
    );
  });

  it('ModelStore round-trips exactly, keeps only changed rows, and rejects other shapes', () => {
    const cfg = { vocabSize: 50, dim: 4, hidden: 3, maxPromptTokens: 4, maxResponseTokens: 4 };
    const E = Float32Array.from({ length: 200 }, (_, i) => Math.sin(i));
    const b = initBagRM(E, cfg, 1);
    const s = new ModelStore(b);
    const p = cloneParams(b);
    p.E[4 * 7 + 2] += 0.5;
    p.E[4 * 31] = 123;
    p.W2[1] = 9;
    s.put('X', 'scpo', p);
    expect(s.get('X', 'scpo')).toEqual(p);
    expect(s.get('X', 'full_ft')).toBeNull();
    expect(s.keys()).toEqual([{ country: 'X', method: 'scpo' }]);
    expect(s.bytes()).toBe(2 * 4 + 2 * 4 * 4 + (8 * 3 + 3 + 3 + 1) * 4);
    expect(s.baseCopy()).toEqual(b);
    const other = initBagRM(new Float32Array(51 * 4), { ...cfg, vocabSize: 51 }, 1);
    expect(() => s.put('X', 'scpo', other)).toThrow(/differs from the base RM/);
    expect(modelStem('New Zealand', 'scpo')).toBe('scpo-rm_new-zealand_scpo');
    expect(modelStem('Côte d’Ivoire', 'full_ft')).toBe('scpo-rm_cote-d-ivoire_full_ft');
  });
});

// The policy's ONNX export run by onnxruntime-web (wasm EP, in Node): logits equal the CPU forward within 1e-4,
// the HF-layout folder round-trips, and sampling through ORT gives the CPU sampler's tokens for the same seed.
import { describe, expect, it } from 'vitest';
import { memoryReader } from '../rm/files.ts';
import { appendResponseExamples, emptyExamples, lmLogits, toLmBatch, type LmBatch } from './lm.ts';
import { MlpLmPolicy } from './mlp-policy.ts';
import { exportPolicyOnnx, importPolicyOnnx, loadPolicy, policyFiles } from './onnx.ts';
import { OrtPolicy } from './ort-policy.ts';
import { tinyBatch, tinyModel, tinyVocab } from '../../../test/helpers/policy.ts';
import { resolveSampling } from './types.ts';

function rowsOf(b: LmBatch, k: number) {
  return Array.from({ length: b.n }, (_, i) => ({
    ctx: b.ctx.subarray(i * k, i * k + k),
    prompt: b.promptIds.subarray(b.promptOffsets[i], b.promptOffsets[i + 1]),
  }));
}

describe('policy ONNX export', () => {
  it('onnxruntime-web logits = CPU logits (within 1e-4), including empty prompts', async () => {
    const p = tinyModel(21, { dim: 12, context: 3, hidden: 16 });
    const vocab = tinyVocab();
    const e = emptyExamples();
    appendResponseExamples(vocab, 3, [], [2, 3, 0], e); // empty prompt
    appendResponseExamples(vocab, 3, [8, 9, 10, 4], [4, 5, 6, 2, 2, 0], e);
    const extra = tinyBatch(vocab, 3, 33, 6);
    const b = toLmBatch({
      ctx: [...e.ctx, ...extra.ctx],
      promptIds: [...e.promptIds, ...extra.promptIds],
      promptOffsets: [...e.promptOffsets, ...Array.from(extra.promptOffsets.subarray(1), (o) => o + e.promptIds.length)],
      target: [...e.target, ...extra.target],
    });
    const ort = await OrtPolicy.create(exportPolicyOnnx(p), p.config, vocab);
    const got = await ort.logits(rowsOf(b, 3));
    const want = lmLogits(p, b);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    console.log(`ORT vs CPU policy logits: ${b.n} rows x ${p.config.vocabOut}, max abs diff ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    ort.dispose();
  });

  it('round-trips through the HF-layout folder', async () => {
    const p = tinyModel(22);
    const vocab = tinyVocab();
    const files = policyFiles(p, vocab, { note: 'test' });
    const loaded = await loadPolicy(memoryReader(files));
    expect(loaded.vocab.inWords).toEqual(vocab.inWords);
    expect(loaded.vocab.outWords).toEqual(vocab.outWords);
    for (const k of ['E', 'W1', 'b1', 'W2', 'b2'] as const) expect(Array.from(loaded.params[k])).toEqual(Array.from(p[k]));
    expect(() => importPolicyOnnx(files['onnx/model.onnx'], { ...p.config, hidden: 3 })).toThrow(/W1 has shape/);
    const broken = { ...files, 'config.json': new TextEncoder().encode('{"model_type":"bert"}') };
    await expect(loadPolicy(memoryReader(broken))).rejects.toThrow(/model_type/);
    await expect(loadPolicy(memoryReader({}))).rejects.toThrow(/policy file .* could not be read/);
  });

  it('ORT sampling gives the CPU sampler\'s tokens for the same seed', async () => {
    const p = tinyModel(23);
    const vocab = tinyVocab();
    const cpu = new MlpLmPolicy(p, vocab);
    const ort = await OrtPolicy.create(exportPolicyOnnx(p), p.config, vocab);
    for (const seed of [1, 2, 3]) {
      const o = resolveSampling({ seed, maxTokens: 12, temperature: 1 });
      const a = await cpu.generate('what do you think', o);
      const b = await ort.generate('what do you think', o);
      expect(b.tokens).toEqual(a.tokens);
      expect(b.text).toBe(a.text);
    }
    ort.dispose();
  });
});

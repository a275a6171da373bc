// Tests of scripts/build-models.ts on the real wink file: vocabulary and embedding rows, loadability, idempotent re-runs.
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBaseModel, main } from '../../../scripts/build-models.ts';
import { openWink } from '../../../scripts/lib/wink.ts';
import { loadBagRM, memoryReader } from './files.ts';
import { exportBagRMOnnx } from './onnx.ts';
import { dirReader } from './files.node.ts';
import { encodeItems } from './tokenizer.ts';

describe('build-models', () => {
  it('builds a GloVe bag RM: specials first, wink rows copied, [UNK] = mean, extras appended', async () => {
    const wink = await openWink();
    const m = await buildBaseModel({ wink, vocabWords: 500, extraWords: ['Chile', 'qxzvbnwk-kjhgfpoiu', 'the'], hidden: 8 });
    const { config, E } = m.params;
    const D = config.dim;
    expect(D).toBe(100);
    expect(m.vocab.slice(0, 4)).toEqual(['[PAD]', '[UNK]', '[SEP]', 'the']);
    // 500 words + chile + qxzvbnwk + kjhgfpoiu ("-" and "the" are already in)
    expect(config.vocabSize).toBe(503 + 3);
    expect(m.vocab.slice(-3)).toEqual(['chile', 'qxzvbnwk', 'kjhgfpoiu']);
    expect(m.missingExtras).toEqual(['qxzvbnwk', 'kjhgfpoiu']);
    expect(Array.from(E.subarray(0, D)).every((x) => x === 0)).toBe(true);
    const theVec = wink.vectors(new Set(['the'])).get('the')!;
    expect(E.subarray(3 * D, 4 * D)).toEqual(theVec);
    const unk = E.subarray(D, 2 * D);
    expect(Math.abs(unk[0])).toBeGreaterThan(0);
    expect(E.subarray((config.vocabSize - 1) * D, config.vocabSize * D)).toEqual(unk);
    // Only words the tokenizer can produce: no inner punctuation.
    expect(m.vocab.some((w) => /\w[-'.]\w/.test(w))).toBe(false);
    const loaded = await loadBagRM(memoryReader(m.files));
    const enc = encodeItems(loaded.tokenizer, [{ prompt: 'The CHILE qxzvbnwk', response: 'qwertyuiop' }], config);
    expect(Array.from(enc.promptIds)).toEqual([3, 503, 504]);
    expect(Array.from(enc.responseIds)).toEqual([1]);
  });

  it('writes the public/ tree once and then skips; --force rebuilds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scpo-build-'));
    try {
      await main(['--public', dir], { vocabWords: 300, hidden: 4 });
      for (const f of ['models/scpo-glove-rm/onnx/model.onnx', 'ort/ort-wasm-simd-threaded.jsep.wasm', 'ort/transformers/ort-wasm-simd-threaded.asyncify.wasm']) {
        expect((await stat(join(dir, f))).size).toBeGreaterThan(1000);
      }
      const m = await loadBagRM(dirReader(join(dir, 'models/scpo-glove-rm')));
      expect(m.params.config.hidden).toBe(4);
      // The studio keeps only the parsed bundled model and re-exports its ONNX bytes for each scoring worker
      // (src/workers/experiment.worker.ts): the file must be exactly that export, or the scores would differ.
      const file = await readFile(join(dir, 'models/scpo-glove-rm/onnx/model.onnx'));
      expect(Buffer.compare(file, Buffer.from(exportBagRMOnnx(m.params)))).toBe(0);
      // Both onnxruntime-web builds the studio loads: the JSEP one for WebGPU sessions, the wasm-only one otherwise.
      for (const f of ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) {
        expect((await stat(join(dir, 'ort', f))).size).toBeGreaterThan(1000);
      }
      const manifest = join(dir, 'models/scpo-glove-rm/.build.json');
      const before = await readFile(manifest, 'utf8');
      const t0 = performance.now();
      await main(['--public', dir], { vocabWords: 300, hidden: 4 });
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(await readFile(manifest, 'utf8')).toBe(before);
      // A damaged file triggers a rebuild of its folder only.
      await rm(join(dir, 'ort/ort-wasm-simd-threaded.jsep.wasm'));
      await main(['--public', dir], { vocabWords: 300, hidden: 4 });
      expect((await stat(join(dir, 'ort/ort-wasm-simd-threaded.jsep.wasm'))).size).toBeGreaterThan(1000);
      expect(await readFile(manifest, 'utf8')).toBe(before);
      await main(['--public', dir, '--force'], { vocabWords: 300, hidden: 4 });
      expect(await readFile(manifest, 'utf8')).not.toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

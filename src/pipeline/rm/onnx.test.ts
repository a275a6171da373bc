// Tests of the ONNX export (run with onnxruntime-web's wasm EP in Node), import round-trip and the HF-layout loader.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { initBagRM, scoreItems } from './bag.ts';
import { bagRMFiles, CONFIG_FILE, loadBagRM, memoryReader, ONNX_FILE, TOKENIZER_FILE } from './files.ts';
import { encodeForOnnx, exportBagRMOnnx, importBagRMOnnx, readOnnxConfig } from './onnx.ts';
import { buildTokenizerConfig, buildTokenizerJson, encodeItems, loadTokenizer } from './tokenizer.ts';
import { Rng } from '../rng.ts';
import type { BagRMConfig, BagRMParams, EncodedItems } from './types.ts';

ort.env.wasm.numThreads = 1;

const WORDS = Array.from({ length: 37 }, (_, i) => `w${i}`);
const CFG: BagRMConfig = { vocabSize: WORDS.length + 3, dim: 16, hidden: 12, maxPromptTokens: 9, maxResponseTokens: 11 };

function params(seed: number, cfg = CFG): BagRMParams {
  const rng = new Rng(seed);
  const E = new Float32Array(cfg.vocabSize * cfg.dim);
  for (let i = cfg.dim; i < E.length; i++) E[i] = rng.normal();
  const p = initBagRM(E, cfg, seed);
  for (let i = 0; i < p.b1.length; i++) p.b1[i] = rng.normal() * 0.3;
  p.b2[0] = -0.25;
  return p;
}

function randomItems(seed: number, n: number): EncodedItems {
  const rng = new Rng(seed);
  const po = [0];
  const ro = [0];
  const pi: number[] = [];
  const ri: number[] = [];
  for (let i = 0; i < n; i++) {
    const lp = i === 0 || i === 2 ? 0 : rng.int(CFG.maxPromptTokens + 1);
    const lr = i === 1 || i === 2 ? 0 : rng.int(CFG.maxResponseTokens + 1);
    for (let t = 0; t < lp; t++) pi.push(1 + rng.int(CFG.vocabSize - 1));
    for (let t = 0; t < lr; t++) ri.push(1 + rng.int(CFG.vocabSize - 1));
    po.push(pi.length);
    ro.push(ri.length);
  }
  return { count: n, promptOffsets: Int32Array.from(po), promptIds: Int32Array.from(pi), responseOffsets: Int32Array.from(ro), responseIds: Int32Array.from(ri) };
}

async function runOnnx(bytes: Uint8Array, items: EncodedItems, indices?: Int32Array): Promise<{ dims: readonly number[]; data: Float32Array }> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const b = encodeForOnnx(items, indices);
  const t = (a: BigInt64Array) => new ort.Tensor('int64', a, [b.batch, b.seq]);
  const out = await session.run({ input_ids: t(b.input_ids), attention_mask: t(b.attention_mask), token_type_ids: t(b.token_type_ids) });
  await session.release();
  const logits = out.logits;
  return { dims: logits.dims, data: logits.data as Float32Array };
}

describe('encodeForOnnx', () => {
  it('lays out prompt (type 0) then response (type 1), right-padded with mask 0', () => {
    const items: EncodedItems = {
      count: 3,
      promptOffsets: Int32Array.from([0, 2, 2, 3]),
      promptIds: Int32Array.from([5, 6, 7]),
      responseOffsets: Int32Array.from([0, 1, 4, 4]),
      responseIds: Int32Array.from([8, 9, 10, 11]),
    };
    const b = encodeForOnnx(items);
    expect([b.batch, b.seq]).toEqual([3, 3]);
    expect(Array.from(b.input_ids, Number)).toEqual([5, 6, 8, 9, 10, 11, 7, 0, 0]);
    expect(Array.from(b.attention_mask, Number)).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0]);
    expect(Array.from(b.token_type_ids, Number)).toEqual([0, 0, 1, 1, 1, 1, 0, 0, 0]);
    const sub = encodeForOnnx(items, Int32Array.of(2));
    expect([sub.batch, sub.seq]).toEqual([1, 1]);
  });

  it('matches what the tokenizer gives for a (prompt, response) text pair', () => {
    const tok = loadTokenizer(buildTokenizerJson(WORDS), buildTokenizerConfig(64));
    const texts = [
      { prompt: 'w1 w2 w3', response: 'w4 nope' },
      { prompt: 'w5', response: 'w6 w7 w8 w9' },
    ];
    const b = encodeForOnnx(encodeItems(tok, texts, CFG));
    const hf = tok(
      texts.map((t) => t.prompt),
      { text_pair: texts.map((t) => t.response), padding: true, return_token_type_ids: true, return_tensor: false },
    ) as unknown as Record<string, number[][]>;
    expect(Array.from(b.input_ids, Number)).toEqual(hf.input_ids.flat());
    expect(Array.from(b.attention_mask, Number)).toEqual(hf.attention_mask.flat());
    expect(Array.from(b.token_type_ids, Number)).toEqual(hf.token_type_ids.flat());
  });
});

describe('ONNX export', () => {
  it('onnxruntime-web logits equal scoreItems within 1e-4, incl. empty prompt / response / both', async () => {
    const p = params(1);
    const items = randomItems(2, 40);
    const bytes = exportBagRMOnnx(p);
    const { dims, data } = await runOnnx(bytes, items);
    expect(dims).toEqual([40, 1]);
    const want = scoreItems(p, items);
    let maxErr = 0;
    for (let i = 0; i < 40; i++) maxErr = Math.max(maxErr, Math.abs(data[i] - want[i]));
    expect(maxErr).toBeLessThan(1e-4);
    // Item 2 has no tokens at all: score = b2 + relu(b1) . W2.
    let bare = p.b2[0];
    for (let j = 0; j < CFG.hidden; j++) bare += Math.max(p.b1[j], 0) * p.W2[j];
    expect(data[2]).toBeCloseTo(bare, 5);
    // A batch of only empty items (seq padded to 1) and a subset selection.
    const only = await runOnnx(bytes, items, Int32Array.of(2, 2));
    expect(only.data[0]).toBeCloseTo(bare, 5);
    const sub = await runOnnx(bytes, items, Int32Array.of(7, 0, 1));
    const wantSub = scoreItems(p, items, Int32Array.of(7, 0, 1));
    for (let i = 0; i < 3; i++) expect(Math.abs(sub.data[i] - wantSub[i])).toBeLessThan(1e-4);
  });

  it('import(export(p)) reproduces p exactly', () => {
    const p = params(3);
    const bytes = exportBagRMOnnx(p);
    const q = importBagRMOnnx(bytes, CFG);
    expect(q).toEqual(p);
    expect(readOnnxConfig(bytes)).toEqual(CFG);
  });

  it('import names the tensor when shapes do not match the config', () => {
    const bytes = exportBagRMOnnx(params(3));
    expect(() => importBagRMOnnx(bytes, { ...CFG, hidden: 13 })).toThrow(/model\.onnx: initializer W1 has shape \[32, 12\], config\.json implies \[32, 13\]/);
    expect(() => importBagRMOnnx(bytes, { ...CFG, vocabSize: 41 })).toThrow(/initializer E/);
    expect(() => importBagRMOnnx(new Uint8Array([1, 2, 3, 4, 5]), CFG)).toThrow(/model\.onnx/);
  });
});

describe('HF layout', () => {
  const files = (): Record<string, Uint8Array> => bagRMFiles(params(4), buildTokenizerJson(WORDS), buildTokenizerConfig(64));

  it('loadBagRM reads back params and a working tokenizer', async () => {
    const f = files();
    expect(Object.keys(f).sort()).toEqual(['config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    const cfgJson = JSON.parse(new TextDecoder().decode(f[CONFIG_FILE]));
    expect(cfgJson).toMatchObject({ architectures: ['ScpoBagRewardModel'], model_type: 'scpo-bag', num_labels: 1, ...CFG });
    const m = await loadBagRM(memoryReader(f));
    expect(m.params).toEqual(params(4));
    const enc = encodeItems(m.tokenizer, [{ prompt: 'w1 W2 nope', response: 'w36' }], CFG);
    expect(Array.from(enc.promptIds)).toEqual([4, 5, 1]);
    expect(Array.from(enc.responseIds)).toEqual([39]);
  });

  it('errors name the missing or inconsistent file', async () => {
    const f = files();
    const missing = { ...f };
    delete missing[ONNX_FILE];
    await expect(loadBagRM(memoryReader(missing))).rejects.toThrow(/onnx\/model\.onnx could not be read/);
    const noTok = { ...f };
    delete noTok[TOKENIZER_FILE];
    await expect(loadBagRM(memoryReader(noTok))).rejects.toThrow(/tokenizer\.json could not be read/);
    const badCfg = { ...f, [CONFIG_FILE]: new TextEncoder().encode(JSON.stringify({ model_type: 'scpo-bag', ...CFG, vocabSize: 99 })) };
    await expect(loadBagRM(memoryReader(badCfg))).rejects.toThrow(/tokenizer\.json has 40 tokens but config\.json says vocabSize 99/);
    const hidden = { ...f, [CONFIG_FILE]: new TextEncoder().encode(JSON.stringify({ model_type: 'scpo-bag', ...CFG, hidden: 5 })) };
    await expect(loadBagRM(memoryReader(hidden))).rejects.toThrow(/onnx\/model\.onnx: initializer W1/);
    const notJson = { ...f, [CONFIG_FILE]: new TextEncoder().encode('{oops') };
    await expect(loadBagRM(memoryReader(notJson))).rejects.toThrow(/config\.json is not valid JSON/);
    const wrongType = { ...f, [CONFIG_FILE]: new TextEncoder().encode(JSON.stringify({ model_type: 'bert' })) };
    await expect(loadBagRM(memoryReader(wrongType))).rejects.toThrow(/config\.json: model_type is "bert"/);
  });
});

// Tests of the backbone path on the generated tiny backbone: transformers.js feature extraction in Node, then head training.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuTrainer } from '../../gpu/cpu/trainer.ts';
import { scoreItems } from './bag.ts';
import { backboneAsBagRM, embedWithBackbone, loadBackbone } from './backbone.ts';
import { writeModelDir } from './files.node.ts';
import { buildTinyBackboneFiles } from './tiny-backbone.ts';
import onnxProto from 'onnx-proto';

const WORDS = ['good', 'great', 'bad', 'awful', 'the', 'answer', 'is', 'what', '?', 'tell', 'me'];
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scpo-backbone-'));
  await writeModelDir(dir, buildTinyBackboneFiles({ words: WORDS, hidden: 32, seed: 3 }));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tiny backbone + transformers.js', () => {
  it('embeds items with mean pooling; identical texts share features; empty texts get zeros', async () => {
    const items = [
      { prompt: 'what is the answer?', response: 'good great' },
      { prompt: 'what is the answer?', response: 'bad awful' },
      { prompt: '', response: 'the answer is good' },
      { prompt: 'tell me', response: '' },
      { prompt: 'zzz unknown', response: 'GOOD great' },
    ];
    const f = await embedWithBackbone(dir, items, { device: 'cpu', batchSize: 2 });
    expect(f.count).toBe(5);
    expect(f.dim).toBe(32);
    expect(Array.from(f.hasPrompt)).toEqual([1, 1, 0, 1, 1]);
    expect(Array.from(f.hasResponse)).toEqual([1, 1, 1, 0, 1]);
    const row = (a: Float32Array, i: number) => Array.from(a.subarray(i * 32, (i + 1) * 32));
    expect(row(f.prompt, 0)).toEqual(row(f.prompt, 1));
    expect(row(f.prompt, 2).every((x) => x === 0)).toBe(true);
    expect(row(f.response, 3).every((x) => x === 0)).toBe(true);
    // Lowercasing: "GOOD great" embeds like "good great".
    for (let d = 0; d < 32; d++) expect(f.response[4 * 32 + d]).toBeCloseTo(f.response[d], 6);
    expect(row(f.response, 0)).not.toEqual(row(f.response, 1));
    for (const x of f.response) expect(Number.isFinite(x)).toBe(true);
  });

  it('features equal the graph computed by hand: mean over tokens of tanh((word + type0) W + b)', async () => {
    const files = buildTinyBackboneFiles({ words: WORDS, hidden: 32, seed: 3 });
    const model = onnxProto.onnx.ModelProto.decode(files['onnx/model.onnx']);
    const t = (name: string): Float32Array => {
      const raw = model.graph!.initializer!.find((x) => x.name === name)!.rawData!;
      const out = new Float32Array(raw.length / 4);
      new Uint8Array(out.buffer).set(raw);
      return out;
    };
    const [emb, typ, W, b] = [t('word_embeddings'), t('token_type_embeddings'), t('dense_weight'), t('dense_bias')];
    const ids = [3 + WORDS.indexOf('the'), 1 /* [UNK] */, 3 + WORDS.indexOf('?')];
    const want = new Float64Array(32);
    for (const id of ids) {
      for (let j = 0; j < 32; j++) {
        let a = b[j];
        for (let k = 0; k < 32; k++) a += (emb[id * 32 + k] + typ[k]) * W[k * 32 + j];
        want[j] += Math.tanh(a) / ids.length;
      }
    }
    const f = await embedWithBackbone(dir, [{ prompt: 'x', response: 'The zebra?' }], { device: 'cpu' });
    for (let j = 0; j < 32; j++) expect(f.response[j]).toBeCloseTo(want[j], 5);
  });

  it('a missing model fails with a clear error, local files only by default', async () => {
    await expect(loadBackbone(join(dir, 'nope'), { device: 'cpu' })).rejects.toThrow(/could not be loaded \(local files only/);
  });

  it('backboneAsBagRM trains its head with the cpu trainer (frozen table)', async () => {
    const pos = ['good', 'great', 'good great', 'great good good'];
    const neg = ['bad', 'awful', 'bad awful', 'awful bad bad'];
    const items = [...pos, ...neg].map((r) => ({ prompt: 'what is the answer?', response: r }));
    const f = await embedWithBackbone(await loadBackbone(dir, { device: 'cpu' }), items);
    const rm = backboneAsBagRM(f, { hidden: 16 }, 7);
    expect(rm.params.config).toEqual({ vocabSize: 16, dim: 32, hidden: 16, maxPromptTokens: 1, maxResponseTokens: 1 });
    expect(Array.from(rm.items.responseIds)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(rm.items.promptIds)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    const chosen: number[] = [];
    const rejected: number[] = [];
    for (let a = 0; a < 4; a++) for (let b = 4; b < 8; b++) {
      chosen.push(a);
      rejected.push(b);
    }
    const batch = { chosen: Int32Array.from(chosen), rejected: Int32Array.from(rejected), weight: new Float32Array(16).fill(1) };
    const t = new CpuTrainer(rm.params, { lr: 0.02, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: rm.freezeEmbeddings });
    const first = t.stepSync(rm.items, batch).loss;
    let last = first;
    for (let s = 0; s < 60; s++) last = t.stepSync(rm.items, batch).loss;
    expect(last).toBeLessThan(first * 0.5);
    const ck = await t.checkpoint();
    expect(ck.params.E).toEqual(rm.params.E);
    const scores = scoreItems(ck.params, rm.items);
    expect(Math.min(...scores.slice(0, 4))).toBeGreaterThan(Math.max(...scores.slice(4)));
  });
});

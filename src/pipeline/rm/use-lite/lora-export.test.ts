// Export of a LoRA-trained USE-lite country RM: adapters merged into the real USE-lite weights, written as the ONNX
// graph of the HF-layout folder, reloaded in onnxruntime-web (Node, wasm EP) and scored on padded batches: within
// 1e-4 of the trainer's own (unmerged, packed) scores. CI cost: a few seconds (wasm matmul for the 4 steps).
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readUseArtefacts } from '../../../../test/helpers/use-lite-ref.ts';
import { createWasmMatOps, type WasmMatOps } from '../../../gpu/wasm/matops.ts';
import { Rng } from '../../rng.ts';
import type { EncodedItems } from '../types.ts';
import { convertUseLite } from './convert.ts';
import { exportUseLiteOnnx, USE_ONNX_SCORE } from './onnx.ts';
import type { UseLiteParams } from './spec.ts';
import { jointIds, USE_SEP_ID } from './tokenizer.ts';
import { exportParams, UseLiteCpuTrainer, useLiteRM } from './train.ts';

let params: UseLiteParams;
let ops: WasmMatOps;

beforeAll(async () => {
  const a = readUseArtefacts();
  const p = convertUseLite(a.modelJson, a.shards);
  params = { config: { ...p.config, maxLen: 24 }, tensors: p.tensors };
  ops = await createWasmMatOps({ threads: 1 });
}, 60_000);

afterAll(() => ops?.dispose());

function items(rng: Rng, n: number): EncodedItems {
  const promptOffsets = new Int32Array(n + 1);
  const responseOffsets = new Int32Array(n + 1);
  const p: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < n; i++) {
    // lengths 1 (empty prompt and response) to 24 (truncated): padding in the ONNX batch
    const lp = i === 0 ? 0 : rng.int(16);
    const lr = i === 0 ? 0 : 1 + rng.int(16);
    for (let t = 0; t < lp; t++) p.push(6 + rng.int(8000));
    for (let t = 0; t < lr; t++) r.push(6 + rng.int(8000));
    promptOffsets[i + 1] = p.length;
    responseOffsets[i + 1] = r.length;
  }
  return { count: n, promptOffsets, promptIds: Int32Array.from(p), responseOffsets, responseIds: Int32Array.from(r) };
}

describe('LoRA country RM export', () => {
  it('merged into the weights, the ONNX graph in onnxruntime-web scores within 1e-4 of the trainer', async () => {
    const rng = new Rng(1);
    const its = items(rng, 10);
    const t = new UseLiteCpuTrainer(useLiteRM(params, 'lora', { rank: 8, alpha: 16 }, 3), { lr: 2e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: true }, { ops });
    const base = await t.score(its);
    for (let s = 0; s < 4; s++) {
      await t.step(its, { chosen: Int32Array.from([1, 3, 5, 7]), rejected: Int32Array.from([2, 4, 6, 8]), weight: Float32Array.from([1, 1, 0.5, 2]) });
    }
    const trained = await t.score(its);
    const merged = exportParams((await t.checkpoint()).params);
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(exportUseLiteOnnx(merged), { executionProviders: ['wasm'], logSeverityLevel: 3 });
    try {
      const seqs = Array.from({ length: its.count }, (_, k) => {
        const buf = new Int32Array(24);
        return Array.from(buf.subarray(0, jointIds(its, k, 24, buf)));
      });
      const T = Math.max(...seqs.map((s) => s.length));
      const ids = new BigInt64Array(seqs.length * T).fill(1n);
      const mask = new BigInt64Array(seqs.length * T);
      seqs.forEach((s, b) => s.forEach((id, q) => ((ids[b * T + q] = BigInt(id)), (mask[b * T + q] = 1n))));
      const out = await session.run({
        input_ids: new ort.Tensor('int64', ids, [seqs.length, T]),
        attention_mask: new ort.Tensor('int64', mask, [seqs.length, T]),
      });
      const onnxScores = out[USE_ONNX_SCORE].data as Float32Array;
      let worst = 0;
      let moved = 0;
      for (let k = 0; k < its.count; k++) {
        worst = Math.max(worst, Math.abs(onnxScores[k] - trained[k]));
        moved = Math.max(moved, Math.abs(trained[k] - base[k]));
      }
      console.log(`LoRA export: worst |onnx - trainer| ${worst.toExponential(2)}; training moved scores by up to ${moved.toFixed(4)}`);
      expect(worst).toBeLessThan(1e-4);
      expect(moved).toBeGreaterThan(1e-2); // the adapters matter: an export that dropped them would fail above
      expect(seqs[0]).toEqual([USE_SEP_ID]);
    } finally {
      await session.release();
    }
  }, 120_000);
});

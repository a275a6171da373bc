// Benchmark (not a test): USE-lite scoring throughput on the same texts for every executor, plus the projection of
// scoring the default synthetic set on this CPU and on a GPU from the FLOP count. The texts are the joint RM inputs
// (prompt [SEP] response, <= 128 tokens) of --n synthetic items (every 10th item of loadSynthetic(0)).
//   ts-js        our forward (grad.ts modelForward) on jsMatOps, the plain-TS twin (on --slow-n items: it is slow)
//   ts-wasm-1/2  the same forward on the wasm-SIMD MatOps (src/gpu/wasm), 1 and 2 threads
//   ort-wasm-1/2 onnxruntime-web, wasm EP, our ONNX graph, 1 and 2 threads (length-sorted batches of 32)
//   ort-webgpu   onnxruntime-web, webgpu EP on Node's Dawn (SwiftShader here: a CPU emulation; on --slow-n items)
//   tfjs-wasm    TF.js running the ORIGINAL model.json (wasm backend, SIMD, 1 thread: threads do not start in Node)
// Every executor's embeddings are compared with ort-wasm-1's (max |diff|). Numbers are noisy when the machine is
// shared: the table also gives CPU seconds per item (process.cpuUsage), which contention inflates less than wall time.
// Saves bench/results/use-lite-score.{json,md}.
//   tsx bench/use-lite-score.ts [--n 2000] [--slow-n 60] [--engines ts-js,ts-wasm-1,ts-wasm-2,ort-wasm-1,ort-wasm-2,ort-webgpu,tfjs-wasm]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jsMatOps, type MatOps } from '../src/gpu/matops.ts';
import { createWasmMatOps } from '../src/gpu/wasm/matops.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { DEFAULT_CONFIG } from '../src/pipeline/experiment.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import type { EncodedItems } from '../src/pipeline/rm/types.ts';
import { loadUseLite } from '../src/pipeline/rm/use-lite/files.ts';
import { encodeSequences } from '../src/pipeline/rm/use-lite/forward.ts';
import { encodeUseItems, jointIds, jointLength } from '../src/pipeline/rm/use-lite/tokenizer.ts';
import { USE_LITE_MODEL_DIR } from '../src/pipeline/use-lite-cli.node.ts';
import { DEFAULT_USE_LITE_GLOBAL, globalSample, neededItems, USE_LITE_FLOP_PER_TOKEN } from '../src/pipeline/use-lite-session.ts';
import { OrtScorer } from '../src/workers/ort-scorer.ts';
import { tfjsReference } from '../test/helpers/use-lite-ref.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    'slow-n': { type: 'string', default: '60' },
    engines: { type: 'string', default: 'ts-js,ts-wasm-1,ts-wasm-2,ort-wasm-1,ort-wasm-2,ort-webgpu,tfjs-wasm' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const N = Number(args.n);
const SLOW_N = Number(args['slow-n']);
const engines = args.engines!.split(',');
const log = (m: string) => console.log(`[use-lite-score] ${m}`);

const model = await loadUseLite(dirReader(USE_LITE_MODEL_DIR), { weights: true });
const params = model.params!;
const data = await loadSynthetic(0);
const all = encodeUseItems(model.tokenizer, data.items, 128);
const picked = Int32Array.from({ length: Math.min(N, Math.floor(all.count / 10)) }, (_, i) => i * 10);
const seqs = Array.from(picked, (k) => {
  const s = new Int32Array(jointLength(all, k, 128));
  jointIds(all, k, 128, s);
  return s;
});
const flopOf = (T: number): number => T * USE_LITE_FLOP_PER_TOKEN + 4 * T * T * (256 + 512);
const tokensOf = (n: number): number => seqs.slice(0, n).reduce((a, s) => a + s.length, 0);
const flopsOf = (n: number): number => seqs.slice(0, n).reduce((a, s) => a + flopOf(s.length), 0);
log(`${picked.length} texts, ${tokensOf(picked.length)} tokens (mean ${(tokensOf(picked.length) / picked.length).toFixed(1)}), ${(flopsOf(picked.length) / 1e9).toFixed(0)} GFLOP; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

interface Row {
  engine: string;
  items: number;
  tokens: number;
  wallS: number;
  cpuS: number;
  itemsPerS: number;
  cpuMsPerItem: number;
  gflopsWall: number;
  maxAbsDiff: number | null;
  note: string;
}
const rows: Row[] = [];
let reference: Float32Array | null = null; // ort-wasm-1 embeddings of the first items

async function measure(engine: string, n: number, note: string, run: (items: EncodedItems, idx: Int32Array) => Promise<Float32Array>): Promise<void> {
  const idx = picked.subarray(0, n);
  // Warm-up on 4 items (compiles, first allocations).
  await run(all, picked.subarray(0, 4));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const emb = await run(all, idx);
  const wallS = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const cpuS = (cu.user + cu.system) / 1e6;
  let maxAbsDiff: number | null = null;
  if (reference) {
    maxAbsDiff = 0;
    const m = Math.min(emb.length, reference.length);
    for (let i = 0; i < m; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(emb[i] - reference[i]));
  } else if (engine === 'ort-wasm-1') reference = emb;
  const r: Row = {
    engine,
    items: n,
    tokens: tokensOf(n),
    wallS,
    cpuS,
    itemsPerS: n / wallS,
    cpuMsPerItem: (1000 * cpuS) / n,
    gflopsWall: flopsOf(n) / 1e9 / wallS,
    maxAbsDiff,
    note,
  };
  rows.push(r);
  log(`${engine}: ${r.itemsPerS.toFixed(1)} items/s, ${r.gflopsWall.toFixed(1)} GFLOP/s, ${r.cpuMsPerItem.toFixed(1)} CPU ms/item${maxAbsDiff !== null ? `, max |diff| ${maxAbsDiff.toExponential(1)}` : ''}`);
}

function opsEncoder(ops: MatOps) {
  return async (items: EncodedItems, idx: Int32Array) =>
    encodeSequences(
      ops,
      params,
      Array.from(idx, (k) => {
        const s = new Int32Array(jointLength(items, k, 128));
        jointIds(items, k, 128, s);
        return s;
      }),
    ).emb;
}

function report(final: boolean): void {
  // Projection: the default synthetic experiment (all default countries + majority, global sample) on this CPU and on
  // a GPU, from the FLOP count of the texts a run encodes.
  const sample = globalSample(data.pairs, DEFAULT_USE_LITE_GLOBAL.maxPairs, 0);
  const need = neededItems(data.pairs, DEFAULT_CONFIG.countries, DEFAULT_CONFIG.majority, sample);
  let projTokens = 0;
  let projFlop = 0;
  for (const k of need) {
    const T = jointLength(all, k, 128);
    projTokens += T;
    projFlop += flopOf(T);
  }
  const best = rows.filter((r) => r.engine.startsWith('ort-wasm') && r.items > 0).sort((a, b) => a.cpuMsPerItem - b.cpuMsPerItem)[0];
  const projection = {
    items: need.length,
    tokens: projTokens,
    tflop: projFlop / 1e12,
    cpuSecondsAtMeasured: best ? (best.cpuMsPerItem * need.length) / 1000 : null,
    cpuWallSecondsOn2CoresIdeal: best ? (best.cpuMsPerItem * need.length) / 1000 / 2 : null,
    gpuSecondsAt10Tflops: projFlop / 10e12,
    gpuSecondsAt50Tflops: projFlop / 50e12,
  };
  if (final) log(`projection, default synthetic run: ${need.length} texts, ${projTokens} tokens, ${projection.tflop.toFixed(1)} TFLOP`);

  const env = { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loadavg() };
  const table = [
    '| engine | texts | tokens | wall s | texts/s | GFLOP/s (wall) | CPU ms/text | max abs diff vs ort-wasm-1 | note |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.engine} | ${r.items} | ${r.tokens} | ${r.wallS.toFixed(1)} | ${r.itemsPerS.toFixed(1)} | ${r.gflopsWall.toFixed(1)} | ${r.cpuMsPerItem.toFixed(1)} | ${r.maxAbsDiff === null ? '-' : r.maxAbsDiff.toExponential(1)} | ${r.note} |`,
    ),
  ];
  const md = [
    `# USE-lite scoring throughput (${new Date().toISOString()})`,
    '',
    `${picked.length} joint RM inputs from the synthetic set (${tokensOf(picked.length)} tokens); slow engines on the first ${SLOW_N}.`,
    `Machine: ${env.cpus} x ${env.cpu}, ${env.memGiB} GiB, Node ${env.node}; load average at the end ${env.loadavg.map((x) => x.toFixed(1)).join(' ')} (shared machine: wall numbers are noisy).`,
    '',
    ...table,
    '',
    `Default synthetic run with --rm use-lite (all default countries): ${need.length} texts, ${projTokens} tokens, ${projection.tflop.toFixed(1)} TFLOP.`,
    `At the best measured onnxruntime-web CPU cost (${best ? best.cpuMsPerItem.toFixed(1) : '?'} CPU ms/text): ${projection.cpuSecondsAtMeasured?.toFixed(0)} CPU s, ~${projection.cpuWallSecondsOn2CoresIdeal?.toFixed(0)} s wall on 2 idle cores.`,
    `On a GPU: ${projection.gpuSecondsAt10Tflops.toFixed(1)} s at 10 TFLOP/s sustained, ${projection.gpuSecondsAt50Tflops.toFixed(2)} s at 50 TFLOP/s (FLOPs only; launch and transfer overheads not counted).`,
    '',
  ].join('\n');
  if (final) console.log('\n' + md);
  mkdirSync(args.out!, { recursive: true });
  writeFileSync(join(args.out!, 'use-lite-score.json'), JSON.stringify({ env, n: picked.length, slowN: SLOW_N, rows, projection }, null, 1) + '\n');
  writeFileSync(join(args.out!, 'use-lite-score.md'), md);
}

// ort-wasm-1 first: it is the reference the others are compared with.
const order = ['ort-wasm-1', ...engines.filter((e) => e !== 'ort-wasm-1')];
for (const engine of order) {
  if (!engines.includes(engine)) continue;
  try {
    if (engine.startsWith('ort-wasm-')) {
      const threads = Number(engine.slice(-1));
      const s = await OrtScorer.create(model.onnx, { prefer: 'wasm', numThreads: threads, model: { kind: 'use-lite', maxLen: 128 } });
      await measure(engine, picked.length, `onnxruntime-web 1.30 wasm EP, numThreads ${threads}`, (items, idx) => s.embed(items, idx));
      await s.release();
    } else if (engine === 'ort-webgpu') {
      const { getNodeGpu } = await import('../src/gpu/node-webgpu.node.ts');
      const { gpu, notes } = await getNodeGpu();
      if (!gpu) throw new Error(`no WebGPU in Node: ${notes.join('; ')}`);
      Object.defineProperty(globalThis, 'navigator', { value: { ...(globalThis.navigator ?? {}), gpu }, configurable: true });
      const s = await OrtScorer.create(model.onnx, { prefer: 'webgpu', allowFallbackAdapter: true, model: { kind: 'use-lite', maxLen: 128 } });
      if (s.info.ep !== 'webgpu') throw new Error(`webgpu EP not used: ${s.info.reason}`);
      await measure(engine, Math.min(SLOW_N, picked.length), `onnxruntime-web webgpu EP on ${s.info.adapter ?? '?'} (Dawn in Node)`, (items, idx) => s.embed(items, idx));
      await s.release();
    } else if (engine === 'ts-js') {
      await measure(engine, Math.min(SLOW_N, picked.length), 'grad.ts modelForward on jsMatOps (plain TS, float64 sums)', opsEncoder(jsMatOps));
    } else if (engine.startsWith('ts-wasm-')) {
      const threads = Number(engine.slice(-1));
      const ops = await createWasmMatOps({ threads });
      for (const [name, t] of Object.entries(params.tensors)) if (/\.W$/.test(name)) ops.pin?.(t);
      await measure(engine, picked.length, `grad.ts modelForward on the wasm-SIMD MatOps, ${ops.threads} thread(s)${ops.fallback ? ` (${ops.fallback})` : ''}`, opsEncoder(ops));
      ops.dispose?.();
    } else if (engine === 'tfjs-wasm') {
      const tf = await tfjsReference();
      await measure(engine, picked.length, `TF.js 4.22 original model.json, ${tf.backend} backend, batches of 32`, async (items, idx) => {
        const out = new Float32Array(idx.length * 512);
        for (let s = 0; s < idx.length; s += 32) {
          const chunk = Array.from(idx.subarray(s, s + 32), (k) => {
            const a = new Int32Array(jointLength(items, k, 128));
            jointIds(items, k, 128, a);
            return Array.from(a);
          });
          out.set(await tf.embed(chunk), s * 512);
        }
        return out;
      });
      tf.dispose();
    } else throw new Error(`unknown engine ${engine}`);
  } catch (e) {
    log(`${engine}: FAILED: ${(e as Error).message}`);
    rows.push({ engine, items: 0, tokens: 0, wallS: 0, cpuS: 0, itemsPerS: 0, cpuMsPerItem: 0, gflopsWall: 0, maxAbsDiff: null, note: `failed: ${(e as Error).message}` });
  }
  // Saved after every engine, so a long run that is stopped still leaves what it measured.
  report(false);
}
report(true);

process.exit(0);

// The benchmark page (driven by bench/run.ts through Playwright): `window.__bench` runs one measurement at a time
// on the bundled RM and the default synthetic data and returns plain JSON. Not a test: it never judges speed.
import type { Backend } from '../../src/gpu/backend.ts';
import { cpuBackend } from '../../src/gpu/cpu/trainer.ts';
import { createWebGpuBackend } from '../../src/gpu/webgpu.ts';
import { capabilityReport } from '../../src/gpu/device.ts';
import { loadSynthetic } from '../../src/pipeline/data/index.ts';
import { resolveConfig } from '../../src/pipeline/experiment.ts';
import type { ExperimentConfig } from '../../src/pipeline/experiment.ts';
import { cloneParams, scoreItems } from '../../src/pipeline/rm/bag.ts';
import { fetchReader, loadBagRM, memoryReader } from '../../src/pipeline/rm/files.ts';
import type { LoadedBagRM } from '../../src/pipeline/rm/files.ts';
import { encodeItems, selectEncoded } from '../../src/pipeline/rm/tokenizer.ts';
import type { EncodedItems, OptimizerConfig, PairBatch } from '../../src/pipeline/rm/types.ts';
import { Rng } from '../../src/pipeline/rng.ts';
import type { Item } from '../../src/pipeline/types.ts';
import { ExperimentClient } from '../../src/workers/client.ts';
import type { BackendPref } from '../../src/workers/protocol.ts';
import { ScoringClient } from '../../src/workers/scoring-client.ts';
import type { OrtPreference } from '../../src/workers/ort-scorer.ts';

const ORIGIN = location.origin;
const MODEL_URL = `${ORIGIN}/models/scpo-glove-rm/`;
const ORT_URL = `${ORIGIN}/ort/`;

interface Prepared {
  model: LoadedBagRM;
  items: Item[];
  encoded: EncodedItems;
  /** Pooled training pairs of all countries in a fixed seeded order (every trainer sees the same batches). */
  chosen: Int32Array;
  rejected: Int32Array;
  onnx: Uint8Array;
}

let prep: Prepared | null = null;

async function prepare(): Promise<Prepared> {
  if (prep) return prep;
  const model = await loadBagRM(fetchReader(MODEL_URL));
  const data = await loadSynthetic(0);
  const encoded = encodeItems(model.tokenizer, data.items, model.params.config);
  const train = data.pairs.filter((p) => p.split === 'train');
  const order = train.map((_, i) => i);
  new Rng(1).shuffle(order);
  const onnx = new Uint8Array(await (await fetch(`${MODEL_URL}onnx/model.onnx`)).arrayBuffer());
  prep = {
    model,
    items: data.items,
    encoded,
    chosen: Int32Array.from(order, (i) => train[i].chosen),
    rejected: Int32Array.from(order, (i) => train[i].rejected),
    onnx,
  };
  return prep;
}

const OPT: OptimizerConfig = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: false };

function batchAt(p: Prepared, step: number, B: number): PairBatch {
  const n = p.chosen.length;
  const chosen = new Int32Array(B);
  const rejected = new Int32Array(B);
  for (let k = 0; k < B; k++) {
    const i = (step * B + k) % n;
    chosen[k] = p.chosen[i];
    rejected[k] = p.rejected[i];
  }
  return { chosen, rejected, weight: new Float32Array(B).fill(1) };
}

export type TrainImpl = 'ours-cpu' | 'ours-webgpu' | 'tfjs-cpu' | 'tfjs-wasm' | 'tfjs-webgpu';

export interface TrainFigures {
  impl: TrainImpl;
  batch: number;
  steps: number;
  ms: number;
  pairsPerSec: number;
  firstLoss: number;
  lastLoss: number;
  info: string;
  /** tfjs only: tensors alive after the run minus before (0 = no leak). */
  leakedTensors?: number;
}

async function timeSteps(
  step: (b: PairBatch) => Promise<number> | number,
  p: Prepared,
  B: number,
  maxSteps: number,
  maxMs: number,
  warmup: number,
): Promise<{ steps: number; ms: number; first: number; last: number }> {
  let first = Number.NaN;
  for (let s = 0; s < warmup; s++) {
    const l = await step(batchAt(p, s, B));
    if (s === 0) first = l;
  }
  let last = first;
  const t0 = performance.now();
  let steps = 0;
  while (steps < maxSteps && performance.now() - t0 < maxMs) {
    last = await step(batchAt(p, warmup + steps, B));
    if (Number.isNaN(first)) first = last;
    steps++;
  }
  return { steps, ms: performance.now() - t0, first, last };
}

async function train(impl: TrainImpl, B: number, maxSteps: number, maxMs: number): Promise<TrainFigures> {
  const p = await prepare();
  const params = cloneParams(p.model.params);
  const warmup = 3;
  if (impl === 'ours-cpu' || impl === 'ours-webgpu') {
    let backend: Backend = cpuBackend;
    let dispose = () => {};
    if (impl === 'ours-webgpu') {
      const web = await createWebGpuBackend(navigator.gpu, { model: params.config });
      backend = web;
      dispose = () => web.dispose();
    }
    const t = await backend.createTrainer(params, OPT);
    try {
      const r = await timeSteps(async (b) => (await t.step(p.encoded, b)).loss, p, B, maxSteps, maxMs, warmup);
      return { impl, batch: B, steps: r.steps, ms: r.ms, pairsPerSec: (r.steps * B * 1000) / r.ms, firstLoss: r.first, lastLoss: r.last, info: backend.info };
    } finally {
      t.dispose();
      dispose();
    }
  }
  const { TfjsBagTrainer, useTfjsBackend } = await import('./tfjs-trainer.ts');
  const tf = await import('@tensorflow/tfjs');
  const name = impl.slice('tfjs-'.length) as 'cpu' | 'wasm' | 'webgpu';
  await useTfjsBackend(name, `${ORIGIN}/tfjs/`);
  const before = tf.memory().numTensors;
  const t = new TfjsBagTrainer(params, OPT.lr);
  let r: Awaited<ReturnType<typeof timeSteps>>;
  try {
    r = await timeSteps((b) => t.step(p.encoded, b), p, B, maxSteps, maxMs, warmup);
  } finally {
    t.dispose();
  }
  return {
    impl,
    batch: B,
    steps: r.steps,
    ms: r.ms,
    pairsPerSec: (r.steps * B * 1000) / r.ms,
    firstLoss: r.first,
    lastLoss: r.last,
    info: `tfjs ${tf.version.tfjs} ${tf.getBackend()}`,
    leakedTensors: tf.memory().numTensors - before,
  };
}

/** Our forward vs tfjs's on a few items: the two implement the same model. */
async function checkTfjsForward(backend: 'cpu' | 'wasm' | 'webgpu' = 'cpu'): Promise<number> {
  const p = await prepare();
  const { TfjsBagTrainer, useTfjsBackend } = await import('./tfjs-trainer.ts');
  await useTfjsBackend(backend, `${ORIGIN}/tfjs/`);
  const rows = Int32Array.from({ length: 64 }, (_, i) => (i * 97) % p.encoded.count);
  const t = new TfjsBagTrainer(p.model.params, 0);
  const got = await t.score(p.encoded, rows);
  t.dispose();
  const want = scoreItems(p.model.params, p.encoded, rows);
  let m = 0;
  for (let i = 0; i < rows.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return m;
}

export interface ScoreFigures {
  impl: string;
  items: number;
  ms: number;
  itemsPerSec: number;
  initMs: number;
  ep?: string;
  reason?: string;
  /** Largest |score - CPU forward| over the scored items. */
  maxAbsDiff: number;
  tokenizeMs?: number;
}

function maxDiffTo(p: Prepared, scores: Float32Array, rows?: Int32Array): number {
  const want = scoreItems(p.model.params, p.encoded, rows);
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(scores[i] - want[i]));
  return m;
}

/** onnxruntime-web in the scoring worker spawned from the page (the production scorer, one hop). */
async function scoreOrt(prefer: OrtPreference, limit = 0): Promise<ScoreFigures> {
  const p = await prepare();
  const n = limit > 0 ? Math.min(limit, p.encoded.count) : p.encoded.count;
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const c = ScoringClient.spawn();
  try {
    const ready = await c.init(p.onnx.slice(), { prefer, wasmPaths: ORT_URL });
    const initMs = performance.now() - t0;
    await c.score(p.encoded, rows.subarray(0, Math.min(256, n))); // warm-up (shader/kernel compilation)
    const t1 = performance.now();
    const s = await c.score(p.encoded, rows);
    const ms = performance.now() - t1;
    return { impl: `ort-web ${ready.ep}`, items: n, ms, itemsPerSec: (n * 1000) / ms, initMs, ep: ready.ep, reason: ready.reason, maxAbsDiff: maxDiffTo(p, s, rows) };
  } finally {
    c.dispose();
  }
}

/** OrtScorer on the page's main thread (no worker hop), e.g. to compare batch sizes. */
async function scoreOrtMain(prefer: OrtPreference, limit = 0, batchItems = 256): Promise<ScoreFigures> {
  const p = await prepare();
  const { OrtScorer } = await import('../../src/workers/ort-scorer.ts');
  const n = limit > 0 ? Math.min(limit, p.encoded.count) : p.encoded.count;
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const s = await OrtScorer.create(p.onnx.slice(), { prefer, wasmPaths: ORT_URL, batchItems });
  const initMs = performance.now() - t0;
  await s.score(p.encoded, rows.subarray(0, Math.min(256, n)));
  const t1 = performance.now();
  const scores = await s.score(p.encoded, rows);
  const ms = performance.now() - t1;
  await s.release();
  return { impl: `ort-web ${s.info.ep} page main thread, batch ${batchItems}`, items: n, ms, itemsPerSec: (n * 1000) / ms, initMs, ep: s.info.ep, reason: s.info.reason, maxAbsDiff: maxDiffTo(p, scores, rows) };
}

/** inline (OrtScorer inside a worker) vs nested (that worker spawns the scoring worker): init + scoring time. */
async function scoreHost(mode: 'inline' | 'nested', prefer: OrtPreference, limit = 0): Promise<ScoreFigures> {
  const p = await prepare();
  const n = limit > 0 ? Math.min(limit, p.encoded.count) : p.encoded.count;
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const w = new Worker(new URL('./host.worker.ts', import.meta.url), { type: 'module' });
  const items = selectEncoded(p.encoded, rows);
  const t0 = performance.now();
  const r = await new Promise<{ ok: boolean; message?: string; ep: string; reason: string; initMs: number; scoreMs: number; scores: Float32Array }>((resolve) => {
    w.onmessage = (ev) => resolve(ev.data);
    w.onerror = (ev) => resolve({ ok: false, message: ev.message, ep: '', reason: '', initMs: 0, scoreMs: 0, scores: new Float32Array(0) });
    const model = p.onnx.slice();
    w.postMessage({ mode, model: model.buffer, items, prefer, wasmPaths: ORT_URL }, [model.buffer]);
  });
  const total = performance.now() - t0;
  w.terminate();
  if (!r.ok) throw new Error(`${mode}: ${r.message}`);
  return {
    impl: `ort-web ${r.ep} ${mode}`,
    items: n,
    ms: r.scoreMs,
    itemsPerSec: (n * 1000) / r.scoreMs,
    initMs: r.initMs,
    ep: r.ep,
    reason: `${r.reason}; total incl. worker start ${Math.round(total)} ms`,
    maxAbsDiff: maxDiffTo(p, r.scores, rows),
  };
}

/** transformers.js: AutoTokenizer (text pairs) + AutoModel on the bundled folder, in batches. */
async function scoreTransformers(device: 'wasm' | 'webgpu', limit = 0, batch = 256): Promise<ScoreFigures> {
  const p = await prepare();
  const { AutoModel, AutoTokenizer, env } = await import('@huggingface/transformers');
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.localModelPath = '/models/';
  env.useBrowserCache = false;
  const wasm = env.backends.onnx.wasm;
  if (wasm) wasm.wasmPaths = `${ORIGIN}/ort/transformers/`;
  const n = limit > 0 ? Math.min(limit, p.items.length) : p.items.length;
  const t0 = performance.now();
  const tok = await AutoTokenizer.from_pretrained('scpo-glove-rm');
  const model = await AutoModel.from_pretrained('scpo-glove-rm', { device, dtype: 'fp32' });
  const initMs = performance.now() - t0;
  const run = async (from: number, to: number, into?: Float32Array) => {
    const its = p.items.slice(from, to);
    const ta = performance.now();
    const inputs = tok(
      its.map((i) => i.prompt),
      { text_pair: its.map((i) => i.response), padding: true, truncation: true, return_token_type_ids: true },
    );
    const tb = performance.now();
    const out = await model(inputs);
    const data = (await out.logits.data) as Float32Array;
    if (into) into.set(data.subarray(0, to - from), from);
    return tb - ta;
  };
  await run(0, Math.min(batch, n)); // warm-up
  const scores = new Float32Array(n);
  let tokenizeMs = 0;
  const t1 = performance.now();
  for (let s = 0; s < n; s += batch) tokenizeMs += await run(s, Math.min(n, s + batch), scores);
  const ms = performance.now() - t1;
  const modelMs = ms - tokenizeMs;
  await model.dispose();
  return {
    impl: `transformers.js ${device}`,
    items: n,
    ms,
    itemsPerSec: (n * 1000) / ms,
    initMs,
    ep: device,
    reason: `AutoTokenizer(prompts, {text_pair}) + AutoModel, batch ${batch}, tokenization included (model alone: ${Math.round((n * 1000) / modelMs)} items/s)`,
    maxAbsDiff: maxDiffTo(p, scores, Int32Array.from({ length: n }, (_, i) => i)),
    tokenizeMs,
  };
}

export interface ExperimentFigures {
  backendPref: BackendPref;
  wallMs: number;
  backend: string;
  backendReason: string;
  statuses: { atMs: number; message: string }[];
  timings: Record<string, number>;
  macroFull: Record<string, number | null>;
  runs: number;
  error?: string;
}

/** The default 7-country, all-methods run through the studio's experiment worker (nested scoring worker inside). */
function experiment(backendPref: BackendPref, partial: Partial<ExperimentConfig> = {}): Promise<ExperimentFigures> {
  return new Promise((resolve) => {
    const statuses: { atMs: number; message: string }[] = [];
    let backend = '';
    let backendReason = '';
    const t0 = performance.now();
    const client = new ExperimentClient((msg) => {
      const at = Math.round(performance.now() - t0);
      if (msg.type === 'status') statuses.push({ atMs: at, message: msg.message });
      else if (msg.type === 'backend') {
        backend = msg.report.info;
        backendReason = msg.report.reason;
      } else if (msg.type === 'result' || msg.type === 'error') {
        client.dispose();
        const base = { backendPref, wallMs: performance.now() - t0, backend, backendReason, statuses };
        if (msg.type === 'error') resolve({ ...base, timings: {}, macroFull: {}, runs: 0, error: msg.error.message });
        else {
          const avg = msg.result.reports.full.avg as Record<string, number | null> | undefined;
          resolve({ ...base, timings: msg.result.timings, macroFull: avg ?? {}, runs: msg.result.runs.length });
        }
      }
    });
    client.run(resolveConfig(partial), { kind: 'synthetic', seed: 0 }, { kind: 'bundled' }, backendPref);
  });
}

/**
 * Check (not a measurement): a short run in the experiment worker, then 'export-model' for (Chile, scpo): the
 * files load with loadBagRM and their ONNX, scored by the scoring worker, matches the CPU forward of the loaded params.
 */
async function exportCheck(): Promise<Record<string, unknown>> {
  const p = await prepare();
  let finish: (status: string) => void = () => {};
  const done = new Promise<string>((r) => (finish = r));
  const client = new ExperimentClient((msg) => {
    if (msg.type === 'result') finish('ok');
    if (msg.type === 'error') finish(msg.error.message);
  });
  try {
    const config = resolveConfig({ countries: ['Chile'], methods: ['start', 'scpo'], steps: 20, evalPoints: 0, efficiency: false });
    client.run(config, { kind: 'synthetic', seed: 0 }, { kind: 'bundled' }, 'cpu');
    const status = await done;
    if (status !== 'ok') return { error: status };
    const t0 = performance.now();
    const files = await client.exportModel('Chile', 'scpo');
    const exportMs = performance.now() - t0;
    const missing = await client.exportModel('Chile', 'full_ft').then(
      () => 'no error',
      (e: Error) => e.message,
    );
    const map: Record<string, Uint8Array> = {};
    for (const f of files) map[f.path] = new Uint8Array(f.bytes);
    const loaded = await loadBagRM(memoryReader(map));
    const sc = ScoringClient.spawn();
    await sc.init(map['onnx/model.onnx'].slice(), { prefer: 'wasm', wasmPaths: ORT_URL });
    const rows = Int32Array.from({ length: 2000 }, (_, i) => (i * 13) % p.encoded.count);
    const got = await sc.score(p.encoded, rows);
    sc.dispose();
    const want = scoreItems(loaded.params, p.encoded, rows);
    let m = 0;
    for (let i = 0; i < rows.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
    let changed = 0;
    for (let i = 0; i < loaded.params.W1.length; i++) if (loaded.params.W1[i] !== p.model.params.W1[i]) changed++;
    return {
      files: files.map((f) => `${f.path} ${f.bytes.byteLength}`),
      exportMs,
      onnxVsCpuMaxAbsDiff: m,
      w1ChangedFromGlobal: changed,
      config: JSON.parse(new TextDecoder().decode(map['config.json'])).scpo,
      missingModelError: missing,
    };
  } finally {
    client.dispose();
  }
}

async function env() {
  const gpu = navigator.gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  const p = await prepare();
  return {
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    adapter: adapter ? capabilityReport(adapter) : null,
    items: p.encoded.count,
    trainPairs: p.chosen.length,
    model: p.model.params.config,
    tfjsForwardMaxAbsDiff: {
      cpu: await checkTfjsForward('cpu'),
      wasm: await checkTfjsForward('wasm').catch((e: Error) => e.message),
      webgpu: await checkTfjsForward('webgpu').catch((e: Error) => e.message),
    },
  };
}

const api = { env, checkTfjsForward, exportCheck, train, scoreOrt, scoreOrtMain, scoreHost, scoreTransformers, experiment };
declare global {
  interface Window {
    __bench?: typeof api;
  }
}
window.__bench = api;
document.getElementById('state')!.textContent = 'ready';

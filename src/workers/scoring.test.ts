// The onnxruntime-web scorer (Node, wasm EP), the scoring worker run in-process behind a structuredClone
// "wire" (so transfers really detach), the scoring client, and the validators of both protocols.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBagRM, scoreItems } from '../pipeline/rm/bag.ts';
import { exportBagRMOnnx } from '../pipeline/rm/onnx.ts';
import type { BagRMConfig, BagRMParams, EncodedItems } from '../pipeline/rm/types.ts';
import { Rng } from '../pipeline/rng.ts';
import { OrtScorer } from './ort-scorer.ts';
import { parseFromWorker, parseToWorker } from './protocol.ts';
import { ScoringClient, type ScoringEndpoint } from './scoring-client.ts';
import { isEncodedItems, parseFromScoring, parseToScoring } from './scoring-protocol.ts';

const CFG: BagRMConfig = { vocabSize: 60, dim: 8, hidden: 6, maxPromptTokens: 7, maxResponseTokens: 12 };

function params(seed: number): BagRMParams {
  const rng = new Rng(seed);
  const E = new Float32Array(CFG.vocabSize * CFG.dim);
  for (let i = CFG.dim; i < E.length; i++) E[i] = rng.normal();
  const p = initBagRM(E, CFG, seed);
  for (let i = 0; i < p.b1.length; i++) p.b1[i] = rng.normal() * 0.3;
  return p;
}

function randomItems(seed: number, n: number): EncodedItems {
  const rng = new Rng(seed);
  const po = [0];
  const ro = [0];
  const pi: number[] = [];
  const ri: number[] = [];
  for (let i = 0; i < n; i++) {
    const lp = i % 11 === 0 ? 0 : rng.int(CFG.maxPromptTokens + 1);
    const lr = i % 13 === 0 ? 0 : rng.int(CFG.maxResponseTokens + 1);
    for (let t = 0; t < lp; t++) pi.push(1 + rng.int(CFG.vocabSize - 1));
    for (let t = 0; t < lr; t++) ri.push(1 + rng.int(CFG.vocabSize - 1));
    po.push(pi.length);
    ro.push(ri.length);
  }
  return { count: n, promptOffsets: Int32Array.from(po), promptIds: Int32Array.from(pi), responseOffsets: Int32Array.from(ro), responseIds: Int32Array.from(ri) };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('OrtScorer (Node, wasm EP)', () => {
  it('falls back to wasm with the reason and scores length-sorted batches in the caller order', async () => {
    const p = params(1);
    const items = randomItems(2, 97);
    const s = await OrtScorer.create(exportBagRMOnnx(p), { prefer: 'auto', numThreads: 1, batchItems: 7 });
    expect(s.info.ep).toBe('wasm');
    expect(s.info.reason).toMatch(/navigator\.gpu is missing/);
    const idx = Int32Array.from({ length: 60 }, (_, i) => (i * 37 + 5) % 97);
    // Two calls at once: queued, both right.
    const [all, sub] = await Promise.all([s.score(items), s.score(items, idx)]);
    expect(maxDiff(all, scoreItems(p, items))).toBeLessThan(1e-4);
    expect(maxDiff(sub, scoreItems(p, items, idx))).toBeLessThan(1e-4);
    expect((await s.score(items, new Int32Array(0))).length).toBe(0);
    await s.release();
    await expect(s.score(items)).rejects.toThrow(/released/);
  });

  it("'wasm' preference skips the GPU probe", async () => {
    const s = await OrtScorer.create(exportBagRMOnnx(params(3)), { prefer: 'wasm', numThreads: 1 });
    expect(s.info).toMatchObject({ ep: 'wasm', reason: 'wasm requested' });
    await s.release();
  });

  it('runs wasm sessions in the wasm-only onnxruntime-web build (half the wasm of the JSEP one), configured there', async () => {
    const s = await OrtScorer.create(exportBagRMOnnx(params(3)), { prefer: 'wasm', numThreads: 1 });
    expect(s.info.build).toBe('onnxruntime-web/wasm');
    const wasmOnly = await import('onnxruntime-web/wasm');
    // The options went to the module that made the session (each build has its own env).
    expect(wasmOnly.env.wasm.proxy).toBe(false);
    expect(wasmOnly.env.wasm.numThreads).toBe(1);
    await s.release();
  });
});

// The real scoring.worker.ts module, run in this process: `self` is a fake worker global whose messages cross a
// structuredClone with a transfer list, like postMessage between threads.
type OnMessage = ((ev: MessageEvent<unknown>) => void) | null;
const workerSide: { onmessage: OnMessage; postMessage(msg: unknown, transfer: Transferable[]): void } = {
  onmessage: null,
  postMessage: () => {},
};
const endpoint: ScoringEndpoint & { posted: number } = {
  onmessage: null,
  onerror: null,
  posted: 0,
  postMessage(msg, transfer) {
    this.posted++;
    const data = structuredClone(msg, { transfer });
    setTimeout(() => workerSide.onmessage?.({ data } as MessageEvent<unknown>), 0);
  },
  terminate() {},
};

describe('scoring worker + client (in-process)', () => {
  const g = globalThis as { self?: unknown };
  const hadSelf = 'self' in g;
  beforeAll(async () => {
    workerSide.postMessage = (msg, transfer) => {
      const data = structuredClone(msg, { transfer });
      setTimeout(() => endpoint.onmessage?.({ data } as MessageEvent<unknown>), 0);
    };
    g.self = workerSide;
    await import('./scoring.worker.ts');
  });
  afterAll(() => {
    if (!hadSelf) delete g.self;
  });

  it('init transfers the model, scores come back right, the caller keeps its items', async () => {
    const p = params(5);
    const items = randomItems(6, 150);
    const client = new ScoringClient(endpoint);
    await expect(client.score(items)).rejects.toThrow(/no model: send init first/);
    const model = new Uint8Array(exportBagRMOnnx(p)); // own buffer (Node's protobuf writer returns a pooled Buffer view)
    const ready = await client.init(model, { wasmPaths: '', numThreads: 1, batchItems: 16 });
    expect(ready.ep).toBe('wasm');
    expect(model.byteLength).toBe(0); // transferred, not copied
    const idx = Int32Array.from({ length: 80 }, (_, i) => (i * 53 + 7) % 150);
    const [a, b] = await Promise.all([client.scorer(items, idx), client.score(items)]);
    expect(maxDiff(a, scoreItems(p, items, idx))).toBeLessThan(1e-4);
    expect(maxDiff(b, scoreItems(p, items))).toBeLessThan(1e-4);
    expect(items.promptIds.length).toBeGreaterThan(0); // the caller's arrays were copied into the transfer, not detached
    await client.release();
    await expect(client.score(items)).rejects.toThrow(/no model/);
  });

  it('init by URL: the scoring worker fetches the file itself; a file it cannot read is named in the error', async () => {
    const p = params(6);
    const items = randomItems(7, 40);
    const client = new ScoringClient(endpoint);
    const url = `data:application/octet-stream;base64,${Buffer.from(exportBagRMOnnx(p)).toString('base64')}`;
    expect((await client.init({ url }, { wasmPaths: '', numThreads: 1 })).ep).toBe('wasm');
    expect(maxDiff(await client.score(items), scoreItems(p, items))).toBeLessThan(1e-4);
    await client.release();
    // Port 9 (discard) on localhost: nothing listens there, so the fetch fails.
    await expect(new ScoringClient(endpoint).init({ url: 'http://127.0.0.1:9/models/x/onnx/model.onnx' }, { wasmPaths: '', numThreads: 1 })).rejects.toThrow(
      /model file http:\/\/127\.0\.0\.1:9\/models\/x\/onnx\/model\.onnx could not be read/,
    );
  });

  it('a malformed request is answered with an error, and a dead worker rejects what is pending', async () => {
    const replies: unknown[] = [];
    const prev = endpoint.onmessage;
    // Wait for the reply itself (a fixed delay flaked on a loaded machine), bounded so a missing reply fails.
    const replied = new Promise<void>((resolve) => {
      endpoint.onmessage = (ev) => {
        replies.push(ev.data);
        resolve();
      };
    });
    endpoint.postMessage({ type: 'score', id: 77, items: { count: 2 } }, []);
    await Promise.race([replied, new Promise((r) => setTimeout(r, 10_000))]);
    expect(replies).toEqual([{ type: 'error', id: 77, message: 'malformed scoring request' }]);
    endpoint.onmessage = prev;

    const silent: ScoringEndpoint = { onmessage: null, onerror: null, postMessage: () => {}, terminate: () => {} };
    const c = new ScoringClient(silent);
    const pending = c.score(randomItems(1, 3));
    await new Promise((r) => setTimeout(r, 0));
    silent.onerror?.({ message: 'boom', preventDefault() {} } as ErrorEvent);
    await expect(pending).rejects.toThrow(/scoring worker failed: boom/);
    await expect(c.score(randomItems(1, 3))).rejects.toThrow(/boom/);
  });
});

describe('scoring protocol validators', () => {
  const items = randomItems(9, 4);
  it('accepts well-formed messages and rejects the rest', () => {
    expect(isEncodedItems(items)).toBe(true);
    expect(isEncodedItems({ ...items, count: 5 })).toBe(false);
    expect(isEncodedItems({ ...items, promptIds: Array.from(items.promptIds) })).toBe(false);
    const bad = { ...items, responseOffsets: Int32Array.from(items.responseOffsets) };
    bad.responseOffsets[2] = bad.responseOffsets[1] - 1;
    expect(isEncodedItems(bad)).toBe(false);
    expect(parseToScoring({ type: 'score', id: 1, items })?.type).toBe('score');
    expect(parseToScoring({ type: 'init', id: 1, model: new ArrayBuffer(4), prefer: 'auto', wasmPaths: '/ort/', numThreads: 0 })).toMatchObject({
      type: 'init',
      numThreads: undefined,
    });
    expect(parseToScoring({ type: 'init', id: 1, model: new Uint8Array(4), prefer: 'auto', wasmPaths: '/ort/' })).toBeNull();
    expect(parseToScoring({ type: 'init', id: 1, model: { url: 'http://h/m.onnx', extra: 1 }, prefer: 'auto', wasmPaths: '/ort/' })).toMatchObject({ model: { url: 'http://h/m.onnx' } });
    expect(parseToScoring({ type: 'init', id: 1, model: { url: 5 }, prefer: 'auto', wasmPaths: '/ort/' })).toBeNull();
    expect(parseToScoring({ type: 'init', id: 1, model: new ArrayBuffer(4), prefer: 'gpu', wasmPaths: '/ort/' })).toBeNull();
    expect(parseToScoring({ type: 'nope', id: 1 })).toBeNull();
    expect(parseFromScoring({ type: 'scores', id: 2, scores: new Float32Array(3), ms: 1 })?.type).toBe('scores');
    expect(parseFromScoring({ type: 'scores', id: 2, scores: [1, 2], ms: 1 })).toBeNull();
    expect(parseFromScoring({ type: 'ready', id: 2, ep: 'webgl', reason: '', initMs: 1 })).toBeNull();
    expect(parseFromScoring({ type: 'ready', id: 2, ep: 'webgpu', reason: 'x', initMs: 1, adapter: 'google/swiftshader' })?.type).toBe('ready');
  });

  it("experiment protocol: 'export-model' and 'model'", () => {
    expect(parseToWorker({ type: 'export-model', id: 3, country: 'Chile', method: 'scpo' })).toEqual({ type: 'export-model', id: 3, country: 'Chile', method: 'scpo' });
    expect(parseToWorker({ type: 'export-model', id: 3, country: 'Chile', method: 'dpo' })).toBeNull();
    const file = (path: string) => ({ path, bytes: new ArrayBuffer(2) });
    const ok = { type: 'model', id: 4, country: 'Chile', method: 'scpo', files: [file('config.json'), file('onnx/model.onnx')] };
    expect(parseFromWorker(ok)?.type).toBe('model');
    for (const path of ['../x', '/abs', 'a//b', 'onnx/./m', 'a\\b', '']) {
      expect(parseFromWorker({ ...ok, files: [file(path)] }), path).toBeNull();
    }
    expect(parseFromWorker({ ...ok, files: [{ path: 'config.json', bytes: 'x' }] })).toBeNull();
    expect(parseFromWorker({ ...ok, files: [] })).toBeNull();
  });
});

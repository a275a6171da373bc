// Benchmark helper worker: scores items with onnxruntime-web either inline (OrtScorer in this worker) or through a
// nested scoring worker (ScoringClient.spawn() from here), to decide how the experiment worker should score.
import { OrtScorer } from '../../src/workers/ort-scorer.ts';
import type { OrtPreference } from '../../src/workers/ort-scorer.ts';
import { ScoringClient } from '../../src/workers/scoring-client.ts';
import { isEncodedItems } from '../../src/workers/scoring-protocol.ts';

declare const self: {
  postMessage(msg: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent<unknown>) => void) | null;
};

interface Req {
  mode: 'inline' | 'nested';
  model: ArrayBuffer;
  items: unknown;
  prefer: OrtPreference;
  wasmPaths: string;
}

self.onmessage = async (ev: MessageEvent<unknown>) => {
  const r = ev.data as Req;
  try {
    if (!isEncodedItems(r.items)) throw new Error('bad items');
    const items = r.items;
    const t0 = performance.now();
    if (r.mode === 'inline') {
      const s = await OrtScorer.create(new Uint8Array(r.model), { prefer: r.prefer, wasmPaths: r.wasmPaths });
      const t1 = performance.now();
      const scores = await s.score(items);
      const t2 = performance.now();
      await s.release();
      self.postMessage({ ok: true, ep: s.info.ep, reason: s.info.reason, initMs: t1 - t0, scoreMs: t2 - t1, scores }, [scores.buffer]);
    } else {
      const c = ScoringClient.spawn();
      const ready = await c.init(new Uint8Array(r.model), { prefer: r.prefer, wasmPaths: r.wasmPaths });
      const t1 = performance.now();
      const scores = await c.score(items);
      const t2 = performance.now();
      c.dispose();
      self.postMessage({ ok: true, ep: ready.ep, reason: ready.reason, initMs: t1 - t0, scoreMs: t2 - t1, scores }, [scores.buffer]);
    }
  } catch (e) {
    self.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
  }
};

// The scoring worker: one onnxruntime-web session of the global RM (webgpu EP, wasm fallback). Requests are
// handled strictly one after another, so calls on the session never overlap; scores go back as transfers.
import { fetchReader } from '../pipeline/rm/files.ts';
import { OrtScorer } from './ort-scorer.ts';
import { parseToScoring } from './scoring-protocol.ts';
import type { FromScoring, ToScoring } from './scoring-protocol.ts';

declare const self: {
  postMessage(msg: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<unknown>) => void) | null;
};

function post(msg: FromScoring, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

let scorer: OrtScorer | null = null;

/** The model file at `url`, read with fetchReader's retries (two workers fetching it at once can fail one). */
async function fetchModel(url: string): Promise<Uint8Array> {
  const cut = url.lastIndexOf('/') + 1;
  try {
    return await fetchReader(url.slice(0, cut))(url.slice(cut));
  } catch (e) {
    throw new Error(`model file ${url} could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

let queue: Promise<void> = Promise.resolve();

async function handle(msg: ToScoring): Promise<void> {
  try {
    switch (msg.type) {
      case 'init': {
        if (scorer) await scorer.release();
        scorer = null;
        const s = await OrtScorer.create(msg.model instanceof ArrayBuffer ? new Uint8Array(msg.model) : await fetchModel(msg.model.url), {
          prefer: msg.prefer,
          wasmPaths: msg.wasmPaths,
          numThreads: msg.numThreads,
          batchItems: msg.batchItems,
          model: msg.modelKind,
        });
        scorer = s;
        post({ type: 'ready', id: msg.id, ...s.info });
        return;
      }
      case 'score': {
        if (!scorer) throw new Error('no model: send init first');
        const t0 = performance.now();
        const scores = await scorer.score(msg.items);
        post({ type: 'scores', id: msg.id, scores, ms: Math.round(performance.now() - t0) }, [scores.buffer]);
        return;
      }
      case 'embed': {
        if (!scorer) throw new Error('no model: send init first');
        const t0 = performance.now();
        const embeddings = await scorer.embed(msg.items);
        post({ type: 'embeddings', id: msg.id, embeddings, ms: Math.round(performance.now() - t0) }, [embeddings.buffer]);
        return;
      }
      case 'release':
        await scorer?.release();
        scorer = null;
        post({ type: 'released', id: msg.id });
        return;
    }
  } catch (e) {
    post({ type: 'error', id: msg.id, message: e instanceof Error ? e.message : String(e) });
  }
}

self.onmessage = (ev: MessageEvent<unknown>) => {
  const msg = parseToScoring(ev.data);
  if (!msg) {
    const id = typeof (ev.data as { id?: unknown })?.id === 'number' ? (ev.data as { id: number }).id : -1;
    post({ type: 'error', id, message: 'malformed scoring request' });
    return;
  }
  queue = queue.then(() => handle(msg));
};

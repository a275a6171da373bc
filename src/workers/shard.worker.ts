// A shard worker: trains one shard's part of an experiment (its (country, method) runs and efficiency subsets, see
// src/pipeline/experiment/shards.ts) with the same runExperiment as everything else, from inputs the experiment
// worker prepared once (tokenized items, global params, global scores), and streams its events back in batches.
import { navigatorGpu } from '../gpu/device.ts';
import { selectBackend } from '../gpu/select.ts';
import { runExperiment, scoresScorer } from '../pipeline/experiment.ts';
import { ModelStore } from '../pipeline/rm/model-store.ts';
import { CancelledError } from '../pipeline/train/loop.ts';
import { ConfigError, DataError } from '../pipeline/types.ts';
import { batcher } from './batcher.ts';
import type { WorkerError } from './protocol.ts';
import { parseToShard } from './shard-protocol.ts';
import type { FromShard, ToShard } from './shard-protocol.ts';

declare const self: {
  postMessage(msg: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<unknown>) => void) | null;
};

function post(msg: FromShard, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

function toWorkerError(e: unknown): WorkerError {
  if (e instanceof DataError) return { kind: 'data', message: e.message, file: e.file, line: e.line, field: e.field };
  if (e instanceof ConfigError) return { kind: 'config', message: e.message };
  if (e instanceof CancelledError) return { kind: 'cancelled', message: 'run cancelled' };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

let paused = false;
let wake: (() => void) | null = null;

async function run(msg: Extract<ToShard, { type: 'run' }>): Promise<void> {
  const sink = batcher<Parameters<NonNullable<Parameters<typeof runExperiment>[0]['onEvent']>>[0]>((events) => post({ type: 'events', events }));
  // Since this worker was created (its time origin): module load plus receiving the inputs, before any training.
  const readyMs = performance.now();
  try {
    const { backend } = await selectBackend(msg.backend, navigatorGpu() ?? null);
    // The coordinator's scores, looked up by item: the same numbers an unsharded run scores.
    const gScores = new Float32Array(msg.encoded.count).fill(Number.NaN);
    for (let i = 0; i < msg.scoredItems.length; i++) gScores[msg.scoredItems[i]] = msg.scores[i];
    const scorer = scoresScorer(gScores);
    const store = new ModelStore(msg.globalParams);
    const result = await runExperiment({
      data: msg.data,
      encoded: msg.encoded,
      globalParams: msg.globalParams,
      backend,
      globalScorer: scorer,
      config: msg.config,
      completed: msg.completed,
      shard: msg.shard,
      onEvent: sink.push,
      control: { waitIfPaused: () => (paused ? new Promise<void>((r) => (wake = r)) : Promise.resolve()) },
      onModel: (c, m, params) => {
        store.put(c, m, params);
        const model = store.entry(c, m);
        if (model) post({ type: 'model', country: c, method: m, model });
        store.clear();
      },
    });
    result.timings.shardReadyMs = Math.round(readyMs);
    sink.flush();
    post({ type: 'result', result });
  } catch (e) {
    sink.flush();
    post({ type: 'error', error: toWorkerError(e) });
  }
}

self.onmessage = (ev: MessageEvent<unknown>) => {
  const msg = parseToShard(ev.data);
  if (!msg) {
    post({ type: 'error', error: { kind: 'internal', message: 'malformed shard request' } });
    return;
  }
  if (msg.type === 'pause') paused = true;
  else if (msg.type === 'resume') {
    paused = false;
    wake?.();
    wake = null;
  } else void run(msg);
};

// The experiment worker's side of parallel training: starts one shard worker per extra shard (nested module workers,
// like the scoring worker), hands each the prepared inputs, relays their events and trained models, and collects
// their partial results for mergeShards. Pause/resume are forwarded; cancel terminates them.
import type { ExperimentEvent, ExperimentResult } from '../pipeline/experiment.ts';
import type { StoredModel } from '../pipeline/rm/model-store.ts';
import { CancelledError } from '../pipeline/train/loop.ts';
import type { Method } from '../pipeline/types.ts';
import { parseFromShard } from './shard-protocol.ts';
import type { ToShard } from './shard-protocol.ts';

export interface ShardPool {
  /** The shards' results, in shard order; rejects with the first shard's error (the others are stopped). */
  results: Promise<ExperimentResult[]>;
  pause(): void;
  resume(): void;
  /** Stops every shard worker; `results` rejects with CancelledError. */
  cancel(): void;
}

/**
 * Runs `requests` (shards 1..n-1 of one experiment) in shard workers. `onEvent(index, event)` gets each shard's events,
 * `onModel` its trained main-run models (compact, for export).
 */
export function startShards(
  requests: Extract<ToShard, { type: 'run' }>[],
  onEvent: (shard: number, e: ExperimentEvent) => void,
  onModel: (country: string, method: Method, model: StoredModel) => void,
): ShardPool {
  const workers: Worker[] = [];
  let fail: (e: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});
  const stopAll = () => {
    for (const w of workers) w.terminate();
  };
  const one = (req: Extract<ToShard, { type: 'run' }>) =>
    new Promise<ExperimentResult>((resolve, reject) => {
      const w = new Worker(new URL('./shard.worker.ts', import.meta.url), { type: 'module', name: `scpo-shard-${req.shard.index}` });
      workers.push(w);
      w.onmessage = (ev: MessageEvent<unknown>) => {
        const msg = parseFromShard(ev.data);
        if (!msg) return reject(new Error(`shard ${req.shard.index + 1}/${req.shard.of}: malformed message`));
        if (msg.type === 'events') for (const e of msg.events) onEvent(req.shard.index, e);
        else if (msg.type === 'model') onModel(msg.country, msg.method, msg.model);
        else if (msg.type === 'result') resolve(msg.result);
        else reject(msg.error.kind === 'cancelled' ? new CancelledError() : new Error(`shard ${req.shard.index + 1}/${req.shard.of}: ${msg.error.message}`));
      };
      w.onerror = (ev) => reject(new Error(`shard ${req.shard.index + 1}/${req.shard.of} failed: ${ev.message}`));
      // Copies, not transfers: the coordinator keeps training its own shard on the same arrays.
      w.postMessage(req);
    });
  const all = Promise.all(requests.map(one));
  const results = Promise.race([all, failed]).finally(stopAll);
  // The first shard to fail stops the rest.
  all.catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));
  return {
    results,
    pause: () => workers.forEach((w) => w.postMessage({ type: 'pause' } satisfies ToShard)),
    resume: () => workers.forEach((w) => w.postMessage({ type: 'resume' } satisfies ToShard)),
    cancel: () => {
      stopAll();
      fail(new CancelledError());
    },
  };
}

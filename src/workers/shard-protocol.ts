// Messages between the experiment worker and its shard workers (parallel training by (country, method), see
// src/pipeline/experiment/shards.ts): the shard gets what it needs to train its part without loading anything (the
// data's pairs, the tokenized items, the global RM's params and its scores of the items), and answers with batched
// events, the compact trained models (for export) and its partial result. Validated on receipt, like protocol.ts.
import type { CompletedRuns, ExperimentConfig, ExperimentEvent, ExperimentResult } from '../pipeline/experiment.ts';
import type { StoredModel } from '../pipeline/rm/model-store.ts';
import type { BagRMParams, EncodedItems } from '../pipeline/rm/types.ts';
import type { Method, PreferenceData } from '../pipeline/types.ts';
import { METHODS } from '../pipeline/types.ts';
import type { BackendPref, WorkerError } from './protocol.ts';

/** The data a shard needs: everything but the texts (the items are already tokenized). */
export type ShardData = Omit<PreferenceData, 'items'> & { items: [] };

export type ToShard =
  | {
      type: 'run';
      shard: { index: number; of: number };
      config: ExperimentConfig;
      data: ShardData;
      encoded: EncodedItems;
      globalParams: BagRMParams;
      /** The global RM's scores of `scoredItems` (the coordinator scored them once, with onnxruntime-web). */
      scoredItems: Int32Array;
      scores: Float32Array;
      backend: BackendPref;
      completed?: CompletedRuns;
    }
  | { type: 'pause' }
  | { type: 'resume' };

export type FromShard =
  | { type: 'events'; events: ExperimentEvent[] }
  | { type: 'model'; country: string; method: Method; model: StoredModel }
  | { type: 'result'; result: ExperimentResult }
  | { type: 'error'; error: WorkerError };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export function parseFromShard(v: unknown): FromShard | null {
  if (!isRecord(v)) return null;
  switch (v.type) {
    case 'events':
      return Array.isArray(v.events) && v.events.every((e) => isRecord(e) && typeof e.type === 'string') ? { type: 'events', events: v.events as ExperimentEvent[] } : null;
    case 'model': {
      const m = v.model;
      const ok =
        typeof v.country === 'string' &&
        typeof v.method === 'string' &&
        (METHODS as readonly string[]).includes(v.method) &&
        isRecord(m) &&
        m.rows instanceof Int32Array &&
        [m.values, m.W1, m.b1, m.W2, m.b2].every((a) => a instanceof Float32Array);
      return ok ? { type: 'model', country: v.country as string, method: v.method as Method, model: m as unknown as StoredModel } : null;
    }
    case 'result':
      return isRecord(v.result) && Array.isArray(v.result.runs) && isRecord(v.result.reports) ? { type: 'result', result: v.result as unknown as ExperimentResult } : null;
    case 'error':
      return isRecord(v.error) && typeof v.error.message === 'string' && typeof v.error.kind === 'string' ? { type: 'error', error: v.error as unknown as WorkerError } : null;
  }
  return null;
}

export function parseToShard(v: unknown): ToShard | null {
  if (!isRecord(v)) return null;
  if (v.type === 'pause' || v.type === 'resume') return { type: v.type };
  if (v.type !== 'run') return null;
  const sh = v.shard;
  const ok =
    isRecord(sh) &&
    typeof sh.index === 'number' &&
    typeof sh.of === 'number' &&
    isRecord(v.config) &&
    isRecord(v.data) &&
    Array.isArray((v.data as { pairs?: unknown }).pairs) &&
    isRecord(v.encoded) &&
    isRecord(v.globalParams) &&
    v.scoredItems instanceof Int32Array &&
    v.scores instanceof Float32Array &&
    v.scores.length === v.scoredItems.length &&
    typeof v.backend === 'string';
  return ok ? (v as unknown as ToShard) : null;
}

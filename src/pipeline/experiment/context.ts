// State shared by the phases of one experiment run: the config, the event sink, and the backend, which
// switches to cpu for good if it is lost (see train/loop.ts: the run in flight resumes from its checkpoint).
import type { Backend, Trainer } from '../../gpu/backend.ts';
import type { BagRMParams, EncodedItems } from '../rm/types.ts';
import type { FailoverOptions } from '../train/loop.ts';
import type { ExperimentConfig } from './config.ts';
import type { ExperimentEvent, ExperimentInputs } from './types.ts';

export class RunContext<P = BagRMParams> {
  backend: Backend<P>;
  /** Appended to the backend's description in the result when the run fell back. */
  fellBack = '';
  readonly emit: (e: ExperimentEvent) => void;

  constructor(
    readonly inp: ExperimentInputs<P>,
    readonly config: ExperimentConfig,
  ) {
    this.backend = inp.backend;
    this.emit = inp.onEvent ?? (() => {});
  }

  /** Failover options for one named run: on loss, later runs use the new backend too. */
  failover(run: string): FailoverOptions<P> {
    return {
      checkpointEvery: this.inp.checkpointEvery,
      fallback: this.inp.fallback,
      onFallback: (f, next) => {
        this.backend = next;
        this.fellBack = ` (fell back from ${f.from}: ${f.reason})`;
        this.emit({ type: 'backend-fallback', run, ...f });
      },
    };
  }
}

export function unique(a: Iterable<number>): Int32Array {
  return Int32Array.from(new Set(a)).sort();
}

/** Scores `indices` with `trainer` into a full-length item array (NaN elsewhere), so pairs can index it. */
export async function scoreInto<P>(trainer: Trainer<P>, encoded: EncodedItems, indices: Int32Array): Promise<Float32Array> {
  const s = await trainer.score(encoded, indices);
  const full = new Float32Array(encoded.count).fill(Number.NaN);
  for (let i = 0; i < indices.length; i++) full[indices[i]] = s[i];
  return full;
}

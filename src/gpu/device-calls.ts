// Serialised calls on a GPU device that may be lost: the WebGPU trainers (bag RM, USE-lite RM) run one call at
// a time, and when the device goes away every pending and later call rejects with the typed GpuDeviceLostError,
// which FailoverTrainer (src/pipeline/train/loop.ts) answers by continuing on the cpu from the last checkpoint.
import type { GpuDeviceLostError } from './device.ts';

/** The device-loss state of a GpuContext (or a never-lost stand-in for plans run on the CPU twins). */
export interface LostState {
  lost: Promise<GpuDeviceLostError>;
  readonly lostError: GpuDeviceLostError | null;
}

/** A never-lost state (plans executed on the kernels' CPU twins). */
export function neverLost(): LostState {
  return { lost: new Promise<GpuDeviceLostError>(() => undefined), lostError: null };
}

export class DeviceCalls {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly lostRejection: Promise<never>;
  disposed = false;

  constructor(
    private readonly lostState: LostState,
    /** Named in the used-after-dispose error. */
    private readonly what: string,
  ) {
    this.lostRejection = lostState.lost.then((e) => {
      throw e;
    });
    this.lostRejection.catch(() => undefined);
  }

  /** Runs `fn` after the calls before it; rejects with the device-lost error if the device goes away meanwhile. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.disposed) throw new Error(`${this.what}: used after dispose()`);
      const lost = this.lostState.lostError;
      if (lost) throw lost;
      try {
        return await Promise.race([fn(), this.lostRejection]);
      } catch (e) {
        // A map or submit can fail (AbortError) a moment before device.lost resolves: give it that moment,
        // so callers see the typed error they fall back on rather than a generic one.
        const lost =
          this.lostState.lostError ??
          (await Promise.race([this.lostState.lost, new Promise<null>((r) => setTimeout(() => r(null), 10))]));
        throw lost ?? e;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

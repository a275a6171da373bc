// The one in-flight run of a worker and its pause/resume/cancel handling, shared by the experiment and policy
// workers: a new run cancels the previous one; control messages for another run id are ignored.
import type { RunControl } from '../pipeline/train/loop.ts';

export type ControlType = 'pause' | 'resume' | 'cancel';

export class RunSlot {
  private current: { id: number; abort: AbortController; paused: boolean; wake: (() => void) | null; listeners: ((type: ControlType) => void)[] } | null = null;

  /** Starts run `id` (cancelling any other) and returns the RunControl the pipeline polls, plus `end` for finally. */
  /** `onControl`: also tell helpers of the run (e.g. shard workers) about pause/resume/cancel. */
  begin(id: number): { control: RunControl; end: () => void; onControl: (fn: (type: ControlType) => void) => void } {
    this.cancelCurrent();
    const run = { id, abort: new AbortController(), paused: false, wake: null as (() => void) | null, listeners: [] as ((type: ControlType) => void)[] };
    this.current = run;
    return {
      control: {
        signal: run.abort.signal,
        waitIfPaused: () => (run.paused ? new Promise<void>((r) => (run.wake = r)) : Promise.resolve()),
      },
      end: () => {
        if (this.current === run) this.current = null;
      },
      onControl: (fn: (type: ControlType) => void) => run.listeners.push(fn),
    };
  }

  /** Applies pause/resume/cancel to run `id` if it is the one in flight. */
  control(type: ControlType, id: number): void {
    const run = this.current;
    if (!run || run.id !== id) return;
    if (type !== 'cancel') for (const fn of run.listeners) fn(type);
    if (type === 'cancel') {
      this.cancelCurrent();
    } else if (type === 'pause') {
      run.paused = true;
    } else {
      run.paused = false;
      run.wake?.();
      run.wake = null;
    }
  }

  private cancelCurrent(): void {
    const run = this.current;
    if (!run) return;
    if (!run.abort.signal.aborted) for (const fn of run.listeners) fn('cancel');
    run.abort.abort();
    run.wake?.();
  }
}

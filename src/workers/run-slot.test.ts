import { describe, expect, it } from 'vitest';
import { RunSlot } from './run-slot.ts';

describe('RunSlot', () => {
  it('pauses until resumed and ignores other run ids', async () => {
    const slot = new RunSlot();
    const { control } = slot.begin(1);
    slot.control('pause', 2); // not the current run
    await expect(control.waitIfPaused!()).resolves.toBeUndefined();
    slot.control('pause', 1);
    let resumed = false;
    const waiting = control.waitIfPaused!().then(() => (resumed = true));
    await Promise.resolve();
    expect(resumed).toBe(false);
    slot.control('resume', 1);
    await waiting;
    expect(resumed).toBe(true);
  });

  it('cancel aborts and wakes a paused run; a new run cancels the old one', async () => {
    const slot = new RunSlot();
    const a = slot.begin(1);
    slot.control('pause', 1);
    const waiting = a.control.waitIfPaused!();
    slot.control('cancel', 1);
    await waiting;
    expect(a.control.signal!.aborted).toBe(true);
    const b = slot.begin(2);
    const c = slot.begin(3);
    expect(b.control.signal!.aborted).toBe(true);
    expect(c.control.signal!.aborted).toBe(false);
    b.end(); // ending a stale run leaves the current one alone
    slot.control('cancel', 3);
    expect(c.control.signal!.aborted).toBe(true);
  });
});

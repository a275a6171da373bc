import { describe, expect, it, vi } from 'vitest';
import { batcher } from './batcher.ts';

describe('batcher', () => {
  it('sends queued items together at most once per interval, and flush sends at once', () => {
    vi.useFakeTimers();
    try {
      const sent: number[][] = [];
      const b = batcher<number>((xs) => sent.push(xs), 100);
      b.push(1);
      b.push(2);
      expect(sent).toEqual([]); // never synchronously
      vi.advanceTimersByTime(0); // the first batch goes at once
      expect(sent).toEqual([[1, 2]]);
      vi.advanceTimersByTime(30);
      b.push(3);
      vi.advanceTimersByTime(60); // 90 ms after the last send: still held back
      expect(sent).toHaveLength(1);
      vi.advanceTimersByTime(10);
      expect(sent).toEqual([[1, 2], [3]]);
      b.push(4);
      b.flush(); // flush sends at once
      expect(sent).toEqual([[1, 2], [3], [4]]);
      b.flush(); // nothing queued: nothing sent
      expect(sent).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('lets a newer item replace the one it supersedes', () => {
    const sent: string[][] = [];
    const b = batcher<string>((xs) => sent.push(xs), 100, (q, x) => q[0] === 'L' && x[0] === 'L');
    b.push('a');
    b.push('L1');
    b.push('b');
    b.push('L2');
    b.flush();
    expect(sent).toEqual([['a', 'b', 'L2']]);
  });
});

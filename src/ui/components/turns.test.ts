// The charts' turn queue (turns.ts): one chart's heavy render at a time, the next one in a later task.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TURN_MAX_MS, Turns } from './turns.ts';

/** Runs the timers of the next task (a setTimeout 0 fires after 1 ms under fake timers, as in Node). */
const nextTask = () => void vi.advanceTimersByTime(1);

describe('Turns', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('grants one turn at a time, the next only in a later task after the holder ends', () => {
    const q = new Turns();
    const ran: string[] = [];
    const [a, b, c] = [{}, {}, {}];
    q.ask(a, () => ran.push('a'));
    q.ask(b, () => ran.push('b'));
    q.ask(c, () => ran.push('c'));
    // The first is granted at once (nothing else held), the others wait.
    expect(ran).toEqual(['a']);
    expect(q.holds(a)).toBe(true);
    expect(q.queued).toBe(2);
    vi.advanceTimersByTime(TURN_MAX_MS - 1);
    expect(ran).toEqual(['a']);
    q.end(a);
    // Not in the same task as the end: the browser gets to paint and handle input in between.
    expect(ran).toEqual(['a']);
    nextTask();
    expect(ran).toEqual(['a', 'b']);
    q.end(b);
    nextTask();
    expect(ran).toEqual(['a', 'b', 'c']);
    q.end(c);
    nextTask();
    expect(q.queued).toBe(0);
    expect(q.holds(c)).toBe(false);
  });

  it('a holder asking again while queued keeps its place and runs only its newest go', () => {
    const q = new Turns();
    const ran: string[] = [];
    const [a, b, c] = [{}, {}, {}];
    q.ask(a, () => ran.push('a'));
    q.ask(b, () => ran.push('b1'));
    q.ask(c, () => ran.push('c'));
    q.ask(b, () => ran.push('b2'));
    expect(q.queued).toBe(2);
    q.end(a);
    nextTask();
    q.end(b);
    nextTask();
    expect(ran).toEqual(['a', 'b2', 'c']);
  });

  it('drop leaves the queue; end from a token not holding the turn changes nothing', () => {
    const q = new Turns();
    const ran: string[] = [];
    const [a, b, c] = [{}, {}, {}];
    q.ask(a, () => ran.push('a'));
    q.ask(b, () => ran.push('b'));
    q.ask(c, () => ran.push('c'));
    q.drop(b);
    q.end(c);
    nextTask();
    expect(q.holds(a)).toBe(true);
    expect(ran).toEqual(['a']);
    q.end(a);
    nextTask();
    expect(ran).toEqual(['a', 'c']);
  });

  it('a turn never ended (its chart unmounted meanwhile) is taken back after TURN_MAX_MS', () => {
    const q = new Turns();
    const ran: string[] = [];
    const [a, b] = [{}, {}];
    q.ask(a, () => ran.push('a'));
    q.ask(b, () => ran.push('b'));
    vi.advanceTimersByTime(TURN_MAX_MS - 1);
    expect(ran).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(q.holds(a)).toBe(false);
    nextTask();
    expect(ran).toEqual(['a', 'b']);
    // A late end from the old holder does not end b's turn.
    q.end(a);
    expect(q.holds(b)).toBe(true);
  });

  it('an ask while the next grant is already scheduled waits for it (no turn in the ending task)', () => {
    const q = new Turns();
    const ran: string[] = [];
    const [a, b] = [{}, {}];
    q.ask(a, () => ran.push('a'));
    q.end(a);
    q.ask(b, () => ran.push('b'));
    expect(ran).toEqual(['a']);
    nextTask();
    expect(ran).toEqual(['a', 'b']);
  });
});

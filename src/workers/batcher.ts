// Throttled batching of a worker's progress messages, shared by the experiment and policy workers: items queue up
// and go out together at most once per interval, so a fast loop cannot flood the page with messages.

export interface Batcher<T> {
  push: (item: T) => void;
  /** Sends what is queued now (before a result or an error, so nothing arrives after it). */
  flush: () => void;
}

/**
 * `send` receives the queued items at most every `intervalMs`. `replaces(queued, item)` lets a newer item drop an
 * older queued one it supersedes (e.g. the latest text of a live sample).
 */
export function batcher<T>(send: (items: T[]) => void, intervalMs = 100, replaces?: (queued: T, item: T) => boolean): Batcher<T> {
  let queue: T[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (queue.length === 0) return;
    const items = queue;
    queue = [];
    last = Date.now();
    send(items);
  };
  return {
    push(item) {
      if (replaces) queue = queue.filter((q) => !replaces(q, item));
      queue.push(item);
      if (!timer) timer = setTimeout(flush, Math.max(0, intervalMs - (Date.now() - last)));
    },
    flush,
  };
}

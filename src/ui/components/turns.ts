// Turns: the charts' heavy work (a recharts mount, or a live chart taking new data) runs one chart at a time, each in a
// task of its own. A recharts render measures its ticks in the DOM and re-renders synchronously from its layout effects
// (its internal store), so React cannot time-slice it: charts that got data together, or mounted together (the charts
// tab opened), would otherwise commit in one long task of the page's main thread, which during a run shares the cores
// with the training workers (bench:studio: a chart's first render costs 20-90 ms of CPU there, and the main thread gets
// a third to a half of a core while the workers train).
//
// A holder asks for a turn; `go` runs when the turn is granted (it sets the state that makes the chart render). The
// turn ends when the holder says its render committed (endTurn), or after TURN_MAX_MS should it never do so (unmounted
// meanwhile); the next turn is granted in a later task (setTimeout 0), so the browser can paint and handle input in
// between. A holder asking again while queued keeps its place with the newer `go` (the newest value wins).

/** The longest a turn is held when its holder never ends it. */
export const TURN_MAX_MS = 500;

export type Token = object;

interface Waiting {
  token: Token;
  go: () => void;
}

/** A turn queue (one per page in the app: `turns`; tests make their own). */
export class Turns {
  private waiting: Waiting[] = [];
  private holder: { token: Token; timer: ReturnType<typeof setTimeout> } | null = null;
  private pending: ReturnType<typeof setTimeout> | null = null;

  /** Queues `token` (or updates its `go` in place when already queued); `go` runs when its turn comes. */
  ask(token: Token, go: () => void): void {
    const queued = this.waiting.find((w) => w.token === token);
    if (queued) queued.go = go;
    else this.waiting.push({ token, go });
    this.grant();
  }

  /** Leaves the queue (the turn being held, if any, is kept until end). */
  drop(token: Token): void {
    const i = this.waiting.findIndex((w) => w.token === token);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** The holder's render committed: the next turn is granted in a later task. No-op for a token not holding the turn. */
  end(token: Token): void {
    if (this.holder?.token !== token) return;
    clearTimeout(this.holder.timer);
    this.holder = null;
    this.schedule();
  }

  /** Whether `token` holds the turn now. */
  holds(token: Token): boolean {
    return this.holder?.token === token;
  }

  /** How many wait for a turn (not counting the holder). */
  get queued(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.pending !== null) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.grant();
    }, 0);
  }

  private grant(): void {
    if (this.holder || this.pending !== null) return;
    const next = this.waiting.shift();
    if (!next) return;
    const token = next.token;
    this.holder = { token, timer: setTimeout(() => this.end(token), TURN_MAX_MS) };
    next.go();
  }
}

/** The page's turn queue, shared by all charts (mounts and live updates alike). */
export const turns = new Turns();

// Virtual time. Everything in the simulated world happens as an event on this queue, so
// a run is a pure function of the seed and 60 s of a 1,000-node cluster take as long as
// the work in them, not 60 s.

export interface ScheduledEvent {
  readonly at: number;
  cancelled: boolean;
}

interface Entry extends ScheduledEvent {
  readonly seq: number;
  readonly fn: () => void;
}

export class Scheduler {
  private readonly heap = new EventHeap();
  private seq = 0;
  private clock = 0;
  private processed = 0;

  /** Current virtual time in ms. */
  get now(): number {
    return this.clock;
  }

  /** Events run so far (a cost measure for benchmarks). */
  get eventsProcessed(): number {
    return this.processed;
  }

  get pending(): number {
    return this.heap.size;
  }

  /** Run `fn` at virtual time `at` (clamped to now). Same-time events run in scheduling order. */
  at(at: number, fn: () => void): ScheduledEvent {
    const entry: Entry = { at: at < this.clock ? this.clock : at, seq: this.seq++, fn, cancelled: false };
    this.heap.push(entry);
    return entry;
  }

  after(delayMs: number, fn: () => void): ScheduledEvent {
    return this.at(this.clock + Math.max(0, delayMs), fn);
  }

  /** Run the next event; false when none is left. */
  step(): boolean {
    for (;;) {
      const e = this.heap.pop();
      if (!e) return false;
      if (e.cancelled) continue;
      this.clock = e.at;
      this.processed++;
      e.fn();
      return true;
    }
  }

  /** Run every event up to and including `t`, then leave the clock at `t`. */
  runUntil(t: number): void {
    for (;;) {
      const top = this.heap.peek();
      if (!top || top.at > t) break;
      this.heap.pop();
      if (top.cancelled) continue;
      this.clock = top.at;
      this.processed++;
      top.fn();
    }
    if (t > this.clock) this.clock = t;
  }

  runFor(ms: number): void {
    this.runUntil(this.clock + ms);
  }
}

/** Whether `a` runs before `b`: earlier time, then earlier scheduling (a total order: seq is unique). */
const before = (a: Entry, b: Entry): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/**
 * The event queue: a 4-ary min-heap of entries by (at, seq). Forming a large simulated
 * cluster holds hundreds of thousands of packets in flight; four children per level make
 * the heap half as deep as a binary one, and a sift moves the hole instead of swapping,
 * so a pop costs about half as many comparisons and writes. The order is the same as any
 * correct heap's: (at, seq) is total.
 */
class EventHeap {
  private readonly items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(e: Entry): void {
    const items = this.items;
    let i = items.length;
    items.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const p = items[parent]!;
      if (!before(e, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = e;
  }

  pop(): Entry | undefined {
    const items = this.items;
    const n = items.length - 1;
    if (n < 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      let best = first;
      let b = items[first]!;
      const end = first + 4 < n ? first + 4 : n;
      for (let c = first + 1; c < end; c++) {
        const x = items[c]!;
        if (before(x, b)) {
          best = c;
          b = x;
        }
      }
      if (!before(b, last)) break;
      items[i] = b;
      i = best;
    }
    items[i] = last;
    return top;
  }
}

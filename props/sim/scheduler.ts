// Virtual time. Everything in the simulated world happens as an event on this queue, so
// a run is a pure function of the seed and 60 s of a 1,000-node cluster take as long as
// the work in them, not 60 s.

import { MinHeap } from '../../membership/core/heap.js';

export interface ScheduledEvent {
  readonly at: number;
  cancelled: boolean;
}

interface Entry extends ScheduledEvent {
  readonly seq: number;
  readonly fn: () => void;
}

export class Scheduler {
  private readonly heap = new MinHeap<Entry>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
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

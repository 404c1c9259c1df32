// Deadlines the core waits for (next probe, suspicion expiry, ...). The core owns no
// clock: the driver asks `next()` when to call back and `runDue(now)` fires what is due.
// Cancelling only flags a timer; the heap drops flagged entries when they surface, which
// keeps rescheduling (e.g. a suspicion shortened by a confirmation) O(log n).

import { MinHeap } from './heap.js';

export interface Timer {
  readonly at: number;
  cancelled: boolean;
}

interface Entry extends Timer {
  readonly seq: number;
  readonly fire: (now: number) => void;
}

export class TimerQueue {
  private readonly heap = new MinHeap<Entry>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  private seq = 0;

  /** Fire `fire(now)` once `now >= at`. Timers due at the same instant fire in the order they were set. */
  set(at: number, fire: (now: number) => void): Timer {
    const entry: Entry = { at, seq: this.seq++, fire, cancelled: false };
    this.heap.push(entry);
    return entry;
  }

  cancel(timer: Timer | undefined): void {
    if (timer) timer.cancelled = true;
  }

  /** The earliest live deadline, or Infinity when nothing is pending. */
  next(): number {
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined) return Infinity;
      if (!top.cancelled) return top.at;
      this.heap.pop();
    }
  }

  /** Fire every timer due at `now`, including ones set by the handlers themselves if already due. */
  runDue(now: number): void {
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || top.at > now) return;
      this.heap.pop();
      if (top.cancelled) continue;
      top.cancelled = true;
      top.fire(now);
    }
  }

  clear(): void {
    this.heap.clear();
  }
}

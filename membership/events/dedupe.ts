// Which user events have been seen, by (origin, lamport), in bounded memory. An id is
// admitted as new at most once, ever: ids leave the set only from below a floor that only
// rises, and anything under the floor is refused as too old. The floor is the newest lamport
// seen minus the window, or just above the highest id evicted because the set was full
// (a flood then makes old stragglers too old; it never lets one be delivered twice).
import { MinHeap } from '../core/heap.js';

export type Admission = 'new' | 'duplicate' | 'too_old';

interface Seen {
  key: string;
  lamport: number;
}

export class EventDedupe {
  private readonly seen = new Set<string>();
  private readonly byAge = new MinHeap<Seen>((a, b) => a.lamport < b.lamport);
  private top = -Infinity;
  private floorAt = -Infinity;

  /**
   * @param window lamport units an event may lag the newest seen (with hybrid clocks, ms)
   * @param maxEntries ids remembered at most
   */
  constructor(
    private readonly window: number,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** Ids below this are refused as too old. */
  get floor(): number {
    return this.floorAt;
  }

  /** What admit would answer, without admitting (a copy is told apart before its signature is paid for). */
  peek(origin: string, lamport: number): Admission {
    if (lamport < this.floorAt) return 'too_old';
    return this.seen.has(`${origin}\0${lamport}`) ? 'duplicate' : 'new';
  }

  admit(origin: string, lamport: number): Admission {
    const seen = this.peek(origin, lamport);
    if (seen !== 'new') return seen;
    const key = `${origin}\0${lamport}`;
    this.seen.add(key);
    this.byAge.push({ key, lamport });
    if (lamport > this.top) {
      this.top = lamport;
      this.raiseFloor(this.top - this.window);
    }
    while (this.seen.size > this.maxEntries) {
      const oldest = this.byAge.pop()!;
      this.seen.delete(oldest.key);
      if (oldest.lamport + 1 > this.floorAt) this.floorAt = oldest.lamport + 1;
    }
    return 'new';
  }

  private raiseFloor(to: number): void {
    if (to <= this.floorAt) return;
    this.floorAt = to;
    for (let e = this.byAge.peek(); e && e.lamport < to; e = this.byAge.peek()) {
      this.byAge.pop();
      this.seen.delete(e.key);
    }
  }
}

// The transmit-limited gossip queue (memberlist's TransmitLimitedQueue): every update is
// piggybacked a bounded number of times, the least-sent first, and a newer update about a
// node replaces the one still queued about it, so stale news never outlives fresh news.
//
// Entries live in one bucket per transmit count, each in the order its entries came to
// that count, so picking "least transmitted first" is a walk from bucket 0 with no
// sorting per packet.

import type { PacketMessage } from '../messages.js';

export interface QueuedBroadcast {
  /** Node name the update is about; undefined for user payloads, which never replace each other. */
  readonly key: string | undefined;
  readonly msg: PacketMessage;
  readonly bytes: number;
  transmits: number;
  /** Called once when the entry leaves the queue: sent often enough, replaced or pruned. */
  readonly onDone?: () => void;
}

/** The smallest message the core sends is ~15 bytes; below that nothing else can fit. */
const SMALLEST_MESSAGE_BYTES = 12;

interface Entry extends QueuedBroadcast {
  /** In the queue, in the bucket of its transmit count; false once it left. */
  queued: boolean;
}

/** Slots looked at by walks and compactions: what a packet's take costs, counted rather than timed. */
interface WorkCount {
  examined: number;
}

/**
 * One transmit count's entries, oldest first, in an array. An entry leaves a bucket by
 * moving on to the next count or leaving the queue; the bucket learns of it (dropped())
 * and skips it from then on. A walk drops the left entries at its front for good, and
 * the array is compacted once most of it has left.
 *
 * An insertion-ordered Set did this in a line, but V8 leaves a hole for each deleted
 * entry until it rehashes the table, and every walk from the front crossed them all
 * again: with 4,096 updates queued under a flood of news, each packet's take walked
 * thousands of holes (28 µs, against 4 with 64 queued).
 */
class Bucket {
  private items: Entry[] = [];
  private head = 0;
  private walking = 0;
  size = 0;
  /** At most the smallest entry's bytes (exact after a compaction): once less is left, nothing here fits. */
  minBytes = Infinity;

  constructor(
    private readonly transmits: number,
    private readonly work: WorkCount,
  ) {}

  private holds(e: Entry): boolean {
    return e.queued && e.transmits === this.transmits;
  }

  add(e: Entry): void {
    this.items.push(e);
    this.size++;
    if (e.bytes < this.minBytes) this.minBytes = e.bytes;
  }

  /** One of its entries moved on or left the queue. */
  dropped(): void {
    this.size--;
    this.compact();
  }

  /** The entries held, oldest first, until `visit` returns true. `visit` may change the queue. */
  walk(visit: (e: Entry) => boolean | void): void {
    const work = this.work;
    while (this.head < this.items.length && !this.holds(this.items[this.head])) {
      this.head++;
      work.examined++;
    }
    const items = this.items;
    this.walking++;
    try {
      // Entries added while walking are visited too, as a Set's iterator would.
      for (let i = this.head; i < items.length; i++) {
        work.examined++;
        if (this.holds(items[i]) && visit(items[i]) === true) return;
      }
    } finally {
      this.walking--;
      this.compact();
    }
  }

  private compact(): void {
    if (this.walking > 0 || this.items.length < 2 * this.size + 32) return;
    this.work.examined += this.items.length;
    this.items = this.items.filter((e, i) => i >= this.head && this.holds(e));
    this.head = 0;
    this.minBytes = this.items.reduce((m, e) => Math.min(m, e.bytes), Infinity);
  }
}

export class BroadcastQueue {
  private readonly buckets: Bucket[] = [];
  private readonly byKey = new Map<string, Entry>();
  private readonly work: WorkCount = { examined: 0 };
  private count = 0;

  constructor(private readonly maxQueued: number) {}

  get size(): number {
    return this.count;
  }

  /**
   * Bucket slots examined so far, left ones included. A test of cost per packet counts
   * these: on a shared machine a timed take of a large queue also pays its cache misses.
   */
  get slotsExamined(): number {
    return this.work.examined;
  }

  /** Queue an update; an older queued update about the same node is dropped. */
  enqueue(key: string | undefined, msg: PacketMessage, bytes: number, onDone?: () => void): void {
    if (key !== undefined) {
      const old = this.byKey.get(key);
      if (old) this.remove(old);
    }
    const entry: Entry = { key, msg, bytes, transmits: 0, onDone, queued: true };
    this.bucket(0).add(entry);
    if (key !== undefined) this.byKey.set(key, entry);
    this.count++;
    if (this.count > this.maxQueued) this.pruneMostTransmitted();
  }

  /** The queued update about `key`, if any (for tests and inspection). */
  peek(key: string): PacketMessage | undefined {
    return this.byKey.get(key)?.msg;
  }

  /**
   * Take updates that fit in `budget` bytes (each costing its size plus `perMessage`),
   * least-transmitted first, and count one transmission for each. Entries reaching
   * `limit` transmissions leave the queue. The messages are appended to `out`; the return
   * value is the bytes they use, overheads included. The updates about the nodes in
   * `first`, if queued, are taken before any other (a fresh verdict being flooded).
   */
  take(
    budget: number,
    perMessage: number,
    limit: number,
    // Stryker disable next-line ArrayDeclaration: a caller that passes no out reads only the bytes used; the default array is never read
    out: PacketMessage[] = [],
    // Stryker disable next-line ArrayDeclaration: a default that names no queued node takes nothing first, as the empty default does
    first: readonly string[] = [],
  ): number {
    const taken: Entry[] = [];
    let left = budget;
    for (const key of first) {
      const entry = this.byKey.get(key);
      if (!entry || taken.includes(entry)) continue;
      const cost = entry.bytes + perMessage;
      if (cost > left) continue;
      taken.push(entry);
      left -= cost;
    }
    const skip = taken.length > 0 ? new Set(taken) : undefined;
    for (let t = 0; t < this.buckets.length && left >= SMALLEST_MESSAGE_BYTES + perMessage; t++) {
      const bucket = this.buckets[t];
      // Past the smallest entry here, the walk would only skip: with thousands queued, that was most of a packet's cost.
      const stopBelow = (): number => Math.max(SMALLEST_MESSAGE_BYTES, bucket.minBytes) + perMessage;
      if (!bucket || left < stopBelow()) continue;
      bucket.walk((entry) => {
        const cost = entry.bytes + perMessage;
        if (cost > left || skip?.has(entry)) return false;
        taken.push(entry);
        left -= cost;
        return left < stopBelow();
      });
    }
    for (const entry of taken) {
      // An earlier entry's onDone may have queued news replacing this one (or pruned or
      // cleared it): it has left the queue already, so it is neither sent nor counted again.
      if (!entry.queued) {
        left += entry.bytes + perMessage;
        continue;
      }
      out.push(entry.msg);
      entry.transmits++;
      this.buckets[entry.transmits - 1].dropped();
      if (entry.transmits >= limit) {
        entry.queued = false;
        this.count--;
        // Stryker disable next-line LogicalOperator: byKey holds no undefined key, and a queued entry with a key is always its key's entry there (enqueue replaces the old one, remove and take drop both)
        if (entry.key !== undefined && this.byKey.get(entry.key) === entry) this.byKey.delete(entry.key);
        entry.onDone?.();
      } else {
        this.bucket(entry.transmits).add(entry);
      }
    }
    return budget - left;
  }

  /** Drop everything (used when the node shuts down). */
  clear(): void {
    const left: Entry[] = [];
    for (const bucket of this.buckets) bucket?.walk((entry) => void left.push(entry));
    this.buckets.length = 0;
    this.byKey.clear();
    this.count = 0;
    for (const entry of left) {
      entry.queued = false;
      entry.onDone?.();
    }
  }

  private bucket(t: number): Bucket {
    for (let i = this.buckets.length; i <= t; i++) this.buckets[i] = new Bucket(i, this.work);
    return this.buckets[t];
  }

  private remove(entry: Entry): void {
    entry.queued = false;
    this.buckets[entry.transmits].dropped();
    // Stryker disable next-line LogicalOperator: byKey holds no undefined key, and a queued entry with a key is always its key's entry there (enqueue replaces the old one, remove and take drop both)
    if (entry.key !== undefined && this.byKey.get(entry.key) === entry) this.byKey.delete(entry.key);
    this.count--;
    entry.onDone?.();
  }

  private pruneMostTransmitted(): void {
    // Stryker disable next-line ArithmeticOperator,LogicalOperator: buckets[length] does not exist and is skipped; below bucket 0 every entry has been walked, so count <= maxQueued (never negative) already
    for (let t = this.buckets.length - 1; t >= 0 && this.count > this.maxQueued; t--) {
      this.buckets[t]?.walk((entry) => {
        if (this.count <= this.maxQueued) return true;
        this.remove(entry);
      });
    }
  }
}

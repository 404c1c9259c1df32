// The transmit-limited gossip queue (memberlist's TransmitLimitedQueue): every update is
// piggybacked a bounded number of times, the least-sent first, and a newer update about a
// node replaces the one still queued about it, so stale news never outlives fresh news.
//
// Entries live in one bucket per transmit count, each an insertion-ordered Set, so
// picking "least transmitted first" is a walk from bucket 0 with no sorting per packet.

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

export class BroadcastQueue {
  private readonly buckets: Set<QueuedBroadcast>[] = [];
  private readonly byKey = new Map<string, QueuedBroadcast>();
  private count = 0;

  constructor(private readonly maxQueued: number) {}

  get size(): number {
    return this.count;
  }

  /** Queue an update; an older queued update about the same node is dropped. */
  enqueue(key: string | undefined, msg: PacketMessage, bytes: number, onDone?: () => void): void {
    if (key !== undefined) {
      const old = this.byKey.get(key);
      if (old) this.remove(old);
    }
    const entry: QueuedBroadcast = { key, msg, bytes, transmits: 0, onDone };
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
    const taken: QueuedBroadcast[] = [];
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
      if (!bucket) continue;
      for (const entry of bucket) {
        const cost = entry.bytes + perMessage;
        if (cost > left || skip?.has(entry)) continue;
        taken.push(entry);
        left -= cost;
        if (left < SMALLEST_MESSAGE_BYTES + perMessage) break;
      }
    }
    for (const entry of taken) {
      // An earlier entry's onDone may have queued news replacing this one (or pruned or
      // cleared it): it has left the queue already, so it is neither sent nor counted again.
      if (!this.buckets[entry.transmits].delete(entry)) {
        left += entry.bytes + perMessage;
        continue;
      }
      out.push(entry.msg);
      entry.transmits++;
      if (entry.transmits >= limit) {
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
    for (const bucket of this.buckets) {
      if (!bucket) continue;
      for (const entry of bucket) entry.onDone?.();
      bucket.clear();
    }
    this.byKey.clear();
    this.count = 0;
  }

  private bucket(t: number): Set<QueuedBroadcast> {
    let b = this.buckets[t];
    if (!b) {
      for (let i = this.buckets.length; i <= t; i++) this.buckets[i] = new Set();
      b = this.buckets[t];
    }
    return b;
  }

  private remove(entry: QueuedBroadcast): void {
    this.buckets[entry.transmits].delete(entry);
    // Stryker disable next-line LogicalOperator: byKey holds no undefined key, and a queued entry with a key is always its key's entry there (enqueue replaces the old one, remove and take drop both)
    if (entry.key !== undefined && this.byKey.get(entry.key) === entry) this.byKey.delete(entry.key);
    this.count--;
    entry.onDone?.();
  }

  private pruneMostTransmitted(): void {
    // Stryker disable next-line ArithmeticOperator,LogicalOperator: buckets[length] does not exist and is skipped; below bucket 0 every entry has been walked, so count <= maxQueued (never negative) already
    for (let t = this.buckets.length - 1; t >= 0 && this.count > this.maxQueued; t--) {
      const bucket = this.buckets[t];
      if (!bucket) continue;
      for (const entry of bucket) {
        if (this.count <= this.maxQueued) break;
        this.remove(entry);
      }
    }
  }
}

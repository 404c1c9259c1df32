// The forwarder's answer cache: bounded (least recently used goes first) and honouring TTLs.
// Time is passed in (milliseconds on any monotonic clock); nothing here reads a clock.

import { OldestCursor } from '../base/oldest.js';

/** An upstream answer, stored as the bytes after its question, ready to be re-served. */
export interface CachedAnswer {
  rcode: number;
  /** AD from upstream, passed on to clients that ask for DNSSEC. */
  ad: boolean;
  /** Answer, authority and additional sections (no OPT record), laid out after a question of this name's length. */
  sections: Buffer;
  an: number;
  ns: number;
  ar: number;
  /** Where each record's TTL sits in `sections`, and its value when stored. */
  ttlAt: number[];
  ttls: number[];
  stored: number;
  expires: number;
}

export class AnswerCache {
  private readonly map = new Map<string, CachedAnswer>();
  private readonly leastRecent = new OldestCursor(this.map);

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0)
      throw new Error(`DNS cache size ${maxEntries} is not a whole number >= 0`);
  }

  get(key: string, now: number): CachedAnswer | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expires <= now) {
      this.map.delete(key);
      this.leastRecent.wrote();
      return undefined;
    }
    // Most recently used goes to the end of the Map's order.
    this.map.delete(key);
    this.map.set(key, e);
    this.leastRecent.wrote();
    return e;
  }

  set(key: string, e: CachedAnswer): void {
    if (this.maxEntries === 0) return;
    this.map.delete(key);
    this.map.set(key, e);
    this.leastRecent.wrote();
    if (this.map.size > this.maxEntries) this.leastRecent.evictOldest();
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

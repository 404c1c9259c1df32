// Bounded maps that forget the oldest entry first: caches, and the fast path's window of
// change ids. A Map iterates in insertion order, so the oldest key is always first;
// OldestCursor finds it without walking the slots deleted before it (oldest.ts).

import { OldestCursor } from './oldest.js';

export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  private readonly oldest = new OldestCursor(this.map);

  constructor(private readonly capacity: number) {}

  get(k: K): V | undefined {
    return this.map.get(k);
  }

  has(k: K): boolean {
    return this.map.has(k);
  }

  set(k: K, v: V): void {
    this.map.delete(k);
    this.insert(k, v);
  }

  /** The value of `k`, made by `make` and added (as the newest) if there was none: one lookup when there is. */
  getOrAdd(k: K, make: () => V): V {
    let v = this.map.get(k);
    if (v === undefined) this.insert(k, (v = make()));
    return v;
  }

  /** Sets `k` to `v` where it stands (its age kept), or as the newest if it was not there: one lookup. */
  replace(k: K, v: V): void {
    const size = this.map.size;
    this.map.set(k, v);
    if (this.map.size > size) this.added();
  }

  delete(k: K): void {
    this.map.delete(k);
    this.oldest.wrote();
  }

  get size(): number {
    return this.map.size;
  }

  /** Sets `k` (not in the map) as the newest, forgetting the oldest beyond capacity. */
  private insert(k: K, v: V): void {
    this.map.set(k, v);
    this.added();
  }

  private added(): void {
    this.oldest.wrote();
    if (this.map.size > this.capacity) this.oldest.evictOldest();
  }
}

// Forgetting the oldest entry of a bounded Map or Set in constant time.
//
// A Map iterates in insertion order, so `map.keys().next()` is its oldest key. But V8's
// ordered hash tables leave a hole where an entry was deleted until the table is next
// rehashed, and a new iterator starts at the first slot, walking every hole before it.
// In a table kept full by deleting its oldest entry, the holes pile up at the front: up
// to the table's capacity of them between rehashes, walked again on every call. At 16,384
// entries that is ~5 µs a call against ~0.2 µs; a flood of new keys (spoofed sources, made-up
// ids) found every bounded table of the daemon at its worst.
//
// An iterator kept across calls walks each slot once: it stands just past what it
// yielded, and what it yielded is gone (evictOldest deletes it), so its next key is the
// oldest still there. The language keeps a live iterator valid through deletions,
// insertions and rehashes; a key deleted and set again moves to the end, and the iterator
// meets it there.
//
// But V8 keeps a live iterator valid through a rehash by leaving the old table linked to
// the new one until the iterator next moves: every table replaced since stays in memory,
// with the keys it held. A table that stays under its bound while keys are deleted or set
// again (an LRU cache's hits: delete, then set at the end) is compacted every few hundred
// writes and never evicts, so the chain grew without end: 900 keys set again 900,000 times
// held 209 MB. So the cursor lets go of its iterator after about twice as many writes as
// the table holds (its owner says when it wrote: wrote()), and makes a new one when next
// asked; the new one walks the holes before the oldest key once, which is a few µs per
// that many writes.

/** A table whose oldest entries OldestCursor deletes. */
export type OrderedTable<K> = Map<K, unknown> | Set<K>;

export class OldestCursor<K> {
  #keys: IterableIterator<K> | undefined;
  /** Writes to the table since #keys was made. */
  #writes = 0;
  /** A key oldest() took from the iterator, still in the table unless deleted since (#held says whether there is one). */
  #head: K | undefined;
  #held = false;

  constructor(private readonly table: OrderedTable<K>) {}

  /** Call after each write to the table (set, add or delete) that the cursor did not make. */
  wrote(): void {
    if (++this.#writes <= 2 * this.table.size + 64) return;
    this.#writes = 0;
    this.#keys = undefined;
  }

  /**
   * The table's oldest key, left in place; undefined if the table is empty. For tables whose
   * keys do not come back once deleted: a key deleted and set again after oldest() named it
   * would still be named, though it is now the newest.
   */
  oldest(): K | undefined {
    if (this.#held && this.table.has(this.#head as K)) return this.#head;
    const next = this.#next();
    this.#held = !next.done;
    this.#head = next.done ? undefined : next.value;
    return this.#head;
  }

  /** Deletes the table's oldest key and returns it; undefined if the table is empty. */
  evictOldest(): K | undefined {
    let key: K;
    if (this.#held) {
      key = this.#head as K;
      this.#held = false;
      this.#head = undefined;
      // Deleted by someone else since oldest() named it: the next one is the oldest.
      if (!this.table.has(key)) return this.evictOldest();
    } else {
      const next = this.#next();
      if (next.done) return undefined;
      key = next.value;
    }
    this.table.delete(key);
    return key;
  }

  #next(): IteratorResult<K> {
    this.#keys ??= this.table.keys();
    const next = this.#keys.next();
    if (!next.done) return next;
    // An iterator that once ran off the end stays done: start again from the front.
    this.#keys = this.table.keys();
    return this.#keys.next();
  }
}

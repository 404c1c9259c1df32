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

/** A table whose oldest entries OldestCursor deletes. */
export type OrderedTable<K> = Map<K, unknown> | Set<K>;

export class OldestCursor<K> {
  #keys: IterableIterator<K>;

  constructor(private readonly table: OrderedTable<K>) {
    this.#keys = table.keys();
  }

  /** Deletes the table's oldest key and returns it; undefined if the table is empty. */
  evictOldest(): K | undefined {
    let next = this.#keys.next();
    // An iterator that once ran off the end stays done: start again from the front.
    if (next.done) {
      this.#keys = this.table.keys();
      next = this.#keys.next();
      if (next.done) return undefined;
    }
    this.table.delete(next.value);
    return next.value;
  }
}

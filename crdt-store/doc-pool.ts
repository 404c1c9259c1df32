// Automerge documents shared, read-only, by the replicas of one document that hold the
// same history: for a simulator that runs N stores in one process (props/sim), where
// every store would otherwise keep its own copy of every document and apply every change
// itself, N² documents and N² applications in all. A daemon has one store and no pool.
//
// A replica in the pool points at a FrozenDoc: an Automerge document nobody changes any
// more, named by its content (document, epoch, heads). What happens to a replica is its
// own: a replica about to change its document either follows a transition another
// replica already made from the same state with the same bytes (applying change bytes to
// a given history always gives the same history), or takes a private copy (fork), changes
// it, and puts the result back in the pool if another replica can use it. Nothing is
// ever changed in place, so no replica sees another's changes through the pool.
//
// Only histories with nothing waiting and one writer are found by their content: Automerge
// keeps changes whose dependencies are missing inside the document, invisible in its heads,
// and numbers the actors of a document in the order it met them (a saved document, which
// sync sends, shows that order), so two documents with the same heads could still differ
// there. Every node's own document has one writer. Any other result of applying bytes to a
// pooled document is pooled too, but reached only by that transition (addTransient).
//
// Bounded: at most `capacity` documents no replica points at are kept (the oldest used
// are freed first, down to three quarters of it), and the transitions are a memo cleared when they outgrow 4 x capacity.

import type { AmDoc } from './automerge.js';
import type { Entry } from './entry.js';
import { bytesKey } from '../membership/cert-book.js';

export type { Entry } from './entry.js';

export class FrozenDoc {
  /** Replicas pointing at it. */
  refs = 0;
  constructor(
    /** docId@epoch:heads. */
    readonly key: string,
    readonly am: AmDoc,
    readonly heads: readonly string[],
    readonly changes: number,
    readonly entries: ReadonlyMap<string, Entry>,
    readonly serial: number,
  ) {}
}

/** What applying some bytes to a FrozenDoc gave: the new history and the keys to re-read. */
export interface Transition {
  to: FrozenDoc;
  touched: readonly string[];
  /** Keys among them whose value is not valid JSON text (hidden, counted by each replica). */
  bad: number;
}

export interface DocPoolStats {
  docs: number;
  unreferenced: number;
  transitions: number;
  hits: number;
  misses: number;
  freed: number;
}

export class DocPool {
  /** By content key, least recently used first. */
  private readonly docs = new Map<string, FrozenDoc>();
  private readonly transitions = new Map<string, Transition>();
  private unreferenced = 0;
  private serials = 0;
  private limitsKey: string | undefined;
  private readonly counters = { hits: 0, misses: 0, freed: 0 };

  constructor(readonly capacity = 50_000) {
    if (!(capacity >= 1)) throw new RangeError(`DocPool capacity must be at least 1, not ${capacity}`);
  }

  /** A key's value is parsed under value limits: every store sharing a pool must use the same ones. */
  bindLimits(limits: object): void {
    const k = JSON.stringify(limits);
    if (this.limitsKey !== undefined && this.limitsKey !== k)
      throw new Error('crdt-store: stores sharing a DocPool must use the same value limits');
    this.limitsKey = k;
  }

  static key(docId: string, epoch: number, heads: readonly string[]): string {
    return `${docId}@${epoch}:${[...heads].sort().join(',')}`;
  }

  get(key: string): FrozenDoc | undefined {
    const d = this.docs.get(key);
    if (d) this.touch(d);
    return d;
  }

  /**
   * Puts a document in the pool (the caller must never change or free it after), or
   * returns the one already there under that key (then the caller keeps its own).
   */
  add(
    key: string,
    am: AmDoc,
    heads: readonly string[],
    changes: number,
    entries: ReadonlyMap<string, Entry>,
  ): FrozenDoc {
    const had = this.get(key);
    if (had) return had;
    const d = new FrozenDoc(key, am, heads, changes, entries, ++this.serials);
    this.docs.set(key, d);
    this.unreferenced++;
    return d;
  }

  /**
   * Puts a document in the pool that only a transition leads to (it is never found by its
   * content): the result of bytes applied to a pooled document, when its heads do not say
   * all of it. The caller must never change or free it after.
   */
  addTransient(am: AmDoc, heads: readonly string[], changes: number, entries: ReadonlyMap<string, Entry>): FrozenDoc {
    const serial = ++this.serials;
    const d = new FrozenDoc(`#${serial}`, am, heads, changes, entries, serial);
    this.docs.set(d.key, d);
    this.unreferenced++;
    return d;
  }

  acquire(d: FrozenDoc): void {
    if (d.refs++ === 0) this.unreferenced--;
  }

  release(d: FrozenDoc): void {
    if (d.refs <= 0) throw new Error(`crdt-store: DocPool release of ${d.key} without a reference`);
    if (--d.refs === 0) {
      this.unreferenced++;
      this.evict();
    }
  }

  transition(from: FrozenDoc, chunks: readonly Uint8Array[]): Transition | undefined {
    const t = this.transitions.get(transitionKey(from, chunks));
    if (t) this.counters.hits++;
    else this.counters.misses++;
    if (t) this.touch(t.to);
    return t;
  }

  remember(from: FrozenDoc, chunks: readonly Uint8Array[], t: Transition): void {
    if (this.transitions.size >= 4 * this.capacity) this.transitions.clear();
    this.transitions.set(transitionKey(from, chunks), t);
  }

  stats(): DocPoolStats {
    return {
      docs: this.docs.size,
      unreferenced: this.unreferenced,
      transitions: this.transitions.size,
      ...this.counters,
    };
  }

  private touch(d: FrozenDoc): void {
    this.docs.delete(d.key);
    this.docs.set(d.key, d);
  }

  /** Frees the least recently used unreferenced documents beyond capacity, and every transition to or from them. */
  private evict(): void {
    if (this.unreferenced <= this.capacity) return;
    // Down to three quarters at once: one scan per capacity/4 releases, not one per release.
    const target = Math.floor((this.capacity * 3) / 4);
    const gone = new Set<number>();
    for (const d of this.docs.values()) {
      if (this.unreferenced <= target) break;
      if (d.refs > 0) continue;
      this.docs.delete(d.key);
      d.am.free();
      gone.add(d.serial);
      this.unreferenced--;
      this.counters.freed++;
    }
    for (const [k, t] of this.transitions) {
      if (gone.has(t.to.serial) || gone.has(Number(k.slice(0, k.indexOf('|'))))) this.transitions.delete(k);
    }
  }
}

/** The state and the exact bytes: equal keys mean the same input to the same history. */
function transitionKey(from: FrozenDoc, chunks: readonly Uint8Array[]): string {
  let k = `${from.serial}|`;
  for (const c of chunks) k += `${c.length}:${bytesKey(c)}`;
  return k;
}

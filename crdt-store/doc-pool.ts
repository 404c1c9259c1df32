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
// Bounded: at most `capacity` documents no replica points at are kept (those unreferenced
// longest are freed first, down to three quarters of it), and each document remembers its
// last TRANSITIONS_PER_DOC transitions, which go with it when it is freed.
//
// A reception costs the pool one transition lookup: each document keeps its own few, found
// by comparing bytes, so no key is made of the change's bytes (a string of them was the
// largest thing a reception allocated), and no map is walked or reordered per reception.

import type { AmDoc } from './automerge.js';
import type { Entry } from './entry.js';

export type { Entry } from './entry.js';

export class FrozenDoc {
  /** Replicas pointing at it. */
  refs = 0;
  /** Freed by the pool: a transition to it leads nowhere now. */
  freed = false;
  /** Transitions from this history, the newest last (see TRANSITIONS_PER_DOC). */
  next: Remembered[] | undefined;
  /**
   * The replicas' headsHash of this history, made by the first that asks: every replica
   * sharing a document holds the same (document, epoch), whose hash each made again.
   */
  headsHash: number | undefined = undefined;
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

/** A transition and the exact bytes it was made with (copies: views would pin the packets they came in). */
interface Remembered {
  chunks: Buffer[];
  t: Transition;
}

/**
 * Transitions kept per document. The replicas of one history mostly receive the same next
 * change; a different one is a change that came out of order at some of them, or (shared
 * documents) another writer's.
 */
const TRANSITIONS_PER_DOC = 8;

export interface DocPoolStats {
  docs: number;
  unreferenced: number;
  transitions: number;
  hits: number;
  misses: number;
  freed: number;
}

export class DocPool {
  /** By content key, unreferenced longest first. */
  private readonly docs = new Map<string, FrozenDoc>();
  private transitionCount = 0;
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

  /** The document under `key`; the caller acquires it. */
  get(key: string): FrozenDoc | undefined {
    return this.docs.get(key);
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
      // Last in line for eviction: what matters is how long nobody has pointed at it.
      this.docs.delete(d.key);
      this.docs.set(d.key, d);
      this.evict();
    }
  }

  /** What applying `chunks` to `from` gave before, if it is remembered; the caller acquires its `to`. */
  transition(from: FrozenDoc, chunks: readonly Uint8Array[]): Transition | undefined {
    const r = from.next?.find((r) => !r.t.to.freed && sameBytes(r.chunks, chunks));
    if (r) this.counters.hits++;
    else this.counters.misses++;
    return r?.t;
  }

  remember(from: FrozenDoc, chunks: readonly Uint8Array[], t: Transition): void {
    const next = (from.next ??= []);
    const had = next.length;
    // Those to freed documents go first, then the oldest.
    for (let i = next.length - 1; i >= 0; i--) if (next[i]!.t.to.freed) next.splice(i, 1);
    if (next.length >= TRANSITIONS_PER_DOC) next.shift();
    next.push({ chunks: chunks.map((c) => Buffer.from(c)), t });
    this.transitionCount += next.length - had;
  }

  stats(): DocPoolStats {
    return {
      docs: this.docs.size,
      unreferenced: this.unreferenced,
      transitions: this.transitionCount,
      ...this.counters,
    };
  }

  /**
   * Frees the documents unreferenced longest beyond capacity, with their transitions; those
   * to them are passed over from now on (FrozenDoc.freed) and dropped when their document
   * remembers its next one.
   */
  private evict(): void {
    if (this.unreferenced <= this.capacity) return;
    // Down to three quarters at once: one scan per capacity/4 releases, not one per release.
    const target = Math.floor((this.capacity * 3) / 4);
    for (const d of this.docs.values()) {
      if (this.unreferenced <= target) break;
      if (d.refs > 0) continue;
      this.docs.delete(d.key);
      d.am.free();
      d.freed = true;
      this.transitionCount -= d.next?.length ?? 0;
      d.next = undefined;
      this.unreferenced--;
      this.counters.freed++;
    }
  }
}

function sameBytes(a: readonly Buffer[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!a[i]!.equals(b[i]!)) return false;
  return true;
}

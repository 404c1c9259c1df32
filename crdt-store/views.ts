// What readers see. Several documents can hold the same key (two nodes that both claim
// it in their own documents, or a node's own record shadowing a shared one); every node
// resolves that the same way: the shared record first, then owners in code-point order of
// their names. Two views apply that rule to different candidates:
//   all   every record held;
//   live  only records whose owner is alive (shared records always are).
// Neither view shows a record held by a document its key does not belong in (admission.ts).
// Each view keeps the record it shows per key, so a change is reported only when what a
// reader sees actually differs, once per difference, with the record before and after.

import { SHARED_OWNER } from './names.js';
import { textOf, type ReplicaDoc, type StoreRecord } from './replica-doc.js';

export type ViewName = 'live' | 'all';
export const VIEWS: readonly ViewName[] = ['live', 'all'];

export type { StoreRecord };

export interface WatchEvent {
  key: string;
  /** What the view showed before (undefined: nothing). */
  before: StoreRecord | undefined;
  /** What it shows now (undefined: nothing). */
  after: StoreRecord | undefined;
  /** Part of the first delivery of current entries when the watch started. */
  initial: boolean;
}

export type WatchHandler = (event: WatchEvent) => void;

const ownerOrder = (a: string, b: string): number =>
  a === b ? 0 : a === SHARED_OWNER ? -1 : b === SHARED_OWNER ? 1 : a < b ? -1 : 1;

/**
 * key -> the documents holding it, in resolution order. Nearly every key has one holder,
 * so that case is stored bare, without an array around it.
 */
export class Holders {
  private readonly byKey = new Map<string, ReplicaDoc | ReplicaDoc[]>();

  add(key: string, doc: ReplicaDoc): void {
    const cur = this.byKey.get(key);
    if (cur === undefined || (!Array.isArray(cur) && cur.id === doc.id)) {
      this.byKey.set(key, doc); // first holder, or a new epoch of the same document
      return;
    }
    const list = Array.isArray(cur) ? cur : [cur];
    const i = list.findIndex((d) => d.id === doc.id);
    if (i >= 0) list[i] = doc;
    else {
      list.push(doc);
      list.sort((a, b) => ownerOrder(a.owner, b.owner));
    }
    this.byKey.set(key, list);
  }

  remove(key: string, doc: ReplicaDoc): void {
    const cur = this.byKey.get(key);
    if (cur === undefined) return;
    if (!Array.isArray(cur)) {
      if (cur.id === doc.id) this.byKey.delete(key);
      return;
    }
    const i = cur.findIndex((d) => d.id === doc.id);
    if (i < 0) return;
    cur.splice(i, 1);
    this.byKey.set(key, cur.length === 1 ? cur[0] : cur);
  }

  /** The first holder whose owner `accept`s. */
  first(key: string, accept: (owner: string) => boolean): ReplicaDoc | undefined {
    const cur = this.byKey.get(key);
    if (cur === undefined) return undefined;
    if (!Array.isArray(cur)) return accept(cur.owner) ? cur : undefined;
    for (const d of cur) if (accept(d.owner)) return d;
    return undefined;
  }

  get size(): number {
    return this.byKey.size;
  }
}

interface Watcher {
  prefix: string;
  handler: WatchHandler;
  view: ViewName;
}

/**
 * The records each view shows and the watches on them. `refresh(key)` re-resolves a key
 * after anything that may change it (a document's content, an owner's liveness) and
 * queues one event per view whose record differs; `flush()` delivers the queue, so
 * handlers run after the store is consistent again and may write to it themselves.
 */
export class Views {
  /** What each view shows; both views share the record objects (see ReplicaDoc.record). */
  private readonly shown: Record<ViewName, Map<string, StoreRecord>> = { live: new Map(), all: new Map() };
  private readonly watchers = new Set<Watcher>();
  private readonly queue: { w: Watcher; e: WatchEvent }[] = [];
  private delivering = false;
  /** Handler exceptions (counted, reported, never propagated into the store). */
  handlerErrors = 0;

  constructor(
    readonly holders: Holders,
    /** May a document of `owner` hold `key` (the key-space rule, admission.ts)? Others' are never shown. */
    private readonly mayHold: (key: string, owner: string) => boolean,
    private readonly isLive: (owner: string) => boolean,
    private readonly onHandlerError: (err: unknown) => void = () => {},
  ) {}

  get(key: string, view: ViewName): StoreRecord | undefined {
    return this.shown[view].get(key);
  }

  /** Records under `prefix`, sorted by key. */
  entries(prefix: string, view: ViewName): StoreRecord[] {
    const out: StoreRecord[] = [];
    for (const [k, r] of this.shown[view]) if (k.startsWith(prefix)) out.push(r);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  count(view: ViewName): number {
    return this.shown[view].size;
  }

  refresh(key: string): void {
    this.refreshView(key, 'all', (owner) => this.mayHold(key, owner));
    this.refreshView(key, 'live', (owner) => this.mayHold(key, owner) && this.isLive(owner));
  }

  watch(prefix: string, handler: WatchHandler, view: ViewName): () => void {
    const w: Watcher = { prefix, handler, view };
    this.watchers.add(w);
    for (const r of this.entries(prefix, view))
      this.queue.push({ w, e: { key: r.key, before: undefined, after: r, initial: true } });
    this.flush();
    return () => {
      this.watchers.delete(w);
    };
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  flush(): void {
    if (this.delivering) return; // the outer flush delivers what a handler caused, in order
    this.delivering = true;
    try {
      for (let i = 0; i < this.queue.length; i++) {
        const { w, e } = this.queue[i];
        if (!this.watchers.has(w)) continue;
        try {
          w.handler(e);
        } catch (err) {
          this.handlerErrors++;
          this.onHandlerError(err);
        }
      }
    } finally {
      this.queue.length = 0;
      this.delivering = false;
    }
  }

  private refreshView(key: string, view: ViewName, accept: (owner: string) => boolean): void {
    const after = this.holders.first(key, accept)?.record(key);
    const before = this.shown[view].get(key);
    if (after === before) return;
    // A new object for the same text and owner (a new epoch of the document) is no change.
    if (after && before && after.owner === before.owner && textOf(after) === textOf(before)) {
      this.shown[view].set(key, after);
      return;
    }
    if (after) this.shown[view].set(key, after);
    else this.shown[view].delete(key);
    for (const w of this.watchers) {
      if (w.view === view && key.startsWith(w.prefix))
        this.queue.push({ w, e: { key, before, after, initial: false } });
    }
  }
}

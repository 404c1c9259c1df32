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
 *
 * The live view is kept as where it differs from all: while every owner is alive (nearly
 * always) they show the same records, and a second map of every key on every node was
 * ~100 B of each (node, document) pair in a simulated cluster, and two more lookups of
 * each key refreshed.
 */
export class Views {
  /** What the all view shows. */
  private readonly all = new Map<string, StoreRecord>();
  /** Where the live view differs from all: the record it shows instead, or null for none. */
  private readonly liveDiffers = new Map<string, StoreRecord | null>();
  /** How many records the live view shows. */
  private liveSize = 0;
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
    const differs = view === 'live' ? this.liveDiffers.get(key) : undefined;
    return differs === undefined ? this.all.get(key) : (differs ?? undefined);
  }

  /** Records under `prefix`, sorted by key. */
  entries(prefix: string, view: ViewName): StoreRecord[] {
    const out: StoreRecord[] = [];
    for (const [k, r] of this.all) {
      if (!k.startsWith(prefix)) continue;
      const differs = view === 'live' ? this.liveDiffers.get(k) : undefined;
      if (differs === undefined) out.push(r);
      else if (differs !== null) out.push(differs);
    }
    if (view === 'live')
      for (const [k, r] of this.liveDiffers) if (r !== null && !this.all.has(k) && k.startsWith(prefix)) out.push(r);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  count(view: ViewName): number {
    return view === 'all' ? this.all.size : this.liveSize;
  }

  refresh(key: string): void {
    const beforeAll = this.all.get(key);
    const differed = this.liveDiffers.get(key);
    const beforeLive = differed === undefined ? beforeAll : (differed ?? undefined);
    const holder = this.holders.first(key, (owner) => this.mayHold(key, owner));
    const afterAll = holder?.record(key);
    // The first holder all accepts is live's too when its owner is alive.
    const afterLive =
      holder === undefined || this.isLive(holder.owner)
        ? afterAll
        : this.holders.first(key, (owner) => this.mayHold(key, owner) && this.isLive(owner))?.record(key);
    if (afterAll) this.all.set(key, afterAll);
    else this.all.delete(key);
    if (afterLive !== afterAll) this.liveDiffers.set(key, afterLive ?? null);
    else if (differed !== undefined) this.liveDiffers.delete(key);
    this.liveSize += (afterLive ? 1 : 0) - (beforeLive ? 1 : 0);
    this.changed(key, 'all', beforeAll, afterAll);
    this.changed(key, 'live', beforeLive, afterLive);
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
    // The outer flush delivers what a handler caused, in order. An empty queue is most calls
    // (every change applied flushes): left as it is, not set to length 0 again.
    if (this.delivering || this.queue.length === 0) return;
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

  /** Queues `view`'s watchers an event for `key`, unless what it shows is the same record, or the same text of the same owner. */
  private changed(key: string, view: ViewName, before: StoreRecord | undefined, after: StoreRecord | undefined): void {
    if (after === before) return;
    // A new object for the same text and owner (a new epoch of the document) is no change.
    if (after && before && after.owner === before.owner && textOf(after) === textOf(before)) return;
    for (const w of this.watchers) {
      if (w.view === view && key.startsWith(w.prefix))
        this.queue.push({ w, e: { key, before, after, initial: false } });
    }
  }
}

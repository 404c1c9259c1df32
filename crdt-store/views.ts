// What readers see. Several documents can hold the same key (two nodes that both claim
// it in their own documents, or a node's own record shadowing a shared one); every node
// resolves that the same way: the shared record first, then owners in code-point order of
// their names. Two views apply that rule to different candidates:
//   all   every record held;
//   live  only records whose owner is alive (shared records always are).
// Each view keeps the record it shows per key, so a change is reported only when what a
// reader sees actually differs, once per difference, with the record before and after.

import type { Json } from './json-value.js';
import { SHARED_OWNER } from './names.js';
import type { ReplicaDoc } from './replica-doc.js';

export type ViewName = 'live' | 'all';
export const VIEWS: readonly ViewName[] = ['live', 'all'];

export interface StoreRecord {
  readonly key: string;
  readonly value: Json;
  /** The node that owns it, or SHARED_OWNER ("*") for a shared record. */
  readonly owner: string;
}

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

const ownerOrder = (a: string, b: string): number => (a === b ? 0 : a === SHARED_OWNER ? -1 : b === SHARED_OWNER ? 1 : a < b ? -1 : 1);

/** key -> the documents holding it, in resolution order. */
export class Holders {
  private readonly byKey = new Map<string, ReplicaDoc[]>();

  add(key: string, doc: ReplicaDoc): void {
    const list = this.byKey.get(key);
    if (!list) {
      this.byKey.set(key, [doc]);
      return;
    }
    const i = list.findIndex((d) => d.id === doc.id);
    if (i >= 0) {
      list[i] = doc; // a new epoch of the same document
      return;
    }
    list.push(doc);
    list.sort((a, b) => ownerOrder(a.owner, b.owner));
  }

  remove(key: string, doc: ReplicaDoc): void {
    const list = this.byKey.get(key);
    if (!list) return;
    const i = list.findIndex((d) => d.id === doc.id);
    if (i < 0) return;
    if (list.length === 1) this.byKey.delete(key);
    else list.splice(i, 1);
  }

  /** The first holder whose owner `accept`s. */
  first(key: string, accept: (owner: string) => boolean): ReplicaDoc | undefined {
    const list = this.byKey.get(key);
    if (!list) return undefined;
    for (const d of list) if (accept(d.owner)) return d;
    return undefined;
  }

  get size(): number {
    return this.byKey.size;
  }
}

interface Shown {
  record: StoreRecord;
  /** The stored text of record.value: what "changed" is decided on. */
  text: string;
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
  private readonly shown: Record<ViewName, Map<string, Shown>> = { live: new Map(), all: new Map() };
  private readonly watchers = new Set<Watcher>();
  private readonly queue: { w: Watcher; e: WatchEvent }[] = [];
  private delivering = false;
  /** Handler exceptions (counted, reported, never propagated into the store). */
  handlerErrors = 0;

  constructor(
    readonly holders: Holders,
    private readonly isLive: (owner: string) => boolean,
    private readonly onHandlerError: (err: unknown) => void = () => {},
  ) {}

  get(key: string, view: ViewName): StoreRecord | undefined {
    return this.shown[view].get(key)?.record;
  }

  /** Records under `prefix`, sorted by key. */
  entries(prefix: string, view: ViewName): StoreRecord[] {
    const out: StoreRecord[] = [];
    for (const [k, s] of this.shown[view]) if (k.startsWith(prefix)) out.push(s.record);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  count(view: ViewName): number {
    return this.shown[view].size;
  }

  refresh(key: string): void {
    this.refreshView(key, 'all', () => true);
    this.refreshView(key, 'live', this.isLive);
  }

  watch(prefix: string, handler: WatchHandler, view: ViewName): () => void {
    const w: Watcher = { prefix, handler, view };
    this.watchers.add(w);
    for (const r of this.entries(prefix, view)) this.queue.push({ w, e: { key: r.key, before: undefined, after: r, initial: true } });
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
    const doc = this.holders.first(key, accept);
    const text = doc?.text(key);
    const shown = this.shown[view].get(key);
    const before = shown?.record;
    let after: StoreRecord | undefined;
    if (doc && text !== undefined) {
      if (shown && shown.record.owner === doc.owner && shown.text === text) return;
      const value = doc.value(key);
      if (value === undefined) return; // holders only list keys with valid values
      after = { key, value, owner: doc.owner };
      this.shown[view].set(key, { record: after, text });
    } else {
      if (!shown) return;
      this.shown[view].delete(key);
    }
    for (const w of this.watchers) {
      if (w.view === view && key.startsWith(w.prefix)) this.queue.push({ w, e: { key, before, after, initial: false } });
    }
  }
}

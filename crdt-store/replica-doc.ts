// One replicated document: an Automerge document whose root map holds key -> canonical
// JSON text, plus the decoded view of it the store reads from. Every way the document can
// change (a local put, remote changes, a sync message, a persisted chunk) goes through
// here and reports exactly which keys now read differently, so the store above can keep
// its indexes and watches right without ever materialising the document.
//
// Values are Automerge scalar strings, one per key: a value is replaced whole, and
// concurrent writes of one key resolve as Automerge resolves a map key: the op with the
// greater (Lamport counter, actor id) wins on every replica; a put concurrent with a
// delete wins over it (a delete only removes the ops it has seen).

import { amCreate, amLoad, amDecodeChange, type AmDoc, type AmSyncState } from './automerge.js';
import { parseStoredJson, type Json, type ValueLimits } from './json-value.js';
import type { DocId, DocKind } from './names.js';
import { ownerOfDoc } from './names.js';
import { murmur3 } from './hash.js';
import { DocPool, FrozenDoc, type Transition } from './doc-pool.js';
import type { Entry, StoreRecord } from './entry.js';

export type { StoreRecord } from './entry.js';

/** A key whose visible text changed: from `before` to `after` (undefined = absent). */
export interface KeyChange {
  key: string;
  before: string | undefined;
  after: string | undefined;
}

/** The stored text each record was made from: how views tell a real change from a new object. */
const recordTexts = new WeakMap<StoreRecord, string>();
/** The auths of every document that has none (all of them without identity). */
const NO_AUTHS: ReadonlyMap<string, Uint8Array> = new Map();
/**
 * The empty list every replica starts with, shared: two empty arrays in every replica (heads
 * persisted, auths not) were 64 B of each (node, document) pair in a simulated cluster.
 */
const NO_HASHES: readonly string[] = Object.freeze([]);

export const textOf = (r: StoreRecord): string | undefined => recordTexts.get(r);

export class ReplicaDoc {
  readonly owner: string;
  /** The live Automerge document; undefined while hibernating (then `saved` holds it) or shared. */
  private live: AmDoc | undefined;
  /** With a pool (doc-pool.ts): the read-only document shared with replicas at the same history, instead of `live`. */
  private frozen: FrozenDoc | undefined;
  private saved: Uint8Array | undefined;
  /** Set by every use of the document; hibernateIfIdle() clears it (a second-chance clock). */
  private used = true;
  /** Heads as of the last saveIncremental(): the journal holds everything up to them. */
  private persistedHeads: readonly string[] = NO_HASHES;
  /** While shared, the FrozenDoc's own map (never changed: a private copy is taken first). */
  private entries = new Map<string, Entry>();
  /** Keys the last merge re-read, and how many of them held bad values: a transition for the pool. */
  private lastTouched: readonly string[] = NO_HASHES;
  private lastBad = 0;
  private headsCache: string[] | undefined;
  private headsHashCache: number | undefined;
  /** Changes in this document's history; the measure of when to compact. */
  private changes = 0;
  /**
   * Auth records of the changes held, by change hash (change-auth.ts), with identity on. The
   * map is made with the first: without identity there is none, and an empty Map in every
   * document was 184 B of each (node, document) pair, ~5 % of a simulated cluster's heap.
   */
  private authMap: Map<string, Uint8Array> | undefined;
  /** Hashes of auth records not yet given to persistence (LocalStore writes them after the document's own chunk). */
  private pendingAuths: string[] | undefined;
  /** Keys a peer wrote with something other than valid JSON text (hidden, counted). */
  badValues = 0;
  private freed = false;

  /** Auth records of the changes held, by change hash (empty without identity). */
  get auths(): ReadonlyMap<string, Uint8Array> {
    return this.authMap ?? NO_AUTHS;
  }

  /** Hashes of auth records not given to persistence yet (none, in every replica without identity). */
  get unpersistedAuths(): readonly string[] {
    return this.pendingAuths ?? NO_HASHES;
  }

  /** The auth record of `hash` is to be given to persistence. */
  noteUnpersistedAuth(hash: string): void {
    (this.pendingAuths ??= []).push(hash);
  }

  /** The hashes noted since the last call, forgotten here: persistence has them now. */
  takeUnpersistedAuths(): readonly string[] {
    const out = this.unpersistedAuths;
    this.pendingAuths = undefined;
    return out;
  }

  /** Keeps the auth record of the change `hash`. */
  setAuth(hash: string, record: Uint8Array): void {
    (this.authMap ??= new Map()).set(hash, record);
  }

  private constructor(
    readonly id: DocId,
    readonly kind: DocKind,
    readonly epoch: number,
    am: AmDoc | FrozenDoc,
    private readonly actor: string,
    private readonly limits: ValueLimits,
    private readonly pool?: DocPool,
  ) {
    this.owner = ownerOfDoc(kind);
    if (am instanceof FrozenDoc) {
      this.share(am);
      return;
    }
    const doc = am;
    this.live = doc;
    this.changes = doc.stats().numChanges;
    for (const key of doc.keys('_root')) this.refresh(key);
  }

  /**
   * An empty document. With `pool`, it starts as the pool's empty document of (id, epoch)
   * and follows or joins the pool's documents while nobody writes it locally (for replicas
   * of other nodes' documents; a local write takes a private copy).
   */
  static create(
    id: DocId,
    kind: DocKind,
    epoch: number,
    actor: string,
    limits: ValueLimits,
    pool?: DocPool,
  ): ReplicaDoc {
    if (!pool) return new ReplicaDoc(id, kind, epoch, amCreate(actor), actor, limits);
    const key = DocPool.key(id, epoch, []);
    const empty = pool.get(key) ?? pool.add(key, amCreate(actor), [], 0, new Map());
    return new ReplicaDoc(id, kind, epoch, empty, actor, limits, pool);
  }

  /** From bytes written by save() or concatenated saveIncremental() chunks; throws if Automerge cannot read them. */
  static load(
    id: DocId,
    kind: DocKind,
    epoch: number,
    bytes: Uint8Array,
    actor: string,
    limits: ValueLimits,
  ): ReplicaDoc {
    return new ReplicaDoc(id, kind, epoch, amLoad(bytes, actor), actor, limits);
  }

  /**
   * The Automerge document, loaded back if it was hibernating. A large cluster's store
   * holds a document per node, most of them quiet for hours: kept as saved bytes (a few
   * hundred bytes for a node's endpoints) instead of a live document (~25 KB of wasm
   * memory each), they cost next to nothing until a change or a repair touches them.
   */
  private get am(): AmDoc {
    this.used = true;
    if (this.frozen) return this.frozen.am; // read-only: anything that writes calls mutable() first
    if (!this.live) {
      if (this.freed || !this.saved) throw new Error(`crdt-store: document ${this.id} was freed`);
      this.live = amLoad(this.saved, this.actor);
      this.saved = undefined;
    }
    return this.live;
  }

  /** Saves and frees the Automerge document if nothing used it since the last call; true if it hibernated. */
  hibernateIfIdle(): boolean {
    if (!this.live || this.freed) return false; // a shared document costs this replica nothing
    if (this.used) {
      this.used = false;
      return false;
    }
    this.hibernate();
    return true;
  }

  /** Saves and frees the Automerge document now (it comes back on the next use). */
  hibernate(): void {
    if (!this.live || this.freed) return;
    this.headsCache ??= this.live.getHeads();
    this.saved = this.live.save();
    this.live.free();
    this.live = undefined;
  }

  get hibernating(): boolean {
    return this.live === undefined && this.frozen === undefined;
  }

  /** Reading a document shared through a DocPool (doc-pool.ts). */
  get shared(): boolean {
    return this.frozen !== undefined;
  }

  // ------------------------------------------------------------ reading

  get size(): number {
    return this.entries.size;
  }

  text(key: string): string | undefined {
    return this.entries.get(key)?.text;
  }

  value(key: string): Json | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.value === undefined) e.value = parseStoredJson(e.text, this.limits);
    return e.value;
  }

  /** The record of `key` as readers see it: one frozen object per stored text. */
  record(key: string): StoreRecord | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (!e.record) {
      const value = this.value(key);
      if (value === undefined) return undefined;
      e.record = Object.freeze({ key, value, owner: this.owner });
      recordTexts.set(e.record, e.text);
    }
    return e.record;
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  heads(): string[] {
    return (this.headsCache ??= this.am.getHeads()); // kept while hibernating
  }

  /** Has any change been applied (an epoch's first change carries its whole content). */
  get empty(): boolean {
    return this.heads().length === 0;
  }

  /** A 32-bit digest of (id, epoch, heads): equal on two nodes iff they hold the same history (w.h.p.). */
  headsHash(): number {
    if (this.headsHashCache === undefined) {
      const heads = [...this.heads()].sort().join(',');
      // Kept as an int32, unboxed in the replica (digest.ts says why).
      this.headsHashCache = murmur3(`${this.id}@${this.epoch}:${heads}`, 0xd1 /* digest seed */) | 0;
      if (this.frozen) this.frozen.headsHash = this.headsHashCache;
    }
    return this.headsHashCache >>> 0;
  }

  get changeCount(): number {
    return this.changes;
  }

  /** The Automerge actor of the write `key` reads from (the greatest op id among concurrent ones), or undefined. */
  winnerActor(key: string): string | undefined {
    return this.winnerOp(key)?.actor;
  }

  /** The op id (Lamport counter, actor) of the write `key` reads from, or undefined. */
  winnerOp(key: string): { counter: number; actor: string } | undefined {
    let best: { counter: number; actor: string } | undefined;
    for (const v of this.am.getAll('_root', key) as unknown[][]) {
      const id = String(v[v.length - 1]);
      const at = id.indexOf('@');
      const counter = Number(id.slice(0, at));
      const actor = id.slice(at + 1);
      if (!best || counter > best.counter || (counter === best.counter && actor > best.actor))
        best = { counter, actor };
    }
    return best;
  }

  hasChange(hash: string): boolean {
    return this.am.getChangeByHash(hash) !== null;
  }

  getChange(hash: string): Uint8Array | undefined {
    return this.am.getChangeByHash(hash) ?? undefined;
  }

  // ------------------------------------------------------------ local writes

  /** Stage a put (visible at once, committed by commit()). */
  put(key: string, text: string): KeyChange | undefined {
    const before = this.entries.get(key)?.text;
    if (before === text) return undefined;
    this.mutable().put('_root', key, text, 'str');
    this.entries.set(key, { text });
    return { key, before, after: text };
  }

  /** Stage a delete; undefined when the key was absent. */
  remove(key: string): KeyChange | undefined {
    const before = this.entries.get(key)?.text;
    if (before === undefined && this.am.get('_root', key) === undefined) return undefined;
    this.mutable().delete('_root', key);
    this.entries.delete(key);
    return { key, before, after: undefined };
  }

  /**
   * Commits staged writes as one change: its hash and bytes, or undefined if nothing was
   * staged. With `evenIfEmpty`, an empty change is made instead: the first change of an
   * epoch must exist even when the owner has no records, or peers could not adopt it.
   */
  commit(evenIfEmpty = false): { hash: string; change: Uint8Array } | undefined {
    // time 0: no wall clock in changes, so a replay is byte-identical.
    const am = this.mutable();
    const hash = am.commit(null, 0) ?? (evenIfEmpty ? am.emptyChange(null, 0) : null);
    if (!hash) return undefined;
    this.changes++;
    this.invalidateHeads();
    const change = this.am.getLastLocalChange();
    if (!change) throw new Error(`crdt-store: Automerge committed ${hash} in ${this.id} but has no last local change`);
    return { hash, change };
  }

  // ------------------------------------------------------------ merging

  /**
   * Applies remote changes or saved chunks (changes with missing dependencies wait inside
   * Automerge). Throws on bytes Automerge rejects; chunks before the bad one stay applied.
   */
  applyChanges(chunks: Uint8Array[]): KeyChange[] {
    // Which keys the changes touch, read from the changes themselves: Automerge's diff
    // costs several times the application and grows with the document (4 ms at 10k keys).
    const from = this.frozen;
    const known = from && this.pool!.transition(from, chunks);
    if (known) return this.follow(known);
    const keys = touchedKeys(chunks);
    const changesBefore = this.changes;
    const out = this.merging(
      () => {
        const am = this.mutable();
        for (const c of chunks) am.loadIncremental(c);
      },
      (changesAfter) => (keys && changesAfter === changesBefore + chunks.length ? keys : undefined),
    );
    this.rejoin();
    if (from && this.live) {
      // Not findable by its content (something waits inside it, or it has several writers),
      // but the same bytes from the same history give it again: other replicas follow it.
      const am = this.live;
      const heads = this.heads();
      this.live = undefined;
      this.share(this.pool!.addTransient(am, heads, this.changes, this.entries));
    }
    if (from && this.frozen)
      this.pool!.remember(from, chunks, { to: this.frozen, touched: this.lastTouched, bad: this.lastBad });
    return out;
  }

  /** Applies a saveIncremental()/save() chunk. Throws on bytes Automerge rejects. */
  loadIncremental(bytes: Uint8Array): KeyChange[] {
    const out = this.merging(() => this.mutable().loadIncremental(bytes));
    this.rejoin();
    return out;
  }

  /** Applies a peer's sync message. Throws on bytes Automerge rejects. */
  receiveSync(state: AmSyncState, message: Uint8Array): KeyChange[] {
    const out = this.merging(() => this.mutable().receiveSyncMessage(state, message));
    this.rejoin();
    return out;
  }

  generateSync(state: AmSyncState): Uint8Array | null {
    return this.am.generateSyncMessage(state);
  }

  // ------------------------------------------------------------ persistence

  /** Everything since the last call (the first call: everything), for the append log. */
  saveIncremental(): Uint8Array {
    const heads = this.heads();
    if (sameHeads(heads, this.persistedHeads)) return new Uint8Array(0);
    const since = this.persistedHeads;
    const out = since.length === 0 ? this.am.save() : this.am.saveSince([...since]);
    this.persistedHeads = heads;
    return out;
  }

  /** The journal already holds everything up to now (the document was loaded from it). */
  markPersisted(): void {
    this.persistedHeads = this.heads();
  }

  save(): Uint8Array {
    if (this.frozen) return this.frozen.am.save();
    return this.live ? this.live.save() : this.saved!;
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.authMap = undefined;
    this.pendingAuths = undefined;
    if (this.frozen) this.pool!.release(this.frozen);
    this.frozen = undefined;
    this.live?.free();
    this.live = undefined;
    this.saved = undefined;
  }

  // ------------------------------------------------------------ internals

  /**
   * Applies something and reports the keys whose text changed. `known` may name the keys
   * touched, given the change count after; without it (or when it declines: changes that
   * waited for these were released too, or some of these now wait) Automerge's diff says.
   */
  private merging(apply: () => unknown, known?: (changesAfter: number) => Set<string> | undefined): KeyChange[] {
    if (this.pool) {
      this.lastTouched = NO_HASHES;
      this.lastBad = 0;
    }
    const before = this.am.getHeads();
    apply();
    const after = this.am.getHeads();
    if (sameHeads(before, after)) return [];
    this.changes = this.am.stats().numChanges;
    this.invalidateHeads();
    let touched = known?.(this.changes);
    if (!touched) {
      touched = new Set<string>();
      for (const p of this.am.diff(before, after)) {
        const key = p.path[0];
        if (typeof key === 'string') touched.add(key);
      }
    }
    const out: KeyChange[] = [];
    const bad = this.badValues;
    for (const key of touched) {
      const beforeText = this.entries.get(key)?.text;
      this.refresh(key);
      const afterText = this.entries.get(key)?.text;
      if (beforeText !== afterText) out.push({ key, before: beforeText, after: afterText });
    }
    // What the pool records of this merge, for replicas that follow it (no pool: nobody reads it).
    if (this.pool) {
      this.lastTouched = [...touched];
      this.lastBad = this.badValues - bad;
    }
    return out;
  }

  // ------------------------------------------------------------ sharing (doc-pool.ts)

  /** Points this replica at `d`, whose history it now reads as its own. */
  private share(d: FrozenDoc): void {
    this.pool!.acquire(d);
    this.frozen = d;
    this.entries = d.entries as Map<string, Entry>;
    this.changes = d.changes;
    this.headsCache = d.heads as string[];
    this.headsHashCache = d.headsHash;
  }

  /** The document for writing: a private copy of the shared one, first, if it was shared. */
  private mutable(): AmDoc {
    const d = this.frozen;
    if (!d) return this.am;
    this.live = d.am.fork(this.actor);
    this.entries = new Map(d.entries);
    this.frozen = undefined;
    this.pool!.release(d);
    return this.live;
  }

  /** Another replica went from here with the same bytes: the same history and key changes, without Automerge. */
  private follow(t: Transition): KeyChange[] {
    const from = this.frozen!;
    this.lastTouched = t.touched;
    this.lastBad = t.bad;
    if (t.to === from) return [];
    const out: KeyChange[] = [];
    for (const key of t.touched) {
      const beforeText = this.entries.get(key)?.text;
      const afterText = t.to.entries.get(key)?.text;
      if (beforeText !== afterText) out.push({ key, before: beforeText, after: afterText });
    }
    this.badValues += t.bad;
    this.share(t.to);
    this.pool!.release(from);
    this.used = true;
    return out;
  }

  /**
   * After a merge into a private copy: with nothing waiting inside it and one writer,
   * this replica joins the pool's document of the same history, or gives its own to the
   * pool. Only replicas created with a pool, and never while a local write is staged.
   */
  private rejoin(): void {
    const am = this.live;
    if (!this.pool || !am) return;
    if (am.pendingOps() > 0 || am.getMissingDeps([]).length > 0) return;
    // Several writers: Automerge numbers actors in the order a replica met them, and a
    // saved document (which sync sends a peer that has none) shows that order, so two
    // replicas with the same heads can still send different bytes. One writer (every
    // node's own document) has one order.
    if (am.stats().numActors > 1) return;
    const key = DocPool.key(this.id, this.epoch, this.heads());
    const d = this.pool.add(key, am, this.heads(), this.changes, this.entries);
    this.live = undefined;
    if (d.am !== am) am.free();
    this.share(d);
  }

  /** Re-reads one key from Automerge; anything but valid JSON text hides the key. */
  private refresh(key: string): void {
    const v = this.am.getWithType('_root', key);
    if (v === null) {
      this.entries.delete(key);
      return;
    }
    if (v[0] === 'str') {
      const text = v[1] as string;
      if (this.entries.get(key)?.text === text) return; // keep the decoded copy readers already share
      const value = parseStoredJson(text, this.limits);
      if (value !== undefined) {
        this.entries.set(key, { text, value });
        return;
      }
    }
    this.badValues++;
    this.entries.delete(key);
  }

  private invalidateHeads(): void {
    this.headsCache = undefined;
    this.headsHashCache = undefined;
  }
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((h) => s.has(h));
}

/** Root-map keys the changes write or delete; undefined when a chunk is not a single change (a saved document). */
function touchedKeys(chunks: Uint8Array[]): Set<string> | undefined {
  const keys = new Set<string>();
  for (const c of chunks) {
    let ops: { obj: string; key?: unknown }[];
    try {
      ops = (amDecodeChange(c) as unknown as { ops: { obj: string; key?: unknown }[] }).ops;
    } catch {
      return undefined;
    }
    for (const op of ops) {
      if (op.obj !== '_root') return undefined; // nested objects: not ours, let diff sort it out
      if (typeof op.key === 'string') keys.add(op.key);
    }
  }
  return keys;
}

/** The hash of a change, or undefined for bytes that are not one. */
export function changeHash(change: Uint8Array): string | undefined {
  try {
    return amDecodeChange(change).hash;
  } catch {
    return undefined;
  }
}

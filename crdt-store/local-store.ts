// The store on one node: its replicas of every document, the API that reads and writes
// them, the views and watches, owner liveness and reaping, own-document epochs, and the
// hooks replication and persistence attach to. It is synchronous and deterministic: it
// reads time only through the injected clock, and does no I/O except through the
// injected Persistence.
//
// Document model (see names.ts):
//   - n/<node>: the records a node owns, written only by it. The owner compacts it by
//     starting a new epoch: a fresh document whose first change holds the whole current
//     content; peers replace the old epoch wholesale when they see the new one, so history
//     never outgrows a few times the content. A node starts a new epoch at every start,
//     so whatever a crash cut from its log can never come back from a peer and outvote
//     its later writes.
//   - s/<bucket>: shared records (owner "*"), any node writes them, merged by Automerge;
//     their history grows with every write, so they are for low-churn shared data
//     (declared VIPs, user KV, cluster config), not per-container records.
//
// Merge semantics (what a reader sees after concurrent writes):
//   - A value is replaced whole; there is no merge inside a value.
//   - Concurrent writes of one key in one document: the write with the greater Automerge
//     op id (Lamport counter, then actor) wins on every replica; the other is dropped.
//   - A write concurrent with a delete of the same key wins (the delete removes only the
//     writes it had seen).
//   - One key held in several documents: the shared record first, then the owner whose
//     name sorts first (code points); the live view skips owners that are not alive.
//   - A non-durable write cut by a crash before it reached the log or a peer is lost; one
//     that reached a peer is discarded by the owner's next epoch (own records) or may
//     reappear (shared records).

import { DEFAULTS } from './defaults.js';
import { canonicalJson, DEFAULT_VALUE_LIMITS, StoreValueError, type Json, type ValueLimits } from './json-value.js';
import {
  actorId,
  bucketOf,
  checkKey,
  checkNodeName,
  ownDocId,
  parseDocId,
  sharedDocId,
  SHARED_OWNER,
  type DocId,
  type DocKind,
} from './names.js';
import { ReplicaDoc, type KeyChange } from './replica-doc.js';
import { amDecodeChange, type AmSyncState } from './automerge.js';
import { Holders, Views, type StoreRecord, type ViewName, type WatchHandler } from './views.js';
import {
  ADMIT_REJECTS,
  carriesUnknownChanges,
  changesIn,
  changesInSync,
  checkChunks,
  checkSyncMessage,
  mayHold,
  type AdmitReject,
  type ChangeInfo,
  type KeyOwnerRule,
} from './admission.js';
import { authChunk, certKey, isAuthChunk, readAuthChunk, type ChangeAuth } from './change-auth.js';
import { OwnSignatures } from './own-signatures.js';
import type { DocPool } from './doc-pool.js';

export type Mutator = (current: Json | undefined) => Json | undefined;

export interface UpdateOptions {
  /** Write the shared record (owner "*") instead of this node's own record. */
  shared?: boolean;
  /** Return only once the write is on disk (fsync). */
  durable?: boolean;
}

export interface ReadOptions {
  /** 'live' (default): hide records whose owner is not alive. 'all': every record held. */
  view?: ViewName;
}

export interface UpdateResult {
  /** False when the mutator returned undefined or a value equal to the current one. */
  changed: boolean;
  /** The record as written (undefined after a delete). */
  record: StoreRecord | undefined;
}

/** A change this node made, for replication to push. */
export interface LocalChange {
  docId: DocId;
  epoch: number;
  hash: string;
  change: Uint8Array;
  /** Its auth record (change-auth.ts), with identity on: signed when first read (own-signatures.ts). */
  readonly auth?: Uint8Array;
}

/** What became of changes or a document received from a peer. */
export type RemoteOutcome = 'applied' | 'unchanged' | 'stale' | 'refused' | 'incomplete' | 'invalid';

/** What replication watches: documents it must digest and changes it must push. */
export interface StoreObserver {
  localChange?(change: LocalChange): void;
  /** A document's heads changed, or it was adopted (new document or new epoch). */
  docUpdated?(doc: ReplicaDoc): void;
  docRemoved?(docId: DocId): void;
}

/** A document as found on disk: its epoch and its chunks (save or saveIncremental output) in order. */
export interface PersistedDoc {
  docId: DocId;
  epoch: number;
  chunks: Uint8Array[];
}

/** Where the store keeps its state; see persist/journal.ts. */
export interface Persistence {
  readonly loaded: { docs: PersistedDoc[]; maxEpoch: number };
  /** Append a chunk of a document's history (after the chunks already given for that epoch). */
  chunk(docId: DocId, epoch: number, bytes: Uint8Array): void;
  /** The document is gone (reaped). */
  drop(docId: DocId): void;
  /** Everything appended so far is on disk when this returns. */
  sync(): void;
  /** Rewrite the state compactly if the log has grown; `snapshot` lists every document. */
  maybeCompact(snapshot: () => Iterable<{ docId: DocId; epoch: number; bytes: Uint8Array }>): void;
}

export interface LocalStoreOptions {
  /** This node's name: the owner of its own records. */
  name: string;
  /**
   * Milliseconds, only ever compared with itself: dead-since times for reaping, and the
   * floor of new epoch numbers. For epochs to keep rising across a lost data directory it
   * should be wall-clock-aligned in the daemon (performance.timeOrigin + performance.now()).
   */
  clock: () => number;
  persistence?: Persistence;
  /** Records of an owner not alive for this long are dropped by every node. Default 24 h (as membership's reapAfterMs). */
  reapAfterMs?: number;
  limits?: Partial<ValueLimits>;
  /** Start a new epoch of the own document when its history exceeds max(minChanges, factor x records). */
  compaction?: { minChanges: number; factor: number };
  /** Failures that were absorbed (a throwing watch handler, an unreadable persisted document). */
  onError?: (err: unknown, context: string) => void;
  /**
   * Which document each key belongs in (see admission.ts): records elsewhere are hidden
   * from both views, changes writing them are refused, and local writes of them throw.
   * Default: none (any document may hold any key).
   */
  keyOwner?: KeyOwnerRule;
  /**
   * Epochs are wall-clock milliseconds (nextEpoch), so one further ahead of this node's
   * clock than the clock skew allowed between nodes is forged or broken: it is refused,
   * and never makes this node move its own epoch past it. Default 1 h.
   */
  maxEpochAheadMs?: number;
  /**
   * Identity (change-auth.ts): this node signs every change it makes, and every remote
   * change must carry a valid signature of a writer allowed to write it. Default: none.
   */
  auth?: ChangeAuth;
  /**
   * Shares read-only Automerge documents with the other stores of this process that hold
   * the same history of another node's document (doc-pool.ts): for a simulator running
   * many stores. Default: none (every document is this store's own).
   */
  docPool?: DocPool;
}

export interface LocalStoreStats {
  docs: number;
  /** Documents kept as saved bytes until used (see ReplicaDoc). */
  hibernating: number;
  records: number;
  liveRecords: number;
  watches: number;
  ownEpoch: number;
  localChanges: number;
  remoteChangesApplied: number;
  epochsStarted: number;
  docsAdopted: number;
  docsReaped: number;
  remoteRejected: number;
  /** Remote changes refused by admission.ts's rules (included in remoteRejected), by reason. */
  admitRejects: Record<AdmitReject, number>;
  /** Keys written by a peer with a value that is not valid JSON text (hidden). */
  badValues: number;
  watchErrors: number;
}

const FORCED_EPOCH_EVERY_MS = 1000;
/**
 * Pushed changes that came before their epoch's first change, kept until it comes, for
 * this many documents at most (the oldest is dropped, left to repair): an Automerge
 * document each, and a peer can push such changes for any document. A live member's own
 * document does not count: there is one per member, and the store holds it anyway once
 * its first change comes, so waiting for it costs at most one more document per member
 * (forming a cluster of N, every node waits for about a third of the N at once; a fixed
 * cap left the rest to repair above ~700 nodes). Any other document (an owner membership
 * does not hold alive, a shared one) counts, as before: what a peer can make this node
 * hold beyond its members' documents stays MAX_WAITING_DOCS.
 */
export const MAX_WAITING_DOCS = 256;
/** Auth records buffered per document before they go to the journal as one chunk. */
const AUTH_BATCH = 64;

interface Txn {
  docs: Map<ReplicaDoc, KeyChange[]>;
  durable: boolean;
}

export class LocalStore {
  readonly name: string;
  private readonly clock: () => number;
  private readonly persistence: Persistence | undefined;
  private readonly limits: ValueLimits;
  private readonly reapAfterMs: number;
  private readonly compaction: { minChanges: number; factor: number };
  private readonly onError: (err: unknown, context: string) => void;
  private readonly keyOwner: KeyOwnerRule | undefined;
  private readonly maxEpochAheadMs: number;
  private readonly auth: ChangeAuth | undefined;
  private readonly docPool: DocPool | undefined;
  /** This node's changes not signed yet (signed in batches, at the first need: own-signatures.ts). */
  private readonly own: OwnSignatures | undefined;
  private readonly admitRejects = Object.fromEntries(ADMIT_REJECTS.map((r) => [r, 0])) as Record<AdmitReject, number>;

  private readonly docs = new Map<DocId, ReplicaDoc>();
  /** Higher-epoch documents being filled by a sync session, adopted once they hold their first change. */
  private readonly pending = new Map<DocId, ReplicaDoc>();
  /** Newer-epoch documents holding pushed changes that came before the epoch's first change (oldest first). */
  private readonly waiting = new Map<DocId, ReplicaDoc>();
  /** The waiting documents that count against MAX_WAITING_DOCS (not a live member's own), oldest first. */
  private readonly waitingOthers = new Set<DocId>();
  private readonly holders = new Holders();
  private readonly views: Views;
  private readonly observers: StoreObserver[] = [];

  private alive = new Set<string>();
  /** Owners of documents we hold who are not alive, and since when (our clock). */
  private readonly deadSince = new Map<string, number>();
  /** Owners whose certificates all expired (identity on): not alive, whatever membership says. */
  private readonly expiredOwners = new Set<string>();
  /** Owners whose records are dropped and refused for good (a revoked certificate). */
  private readonly refused = new Set<string>();
  /** Owners whose documents were reaped and who have not been alive since, with when. */
  private readonly reaped = new Map<string, number>();

  /** Highest epoch number this node has used; every new one is above it. */
  private lastEpoch: number;
  /** The epoch of this run: names this node's Automerge actor in shared documents. */
  readonly session: number;
  /** actorId(name, session), made once: every replica of another owner's document gets it. */
  private readonly sessionActor: string;
  private txn: Txn | undefined;
  /** When replaceOwnEpoch last started an epoch (our clock). */
  private forcedEpochAt = -Infinity;
  private readonly counters = {
    localChanges: 0,
    remoteChangesApplied: 0,
    epochsStarted: 0,
    docsAdopted: 0,
    docsReaped: 0,
    remoteRejected: 0,
  };

  constructor(opts: LocalStoreOptions) {
    checkNodeName(opts.name);
    this.name = opts.name;
    this.clock = opts.clock;
    this.persistence = opts.persistence;
    this.limits = { ...DEFAULT_VALUE_LIMITS, ...opts.limits };
    this.reapAfterMs = opts.reapAfterMs ?? DEFAULTS.reapAfterMs;
    this.compaction = opts.compaction ?? DEFAULTS.compaction;
    this.onError = opts.onError ?? (() => {});
    this.keyOwner = opts.keyOwner;
    this.maxEpochAheadMs = opts.maxEpochAheadMs ?? DEFAULTS.maxEpochAheadMs;
    this.auth = opts.auth;
    this.docPool = opts.docPool;
    this.docPool?.bindLimits(this.limits);
    this.own = opts.auth && new OwnSignatures(opts.auth);
    const keyOwner = this.keyOwner;
    this.views = new Views(
      this.holders,
      (key, owner) => mayHold(keyOwner, key, owner),
      (owner) => this.isAlive(owner),
      (err) => this.onError(err, 'watch handler'),
    );

    const loaded = this.persistence?.loaded ?? { docs: [], maxEpoch: 0 };
    this.lastEpoch = loaded.maxEpoch;
    this.session = this.nextEpoch();
    this.sessionActor = actorId(this.name, this.session);
    for (const p of loaded.docs) this.loadPersisted(p);
    // A new epoch at every start (see the header): the own records as they were persisted.
    this.startOwnEpoch(this.session);
    this.persistence?.maybeCompact(() => this.snapshot());
    this.views.flush();
  }

  // ------------------------------------------------------------ reading

  get(key: string, opts: ReadOptions = {}): StoreRecord | undefined {
    return this.views.get(key, opts.view ?? 'live');
  }

  /** Keys under `prefix`, sorted. */
  keys(prefix = '', opts: ReadOptions = {}): string[] {
    return this.views.entries(prefix, opts.view ?? 'live').map((r) => r.key);
  }

  /** Records under `prefix`, sorted by key. */
  entries(prefix = '', opts: ReadOptions = {}): StoreRecord[] {
    return this.views.entries(prefix, opts.view ?? 'live');
  }

  /**
   * Calls `handler` at once for every current record under `prefix` (initial: true), then
   * once per change of what the view shows for a key under it: a write, a delete, a merge
   * that changed the winner, an owner dying or coming back. A merge or write that leaves
   * the value as it was is not an event. Returns the function that stops the watch.
   */
  watch(prefix: string, handler: WatchHandler, opts: ReadOptions = {}): () => void {
    return this.views.watch(prefix, handler, opts.view ?? 'live');
  }

  /**
   * Who wrote the record of `key` that `get` returns: its owner for a node's own record;
   * for a shared record the node whose Automerge actor made the winning write (with
   * identity on, proven: a change's actor must be its signer's). Undefined if unknown.
   */
  writerOf(key: string, opts: ReadOptions = {}): string | undefined {
    const rec = this.get(key, opts);
    if (!rec) return undefined;
    if (rec.owner !== SHARED_OWNER) return rec.owner;
    const actor = this.docs.get(sharedDocId(bucketOf(key)))?.winnerActor(key);
    if (!actor) return undefined;
    const known = this.auth?.writerOfActor(actor);
    if (known) return known;
    const half = actor.slice(0, 16);
    const names = [this.name, ...this.alive, ...[...this.docs.values()].map((d) => d.owner)];
    return names.find((n) => n !== SHARED_OWNER && actorId(n, 0).slice(0, 16) === half);
  }

  /**
   * The version of the record of `key` that `get` returns: the Lamport counter of its
   * winning write in its document, which every later write of the key that saw it exceeds
   * (the KV's check-and-set index). Undefined when there is no record.
   */
  versionOf(key: string, opts: ReadOptions = {}): number | undefined {
    const rec = this.get(key, opts);
    if (!rec) return undefined;
    const doc = this.docs.get(rec.owner === SHARED_OWNER ? sharedDocId(bucketOf(key)) : ownDocId(rec.owner));
    return doc?.winnerOp(key)?.counter;
  }

  /**
   * Drops `owner`'s own document and refuses it from now on (its certificate was revoked):
   * its records leave every view at once. Not for this node itself.
   */
  refuseOwner(owner: string): void {
    if (owner === this.name || this.refused.has(owner)) return;
    this.refused.add(owner);
    this.deadSince.delete(owner);
    this.dropDoc(ownDocId(owner));
    this.views.flush();
  }

  // ------------------------------------------------------------ writing

  /**
   * Sets `key` to what `mutator` returns given the current value (frozen; return a new
   * one). Returning undefined, or a value equal to the current one, writes nothing.
   * Throws StoreValueError for a value that is not JSON-like or over the limits.
   */
  update(key: string, mutator: Mutator, opts: UpdateOptions = {}): UpdateResult {
    checkKey(key);
    return this.transact(opts.durable ?? false, () => {
      const doc = this.writableDoc(key, opts.shared ?? false);
      const next = mutator(doc.value(key));
      if (next === undefined) return { changed: false, record: this.recordIn(doc, key) };
      const text = canonicalJson(next, this.limits);
      const change = doc.put(key, text);
      if (change) this.stage(doc, change);
      return { changed: change !== undefined, record: this.recordIn(doc, key) };
    });
  }

  /** Shorthand for update(key, () => value); undefined is refused (use delete). */
  put(key: string, value: Json, opts: UpdateOptions = {}): UpdateResult {
    if (value === undefined) throw new StoreValueError('value is undefined: use delete() to remove a key');
    return this.update(key, () => value, opts);
  }

  /** Deletes this node's own record of `key` (or the shared one). False if there was none. */
  delete(key: string, opts: UpdateOptions = {}): boolean {
    checkKey(key);
    return this.transact(opts.durable ?? false, () => {
      const doc = this.writableDoc(key, opts.shared ?? false);
      const change = doc.remove(key);
      if (change) this.stage(doc, change);
      return change !== undefined;
    });
  }

  /**
   * Runs `fn`, whose updates and deletes commit together: one change per document
   * touched, one fsync if durable. Updates made before `fn` throws are kept.
   */
  batch<T>(fn: () => T, opts: { durable?: boolean } = {}): T {
    return this.transact(opts.durable ?? false, fn);
  }

  // ------------------------------------------------------------ liveness and reaping

  /** The owners membership holds alive (this node always is). */
  setAlive(names: Iterable<string>): void {
    const next = new Set(names);
    next.delete(this.name);
    const flipped: string[] = [];
    for (const n of next) if (!this.alive.has(n)) flipped.push(n);
    for (const n of this.alive) if (!next.has(n)) flipped.push(n);
    this.alive = next;
    const now = this.clock();
    for (const owner of flipped) {
      if (next.has(owner)) {
        this.deadSince.delete(owner);
        this.reaped.delete(owner);
      } else if (this.docs.has(ownDocId(owner))) {
        this.deadSince.set(owner, now);
      }
      const doc = this.docs.get(ownDocId(owner));
      if (doc) for (const key of doc.keys()) this.views.refresh(key);
      // An owner no longer alive: its waiting document counts like any other's from now on.
      if (!next.has(owner) && this.waiting.has(ownDocId(owner))) this.countWaiting(ownDocId(owner));
    }
    this.views.flush();
  }

  isAlive(owner: string): boolean {
    return owner === SHARED_OWNER || owner === this.name || (this.alive.has(owner) && !this.expiredOwners.has(owner));
  }

  /**
   * With identity, a node whose certificate expired is treated as failed: its records leave
   * the live view (as if membership declared it dead) until a change signed with a renewed
   * certificate arrives. Checked with the reaping rule (every reapCheckMs).
   */
  private checkExpiry(): void {
    if (!this.auth) return;
    const now = this.clock();
    for (const d of this.docs.values()) {
      if (d.owner === SHARED_OWNER || d.owner === this.name) continue;
      const expired = this.auth.expired(d.owner, now);
      if (expired === this.expiredOwners.has(d.owner)) continue;
      if (expired) this.expiredOwners.add(d.owner);
      else this.expiredOwners.delete(d.owner);
      for (const key of d.keys()) this.views.refresh(key);
    }
    this.views.flush();
  }

  /**
   * weft force-leave: the records of an owner that is not alive are dropped now, as reap()
   * would after reapAfterMs, and refused likewise until it is alive again. Returns whether
   * there was anything to drop.
   */
  reapNow(owner: string): boolean {
    if (owner === this.name || !this.deadSince.has(owner)) return false;
    this.reapOwner(owner, this.clock());
    return true;
  }

  private reapOwner(owner: string, now: number): void {
    this.deadSince.delete(owner);
    this.reaped.set(owner, now);
    this.dropDoc(ownDocId(owner));
    this.counters.docsReaped++;
  }

  /**
   * The reaping rule, the same on every node: the documents of an owner that has not been
   * alive for reapAfterMs (by this node's own observation, counted from when it first held
   * them) are dropped, and documents of that owner are refused until it is alive again.
   * Returns the owners reaped now.
   */
  reap(): string[] {
    this.checkExpiry();
    const now = this.clock();
    const out: string[] = [];
    for (const [owner, since] of this.deadSince) {
      if (now - since < this.reapAfterMs) continue;
      this.reapOwner(owner, now);
      out.push(owner);
    }
    // A refusal outlives the reap by another reapAfterMs; after that, a straggler's copy
    // would be accepted and reaped again in turn, which keeps this map bounded.
    for (const [owner, at] of this.reaped) if (now - at >= this.reapAfterMs) this.reaped.delete(owner);
    this.views.flush();
    return out;
  }

  // ------------------------------------------------------------ replication hooks

  observe(o: StoreObserver): void {
    this.observers.push(o);
  }

  /** Current documents (not those still being filled by a sync). */
  documents(): IterableIterator<ReplicaDoc> {
    return this.docs.values();
  }

  doc(id: DocId): ReplicaDoc | undefined {
    return this.docs.get(id);
  }

  get ownEpoch(): number {
    return this.docs.get(ownDocId(this.name))!.epoch;
  }

  /** A change's hash from its bytes; undefined if they are not a change. Admission decoded it already: a cache hit. */
  changeHash(change: Uint8Array): string | undefined {
    try {
      return amDecodeChange(change).hash;
    } catch {
      return undefined;
    }
  }

  /**
   * A change this store holds in the document `docId`, with the epoch it is in and its auth
   * record: to answer a graft. Undefined once it is not held (a new epoch holds none of the
   * old one's changes: its writer's actor is new).
   */
  changeOf(docId: DocId, hash: string): { epoch: number; change: Uint8Array; auth?: Uint8Array } | undefined {
    const doc = this.docs.get(docId);
    const change = doc?.getChange(hash);
    if (!doc || !change) return undefined;
    this.own?.signAll();
    const auth = doc.auths.get(hash);
    return auth ? { epoch: doc.epoch, change, auth } : { epoch: doc.epoch, change };
  }

  /** Would a document with this id be taken from a peer (not our own, not a reaped owner's)? */
  accepts(docId: DocId): boolean {
    const kind = parseDocId(docId);
    if (!kind) return false;
    if (kind.kind === 'shared') return true;
    if (this.refused.has(kind.owner)) return false;
    return kind.owner !== this.name && !(this.reaped.has(kind.owner) && !this.alive.has(kind.owner));
  }

  /** Applies changes a peer pushed. Never throws. */
  applyRemote(
    docId: DocId,
    epoch: number,
    changes: Uint8Array[],
    auths?: readonly (Uint8Array | undefined)[],
  ): RemoteOutcome {
    const kind = parseDocId(docId);
    if (!kind || !validEpoch(epoch)) return this.rejected();
    if (this.futureEpoch(epoch)) return this.rejected('future_epoch');
    if (kind.kind === 'own' && kind.owner === this.name) {
      // With identity, only our own signature shows we lost something: a forgery is counted,
      // and never makes us start an epoch (a key holder could otherwise churn ours).
      if (this.auth) {
        const infos = changesIn(changes, true);
        const r = infos ? this.verifyChanges(docId, infos, authsByHash(changes, infos, auths)) : 'unsigned';
        if (typeof r === 'string') return this.rejected(r);
      }
      return this.ownDocSeenElsewhere(epoch);
    }
    if (kind.kind === 'own' && this.refused.has(kind.owner)) return this.rejected('revoked');
    if (!this.accepts(docId)) return 'refused';
    const current = this.docs.get(docId);
    if (current && epoch < current.epoch) return 'stale';
    const bad = checkChunks(changes, kind, epoch, this.keyOwner);
    if (bad) return this.rejected(bad);
    let signed: Map<string, Uint8Array> | undefined;
    if (this.auth) {
      // Pushed changes are single changes; each must come with its own auth record.
      const infos = changesIn(changes, true);
      if (!infos) return this.rejected('unsigned');
      const r = this.verifyChanges(docId, infos, authsByHash(changes, infos, auths));
      if (typeof r === 'string') return this.rejected(r);
      signed = r;
    }
    try {
      if (current && epoch === current.epoch) {
        keepAuths(current, signed);
        const changed = current.applyChanges(changes);
        return this.merged(current, changed) ? 'applied' : 'unchanged';
      }
      // A newer epoch (or a first sight): adoptable only from its first change. Changes
      // that come before it (pushes that took different paths through the tree, or a lost
      // first push) wait for it inside the document, instead of each costing a repair.
      const waiting = this.waiting.get(docId);
      const fresh = waiting?.epoch === epoch ? waiting : this.freshDoc(docId, kind, epoch);
      keepAuths(fresh, signed);
      fresh.applyChanges(changes);
      if (fresh.empty) {
        if (fresh !== waiting) this.wait(fresh);
        return 'incomplete';
      }
      this.adopt(fresh);
      return 'applied';
    } catch (err) {
      this.onError(err, `changes for ${docId}`);
      return this.rejected();
    } finally {
      this.views.flush();
    }
  }

  /**
   * The document a sync session about (docId, epoch) works on: ours at that epoch, a
   * fresh one when the peer's epoch is newer or we have none, undefined when ours is newer
   * or we refuse the document.
   */
  private syncDoc(docId: DocId, epoch: number): ReplicaDoc | undefined {
    const kind = parseDocId(docId);
    if (!kind || !validEpoch(epoch) || this.futureEpoch(epoch)) return undefined;
    if (kind.kind === 'own' && kind.owner === this.name) {
      const own = this.docs.get(docId)!;
      // With identity a claim is not enough: receiveSync moves once it holds changes we signed.
      if (epoch > own.epoch && !this.auth) this.ownDocSeenElsewhere(epoch);
      return epoch === own.epoch ? own : undefined;
    }
    if (!this.accepts(docId)) return undefined;
    const current = this.docs.get(docId);
    if (current && epoch === current.epoch) return current;
    if (current && epoch < current.epoch) return undefined;
    const p = this.pending.get(docId);
    if (p && p.epoch === epoch) return p;
    if (p && p.epoch > epoch) return undefined;
    p?.free();
    const fresh = this.freshDoc(docId, kind, epoch);
    this.pending.set(docId, fresh);
    return fresh;
  }

  /** Our next sync message about (docId, epoch) in a session, or null when we have nothing to say. */
  generateSync(docId: DocId, epoch: number, state: AmSyncState): Uint8Array | null {
    const doc = this.syncDoc(docId, epoch);
    if (!doc) return null;
    try {
      return doc.generateSync(state);
    } catch (err) {
      this.onError(err, `sync message for ${docId}`);
      return null;
    }
  }

  /**
   * The auth records of the changes in a sync message this node generated about (docId,
   * epoch), for the peer to verify them (empty without identity, or for records not held:
   * a document loaded from disk has none for other writers' changes).
   */
  syncAuths(docId: DocId, epoch: number, message: Uint8Array): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    if (!this.auth) return out;
    this.own?.signAll();
    const doc = this.docs.get(docId);
    const held = doc && doc.epoch === epoch ? doc : this.pending.get(docId);
    if (!held) return out;
    for (const c of changesInSync(message) ?? []) {
      let a = held.auths.get(c.hash);
      // Our own change whose record a crash lost before it reached the disk: sign it again.
      if (!a && c.actor.slice(0, 16) === actorId(this.name, 0).slice(0, 16)) {
        a = this.auth.sign(docId, c.bytes);
        held.setAuth(c.hash, a);
        held.noteUnpersistedAuth(c.hash);
      }
      if (a) out.set(c.hash, a);
    }
    return out;
  }

  /** Takes a peer's sync message about (docId, epoch). Never throws. */
  receiveSync(
    docId: DocId,
    epoch: number,
    state: AmSyncState,
    message: Uint8Array,
    auths?: ReadonlyMap<string, Uint8Array>,
  ): RemoteOutcome {
    const kind = parseDocId(docId);
    if (!kind || !validEpoch(epoch)) return this.rejected();
    if (this.futureEpoch(epoch)) return this.rejected('future_epoch');
    if (kind.kind === 'own' && this.refused.has(kind.owner)) return this.rejected('revoked');
    if (this.auth && kind.kind === 'own' && kind.owner === this.name) {
      // Changes of our own document we do not hold: counted forgeries unless we signed them
      // (then we lost them: a new epoch above theirs).
      const own = this.docs.get(docId)!;
      const infos = changesInSync(message);
      if (!infos) return this.rejected('undecodable');
      const unknown = epoch === own.epoch ? infos.filter((c) => !own.hasChange(c.hash)) : infos;
      if (unknown.length > 0) {
        const r = this.verifyChanges(docId, unknown, auths ?? new Map());
        if (typeof r === 'string') return this.rejected(r);
        if (epoch >= own.epoch) {
          if (epoch > own.epoch) this.ownDocSeenElsewhere(epoch);
          else this.replaceOwnEpoch();
          this.views.flush();
          return 'stale';
        }
      }
    }
    const doc = this.syncDoc(docId, epoch);
    if (!doc) return 'stale';
    // Our own current epoch has one writer, us: a peer cannot hold a change of it we lack,
    // so any it sends is forged.
    const bad =
      doc.owner === this.name
        ? carriesUnknownChanges(message, (h) => doc.hasChange(h))
        : checkSyncMessage(message, kind, epoch, this.keyOwner);
    // Someone holds a forgery of our current epoch (a key holder who wrote with our actor
    // before our own first change reached a peer): a new epoch replaces it everywhere.
    if (bad && doc.owner === this.name) this.replaceOwnEpoch();
    if (bad) return this.rejected(bad);
    if (this.auth && doc.owner !== this.name) {
      const infos = changesInSync(message);
      if (!infos) return this.rejected('undecodable');
      const r = this.verifyChanges(docId, infos, auths ?? new Map());
      if (typeof r === 'string') return this.rejected(r);
      keepAuths(doc, r);
    }
    try {
      const changed = doc.receiveSync(state, message);
      if (this.pending.get(docId) === doc) {
        if (doc.empty) return 'unchanged';
        this.pending.delete(docId);
        this.adopt(doc);
        return 'applied';
      }
      return this.merged(doc, changed) ? 'applied' : 'unchanged';
    } catch (err) {
      this.onError(err, `sync message for ${docId}`);
      return this.rejected();
    } finally {
      this.views.flush();
    }
  }

  /** Keeps a document whose epoch's first change has not come yet (see MAX_WAITING_DOCS). */
  private wait(doc: ReplicaDoc): void {
    const had = this.waiting.get(doc.id);
    if (had && had.epoch > doc.epoch) {
      doc.free();
      return;
    }
    had?.free();
    this.unwait(doc.id);
    this.waiting.set(doc.id, doc);
    if (doc.owner === SHARED_OWNER || !this.alive.has(doc.owner)) this.countWaiting(doc.id);
  }

  /** Counts a waiting document against MAX_WAITING_DOCS, dropping the oldest counted one if full. */
  private countWaiting(id: DocId): void {
    if (this.waitingOthers.has(id)) return;
    if (this.waitingOthers.size >= MAX_WAITING_DOCS) {
      const oldest = this.waitingOthers.values().next().value as DocId;
      this.waiting.get(oldest)?.free();
      this.unwait(oldest);
    }
    this.waitingOthers.add(id);
  }

  /** Forgets a waiting document (not freed here). */
  private unwait(id: DocId): void {
    this.waiting.delete(id);
    this.waitingOthers.delete(id);
  }

  /** Forget documents a finished sync session left half-filled. */
  dropPending(): void {
    for (const p of this.pending.values()) p.free();
    this.pending.clear();
  }

  /**
   * Certificates that came with changes (a push, a sync session, the journal): each is
   * checked against the CA before the records referencing it can use it; a refused one is
   * counted as bad_cert.
   */
  learnCerts(ders: readonly Uint8Array[] | undefined): void {
    if (!this.auth || !ders || ders.length === 0) return;
    const refused = this.auth.learnCerts(ders, this.clock());
    for (let i = 0; i < refused; i++) this.rejected('bad_cert');
  }

  /**
   * The certificates the given auth records reference, each once, for a peer to check
   * them; those whose reference is in `sent` are left out, and the rest added to it. At
   * most `max` (the rest go with a later message).
   */
  certsFor(auths: Iterable<Uint8Array | undefined>, sent = new Set<string>(), max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.auth) return out;
    for (const a of auths) {
      if (out.length >= max) break;
      if (!a) continue;
      const k = certKey(a);
      if (sent.has(k)) continue;
      sent.add(k);
      const der = this.auth.certOf(a);
      if (der) out.push(der);
    }
    return out;
  }

  private readonly certOf = (a: Uint8Array): Uint8Array | undefined => this.auth?.certOf(a);

  // ------------------------------------------------------------ maintenance

  /**
   * Hibernates the documents nothing used since the previous call (see ReplicaDoc): call
   * it every so often (the replication core does, every hibernateEveryMs). Returns how
   * many hibernated now.
   */
  hibernateIdle(): number {
    let n = 0;
    for (const d of this.docs.values()) if (d.hibernateIfIdle()) n++;
    return n;
  }

  /** fsync everything written so far (for drivers that batch durable acknowledgements). */
  sync(): void {
    this.flushAuths();
    this.persistence?.sync();
  }

  /** Sign bursts of own changes in batches (every member reads batch records), or each alone. */
  signsInBatches(on: boolean): void {
    if (this.own) this.own.batches = on;
  }

  /** Writes every auth record not on disk yet (before the journal closes, or a durable sync). */
  flushAuths(): void {
    for (const d of this.docs.values()) this.persistAuths(d, true);
  }

  stats(): LocalStoreStats {
    let badValues = 0;
    let hibernating = 0;
    for (const d of this.docs.values()) {
      badValues += d.badValues;
      if (d.hibernating) hibernating++;
    }
    return {
      docs: this.docs.size,
      hibernating,
      records: this.views.count('all'),
      liveRecords: this.views.count('live'),
      watches: this.views.watchCount,
      ownEpoch: this.ownEpoch,
      ...this.counters,
      admitRejects: { ...this.admitRejects },
      badValues,
      watchErrors: this.views.handlerErrors,
    };
  }

  /** Frees every Automerge document; the store is unusable after. */
  close(): void {
    for (const d of this.docs.values()) d.free();
    for (const d of this.waiting.values()) d.free();
    this.waiting.clear();
    this.waitingOthers.clear();
    this.dropPending();
    this.docs.clear();
  }

  // ------------------------------------------------------------ internals

  private transact<T>(durable: boolean, fn: () => T): T {
    if (this.txn) {
      this.txn.durable ||= durable;
      return fn();
    }
    const txn: Txn = { docs: new Map(), durable };
    this.txn = txn;
    try {
      return fn();
    } finally {
      this.txn = undefined;
      this.commitTxn(txn);
    }
  }

  private stage(doc: ReplicaDoc, change: KeyChange): void {
    const txn = this.txn!;
    let list = txn.docs.get(doc);
    if (!list) txn.docs.set(doc, (list = []));
    list.push(change);
  }

  private commitTxn(txn: Txn): void {
    let wrote = false;
    for (const [doc, changes] of txn.docs) {
      const committed = doc.commit();
      if (!committed) continue;
      wrote = true;
      this.counters.localChanges++;
      this.reindex(doc, changes);
      this.persistence?.chunk(doc.id, doc.epoch, doc.saveIncremental());
      const local = localChange(doc, committed, this.own?.add(doc, committed.hash, committed.change));
      this.persistAuths(doc);
      for (const o of this.observers) {
        o.localChange?.(local);
        o.docUpdated?.(doc);
      }
    }
    const own = this.docs.get(ownDocId(this.name))!;
    if (
      txn.docs.has(own) &&
      own.changeCount > Math.max(this.compaction.minChanges, this.compaction.factor * own.size)
    ) {
      this.startOwnEpoch(this.nextEpoch());
      wrote = true;
    }
    if (wrote && txn.durable) {
      for (const doc of txn.docs.keys()) this.persistAuths(doc, true);
      this.persistence?.sync();
    }
    if (wrote) this.persistence?.maybeCompact(() => this.snapshot());
    this.views.flush();
  }

  private *snapshot(): Iterable<{ docId: DocId; epoch: number; bytes: Uint8Array }> {
    this.own?.signAll();
    for (const d of this.docs.values()) {
      yield { docId: d.id, epoch: d.epoch, bytes: d.save() };
      if (d.auths.size > 0) yield { docId: d.id, epoch: d.epoch, bytes: authChunk(d.auths, this.certOf) };
      d.takeUnpersistedAuths();
    }
  }

  private writableDoc(key: string, shared: boolean): ReplicaDoc {
    const owner = shared ? SHARED_OWNER : this.name;
    if (!mayHold(this.keyOwner, key, owner)) {
      const want = this.keyOwner!(key)!;
      throw new StoreValueError(
        `key ${key} belongs in ${want === SHARED_OWNER ? 'the shared records' : `node ${want}'s own records`}, not in ${shared ? 'the shared records' : "this node's own records"}`,
      );
    }
    if (!shared) return this.docs.get(ownDocId(this.name))!;
    const id = sharedDocId(bucketOf(key));
    let doc = this.docs.get(id);
    if (!doc) {
      doc = this.freshDoc(id, { kind: 'shared', bucket: bucketOf(key) }, 0);
      this.docs.set(id, doc);
    }
    return doc;
  }

  private recordIn(doc: ReplicaDoc, key: string): StoreRecord | undefined {
    return doc.record(key);
  }

  /** Automerge actor: ours for this run. We never write other owners' documents, so one actor does for all. */
  private freshDoc(docId: DocId, kind: DocKind, epoch: number): ReplicaDoc {
    const mine = kind.kind === 'own' && kind.owner === this.name;
    const actor = mine ? actorId(this.name, epoch) : this.sessionActor;
    return ReplicaDoc.create(docId, kind, epoch, actor, this.limits, mine ? undefined : this.docPool);
  }

  /** Key changes of a document we hold: indexes, views, persistence, replication digests. */
  private merged(doc: ReplicaDoc, changes: KeyChange[]): boolean {
    this.counters.remoteChangesApplied++;
    this.reindex(doc, changes);
    this.persistence?.chunk(doc.id, doc.epoch, doc.saveIncremental());
    this.persistAuths(doc);
    for (const o of this.observers) o.docUpdated?.(doc);
    this.persistence?.maybeCompact(() => this.snapshot());
    return changes.length > 0;
  }

  private reindex(doc: ReplicaDoc, changes: KeyChange[]): void {
    for (const c of changes) {
      if (c.after === undefined) this.holders.remove(c.key, doc);
      else if (c.before === undefined) this.holders.add(c.key, doc);
      this.views.refresh(c.key);
    }
  }

  /** Puts `doc` in place of whatever we held under its id (another epoch, or nothing). */
  private adopt(doc: ReplicaDoc): void {
    const old = this.docs.get(doc.id);
    this.docs.set(doc.id, doc);
    const waiting = this.waiting.get(doc.id);
    if (waiting && waiting.epoch <= doc.epoch) {
      if (waiting !== doc) waiting.free();
      this.unwait(doc.id);
    }
    const touched = new Set<string>();
    if (old) {
      for (const k of old.keys()) {
        touched.add(k);
        this.holders.remove(k, old);
      }
    }
    for (const k of doc.keys()) {
      touched.add(k);
      this.holders.add(k, doc);
    }
    for (const k of touched) this.views.refresh(k);
    old?.free();
    if (doc.owner !== SHARED_OWNER && !this.isAlive(doc.owner) && !this.deadSince.has(doc.owner))
      this.deadSince.set(doc.owner, this.clock());
    this.counters.docsAdopted++;
    this.persistence?.chunk(doc.id, doc.epoch, doc.saveIncremental());
    this.persistAuths(doc);
    for (const o of this.observers) o.docUpdated?.(doc);
    this.persistence?.maybeCompact(() => this.snapshot());
  }

  private dropDoc(docId: DocId): void {
    const doc = this.docs.get(docId);
    this.pending.get(docId)?.free();
    this.pending.delete(docId);
    this.waiting.get(docId)?.free();
    this.unwait(docId);
    if (!doc) return;
    this.docs.delete(docId);
    for (const k of doc.keys()) {
      this.holders.remove(k, doc);
      this.views.refresh(k);
    }
    doc.free();
    this.persistence?.drop(docId);
    for (const o of this.observers) o.docRemoved?.(docId);
  }

  /**
   * Replaces the own document with a fresh epoch holding its current content in one
   * change. The epoch is on disk before anyone can see it: an epoch number must never be
   * used twice, even across a crash.
   */
  private startOwnEpoch(epoch: number): void {
    const id = ownDocId(this.name);
    const old = this.docs.get(id);
    const doc = ReplicaDoc.create(id, { kind: 'own', owner: this.name }, epoch, actorId(this.name, epoch), this.limits);
    if (old) for (const k of old.keys()) doc.put(k, old.text(k)!);
    const first = doc.commit(true)!;
    this.counters.epochsStarted++;
    if (old) {
      // Adopt without re-announcing: the views see the same texts, so no events.
      this.docs.set(id, doc);
      for (const k of old.keys()) this.holders.add(k, doc);
      for (const k of old.keys()) this.views.refresh(k);
      old.free();
    } else {
      this.docs.set(id, doc);
      for (const k of doc.keys()) {
        this.holders.add(k, doc);
        this.views.refresh(k);
      }
    }
    this.persistence?.chunk(id, epoch, doc.saveIncremental());
    // Signed at once: an epoch's first change is what peers need to adopt it.
    const local = localChange(doc, first, this.own?.add(doc, first.hash, first.change));
    this.own?.signAll();
    this.persistAuths(doc);
    this.persistence?.sync();
    for (const o of this.observers) {
      o.localChange?.(local);
      o.docUpdated?.(doc);
    }
  }

  /** A peer holds our own document at an epoch we do not know (our clock went back, or our disk was replaced). */
  private ownDocSeenElsewhere(epoch: number): RemoteOutcome {
    if (epoch > this.ownEpoch) {
      this.lastEpoch = Math.max(this.lastEpoch, epoch);
      this.replaceOwnEpoch();
    }
    return 'stale';
  }

  /**
   * A new own epoch because peers hold something else under our name. At most one a second:
   * each costs a change holding every own record, and a key holder could ask for them in a
   * loop; a refusal now is retried by the next repair that meets the other copy.
   */
  private replaceOwnEpoch(): void {
    const now = this.clock();
    if (now - this.forcedEpochAt < FORCED_EPOCH_EVERY_MS) return;
    this.forcedEpochAt = now;
    this.startOwnEpoch(this.nextEpoch());
    this.views.flush();
  }

  private nextEpoch(): number {
    this.lastEpoch = Math.max(this.lastEpoch + 1, Math.floor(this.clock()));
    return this.lastEpoch;
  }

  private loadPersisted(p: PersistedDoc): void {
    const kind = parseDocId(p.docId);
    if (!kind || !validEpoch(p.epoch)) {
      this.onError(
        new StoreValueError(`persisted document id ${JSON.stringify(p.docId)} or epoch ${p.epoch} is invalid`),
        'load',
      );
      return;
    }
    if (kind.kind === 'own' && kind.owner !== this.name && this.futureEpoch(p.epoch)) {
      // Taken before epochs were bounded: its owner's real epochs would all be refused as stale.
      this.onError(
        new StoreValueError(`persisted document ${p.docId} has epoch ${p.epoch}, beyond the clock: dropped`),
        'load',
      );
      return;
    }
    const doc = this.freshDoc(p.docId, kind, p.epoch);
    for (const chunk of p.chunks) {
      if (isAuthChunk(chunk)) {
        const read = readAuthChunk(chunk, p.docId);
        if (read) this.learnCerts(read.certs);
        if (read) for (const [h, a] of read.entries) doc.setAuth(h, a);
        else this.onError(new StoreValueError(`persisted signatures of ${p.docId} are unreadable: dropped`), 'load');
        continue;
      }
      try {
        doc.loadIncremental(chunk);
      } catch (err) {
        this.onError(err, `persisted chunk of ${p.docId}`);
      }
    }
    if (doc.empty) {
      doc.free();
      return;
    }
    this.docs.set(p.docId, doc);
    for (const k of doc.keys()) {
      this.holders.add(k, doc);
      this.views.refresh(k);
    }
    if (doc.owner !== SHARED_OWNER && doc.owner !== this.name) this.deadSince.set(doc.owner, this.clock());
    // The persisted chunks are the history so far; the next saveIncremental must not repeat them.
    doc.markPersisted();
    // Most documents of a large cluster stay quiet: start them hibernating, so opening
    // a big store never holds every document live at once.
    if (doc.owner !== this.name) doc.hibernate();
  }

  /** Auth records of `doc` not on disk yet go after its content (never before: see keepAuths). */
  private persistAuths(doc: ReplicaDoc, now = false): void {
    // Batched: one journal record per change would double the log's growth (and its
    // compactions). What a crash loses is re-signed on demand for our own changes
    // (syncAuths); other writers' are fetched again from peers that hold them.
    const pending = doc.unpersistedAuths.length;
    if (pending === 0 || (!now && pending < AUTH_BATCH)) return;
    this.own?.signAll();
    const entries: [string, Uint8Array][] = [];
    for (const h of doc.takeUnpersistedAuths()) {
      const a = doc.auths.get(h);
      if (a) entries.push([h, a]);
    }
    if (entries.length > 0) this.persistence?.chunk(doc.id, doc.epoch, authChunk(entries, this.certOf));
  }

  /**
   * Checks every change's signature (change-auth.ts): the auth records to keep, or why
   * the lot is refused (one bad change refuses the message: an honest sender never sends one).
   */
  private verifyChanges(
    docId: DocId,
    infos: readonly ChangeInfo[],
    auths: ReadonlyMap<string, Uint8Array>,
  ): Map<string, Uint8Array> | AdmitReject {
    const keep = new Map<string, Uint8Array>();
    const now = this.clock();
    for (const c of infos) {
      const a = auths.get(c.hash);
      const r = this.auth!.verify(docId, c.bytes, c.hash, c.actor, a, now);
      if (
        r === 'unsigned' ||
        r === 'bad_signature' ||
        r === 'bad_cert' ||
        r === 'wrong_signer' ||
        r === 'revoked' ||
        r === 'unknown_cert'
      )
        return r;
      if (a) keep.set(c.hash, a);
    }
    return keep;
  }

  private rejected(reason?: AdmitReject): RemoteOutcome {
    this.counters.remoteRejected++;
    if (reason) this.admitRejects[reason]++;
    return 'invalid';
  }

  /** An epoch further ahead of our clock than any honest node's could be (see maxEpochAheadMs). */
  private futureEpoch(epoch: number): boolean {
    return epoch > this.clock() + this.maxEpochAheadMs;
  }
}

/** The auth records given beside pushed chunks, by the hash of each chunk's change. */
function authsByHash(
  chunks: readonly Uint8Array[],
  infos: readonly ChangeInfo[],
  auths: readonly (Uint8Array | undefined)[] | undefined,
): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const hashOf = new Map(infos.map((c) => [c.bytes, c.hash]));
  chunks.forEach((c, i) => {
    const a = auths?.[i];
    const h = hashOf.get(c);
    if (a && h) out.set(h, a);
  });
  return out;
}

/** A change this node made, for observers; its auth record is read (and signed) when first asked for. */
function localChange(
  doc: ReplicaDoc,
  c: { hash: string; change: Uint8Array },
  auth: (() => Uint8Array | undefined) | undefined,
): LocalChange {
  const out: LocalChange = { docId: doc.id, epoch: doc.epoch, hash: c.hash, change: c.change };
  if (auth) Object.defineProperty(out, 'auth', { get: auth, enumerable: true });
  return out;
}

/** Keeps verified auth records beside the document; they reach the disk after its next content chunk. */
function keepAuths(doc: ReplicaDoc, auths: Map<string, Uint8Array> | undefined): void {
  if (!auths) return;
  for (const [h, a] of auths) {
    if (doc.auths.has(h)) continue;
    doc.setAuth(h, a);
    doc.noteUnpersistedAuth(h);
  }
}

function validEpoch(e: unknown): e is number {
  return typeof e === 'number' && Number.isSafeInteger(e) && e >= 0;
}

// The fast path, after Plumtree (Leitão et al., "Epidemic broadcast trees"): a change is
// pushed at once, whole, down broadcast ring 0 (every live node gets it once, in at most
// log2 N hops). That is the eager half. The lazy half: every node tells one lazy peer
// (its successor on ring 1, placed independently of the eager tree) the ids of the
// changes it got, batched over lazyDelayMs; a node that hears of an id it has not
// received asks the announcer for it (graft) after graftDelayMs, retrying a few times. A
// lost packet or a dead node in the eager tree then costs its subtree tens of
// milliseconds, not a repair interval. A node receives one push per change and at most
// one announcement per lazy window whatever the write rate.
//
// Announcements also ride the pushes a node sends anyway: every push carries the ids of
// the changes its sender got in the last pushAnnounceMs (at most ANNOUNCE_IDS, each once
// it is graftDelayMs old, so the eager push has had its time). A node that missed a push
// then hears of it on the next push it receives from anyone who has it, and grafts it,
// typically within an update interval or two and with no message of its own; the batched
// announcements to the lazy peer remain for quiet times, when no push follows.
//
// Changes are deduplicated by id (the first 8 bytes of the Automerge hash): a change seen
// before is neither applied nor announced again, and a push is forwarded once per range.
// One window of ids holds all a node knows of each (seen, forwarded for which range, where
// it is): one lookup per change received. A graft is answered from the store's documents:
// the window holds where each change is (document and hash), not its bytes, which would
// pin the packet each came in (a msgpack slab of several KB) as long as it is known.
//
// With identity, auth records name their writer's certificate by reference (change-auth.ts).
// A writer's pushes carry its certificate when it was not sent in the last certResendMs, and
// relays pass it on with the push, so the whole tree learns it once; an answer to a graft
// always carries the certificates of its changes. A change whose certificate a node does
// not know is refused and stays unseen: its lazy peer's next announcement grafts it back,
// certificate included (and repair syncs it, certificates included, if that fails too).

import type { LocalChange, LocalStore } from '../local-store.js';
import type { DocId } from '../names.js';
import type { Peer } from './repair.js';
import type { BroadcastRing } from './ring.js';
import { LruMap } from '../../base/lru.js';
import {
  changeId,
  MAX_CERTS,
  NO_FORWARD,
  type Certs,
  type ChangeId,
  type ChangeRef,
  type Message,
  type WireChange,
} from './wire.js';

export interface FastPathConfig {
  /** Largest message sent as a packet; a change too big for one goes alone over a stream. */
  udpPayload: number;
  /** Announce ids to the lazy peer and graft what did not arrive (false: eager ring only, repair for the rest). */
  lazyPath: boolean;
  /** Announcements are batched this long. */
  lazyDelayMs: number;
  /** After an announcement, wait this long for the eager push before grafting (doubling on each retry). */
  graftDelayMs: number;
  /** Change ids remembered: seen, forwarded, and where each change is, to answer grafts. */
  seenCapacity: number;
  /** Ids of changes got this recently ride every push this node sends (0: never). */
  pushAnnounceMs: number;
}

export interface FastPathStats {
  pushesOut: number;
  pushesIn: number;
  changesOriginated: number;
  changesApplied: number;
  duplicates: number;
  /** Changes that arrived before what they build on (left to repair). */
  incomplete: number;
  ihavesOut: number;
  ihavesIn: number;
  graftsOut: number;
  graftsIn: number;
  graftedChanges: number;
  /** Changes applied from a graft's answer (the lazy path), not the eager push. */
  graftedApplied: number;
  /** Ids announced on pushes, sent and received; grafts they set off. */
  announcedOut: number;
  announcedIn: number;
  announcedGrafts: number;
  /** Grafts not started: MAX_PENDING_GRAFTS were waited for already. */
  graftsRefused: number;
}

/**
 * Where a change is, once a node has it: enough to read it back from the store for a graft.
 * Not its epoch: a change is found only in the epoch that holds it (a new epoch is a new
 * writer), so the document's epoch at the time of the graft is the change's. Immutable, so
 * every window that has the change can hold the same one (whereOf).
 */
interface Where {
  readonly docId: DocId;
  /** Its Automerge hash (64 hex digits). */
  readonly hash: string;
}

/** Seen, but not where: taken and left to repair (it came before what it builds on). */
const SEEN_NOT_HELD = Object.freeze({}) as Readonly<Record<string, never>>;

/**
 * What a node knows of a change id a push of which it forwarded (the change may not be
 * taken yet: a push is forwarded before it is applied). Forwarding is noted only where a
 * push had children, so most changes a node takes never need one.
 */
class Known {
  /** Taken (applied, or left to repair): neither applied nor announced again. */
  seen = false;
  /**
   * The range (limit) a push that began with this change was last forwarded for, as its
   * high and low LIMIT_SPLIT bits (high -1: never). A field holding a 52-bit ring position
   * would be a number object of its own, one per change known: two small integers are not.
   */
  forwardedHigh = -1;
  forwardedLow = 0;
  where: Where | undefined = undefined;
}

/**
 * A window's entry: a Known, or, for a change seen and done with (the usual case), where it
 * is (SEEN_NOT_HELD if nowhere). A window holds thousands of these; an object of state each
 * was a fifth of a simulated cluster's heap.
 */
type Entry = Known | Where | typeof SEEN_NOT_HELD;

const isSeen = (e: Entry | undefined): boolean => e !== undefined && (!(e instanceof Known) || e.seen);
const whereIn = (e: Entry | undefined): Where | undefined =>
  e instanceof Known ? e.where : e === SEEN_NOT_HELD ? undefined : (e as Where | undefined);

/**
 * One Where per change object: a simulator hands one push's changes to every node
 * (StoreCoreOptions.shareMessages), and its nodes then share one where each. An agent
 * decodes each push anew, so each change it takes gets its own, as before.
 */
const wheres = new WeakMap<WireChange, Where>();
function whereOf(c: WireChange, hash: string): Where {
  let w = wheres.get(c);
  if (w === undefined) wheres.set(c, (w = { docId: c.docId, hash }));
  return w;
}

const LIMIT_SPLIT = 2 ** 26;
// `| 0`: both halves are under 2^26, and an int32 result is what V8 keeps unboxed (a
// division's result stays a double, and one double stored makes the field boxed in every entry).
const highOf = (limit: number): number => Math.floor(limit / LIMIT_SPLIT) | 0;
const lowOf = (limit: number): number => (limit % LIMIT_SPLIT) | 0;

/** Whether a push beginning with `k` was last forwarded for `limit` (a ring position, not NO_FORWARD). */
const forwardedFor = (k: Known, limit: number): boolean =>
  k.forwardedHigh === highOf(limit) && k.forwardedLow === lowOf(limit);

function forwarded(k: Known, limit: number): void {
  k.forwardedHigh = highOf(limit);
  k.forwardedLow = lowOf(limit);
}

/** Sends to a member by name, or to an address. */
export type SendTo = (to: string | Peer, msg: Message) => void;

/** Rough bytes of a change inside a push, for packing several into one packet. */
const changeBytes = (c: WireChange) => c.change.length + (c.auth?.length ?? 0) + c.docId.length + 24;
const PUSH_OVERHEAD = 64;
/** Bytes of one announced id on a push (8 bytes and msgpack's header). */
const ANN_BYTES = 10;
/** A writer's certificate rides its pushes again after this long: for nodes that joined or restarted since. */
const CERT_RESEND_MS = 30_000;
/** Grafts per missing change before leaving it to repair. */
const GRAFT_TRIES = 3;
/**
 * Missing changes waited for at once, at most. Ids come from the network (ihaves, and the
 * announcements on pushes): a peer announcing made-up ids must not grow this without end.
 * A change beyond it is left to repair, as after GRAFT_TRIES.
 */
export const MAX_PENDING_GRAFTS = 4096;
/** Ids per announcement: ~30 bytes each, so a burst goes over streams in a few large messages. */
const LAZY_BATCH = 1024;
/** Ids announced on one push at most (10 bytes each), the newest: the memory of `lately` too. */
const ANNOUNCE_IDS = 16;

export class FastPath {
  readonly stats: FastPathStats = {
    pushesOut: 0,
    pushesIn: 0,
    changesOriginated: 0,
    changesApplied: 0,
    duplicates: 0,
    incomplete: 0,
    ihavesOut: 0,
    ihavesIn: 0,
    graftsOut: 0,
    graftsIn: 0,
    graftedChanges: 0,
    graftedApplied: 0,
    announcedOut: 0,
    announcedIn: 0,
    announcedGrafts: 0,
    graftsRefused: 0,
  };
  /** Changes Automerge rejected (counted by the core as bad_change). */
  badChanges = 0;

  /** The change ids this node knows, the oldest forgotten first. */
  private readonly known: LruMap<ChangeId, Entry>;
  private lazyItems: ChangeRef[] = [];
  /** The last ANNOUNCE_IDS changes this node got, oldest first: what its pushes announce. */
  private readonly lately: { id: ChangeId; at: number }[] = [];
  private lazyAt = Infinity;
  /** Announced ids not received yet: when to ask whom for them. */
  private readonly grafts = new Map<ChangeId, { at: number; from: Peer; tries: number }>();
  /**
   * No graft is due before this (the earliest is due then or later: a graft answered since
   * still counts). nextDeadline() runs after every packet; walking up to MAX_PENDING_GRAFTS
   * there made each packet cost ~12 µs more once a peer had announced that many made-up ids.
   */
  private graftsDueAt = Infinity;
  /** Certificates (by reference) our pushes carried since certsDueAt - certResendMs. */
  private readonly certsSent = new Set<string>();
  private certsDueAt = -Infinity;

  constructor(
    private readonly self: string,
    private readonly store: LocalStore,
    private readonly eager: BroadcastRing,
    private readonly lazy: BroadcastRing,
    private readonly config: FastPathConfig,
    private readonly send: SendTo,
  ) {
    this.known = new LruMap(config.seenCapacity);
  }

  /** Pushes changes this node just made. */
  originate(now: number, local: readonly LocalChange[]): void {
    const changes = local.map((c): WireChange =>
      c.auth
        ? { docId: c.docId, epoch: c.epoch, id: changeId(c.hash), change: c.change, auth: c.auth }
        : { docId: c.docId, epoch: c.epoch, id: changeId(c.hash), change: c.change },
    );
    changes.forEach((c, i) => this.gotten(now, c, this.known.get(c.id), whereOf(c, local[i].hash)));
    this.stats.changesOriginated += changes.length;
    if (now >= this.certsDueAt) {
      this.certsDueAt = now + CERT_RESEND_MS;
      this.certsSent.clear();
    }
    const certs = this.store.certsFor(
      local.map((c) => c.auth),
      this.certsSent,
      MAX_CERTS,
    );
    const children = this.eager.children(this.self);
    if (children.length === 0) return;
    const ann = this.announcements(now, changes);
    for (const batch of this.batches(changes, certs, ann)) {
      for (const child of children) this.push(child.name, child.limit, batch, this.self, certs, ann);
    }
  }

  onPush(now: number, from: Peer, m: Extract<Message, { t: 'push' }>): void {
    this.stats.pushesIn++;
    // Forward first: the subtree's latency then does not include applying it here.
    const first = m.changes.length > 0 && m.limit !== NO_FORWARD ? m.changes[0] : undefined;
    let firstEntry = first && this.known.get(first.id);
    if (first && !(firstEntry instanceof Known && forwardedFor(firstEntry, m.limit))) {
      const children = this.eager.children(this.self, m.limit);
      if (children.length > 0) {
        forwarded((firstEntry = this.knownOf(first.id, firstEntry)), m.limit);
        const ann = this.announcements(now, m.changes);
        for (const child of children) this.push(child.name, child.limit, m.changes, m.origin, m.certs, ann);
      }
    }
    this.store.learnCerts(m.certs);
    for (const c of m.changes) {
      const e = c === first ? firstEntry : this.known.get(c.id);
      if (isSeen(e)) {
        this.stats.duplicates++;
        continue;
      }
      const outcome = this.store.applyRemote(c.docId, c.epoch, [c.change], [c.auth]);
      if (outcome === 'invalid') {
        this.badChanges++;
        // Not kept: made-up changes must not push real ones out of the window.
        if (e !== undefined) this.known.delete(c.id);
        continue;
      }
      if (outcome === 'incomplete') this.stats.incomplete++;
      if (outcome === 'applied' || outcome === 'unchanged') {
        this.stats.changesApplied++;
        if (m.limit === NO_FORWARD) this.stats.graftedApplied++;
      }
      this.grafts.delete(c.id);
      // Seen even when incomplete: grafting it again would not help, repair will.
      const hash = outcome === 'incomplete' ? undefined : this.store.changeHash(c.change);
      if (hash !== undefined) this.gotten(now, c, e, whereOf(c, hash));
      else this.took(c.id, e, SEEN_NOT_HELD);
    }
    if (m.ann) this.announced(now, from, m.ann);
  }

  /** Ids a push announced: those not received yet are grafted from its sender, as after an ihave. */
  private announced(now: number, from: Peer, ids: ChangeId[]): void {
    this.stats.announcedIn += ids.length;
    for (const id of ids) {
      if (this.seen(id) || this.grafts.has(id)) continue;
      if (this.awaitGraft(now, from, id)) this.stats.announcedGrafts++;
    }
  }

  onIHave(now: number, from: Peer, m: Extract<Message, { t: 'ihave' }>): void {
    this.stats.ihavesIn++;
    for (const item of m.items) {
      if (this.seen(item.id) || this.grafts.has(item.id) || !this.store.accepts(item.docId)) continue;
      this.awaitGraft(now, from, item.id);
    }
  }

  /** Grafts `id` from `from` after graftDelayMs unless it arrives first; false (counted) when MAX_PENDING_GRAFTS wait already. */
  private awaitGraft(now: number, from: Peer, id: ChangeId): boolean {
    if (this.grafts.size >= MAX_PENDING_GRAFTS) {
      this.stats.graftsRefused++;
      return false;
    }
    const at = now + this.config.graftDelayMs;
    this.grafts.set(id, { at, from, tries: 0 });
    if (at < this.graftsDueAt) this.graftsDueAt = at;
    return true;
  }

  /** Missing changes waited for now (at most MAX_PENDING_GRAFTS). */
  get pendingGrafts(): number {
    return this.grafts.size;
  }

  onGraft(from: Peer, m: Extract<Message, { t: 'graft' }>): void {
    this.stats.graftsIn++;
    const changes: WireChange[] = [];
    for (const id of m.ids) {
      const w = whereIn(this.known.get(id));
      if (w === undefined) continue;
      const got = this.store.changeOf(w.docId, w.hash);
      // Gone from the store since (a new epoch, a reaped owner): the grafter's repair has it.
      if (got) changes.push({ docId: w.docId, id, ...got });
    }
    this.stats.graftedChanges += changes.length;
    // Asked for: whoever grafts may lack the writers' certificates (it may have refused the push for that).
    const certs = this.store.certsFor(
      changes.map((c) => c.auth),
      undefined,
      MAX_CERTS,
    );
    for (const batch of this.batches(changes, certs))
      this.send(from, withCerts({ t: 'push', origin: this.self, limit: NO_FORWARD, changes: batch }, certs));
  }

  tick(now: number): void {
    if (now >= this.lazyAt) {
      const items = this.lazyItems;
      this.lazyItems = [];
      this.lazyAt = Infinity;
      const peer = this.lazy.successor(this.self);
      if (peer) {
        for (let i = 0; i < items.length; i += LAZY_BATCH) {
          this.stats.ihavesOut++;
          this.send(peer, { t: 'ihave', items: items.slice(i, i + LAZY_BATCH) });
        }
      }
    }
    if (now < this.graftsDueAt) return;
    const due = new Map<string, { to: Peer; ids: ChangeId[] }>();
    this.graftsDueAt = Infinity;
    for (const [id, g] of this.grafts) {
      if (g.at > now) {
        if (g.at < this.graftsDueAt) this.graftsDueAt = g.at;
        continue;
      }
      if (this.seen(id) || g.tries >= GRAFT_TRIES) {
        this.grafts.delete(id);
        continue;
      }
      // Asked again later if the answer does not come (the graft or the push was lost).
      g.tries++;
      g.at = now + this.config.graftDelayMs * 2 ** g.tries;
      if (g.at < this.graftsDueAt) this.graftsDueAt = g.at;
      const k = `${g.from.addr}:${g.from.port}`;
      let d = due.get(k);
      if (!d) due.set(k, (d = { to: g.from, ids: [] }));
      d.ids.push(id);
    }
    for (const { to, ids } of due.values()) {
      this.stats.graftsOut++;
      this.send(to, { t: 'graft', ids });
    }
  }

  nextDeadline(): number {
    return Math.min(this.lazyAt, this.graftsDueAt);
  }

  private push(
    to: string,
    limit: number,
    changes: WireChange[],
    origin: string,
    certs: Certs | undefined,
    ann: ChangeId[] | undefined,
  ): void {
    this.stats.pushesOut++;
    const m = withCerts({ t: 'push', origin, limit, changes }, certs);
    if (ann && ann.length > 0) this.stats.announcedOut += ann.length;
    this.send(to, ann && ann.length > 0 ? { ...m, ann } : m);
  }

  /** Ids to announce on a push of `changes` now: got between graftDelayMs and pushAnnounceMs ago, not in it. */
  private announcements(now: number, changes: readonly WireChange[]): ChangeId[] | undefined {
    if (this.config.pushAnnounceMs <= 0 || this.lately.length === 0) return undefined;
    const ids: ChangeId[] = [];
    for (const l of this.lately) {
      const age = now - l.at;
      if (age > this.config.pushAnnounceMs || age < this.config.graftDelayMs) continue;
      if (!changes.some((c) => c.id === l.id)) ids.push(l.id);
    }
    return ids.length > 0 ? ids : undefined;
  }

  private seen(id: ChangeId): boolean {
    return isSeen(this.known.get(id));
  }

  /** `id`'s Known, made from what the window holds of it (`e`) and put in its place. */
  private knownOf(id: ChangeId, e: Entry | undefined): Known {
    if (e instanceof Known) return e;
    const k = new Known();
    if (e !== undefined) {
      k.seen = true;
      k.where = whereIn(e);
    }
    this.known.replace(id, k);
    return k;
  }

  /** `id`, of which the window held `e`, is seen (taken), and is where `where` says. */
  private took(id: ChangeId, e: Entry | undefined, where: Where | typeof SEEN_NOT_HELD): void {
    if (!(e instanceof Known)) this.known.replace(id, where);
    else {
      e.seen = true;
      e.where = where === SEEN_NOT_HELD ? undefined : (where as Where);
    }
  }

  /** A change this node now has: kept for grafts, and announced to the lazy peer with the next batch. */
  private gotten(now: number, c: WireChange, e: Entry | undefined, where: Where): void {
    this.took(c.id, e, where);
    this.lately.push({ id: c.id, at: now });
    if (this.lately.length > ANNOUNCE_IDS) this.lately.shift();
    if (!this.config.lazyPath) return;
    this.lazyItems.push({ docId: c.docId, epoch: c.epoch, id: c.id });
    if (this.lazyAt === Infinity) this.lazyAt = now + this.config.lazyDelayMs;
  }

  /** Groups changes into pushes that fit a packet; a change too big for one travels alone. */
  private batches(changes: WireChange[], certs: Certs, ann?: ChangeId[]): WireChange[][] {
    const out: WireChange[][] = [];
    let cur: WireChange[] = [];
    const overhead = certs.reduce((n, c) => n + c.length + 4, PUSH_OVERHEAD + (ann?.length ?? 0) * ANN_BYTES);
    let bytes = overhead;
    for (const c of changes) {
      const b = changeBytes(c);
      if (cur.length > 0 && bytes + b > this.config.udpPayload) {
        out.push(cur);
        cur = [];
        bytes = overhead;
      }
      cur.push(c);
      bytes += b;
    }
    if (cur.length > 0) out.push(cur);
    return out;
  }
}

type Push = Extract<Message, { t: 'push' }>;
const withCerts = (m: Push, certs: Certs | undefined): Push => (certs && certs.length > 0 ? { ...m, certs } : m);

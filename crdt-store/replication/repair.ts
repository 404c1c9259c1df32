// Anti-entropy: every repair interval a node sends its digest root to one random
// member. Equal roots end the exchange there (one small packet: the idle cost). Else the
// peer answers with its 64 group digests, the initiator opens a session over a stream
// listing its documents in the groups that differ, and both sides run Automerge's sync
// protocol for exactly the documents whose (epoch, heads) differ, several documents per
// round trip, until neither has anything to send. A document known at two epochs is
// synced at the newer one (the older side fills a fresh document and adopts it).
//
// A new node catches up entirely through this: its digest differs everywhere, and each
// session moves up to maxDocsPerSession documents; `more` starts the next one at once.

import { amInitSyncState, type AmSyncState } from '../automerge.js';
import type { LocalStore } from '../local-store.js';
import type { DocId } from '../names.js';
import type { Rng } from '../../base/rng.js';
import { groupOf, type Digest } from './digest.js';
import type { Certs, DocEntry, Message, SyncItem } from './wire.js';
import { MAX_CERTS, MAX_ITEMS } from './wire.js';

export interface Peer {
  addr: string;
  port: number;
}

export interface RepairConfig {
  /** Documents synced per session at most (the rest in the next session, started at once). */
  maxDocsPerSession: number;
  /** Round trips per session at most. */
  maxSyncRounds: number;
  /** A session silent this long is dropped. */
  sessionTimeoutMs: number;
  /** Responder sessions held at once; more are refused (the initiator retries later). */
  maxInboundSessions: number;
}

export interface RepairStats {
  digestsSent: number;
  digestsEqual: number;
  groupsSent: number;
  sessionsStarted: number;
  sessionsCompleted: number;
  sessionsTimedOut: number;
  sessionsRefused: number;
  syncMessagesOut: number;
  syncMessagesIn: number;
  docsRepaired: number;
}

/** How the core is asked to send: a packet if it fits, else a one-way stream; or a request whose reply comes back. */
export type Send = (to: Peer, msg: Message, mode: 'auto' | 'request') => void;

interface Session {
  id: number;
  peer: Peer;
  round: number;
  states: Map<string, { docId: DocId; epoch: number; state: AmSyncState }>;
  lastActivity: number;
  /** Certificates (by reference) this session sent the peer already: each goes once. */
  certsSent: Set<string>;
}

const key = (docId: DocId, epoch: number) => `${docId}@${epoch}`;
/** A responder session is the initiator's address and its session id: not its port, as every stream of a session comes from a new one. */
const peerKey = (p: Peer, session: number) => `${p.addr}/${session}`;

export class Repair {
  /** The one session this node runs as initiator. */
  private outbound: Session | undefined;
  private readonly inbound = new Map<string, Session>();
  /** Start the next session at once (the last one had more to do) with this peer. */
  private continueWith: Peer | undefined;
  readonly stats: RepairStats = {
    digestsSent: 0,
    digestsEqual: 0,
    groupsSent: 0,
    sessionsStarted: 0,
    sessionsCompleted: 0,
    sessionsTimedOut: 0,
    sessionsRefused: 0,
    syncMessagesOut: 0,
    syncMessagesIn: 0,
    docsRepaired: 0,
  };
  /** Sync messages Automerge rejected (counted by the core as bad_sync). */
  badSync = 0;

  constructor(
    private readonly store: LocalStore,
    private readonly digest: Digest,
    private readonly config: RepairConfig,
    private readonly send: Send,
    private readonly rng: Rng,
  ) {}

  get busy(): boolean {
    return this.outbound !== undefined;
  }

  /** A peer that asked for more than one session's worth. */
  takeContinuation(): Peer | undefined {
    const p = this.continueWith;
    this.continueWith = undefined;
    return p;
  }

  /** Opens a round with `peer`: our root, nothing more unless it differs. */
  begin(peer: Peer): void {
    if (this.outbound) return;
    this.stats.digestsSent++;
    this.send(peer, { t: 'digest', root: this.digest.root() }, 'auto');
  }

  onDigest(from: Peer, root: number): void {
    if (root === this.digest.root()) {
      this.stats.digestsEqual++;
      return;
    }
    this.stats.groupsSent++;
    this.send(from, { t: 'groups', root: this.digest.root(), groups: this.digest.groups() }, 'auto');
  }

  onGroups(now: number, from: Peer, groups: number[]): void {
    if (this.outbound) return;
    const differing = this.digest.differingGroups(groups);
    if (differing.length === 0) return;
    const picked: number[] = [];
    let listed = 0;
    for (const g of differing) {
      const n = this.digest.groupSize(g);
      if (picked.length > 0 && listed + n > MAX_ITEMS) break;
      picked.push(g);
      listed += n;
    }
    const entries: DocEntry[] = this.digest.docsIn(picked);
    const id = Math.floor(this.rng.next() * 0xffffffff) >>> 0;
    this.outbound = { id, peer: from, round: 0, states: new Map(), lastActivity: now, certsSent: new Set() };
    this.stats.sessionsStarted++;
    this.send(from, { t: 'sync', session: id, round: 0, groups: picked, entries, items: [] }, 'request');
  }

  /** A session request from an initiator; returns the reply. */
  onSync(now: number, from: Peer, m: Extract<Message, { t: 'sync' }>): Message {
    const k = peerKey(from, m.session);
    let s = this.inbound.get(k);
    let more = false;
    if (m.round === 0) {
      if (!s && this.inbound.size >= this.config.maxInboundSessions) {
        this.stats.sessionsRefused++;
        return { t: 'sync-reply', session: m.session, items: [], more: false };
      }
      if (s) this.close(this.inbound, k, s);
      s = { id: m.session, peer: from, round: 0, states: new Map(), lastActivity: now, certsSent: new Set() };
      this.inbound.set(k, s);
      const targets = this.differingDocs(m.groups, m.entries);
      more = targets.length > this.config.maxDocsPerSession;
      for (const t of targets.slice(0, this.config.maxDocsPerSession)) this.stateFor(s, t.docId, t.epoch);
    } else if (!s) {
      return { t: 'sync-reply', session: m.session, items: [], more: false }; // expired: the initiator ends it
    }
    s.lastActivity = now;
    s.round = m.round;
    this.receive(s, m.items, m.certs);
    const items = this.generate(s);
    if (items.length === 0 && m.items.length === 0 && m.round > 0) this.close(this.inbound, k, s);
    return withCerts({ t: 'sync-reply', session: m.session, items, more }, this.certsOf(s, items));
  }

  onSyncReply(now: number, from: Peer, m: Extract<Message, { t: 'sync-reply' }>): void {
    const s = this.outbound;
    if (!s || s.id !== m.session || s.peer.addr !== from.addr || s.peer.port !== from.port) return;
    s.lastActivity = now;
    this.receive(s, m.items, m.certs);
    const items = this.generate(s);
    if ((items.length === 0 && m.items.length === 0) || s.round + 1 >= this.config.maxSyncRounds) {
      this.finish(s, m.more);
      return;
    }
    s.round++;
    this.send(
      s.peer,
      withCerts({ t: 'sync', session: s.id, round: s.round, groups: [], entries: [], items }, this.certsOf(s, items)),
      'request',
    );
  }

  /** The driver could not reach the peer of our session. */
  failed(to: Peer): void {
    const s = this.outbound;
    if (s && s.peer.addr === to.addr && s.peer.port === to.port) this.drop(s);
  }

  tick(now: number): void {
    const s = this.outbound;
    // Compared as nextDeadline() computes them: (a + b) - a can fall short of b in floating point.
    if (s && now >= s.lastActivity + this.config.sessionTimeoutMs) {
      this.stats.sessionsTimedOut++;
      this.drop(s);
    }
    for (const [k, r] of this.inbound) {
      if (now >= r.lastActivity + this.config.sessionTimeoutMs) this.close(this.inbound, k, r);
    }
  }

  nextDeadline(): number {
    let at = this.outbound ? this.outbound.lastActivity + this.config.sessionTimeoutMs : Infinity;
    for (const r of this.inbound.values()) at = Math.min(at, r.lastActivity + this.config.sessionTimeoutMs);
    return at;
  }

  // ------------------------------------------------------------ internals

  /** Documents to sync, each at the newer of the two epochs: ours and theirs differ, and we would hold it. */
  private differingDocs(groups: number[], entries: DocEntry[]): { docId: DocId; epoch: number }[] {
    const theirs = new Map<DocId, DocEntry>();
    const wanted = new Set(groups);
    for (const e of entries) if (wanted.has(groupOf(e.docId))) theirs.set(e.docId, e);
    const out: { docId: DocId; epoch: number }[] = [];
    const seen = new Set<DocId>();
    const consider = (docId: DocId) => {
      if (seen.has(docId)) return;
      seen.add(docId);
      const t = theirs.get(docId);
      const mine = this.digest.get(docId);
      if (t && mine && t.epoch === mine.epoch && t.hash === mine.hash) return;
      if (!mine && !this.store.accepts(docId)) return;
      out.push({ docId, epoch: Math.max(t?.epoch ?? -1, mine?.epoch ?? -1) });
    };
    for (const d of this.digest.docsIn(groups)) consider(d.docId);
    for (const docId of theirs.keys()) consider(docId);
    return out;
  }

  private stateFor(s: Session, docId: DocId, epoch: number): AmSyncState {
    const k = key(docId, epoch);
    let st = s.states.get(k);
    if (!st) {
      st = { docId, epoch, state: amInitSyncState() };
      s.states.set(k, st);
    }
    return st.state;
  }

  private receive(s: Session, items: SyncItem[], certs: Certs | undefined): void {
    // Before the records that reference them.
    this.store.learnCerts(certs);
    for (const item of items) {
      if (!s.states.has(key(item.docId, item.epoch)) && s.states.size >= this.config.maxDocsPerSession) continue;
      this.stats.syncMessagesIn++;
      const outcome = this.store.receiveSync(
        item.docId,
        item.epoch,
        this.stateFor(s, item.docId, item.epoch),
        item.msg,
        item.auths,
      );
      if (outcome === 'invalid') this.badSync++;
      if (outcome === 'applied') this.stats.docsRepaired++;
    }
  }

  private generate(s: Session): SyncItem[] {
    const items: SyncItem[] = [];
    for (const st of s.states.values()) {
      const msg = this.store.generateSync(st.docId, st.epoch, st.state);
      if (msg) {
        const auths = this.store.syncAuths(st.docId, st.epoch, msg);
        items.push(
          auths.size > 0 ? { docId: st.docId, epoch: st.epoch, msg, auths } : { docId: st.docId, epoch: st.epoch, msg },
        );
      }
    }
    this.stats.syncMessagesOut += items.length;
    return items;
  }

  /** The certificates the items' auth records reference that this session has not sent yet. */
  private certsOf(s: Session, items: SyncItem[]): Certs {
    return this.store.certsFor(
      items.flatMap((i) => (i.auths ? [...i.auths.values()] : [])),
      s.certsSent,
      MAX_CERTS,
    );
  }

  private finish(s: Session, more: boolean): void {
    this.stats.sessionsCompleted++;
    if (more) this.continueWith = s.peer;
    this.drop(s);
  }

  private drop(s: Session): void {
    if (this.outbound === s) this.outbound = undefined;
    this.free(s);
  }

  private close(map: Map<string, Session>, k: string, s: Session): void {
    map.delete(k);
    this.free(s);
  }

  private free(s: Session): void {
    for (const st of s.states.values()) st.state.free();
    s.states.clear();
    // Documents a session began to fill but never got a first change of are forgotten
    // once no session could still be filling them.
    if (!this.outbound && this.inbound.size === 0) this.store.dropPending();
  }
}

/** A message with its certificates, when there are any (the field is left out otherwise). */
function withCerts<M extends Extract<Message, { t: 'sync' | 'sync-reply' }>>(m: M, certs: Certs): M {
  return certs.length > 0 ? { ...m, certs } : m;
}

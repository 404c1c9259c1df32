// The local view of the cluster: one record per known node, plus the probe order.
//
// Probing is memberlist's shuffled round-robin: walk a shuffled list, reshuffle on wrap,
// insert newcomers at a random position. Every live member is probed once per round,
// which bounds the time to first detection, while the shuffle keeps nodes from probing
// in lockstep. Counts of live members are kept incrementally because every gossip packet
// needs N (for the retransmit limit) and scanning 1,000 records per packet would dominate.
//
// The records other than our own are columns indexed by the name's number in a
// MemberRegistry (member-registry.ts says why), and get() hands out a Member that reads and
// writes them. Such a Member stands for the name while the table holds it: compare members
// by name, not by object.

import type { MemberState, PushNodeState } from '../messages.js';
import { randomInt, shuffle, type Rng } from '../../base/rng.js';
import { grown } from '../../base/typed-arrays.js';
import { MemberRegistry, type Place } from './member-registry.js';
import type { Suspicion } from './suspicion.js';
import type { Timer } from './timers.js';
import type { MemberView } from './outputs.js';

export interface Member {
  readonly name: string;
  /** Change only through MemberTable.move (the endpoint index follows it). */
  readonly addr: string;
  readonly port: number;
  meta: Uint8Array;
  incarnation: number;
  /** Read freely; change only through MemberTable.setState so the counts stay right. */
  readonly state: MemberState;
  /** Virtual/wall ms of the last change of state, address or metadata. */
  lastChange: number;
  /** While a suspicion runs: when a datagram from this member's address last arrived (driver clock, ms). */
  lastHeard?: number;
  /** When we last told this member, found talking while we hold it suspect or dead, of our verdict. */
  toldAt?: number;
  suspicion?: Suspicion;
  suspicionTimer?: Timer;
  /**
   * With identity on: the highest incarnation the member itself announced (signed, or
   * unsigned in the migration window), and the signature and certificate of that alive.
   * Claims about higher incarnations are refused.
   */
  vouched?: number;
  /** `cert` is the certificate's reference (MemberAuth.certRef). */
  proof?: { sig: Uint8Array; cert: Uint8Array };
  /** Its signed leave, when it left. */
  leaveSig?: Uint8Array;
}

export function isLive(m: Member): boolean {
  return m.state === 'alive' || m.state === 'suspect';
}

/** The fields few records have at a time: kept per number only while one is set. */
type Extras = Pick<Member, 'lastHeard' | 'toldAt' | 'suspicion' | 'suspicionTimer' | 'vouched' | 'proof' | 'leaveSig'>;

// Column codes; 0 is "not held".
const STATES: readonly MemberState[] = ['alive', 'alive', 'suspect', 'dead', 'left'];
const CODES: Readonly<Record<MemberState, number>> = { alive: 1, suspect: 2, dead: 3, left: 4 };
const isLiveCode = (code: number) => code === 1 || code === 2;

/** A growable list of numbers. */
class IdList {
  private buf = new Uint32Array(16);
  length = 0;

  at(i: number): number {
    return this.buf[i];
  }

  set(i: number, id: number): void {
    this.buf[i] = id;
  }

  /** Appends `id`; when full, grows to room for at least `room` (default: twice the size). */
  push(id: number, room = 0): void {
    if (this.length === this.buf.length) this.buf = grown(this.buf, Math.max(this.buf.length * 2, room));
    this.buf[this.length++] = id;
  }

  /** Removes the first `id`; its index, or -1. */
  remove(id: number): number {
    const i = this.buf.subarray(0, this.length).indexOf(id);
    if (i < 0) return -1;
    this.buf.copyWithin(i, i + 1, this.length);
    this.length--;
    return i;
  }

  /** The used part, shared with the list (valid until the next push). */
  view(): Uint32Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Our records of the other members, one slot per registry number. */
class Columns {
  state = new Uint8Array(16);
  incarnation = new Uint32Array(16);
  lastChange = new Float64Array(16);
  /** The registry's number of each record's place (0: none). */
  places = new Uint32Array(16);
  readonly extras = new Map<number, Extras>();

  constructor(readonly registry: MemberRegistry) {}

  holds(id: number): boolean {
    return id < this.state.length && this.state[id] !== 0;
  }

  fit(id: number): void {
    if (id < this.state.length) return;
    // Straight to every number in use in the process: the simulator's tables each come to
    // hold all of them, and doubling there was 8 GB of copies at 10,000 nodes. Exactly that
    // many, not the next power of two: at 10,000 nodes a power of two was 16,384 slots in
    // each of 10,000 tables, 1.6 GB of zeroed pages nobody used (faulting the columns in was a
    // fifth of the run's CPU). A table with its own registry, whose numbers come one at a time,
    // grows by half again each time, so its copies stay linear in its size.
    const n = Math.max(id + 1, this.registry.span, Math.ceil(this.state.length * 1.5));
    this.state = grown(this.state, n);
    this.incarnation = grown(this.incarnation, n);
    this.lastChange = grown(this.lastChange, n);
    this.places = grown(this.places, n);
  }

  place(id: number): Place {
    return this.registry.placeAt(this.places[id]);
  }

  relocate(id: number, addr: string, port: number, meta: Uint8Array): void {
    const old = this.places[id];
    this.places[id] = this.registry.place(id, addr, port, meta);
    this.registry.drop(old);
  }

  setExtra<K extends keyof Extras>(id: number, key: K, value: Extras[K]): void {
    let e = this.extras.get(id);
    if (value === undefined) {
      if (!e) return;
      e[key] = undefined;
      for (const k in e) if (e[k as keyof Extras] !== undefined) return;
      this.extras.delete(id);
      return;
    }
    if (!e) {
      e = {};
      this.extras.set(id, e);
    }
    e[key] = value;
  }
}

/** One of our records, read and written in place. */
class Row implements Member {
  /** Set on the handle passed to remove(): it then reads as it was, and writes go nowhere. */
  removed: MemberView | undefined = undefined;

  constructor(
    readonly cols: Columns,
    readonly id: number,
  ) {}

  get name(): string {
    return this.removed?.name ?? this.cols.registry.nameOf(this.id);
  }
  get addr(): string {
    return (this.removed ?? this.cols.place(this.id)).addr;
  }
  get port(): number {
    return (this.removed ?? this.cols.place(this.id)).port;
  }
  get meta(): Uint8Array {
    return (this.removed ?? this.cols.place(this.id)).meta;
  }
  set meta(meta: Uint8Array) {
    if (this.removed) return;
    const p = this.cols.place(this.id);
    this.cols.relocate(this.id, p.addr, p.port, meta);
  }
  get incarnation(): number {
    return this.removed?.incarnation ?? this.cols.incarnation[this.id];
  }
  set incarnation(n: number) {
    if (!this.removed) this.cols.incarnation[this.id] = n;
  }
  get state(): MemberState {
    return this.removed?.state ?? STATES[this.cols.state[this.id]];
  }
  get lastChange(): number {
    return this.removed?.lastChange ?? this.cols.lastChange[this.id];
  }
  set lastChange(t: number) {
    if (!this.removed) this.cols.lastChange[this.id] = t;
  }
  get lastHeard(): number | undefined {
    return this.cols.extras.get(this.id)?.lastHeard;
  }
  set lastHeard(v: number | undefined) {
    this.cols.setExtra(this.id, 'lastHeard', v);
  }
  get toldAt(): number | undefined {
    return this.cols.extras.get(this.id)?.toldAt;
  }
  set toldAt(v: number | undefined) {
    this.cols.setExtra(this.id, 'toldAt', v);
  }
  get suspicion(): Suspicion | undefined {
    return this.cols.extras.get(this.id)?.suspicion;
  }
  set suspicion(v: Suspicion | undefined) {
    this.cols.setExtra(this.id, 'suspicion', v);
  }
  get suspicionTimer(): Timer | undefined {
    return this.cols.extras.get(this.id)?.suspicionTimer;
  }
  set suspicionTimer(v: Timer | undefined) {
    this.cols.setExtra(this.id, 'suspicionTimer', v);
  }
  get vouched(): number | undefined {
    return this.cols.extras.get(this.id)?.vouched;
  }
  set vouched(v: number | undefined) {
    this.cols.setExtra(this.id, 'vouched', v);
  }
  get proof(): Member['proof'] {
    return this.cols.extras.get(this.id)?.proof;
  }
  set proof(v: Member['proof']) {
    this.cols.setExtra(this.id, 'proof', v);
  }
  get leaveSig(): Uint8Array | undefined {
    return this.cols.extras.get(this.id)?.leaveSig;
  }
  set leaveSig(v: Uint8Array | undefined) {
    this.cols.setExtra(this.id, 'leaveSig', v);
  }
}

export class MemberTable {
  private readonly cols: Columns;
  /** Our own name's number (the probe ring places us by it). */
  readonly selfId: number;
  /** Every member but self, in the order first added (what values() walks). */
  private readonly added = new IdList();
  /** Every known member except self, in probe order. */
  private readonly order = new IdList();
  private probeIndex = 0;
  private liveOthersCount = 0;
  private deadCount = 0;
  private leftCount = 0;
  private liveVersion = 0;

  constructor(
    readonly self: Member,
    private readonly rng: Rng,
    registry = new MemberRegistry(),
  ) {
    this.cols = new Columns(registry);
    this.selfId = registry.acquire(self.name);
  }

  get registry(): MemberRegistry {
    return this.cols.registry;
  }

  get(name: string): Member | undefined {
    if (name === this.self.name) return this.self;
    const id = this.cols.registry.lookup(name);
    return id !== undefined && this.cols.holds(id) ? new Row(this.cols, id) : undefined;
  }

  /** The member under a registry number: self, or one we hold. */
  byId(id: number): Member | undefined {
    if (id === this.selfId) return this.self;
    return this.cols.holds(id) ? new Row(this.cols, id) : undefined;
  }

  /** Self first, then the others in the order they were added. */
  *values(): IterableIterator<Member> {
    yield this.self;
    for (let i = 0; i < this.added.length; i++) yield new Row(this.cols, this.added.at(i));
  }

  /** The members other than self in one of `states`, in the order added, read from the state column (no handle for the others). */
  inStates(...states: MemberState[]): Member[] {
    const codes = states.map((st) => CODES[st]);
    const out: Member[] = [];
    for (let i = 0; i < this.added.length; i++) {
      const id = this.added.at(i);
      if (codes.includes(this.cols.state[id])) out.push(new Row(this.cols, id));
    }
    return out;
  }

  /** The numbers of the live members, self included when live, in no particular order. */
  liveIds(): Uint32Array {
    const out = new Uint32Array(this.liveCount());
    let n = 0;
    if (isLive(this.self)) out[n++] = this.selfId;
    const state = this.cols.state;
    for (let i = 0; i < this.added.length; i++) {
      const id = this.added.at(i);
      if (isLiveCode(state[id])) out[n++] = id;
    }
    return out;
  }

  /** Whether the member under a registry number is alive or suspect (self included). */
  isLiveId(id: number): boolean {
    if (id === this.selfId) return isLive(this.self);
    return id < this.cols.state.length && isLiveCode(this.cols.state[id]);
  }

  /**
   * Whether we hold a record of `name` (not self) at `addr:port` at `incarnation` or above,
   * whatever its state: what most entries of a push/pull find, checked without a handle each.
   */
  holdsAt(name: string, addr: string, port: number, incarnation: number): boolean {
    const id = this.cols.registry.lookup(name);
    if (id === undefined || !this.cols.holds(id)) return false;
    const p = this.cols.place(id);
    return p.addr === addr && p.port === port && incarnation <= this.cols.incarnation[id];
  }

  /** The member's fields as events carry them, read at once. */
  view(m: Member): MemberView {
    const id = this.heldId(m);
    if (id === undefined) {
      const { name, addr, port, state, incarnation, meta, lastChange } = m;
      return { name, addr, port, state, incarnation, meta, lastChange };
    }
    const cols = this.cols;
    const p = cols.place(id);
    return {
      name: p.node.name,
      addr: p.addr,
      port: p.port,
      state: STATES[cols.state[id]],
      incarnation: cols.incarnation[id],
      meta: p.meta,
      lastChange: cols.lastChange[id],
    };
  }

  /** A member as a push/pull entry without proofs (the caller must not change it: it is shared). */
  entryOf(m: Member): Readonly<PushNodeState> {
    const id = this.heldId(m);
    if (id === undefined)
      return {
        node: { name: m.name, addr: m.addr, port: m.port },
        incarnation: m.incarnation,
        state: m.state,
        meta: m.meta,
      };
    return this.cols.registry.entry(this.cols.place(id), this.cols.incarnation[id], STATES[this.cols.state[id]]);
  }

  /** Known members, self included. */
  get size(): number {
    return this.added.length + 1;
  }

  /** Alive or suspect members other than self. */
  liveOthers(): number {
    return this.liveOthersCount;
  }

  /** Changes whenever the set of live members (self included) may have changed. */
  get version(): number {
    return this.liveVersion;
  }

  /** Members in state dead (not left) other than self. */
  dead(): number {
    return this.deadCount;
  }

  /** Members in state dead or left other than self: those reaping may remove. */
  gone(): number {
    return this.deadCount + this.leftCount;
  }

  /** N as the scaling formulas use it: live members, self included. */
  liveCount(): number {
    return this.liveOthersCount + (isLive(this.self) ? 1 : 0);
  }

  /**
   * Holds a record of `member`'s name, address, metadata, incarnation, state and last change
   * (the rarer fields start unset); a name already held keeps its record. The member as held.
   */
  add(member: Member): Member {
    if (member.name === this.self.name) return this.self;
    const cols = this.cols;
    const id = cols.registry.acquire(member.name);
    if (cols.holds(id)) {
      cols.registry.release(id);
      return new Row(cols, id);
    }
    cols.fit(id);
    cols.state[id] = CODES[member.state];
    cols.incarnation[id] = member.incarnation;
    cols.lastChange[id] = member.lastChange;
    cols.places[id] = cols.registry.place(id, member.addr, member.port, member.meta);
    this.added.push(id, cols.state.length);
    // A random slot, not the end: if every node appended, a newcomer would be probed by
    // all of them at the same late point of their rounds.
    const n = this.order.length;
    const offset = randomInt(this.rng, n + 1);
    this.order.push(id, cols.state.length);
    if (offset < n) {
      this.order.set(n, this.order.at(offset));
      this.order.set(offset, id);
    }
    this.count(member.state, +1);
    if (isLive(member)) this.liveVersion++;
    return new Row(cols, id);
  }

  /**
   * Forgets a record. The handle passed keeps reading as it was; any other handle to it
   * must not be used after (its suspicion, gone with the record, tells).
   */
  remove(member: Member): void {
    const id = this.heldId(member);
    if (id === undefined) return;
    (member as Row).removed = this.view(member);
    const cols = this.cols;
    const state = STATES[cols.state[id]];
    this.count(state, -1);
    if (isLiveCode(cols.state[id])) this.liveVersion++;
    cols.state[id] = 0;
    cols.registry.drop(cols.places[id]);
    cols.places[id] = 0;
    cols.extras.delete(id);
    this.added.remove(id);
    const i = this.order.remove(id);
    if (i >= 0 && i < this.probeIndex) this.probeIndex--;
    cols.registry.release(id);
  }

  /** The member living at `addr:port`, if any. */
  atEndpoint(addr: string, port: number): Member | undefined {
    const places = this.cols.registry.at(addr, port);
    if (!places) return undefined;
    for (const p of places) {
      if (!this.cols.holds(p.id)) continue;
      const q = this.cols.places[p.id];
      if (q === p.no) return new Row(this.cols, p.id);
      const other = this.cols.registry.placeAt(q);
      if (other.addr === addr && other.port === port) return new Row(this.cols, p.id);
    }
    return undefined;
  }

  /** Change a member's address (and metadata), keeping the endpoint index right. */
  move(member: Member, addr: string, port: number, meta?: Uint8Array): void {
    if (member === this.self) {
      Object.assign(member, { addr, port, meta: meta ?? member.meta });
      return;
    }
    const id = this.heldId(member);
    if (id === undefined) return;
    const p = this.cols.place(id);
    if (p.addr !== addr || p.port !== port || (meta !== undefined && meta !== p.meta))
      this.cols.relocate(id, addr, port, meta ?? p.meta);
  }

  setState(member: Member, state: MemberState): void {
    if (member.state === state) return;
    if (isLive(member) !== (state === 'alive' || state === 'suspect')) this.liveVersion++;
    const id = this.heldId(member);
    if (id === undefined) {
      // Self, or a plain record the table does not hold: a field of its own, not counted. A
      // record the table removed keeps its last state.
      if (!(member instanceof Row)) (member as { state: MemberState }).state = state;
      return;
    }
    this.count(member.state, -1);
    this.cols.state[id] = CODES[state];
    this.count(state, +1);
  }

  /** Next member to probe (alive or suspect), or undefined when there is none. */
  nextProbeTarget(): Member | undefined {
    for (let checked = 0; checked <= this.order.length; checked++) {
      if (this.probeIndex >= this.order.length) {
        shuffle(this.rng, this.order.view());
        this.probeIndex = 0;
      }
      if (this.probeIndex >= this.order.length) continue;
      const id = this.order.at(this.probeIndex++);
      if (isLiveCode(this.cols.state[id])) return new Row(this.cols, id);
    }
    return undefined;
  }

  /** Up to k distinct random members other than self that `accept` admits. */
  sample(k: number, accept: (m: Member) => boolean): Member[] {
    const n = this.order.length;
    const picked: Member[] = [];
    const ids: number[] = [];
    if (k <= 0 || n === 0) return picked;
    // Rejection sampling is O(k) when most members qualify, the common case; fall back
    // to a scan when they mostly don't (an isolated node whose peers are all dead).
    const attempts = Math.min(3 * n, 8 * k + 16);
    for (let i = 0; i < attempts && picked.length < k; i++) {
      const id = this.order.at(randomInt(this.rng, n));
      if (ids.includes(id)) continue;
      const m = new Row(this.cols, id);
      if (!accept(m)) continue;
      picked.push(m);
      ids.push(id);
    }
    if (picked.length < k) {
      const rest: Member[] = [];
      for (let i = 0; i < n; i++) {
        const id = this.order.at(i);
        const m = new Row(this.cols, id);
        if (!ids.includes(id) && accept(m)) rest.push(m);
      }
      while (picked.length < k && rest.length > 0) {
        const j = randomInt(this.rng, rest.length);
        picked.push(rest[j]);
        rest[j] = rest[rest.length - 1];
        rest.pop();
      }
    }
    return picked;
  }

  /** The number of a record this table holds, or undefined (self, a plain object, one removed). */
  private heldId(member: Member): number | undefined {
    return member instanceof Row && member.cols === this.cols && !member.removed && this.cols.holds(member.id)
      ? member.id
      : undefined;
  }

  private count(state: MemberState, delta: number): void {
    if (state === 'alive' || state === 'suspect') this.liveOthersCount += delta;
    else if (state === 'dead') this.deadCount += delta;
    else if (state === 'left') this.leftCount += delta;
  }
}

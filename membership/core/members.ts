// The local view of the cluster: one record per known node, plus the probe order.
//
// Probing is memberlist's shuffled round-robin: walk a shuffled list, reshuffle on wrap,
// insert newcomers at a random position. Every live member is probed once per round,
// which bounds the time to first detection, while the shuffle keeps nodes from probing
// in lockstep. Counts of live members are kept incrementally because every gossip packet
// needs N (for the retransmit limit) and scanning 1,000 records per packet would dominate.

import type { MemberState } from '../messages.js';
import { randomInt, shuffle, type Rng } from '../../base/rng.js';
import type { Suspicion } from './suspicion.js';
import type { Timer } from './timers.js';

export interface Member {
  readonly name: string;
  addr: string;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  /** Read freely; change only through MemberTable.setState so the counts stay right. */
  state: MemberState;
  /** Virtual/wall ms of the last change of state, address or metadata. */
  lastChange: number;
  /** When a datagram from this member's address last arrived (driver clock, ms). */
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

export class MemberTable {
  private readonly byName = new Map<string, Member>();
  /** Members other than self by port, then address: who a datagram came from, without building a key per packet. */
  private readonly byEndpoint = new Map<number, Map<string, Member>>();
  /** Every known member except self, in probe order. */
  private readonly order: Member[] = [];
  private probeIndex = 0;
  private liveOthersCount = 0;
  private deadCount = 0;
  private leftCount = 0;
  private liveVersion = 0;

  constructor(
    readonly self: Member,
    private readonly rng: Rng,
  ) {
    this.byName.set(self.name, self);
  }

  get(name: string): Member | undefined {
    return this.byName.get(name);
  }

  values(): IterableIterator<Member> {
    return this.byName.values();
  }

  /** Known members, self included. */
  get size(): number {
    return this.byName.size;
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

  add(member: Member): void {
    if (this.byName.has(member.name)) return;
    this.byName.set(member.name, member);
    this.index(member);
    // A random slot, not the end: if every node appended, a newcomer would be probed by
    // all of them at the same late point of their rounds.
    const n = this.order.length;
    const offset = randomInt(this.rng, n + 1);
    this.order.push(member);
    if (offset < n) {
      this.order[n] = this.order[offset];
      this.order[offset] = member;
    }
    this.count(member.state, +1);
    if (isLive(member)) this.liveVersion++;
  }

  remove(member: Member): void {
    if (this.byName.get(member.name) !== member || member === this.self) return;
    this.byName.delete(member.name);
    this.unindex(member);
    const i = this.order.indexOf(member);
    if (i >= 0) {
      this.order.splice(i, 1);
      if (i < this.probeIndex) this.probeIndex--;
    }
    this.count(member.state, -1);
    if (isLive(member)) this.liveVersion++;
  }

  /** The member living at `addr:port`, if any. */
  atEndpoint(addr: string, port: number): Member | undefined {
    return this.byEndpoint.get(port)?.get(addr);
  }

  /** Change a member's address, keeping the endpoint index right. */
  move(member: Member, addr: string, port: number): void {
    if (member.addr === addr && member.port === port) return;
    this.unindex(member);
    member.addr = addr;
    member.port = port;
    if (member !== this.self && this.byName.get(member.name) === member) this.index(member);
  }

  setState(member: Member, state: MemberState): void {
    if (member.state === state) return;
    const tracked = member !== this.self && this.byName.get(member.name) === member;
    if (tracked) this.count(member.state, -1);
    if (isLive(member) !== (state === 'alive' || state === 'suspect')) this.liveVersion++;
    member.state = state;
    if (tracked) this.count(state, +1);
  }

  /** Next member to probe (alive or suspect), or undefined when there is none. */
  nextProbeTarget(): Member | undefined {
    for (let checked = 0; checked <= this.order.length; checked++) {
      if (this.probeIndex >= this.order.length) {
        shuffle(this.rng, this.order);
        this.probeIndex = 0;
      }
      const m = this.order[this.probeIndex++];
      if (m && isLive(m)) return m;
    }
    return undefined;
  }

  /** Up to k distinct random members other than self that `accept` admits. */
  sample(k: number, accept: (m: Member) => boolean): Member[] {
    const n = this.order.length;
    const picked: Member[] = [];
    if (k <= 0 || n === 0) return picked;
    // Rejection sampling is O(k) when most members qualify, the common case; fall back
    // to a scan when they mostly don't (an isolated node whose peers are all dead).
    const attempts = Math.min(3 * n, 8 * k + 16);
    for (let i = 0; i < attempts && picked.length < k; i++) {
      const m = this.order[randomInt(this.rng, n)];
      if (accept(m) && !picked.includes(m)) picked.push(m);
    }
    if (picked.length < k) {
      const rest = this.order.filter((m) => accept(m) && !picked.includes(m));
      while (picked.length < k && rest.length > 0) {
        const j = randomInt(this.rng, rest.length);
        picked.push(rest[j]);
        rest[j] = rest[rest.length - 1];
        rest.pop();
      }
    }
    return picked;
  }

  private index(member: Member): void {
    let byAddr = this.byEndpoint.get(member.port);
    if (!byAddr) {
      byAddr = new Map();
      this.byEndpoint.set(member.port, byAddr);
    }
    byAddr.set(member.addr, member);
  }

  private unindex(member: Member): void {
    const byAddr = this.byEndpoint.get(member.port);
    if (byAddr?.get(member.addr) === member) byAddr.delete(member.addr);
  }

  private count(state: MemberState, delta: number): void {
    if (state === 'alive' || state === 'suspect') this.liveOthersCount += delta;
    else if (state === 'dead') this.deadCount += delta;
    else if (state === 'left') this.leftCount += delta;
  }
}

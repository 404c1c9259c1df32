// SwimCore: SWIM with Lifeguard as a deterministic state machine. See index.ts for the
// contract with drivers; this file is the protocol itself.
//
// Reading guide, in the order a failure is handled:
//   probeRound -> startIndirect -> expireProbe        (failure detection, Lifeguard awareness)
//   onSuspect -> suspicionExpired -> onDead           (dynamic suspicion timeouts)
//   onAlive / refute                                  (incarnations, restarts, refutation)
//   gossipRound / flush                               (piggybacked, transmit-limited dissemination)
//   pushPullRound / merge / healRound / reap          (anti-entropy, partition healing)

import {
  MAX_INCARNATION,
  MAX_META_BYTES,
  type Alive,
  type Dead,
  type IndirectPing,
  type Message,
  type NodeAddress,
  type PacketMessage,
  type Ping,
  type PushNodeState,
  type PushPull,
  type Suspect,
} from '../messages.js';
import { Awareness } from './awareness.js';
import { aliveBytes, leaveBytes, MEMBER_AUTH_REJECTS, type MemberAuth, type MemberAuthReject } from './member-auth.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { makeConfig, validateConfig, type SwimConfig } from './config.js';
import {
  bytesEqual,
  isCounter,
  isIncarnation,
  isMeta,
  isName,
  isNodeAddress,
  isProofBytes,
  isPushNodeState,
} from './guards.js';
import { expectedConfirmations, pushPullScale, retransmitLimit, suspicionTimeout } from './math.js';
import { ProbeRing } from './probe-ring.js';
import { isLive, MemberTable, type Member } from './members.js';
import type { MemberRegistry } from './member-registry.js';
import { Outbox } from './outbox.js';
import type { Endpoint, MemberEventType, MemberView, Output, SwimStats } from './outputs.js';
import { randomInt, type Rng } from '../../base/rng.js';
import { defaultMeasure, memoized, msgpackSize, type MeasureFn } from './size.js';
import { Suspicion } from './suspicion.js';
import { TimerQueue, type Timer } from './timers.js';

export interface SwimCoreOptions {
  self: NodeAddress;
  meta?: Uint8Array;
  /** A full config (see makeConfig); defaults to the lan preset. */
  config?: SwimConfig;
  rng: Rng;
  /** The driver's clock at creation, in ms. */
  now: number;
  /**
   * Starting incarnation. A daemon that restarts should pass something larger than any
   * incarnation of its previous life (e.g. seconds since the epoch), so its first alive
   * message outranks stale news about it. 0 works too: the node then refutes once.
   */
  incarnation?: number;
  /** Encoded size of a message; defaults to msgpackr's size of the plain object. */
  measure?: MeasureFn;
  /**
   * `now` is wall-clock time shared by the cluster (Date.now() under NTP, or a simulator's
   * virtual clock): probe rounds then align across nodes so every member is probed once
   * per interval (see probe-ring.ts). With a process-local monotonic clock leave this
   * false: probing is memberlist's independent shuffled round-robin.
   */
  alignedProbing?: boolean;
  /**
   * Signed membership (issue 13): sign our alives and leave, and take others' only with
   * their signatures (member-auth.ts). Without it membership is unsigned, as before.
   */
  auth?: MemberAuth;
  /** Names and places shared with other cores of this process (the simulator's nodes); default one of its own. */
  registry?: MemberRegistry;
}

/** Our own probe of a member, keyed by the ping's seq. */
interface Probe {
  kind: 'probe';
  seq: number;
  target: string;
  incarnation: number;
  expectedNacks: number;
  nacks: number;
  indirectTimer: Timer;
  expireTimer: Timer;
}

/** A ping we send on someone else's behalf (ping-req), keyed by our ping's seq. */
interface Relay {
  kind: 'relay';
  requester: Endpoint;
  requesterSeq: number;
  wantsNack: boolean;
  timer: Timer;
}

/** How far above a member's known incarnation an accusation of it may be (see plausible()). */
const ACCUSATION_SLACK = 16;

/** A certificate reference as a set key (16 bytes, one char each). */
function refKey(ref: Uint8Array): string {
  return String.fromCharCode(...ref);
}

function endpointKey(e: Endpoint): string {
  return `${e.addr}:${e.port}`;
}

export class SwimCore {
  readonly config: SwimConfig;
  private readonly rng: Rng;
  /** Size of a message built for one packet (pings, acks): measured afresh. */
  private readonly sizeOf: MeasureFn;
  /** Size of a message that is passed around (gossip): memoised per object. */
  private readonly measureShared: MeasureFn;
  private readonly table: MemberTable;
  private readonly ring: ProbeRing | undefined;
  private readonly timers = new TimerQueue();
  /** The gossip rounds' grid: the first round's time; every round falls gossipInterval apart from it. */
  private gossipPhase: number | undefined;
  /** When we started, and where in every push/pull interval ours falls (a fraction). */
  private startedAt = 0;
  private pushPullPhase = 0;
  /** Whether a gossip round is scheduled; none is while the queue is empty (gossipRound). */
  private gossipScheduled = false;
  private readonly queue: BroadcastQueue;
  private readonly awareness: Awareness;
  private readonly pending = new Map<number, Probe | Relay>();
  private readonly outbox: Outbox;
  private readonly seeds: Endpoint[] = [];
  private seq = 0;
  private now: number;
  private leaving = false;
  /** Deaths learnt or declared during this input, flooded at its end (see floodDeaths). */
  // Stryker disable next-line ArrayDeclaration: floodDeaths floods only names whose dead is still queued
  private readonly newDeaths: string[] = [];
  /** Who told us of them (they need no copy back). */
  private readonly deathSources = new Set<string>();
  private readonly auth: MemberAuth | undefined;
  /** Our signed alive, while incarnation, address and metadata stay the same. */
  private ownAlive: Alive | undefined;
  /** Our certificate reference last announced in full: a renewed certificate goes out whole once. */
  private announcedCert: Uint8Array | undefined;
  /** Where the packet being handled came from (asked for certificates we lack). */
  private inputFrom: Endpoint | undefined;
  private nextCertPull = -Infinity;
  private readonly counters: Omit<SwimStats, 'healthScore'> = {
    probes: 0,
    probeFailures: 0,
    indirectProbes: 0,
    suspicionsRaised: 0,
    refutations: 0,
    deathsDeclared: 0,
    addressConflicts: 0,
    rejectedMessages: 0,
    implausibleIncarnations: 0,
    staleAcks: 0,
    packetsOut: 0,
    bytesOut: 0,
    streamsOut: 0,
    oversizeToStream: 0,
    pushPulls: 0,
    healAttempts: 0,
    authRejects: Object.fromEntries(MEMBER_AUTH_REJECTS.map((r) => [r, 0])) as Record<MemberAuthReject, number>,
  };

  constructor(opts: SwimCoreOptions) {
    const meta = opts.meta ?? new Uint8Array(0);
    if (meta.byteLength > MAX_META_BYTES)
      throw new RangeError(`node metadata is ${meta.byteLength} bytes, at most ${MAX_META_BYTES} allowed`);
    if (!isNodeAddress(opts.self)) throw new TypeError('self must be a NodeAddress {name, addr, port}');
    this.config = opts.config ?? makeConfig('lan');
    validateConfig(this.config);
    this.rng = opts.rng;
    this.auth = opts.auth;
    this.sizeOf = opts.measure ?? msgpackSize;
    this.measureShared = opts.measure ? memoized(opts.measure) : defaultMeasure;
    this.now = opts.now;
    this.awareness = new Awareness(this.config.awarenessMaxMultiplier);
    this.queue = new BroadcastQueue(this.config.maxQueuedBroadcasts);
    this.outbox = new Outbox(
      this.config,
      this.queue,
      this.sizeOf,
      () => this.transmitLimit(),
      this.counters,
      (to) => {
        const m = this.table.atEndpoint(to.addr, to.port);
        return m === undefined || m.state === 'alive';
      },
    );
    const self: Member = {
      name: opts.self.name,
      addr: opts.self.addr,
      port: opts.self.port,
      meta,
      incarnation: Math.min(opts.incarnation ?? 0, MAX_INCARNATION),
      state: 'alive',
      lastChange: opts.now,
    };
    this.table = new MemberTable(self, this.rng, opts.registry);
    this.ring = opts.alignedProbing ? new ProbeRing(this.table) : undefined;
    // Announce ourselves: the first peers we talk to carry the news on.
    this.broadcast(self.name, this.selfAlive());

    // Random phases, so that nodes started together do not probe and gossip in lockstep.
    const c = this.config;
    const firstProbe = this.ring ? this.alignedRoundAtOrAfter(opts.now + 1) : opts.now + this.jitter(c.probeIntervalMs);
    this.timers.set(firstProbe, (t) => this.probeRound(t));
    if (c.gossipNodes > 0) {
      this.gossipPhase = opts.now + this.jitter(c.gossipIntervalMs);
      this.scheduleGossip(this.gossipPhase - c.gossipIntervalMs);
    }
    if (c.pushPullIntervalMs > 0) {
      this.startedAt = opts.now;
      this.pushPullPhase = this.rng.next();
      this.timers.set(opts.now + Math.floor(this.pushPullPhase * c.pushPullIntervalMs), (t) =>
        this.pushPullRound(t, true),
      );
    }
    const maintenance = this.maintenanceInterval();
    this.timers.set(opts.now + this.jitter(maintenance), (t) => this.maintenanceRound(t));
  }

  // ---------------------------------------------------------------- inputs

  /** A datagram arrived from `from`, decoded into its messages (a compound may hold several). */
  receive(now: number, from: Endpoint, msgs: PacketMessage | readonly PacketMessage[]): void {
    this.advance(now);
    const list = Array.isArray(msgs) ? msgs : [msgs as PacketMessage];
    if (this.refusedSender(from)) return;
    const sender = this.heardFrom(from);
    if (sender && (sender.state === 'dead' || sender.state === 'suspect')) this.tellVerdict(sender);
    this.inputFrom = from;
    for (const msg of list) this.dispatch(from, msg);
    this.inputFrom = undefined;
    this.flush();
  }

  /**
   * A stream opened by `from` delivered `msg`. For a push-pull, returns our reply (the
   * full state, after merging theirs, so it already carries any refutation of ours).
   */
  receiveStream(now: number, from: Endpoint, msg: Message): PushPull | undefined {
    this.advance(now);
    if (this.refusedSender(from)) return undefined;
    let reply: PushPull | undefined;
    if (msg && typeof msg === 'object' && msg.t === 'push-pull') {
      if (this.mergeChecked(msg)) reply = this.fullState(false, this.certsKnownTo(msg));
    } else {
      this.dispatch(from, msg as PacketMessage);
    }
    this.flush();
    return reply;
  }

  /** The reply to a push-pull we sent to `from` (see StreamOutput). */
  receiveStreamReply(now: number, from: Endpoint, msg: PushPull): void {
    this.advance(now);
    if (this.refusedSender(from)) return;
    this.heardFrom(from);
    this.inputFrom = from; // we opened the stream to its gossip address: ask it for what it named and we lack
    if (msg && typeof msg === 'object' && msg.t === 'push-pull') this.mergeChecked(msg);
    else this.counters.rejectedMessages++;
    this.inputFrom = undefined;
    this.flush();
  }

  /** Fire every timer due at `now`. Call it at nextDeadline() (calling it early is harmless). */
  tick(now: number): void {
    this.advance(now);
    this.timers.runDue(this.now);
    this.flush();
  }

  /**
   * Contact seeds with a full-state push-pull. The seeds are remembered and retried by
   * the healing round whenever none of them is a live member, so a node that started
   * alone, or got cut off, finds its way back.
   */
  join(now: number, seeds: readonly Endpoint[]): void {
    this.advance(now);
    const selfKey = endpointKey(this.table.self);
    for (const seed of seeds) {
      if (!seed || typeof seed.addr !== 'string' || !Number.isInteger(seed.port)) continue;
      const key = endpointKey(seed);
      if (key === selfKey) continue;
      if (!this.seeds.some((s) => endpointKey(s) === key)) this.seeds.push({ addr: seed.addr, port: seed.port });
      if (!this.leaving) this.outbox.stream(seed, this.fullState(true));
    }
    this.flush();
  }

  /**
   * Graceful leave: gossip that we left (a dead message from ourselves), stop probing.
   * A `{kind:'left'}` output tells the driver when the news has been sent often enough.
   */
  leave(now: number): void {
    this.advance(now);
    if (this.leaving) return;
    this.leaving = true;
    const me = this.table.self;
    const d = this.selfLeave();
    const others = this.table.liveOthers();
    this.broadcast(me.name, d, () => this.outbox.push({ kind: 'left' }));
    this.table.setState(me, 'left');
    me.lastChange = this.now;
    this.emitEvent('leave', me);
    if (others === 0) {
      // Nobody to tell; do not keep the driver waiting for a broadcast that cannot go out.
      this.queue.clear();
    } else {
      this.sendGossip(this.config.gossipNodes);
    }
    this.flush();
  }

  /**
   * An operator's force-leave (weft force-leave), as serf's: a member this node holds dead
   * becomes left, so the layers above forget it now rather than after reapAfter. Not gossiped:
   * every node applies the same shared record itself. A member alive or suspect is untouched
   * (it could refute), and so is one dead at a later incarnation than `upTo` (it came back
   * and died again since the operator asked). Returns whether it changed.
   */
  forceLeave(now: number, name: string, upTo: number): boolean {
    this.advance(now);
    const m = this.table.get(name);
    if (!m || m === this.table.self || m.state !== 'dead' || m.incarnation > upTo) return false;
    this.table.setState(m, 'left');
    m.lastChange = this.now;
    this.emitEvent('leave', m);
    this.flush();
    return true;
  }

  /** Change our metadata (≤ 512 bytes) and gossip it with a new incarnation. */
  updateMeta(now: number, meta: Uint8Array): void {
    this.advance(now);
    if (!(meta instanceof Uint8Array) || meta.byteLength > MAX_META_BYTES) {
      throw new RangeError(`node metadata must be a Uint8Array of at most ${MAX_META_BYTES} bytes`);
    }
    const me = this.table.self;
    me.meta = meta;
    // At the bound (only reachable by a forged lead we accepted) the change still spreads
    // through push/pull, which compares metadata at equal incarnations.
    me.incarnation = Math.min(me.incarnation + 1, MAX_INCARNATION);
    me.lastChange = this.now;
    this.broadcast(me.name, this.selfAlive());
    this.emitEvent('update', me);
    this.flush();
  }

  /**
   * Disseminate an opaque payload for the layers above. Each receiver gets it as a
   * `{kind:'user'}` output and does not pass it on: relaying and de-duplication belong to
   * the layer that knows what the payload means. Too large for a datagram, it goes over
   * streams to as many members as the queue would have sent it to.
   */
  broadcastUser(now: number, data: Uint8Array): void {
    this.advance(now);
    const msg: PacketMessage = { t: 'user', data };
    const bytes = this.sizeOf(msg);
    if (bytes + this.config.messageOverhead > this.outbox.budget) {
      const n = retransmitLimit(this.config.retransmitMult, this.table.liveCount());
      for (const m of this.table.sample(n, isLive)) {
        this.counters.oversizeToStream++;
        this.outbox.stream(m, msg);
      }
    } else {
      this.queue.enqueue(undefined, msg, bytes);
      this.wakeGossip();
    }
    this.flush();
  }

  // ---------------------------------------------------------------- outputs and queries

  /** Everything produced since the last call, in order. */
  takeOutputs(): Output[] {
    return this.outbox.take();
  }

  /** When tick() must next be called (Infinity if never). */
  nextDeadline(): number {
    return this.timers.next();
  }

  members(): MemberView[] {
    const out: MemberView[] = [];
    for (const m of this.table.values()) out.push(this.table.view(m));
    return out;
  }

  member(name: string): MemberView | undefined {
    const m = this.table.get(name);
    return m ? this.table.view(m) : undefined;
  }

  localMember(): MemberView {
    return this.table.view(this.table.self);
  }

  /** Live members (alive or suspect), self included: the N of the scaling formulas. */
  numLive(): number {
    return this.table.liveCount();
  }

  healthScore(): number {
    return this.awareness.score;
  }

  /** Gossip messages waiting to be piggybacked. */
  queuedBroadcasts(): number {
    return this.queue.size;
  }

  /** The update about `name` waiting in the gossip queue, if any (inspection and tests). */
  peekBroadcast(name: string): PacketMessage | undefined {
    return this.queue.peek(name);
  }

  stats(): SwimStats {
    return { ...this.counters, authRejects: { ...this.counters.authRejects }, healthScore: this.awareness.score };
  }

  // ---------------------------------------------------------------- dispatch

  private advance(now: number): void {
    // A driver clock that steps back (NTP, a test) must not rewind deadlines.
    // Stryker disable next-line EqualityOperator: at now === this.now the assignment changes nothing
    if (typeof now === 'number' && now > this.now) this.now = now;
  }

  private dispatch(from: Endpoint, msg: PacketMessage): void {
    try {
      // Stryker disable next-line LogicalOperator: a non-object's t is undefined, and the switch's default rejects it too
      if (!msg || typeof msg !== 'object') return this.reject();
      switch (msg.t) {
        case 'ping':
          return isCounter(msg.seq) && typeof msg.target === 'string' ? this.onPing(from, msg) : this.reject();
        case 'ping-req':
          return isCounter(msg.seq) && isNodeAddress(msg.target) ? this.onPingReq(from, msg) : this.reject();
        case 'ack':
          return isCounter(msg.seq) ? this.onAck(msg.seq) : this.reject();
        case 'nack':
          return isCounter(msg.seq) ? this.onNack(msg.seq) : this.reject();
        case 'alive':
          if (!(
            isIncarnation(msg.incarnation) &&
            isNodeAddress(msg.node) &&
            isMeta(msg.meta) &&
            isProofBytes(msg.sig) &&
            isProofBytes(msg.cert)
          ))
            return this.reject();
          return this.plausible(msg.incarnation, msg.node.name) ? this.onAlive(msg, false) : undefined;
        case 'suspect':
          if (!(isIncarnation(msg.incarnation) && isName(msg.node) && isName(msg.from))) return this.reject();
          return this.plausible(msg.incarnation, msg.node, true) && this.vouched(msg.incarnation, msg.node)
            ? this.onSuspect(msg, false, from)
            : undefined;
        case 'dead':
          if (!(
            isIncarnation(msg.incarnation) &&
            isName(msg.node) &&
            isName(msg.from) &&
            isProofBytes(msg.sig) &&
            isProofBytes(msg.cert)
          ))
            return this.reject();
          if (!this.plausible(msg.incarnation, msg.node, true)) return;
          if (
            msg.from === msg.node
              ? !this.admitLeave(msg.node, msg.incarnation, msg.sig, msg.cert)
              : !this.vouched(msg.incarnation, msg.node)
          )
            return;
          return this.onDead(msg, from);
        case 'user':
          if (!(msg.data instanceof Uint8Array)) return this.reject();
          this.outbox.push({ kind: 'user', from: { addr: from.addr, port: from.port }, data: msg.data });
          return;
        default:
          return this.reject();
      }
    } catch {
      // Never let one odd message take the node down; the guards above should make this unreachable.
      this.reject();
    }
  }

  /** The member living at `from`, noting that it just proved to be running. */
  private heardFrom(from: Endpoint): Member | undefined {
    const m = from && typeof from.addr === 'string' ? this.table.atEndpoint(from.addr, from.port) : undefined;
    // Read only against a running suspicion's start (suspicionExpired): kept only while one
    // runs, so that hearing from a member costs no record.
    if (m?.suspicion) m.lastHeard = this.now;
    return m;
  }

  private reject(): void {
    this.counters.rejectedMessages++;
  }

  private refuse(reason: MemberAuthReject): false {
    this.counters.authRejects[reason]++;
    return false;
  }

  /** A packet or stream from a member whose certificate was revoked or expired: dropped whole. */
  private refusedSender(from: Endpoint): boolean {
    if (!this.auth || !from || typeof from.addr !== 'string') return false;
    const m = this.table.atEndpoint(from.addr, from.port);
    if (!m || this.auth.standing(m.name, this.now) === undefined) return false;
    this.refuse('refused_sender');
    return true;
  }

  /** Is this alive its node's own (or, in the migration window, an unsigned one we may take)? */
  private admitAlive(a: Alive): boolean {
    const auth = this.auth;
    if (!auth) return true;
    const name = a.node.name;
    if (!a.sig || !a.cert) {
      const standing = auth.standing(name, this.now);
      if (standing) return this.refuse(standing);
      return auth.acceptUnsigned(name) || this.refuse('unsigned');
    }
    const why = auth.verify('alive', name, aliveBytes(a), a.sig, a.cert, this.now);
    if (why === undefined) return true;
    if (why === 'unknown_cert') this.pullCertificates();
    return this.refuse(why);
  }

  /** Is this leave signed by the node that leaves (or unsigned and may be taken)? */
  private admitLeave(
    name: string,
    incarnation: number,
    sig: Uint8Array | undefined,
    cert: Uint8Array | undefined,
  ): boolean {
    const auth = this.auth;
    if (!auth || name === this.table.self.name) return true; // our own leave: refuted if it is not ours
    cert ??= this.table.get(name)?.proof?.cert;
    if (!sig || !cert) return auth.acceptUnsigned(name) || this.refuse('unsigned');
    const why = auth.verify('leave', name, leaveBytes(name, incarnation), sig, cert, this.now);
    if (why === undefined) {
      const m = this.table.get(name);
      if (m) m.leaveSig = sig;
      return true;
    }
    if (why === 'unknown_cert') this.pullCertificates();
    return this.refuse(why);
  }

  /**
   * A suspect or dead claim names an incarnation: with identity on, one the accused itself
   * announced. A claim above it is a forged lead (an honest accuser only repeats what the
   * node said), so it is dropped; only the node raises its own incarnation. Claims about
   * us go through, as before: we refute them, and a restarted life of ours must be able to
   * outbid the last one's.
   */
  private vouched(incarnation: number, name: string): boolean {
    if (!this.auth || name === this.table.self.name) return true;
    const m = this.table.get(name);
    if (!m || incarnation <= (m.vouched ?? -1)) return true;
    return this.refuse('unsigned_incarnation');
  }

  /**
   * A relayed alive or a push/pull entry named a certificate only by reference and we do
   * not have it: the relay verified it, so it has it; our push/pull lists that member
   * without it, so the reply carries it whole. A stream we answer comes from no gossip
   * address: then any live member, which most likely holds it too. At most one such
   * request per probe interval, however many references were unknown.
   */
  private pullCertificates(): void {
    if (this.leaving || this.now < this.nextCertPull) return;
    const from = this.inputFrom ?? this.table.sample(1, (m) => m.state === 'alive')[0];
    if (!from) return;
    this.nextCertPull = this.now + this.config.probeIntervalMs;
    this.outbox.stream(from, this.fullState(false));
  }

  /**
   * Revocations or expiries changed (the driver calls this when the store learns of a
   * revocation; expiry is also checked at every probe): members no longer in standing are
   * declared dead, and stay so, since their alives are refused from now on.
   */
  standingChanged(now: number): void {
    this.advance(now);
    this.failOutOfStanding();
    this.flush();
  }

  private failOutOfStanding(only?: Member): void {
    const auth = this.auth;
    if (!auth) return;
    const doomed: Member[] = [];
    for (const m of only ? [only] : this.table.values()) {
      if (m !== this.table.self && isLive(m) && auth.standing(m.name, this.now) !== undefined) doomed.push(m);
    }
    for (const m of doomed)
      this.onDead({ t: 'dead', incarnation: m.incarnation, node: m.name, from: this.table.self.name });
  }

  // ---------------------------------------------------------------- failure detection

  private probeRound(now: number): void {
    const interval = this.awareness.scale(this.config.probeIntervalMs);
    if (!this.leaving) {
      const target = this.ring
        ? this.ring.target(Math.floor(now / this.config.probeIntervalMs))
        : this.table.nextProbeTarget();
      // A certificate that expired (or a revocation) fails its member at its next probe.
      if (target) this.failOutOfStanding(target);
      if (target && isLive(target)) this.probe(now, target, interval);
    }
    // Set after the probe's own expiry so that, at the same instant, expiry runs first.
    const next = this.ring ? this.alignedRoundAfter(now, interval) : now + interval;
    this.timers.set(next, (t) => this.probeRound(t));
  }

  /**
   * The boundary `interval` after the start of the round `now` falls in. Counted from the
   * round, not from `now`: a timer fires a little late (always, on a real host), and the
   * first boundary after `now + interval` would then skip a round every time, halving the
   * probe rate and leaving a crashed member's turn to nodes out of phase (issue 17).
   */
  private alignedRoundAfter(now: number, interval: number): number {
    const i = this.config.probeIntervalMs;
    return (Math.floor(now / i) + Math.max(1, Math.round(interval / i))) * i;
  }

  /** The first round boundary at or after `t`. */
  private alignedRoundAtOrAfter(t: number): number {
    const i = this.config.probeIntervalMs;
    return Math.ceil(t / i) * i;
  }

  private probe(now: number, target: Member, interval: number): void {
    const me = this.table.self;
    const seq = this.nextSeq();
    const ping: Ping = { t: 'ping', seq, target: target.name, source: { name: me.name, addr: me.addr, port: me.port } };
    const msgs: PacketMessage[] = [ping];
    // Lifeguard buddy system: a suspect hears of it on the probe itself, so it can refute
    // even if the suspicion gossip never reaches it.
    if (target.state === 'suspect')
      msgs.push({ t: 'suspect', incarnation: target.incarnation, node: target.name, from: me.name });
    const probe: Probe = {
      kind: 'probe',
      seq,
      target: target.name,
      incarnation: target.incarnation,
      expectedNacks: 0,
      nacks: 0,
      indirectTimer: this.timers.set(now + this.awareness.scale(this.config.probeTimeoutMs), () =>
        this.startIndirect(probe),
      ),
      expireTimer: this.timers.set(now + interval, () => this.expireProbe(probe)),
    };
    this.pending.set(seq, probe);
    this.counters.probes++;
    this.outbox.send(target, msgs);
  }

  private startIndirect(probe: Probe): void {
    if (this.pending.get(probe.seq) !== probe) return;
    const target = this.table.get(probe.target);
    if (!target) return;
    const me = this.table.self;
    const peers = this.table.sample(this.config.indirectChecks, (m) => m.state === 'alive' && m.name !== target.name);
    const req: IndirectPing = {
      t: 'ping-req',
      seq: probe.seq,
      target: { name: target.name, addr: target.addr, port: target.port },
      nack: true,
      source: { name: me.name, addr: me.addr, port: me.port },
    };
    probe.expectedNacks = peers.length;
    for (const peer of peers) {
      this.counters.indirectProbes++;
      this.outbox.send(peer, [req]);
    }
  }

  private expireProbe(probe: Probe): void {
    if (this.pending.get(probe.seq) !== probe) return;
    this.pending.delete(probe.seq);
    this.counters.probeFailures++;
    // Lifeguard: nacks prove the intermediaries heard us and we heard them, so the target
    // is the likely culprit; every missing nack hints that we are the slow one. With no
    // intermediaries at all, any failed probe counts against us.
    if (probe.expectedNacks > 0) this.awareness.applyDelta(Math.max(0, probe.expectedNacks - probe.nacks));
    else this.awareness.applyDelta(1);
    if (this.leaving) return;
    const target = this.table.get(probe.target);
    if (!target || !isLive(target)) return;
    this.onSuspect(
      { t: 'suspect', incarnation: probe.incarnation, node: target.name, from: this.table.self.name },
      false,
      undefined,
      true,
    );
  }

  private onPing(from: Endpoint, ping: Ping): void {
    // The ping names whom it is for: a different node now living at a reused address
    // must not vouch for the old one (memberlist#222).
    if (ping.target !== '' && ping.target !== this.table.self.name) return this.reject();
    if (this.leaving) {
      // Whoever still probes us missed our leave (or we are still flushing it): answer
      // with the leave itself, so it records `left` rather than keeping us alive.
      this.outbox.send(from, [this.selfLeave()]);
      return;
    }
    this.outbox.send(from, [{ t: 'ack', seq: ping.seq }]);
  }

  private onPingReq(from: Endpoint, req: IndirectPing): void {
    if (req.target.name === this.table.self.name) {
      // Asked to probe ourselves: our answer is the proof.
      this.outbox.send(from, [{ t: 'ack', seq: req.seq }]);
      return;
    }
    const me = this.table.self;
    const seq = this.nextSeq();
    const relay: Relay = {
      kind: 'relay',
      requester: { addr: from.addr, port: from.port },
      requesterSeq: req.seq,
      wantsNack: req.nack === true,
      timer: this.timers.set(this.now + this.relayTimeout(), () => this.expireRelay(seq, relay)),
    };
    this.pending.set(seq, relay);
    this.outbox.send(req.target, [
      { t: 'ping', seq, target: req.target.name, source: { name: me.name, addr: me.addr, port: me.port } },
    ]);
  }

  /**
   * How long we wait for the target on someone's behalf before nacking. The requester
   * sent the ping-req after probeTimeout and gives up at probeInterval, so the nack must
   * land inside that window with room for the trip back: 80 % of the shorter of the two
   * phases (Lifeguard nacks at 80 % of the timeout). Waiting the full probeTimeout, as
   * memberlist does, makes the nack arrive just after the requester stopped counting, and
   * every honest failed probe would then look like our own sickness.
   */
  private relayTimeout(): number {
    const c = this.config;
    return 0.8 * Math.min(c.probeTimeoutMs, c.probeIntervalMs - c.probeTimeoutMs);
  }

  private expireRelay(seq: number, relay: Relay): void {
    if (this.pending.get(seq) !== relay) return;
    this.pending.delete(seq);
    if (relay.wantsNack) this.outbox.send(relay.requester, [{ t: 'nack', seq: relay.requesterSeq }]);
  }

  private onAck(seq: number): void {
    const handler = this.pending.get(seq);
    if (!handler) {
      this.counters.staleAcks++;
      return;
    }
    this.pending.delete(seq);
    if (handler.kind === 'probe') {
      this.timers.cancel(handler.indirectTimer);
      this.timers.cancel(handler.expireTimer);
      this.awareness.applyDelta(-1);
      this.probeAnswered(handler);
    } else {
      this.timers.cancel(handler.timer);
      this.outbox.send(handler.requester, [{ t: 'ack', seq: handler.requesterSeq }]);
    }
  }

  /**
   * A member we suspect answered our probe: by SWIM's own test it has not failed. Its
   * refutation normally rides on a direct ack (it answers our buddy suspicion), but an
   * ack relayed through a ping-req carries nothing, and gossip may have missed us. Drop
   * our suspicion locally (same incarnation, nothing gossiped): only the node itself can
   * refute for everyone, but we need not keep accusing a node we just heard answer.
   */
  private probeAnswered(probe: Probe): void {
    const m = this.table.get(probe.target);
    if (!m || m.state !== 'suspect' || m.incarnation !== probe.incarnation) return;
    this.clearSuspicion(m);
    this.table.setState(m, 'alive');
    m.lastChange = this.now;
    this.emitEvent('alive', m);
  }

  private onNack(seq: number): void {
    const handler = this.pending.get(seq);
    if (handler?.kind === 'probe') {
      if (handler.nacks < handler.expectedNacks) handler.nacks++;
    } else {
      this.counters.staleAcks++;
    }
  }

  // ---------------------------------------------------------------- state transitions

  /**
   * @param from the sender of the packet, when the suspicion arrived in one
   * @param ownProbe the suspicion comes from our own failed probe (first-hand evidence);
   *   a suspicion signed with our name because it came from a push/pull is not
   */
  private onSuspect(s: Suspect, quiet: boolean, from?: Endpoint, ownProbe = false): void {
    const m = this.table.get(s.node);
    if (!m) return;
    if (m.state === 'left') return this.passOnLeave(m, from);
    if (s.incarnation < m.incarnation) {
      if (m === this.table.self && from) this.correct(from);
      return;
    }

    // Already suspect: a suspicion from someone new is an independent confirmation, which
    // shortens the timeout; re-gossip it so others can count it too. A suspicion of a
    // higher incarnation is not a confirmation but a new episode: the node refuted the
    // old one (we missed that) and must get a full timeout to refute again.
    if (m.suspicion && s.incarnation > m.incarnation) {
      this.clearSuspicion(m);
      this.table.setState(m, 'alive');
    }
    if (m.suspicion) {
      // Our own probe failed: first-hand evidence. A grace period already granted still
      // runs to its end: the suspect may be stalled (a GC pause) with our probe queued,
      // and its answer comes when it resumes.
      if (ownProbe) m.suspicion.firstHand = true;
      if (m.suspicion.confirm(s.from)) {
        this.rescheduleSuspicion(m);
        if (!quiet) this.broadcast(m.name, s);
      }
      return;
    }
    if (m.state !== 'alive') return;
    if (m === this.table.self) {
      if (!this.leaving) this.refute(s.incarnation, s.from);
      return;
    }
    if (!quiet) this.broadcast(m.name, s);
    if (s.from === this.table.self.name) this.counters.suspicionsRaised++;
    m.incarnation = s.incarnation;
    this.table.setState(m, 'suspect');
    m.lastChange = this.now;

    // k confirmations reach the minimum timeout, and one more a step below (math.ts).
    const n = this.table.liveCount();
    const k = expectedConfirmations(this.config.suspicionMult, n);
    const min = suspicionTimeout(this.config.suspicionMult, n, this.config.probeIntervalMs);
    const max = this.config.suspicionMaxTimeoutMult * min;
    m.suspicion = new Suspicion(s.from, k, this.now, min, max);
    m.suspicion.firstHand = ownProbe;
    this.rescheduleSuspicion(m);
    this.emitEvent('suspect', m);
  }

  private rescheduleSuspicion(m: Member): void {
    const suspicion = m.suspicion;
    if (!suspicion) return;
    this.timers.cancel(m.suspicionTimer);
    m.suspicionTimer = this.timers.set(Math.max(this.now, suspicion.deadline()), () =>
      this.suspicionExpired(m, suspicion),
    );
  }

  private clearSuspicion(m: Member): void {
    this.timers.cancel(m.suspicionTimer);
    m.suspicion = undefined;
    m.suspicionTimer = undefined;
    m.lastHeard = undefined;
  }

  private suspicionExpired(m: Member, suspicion: Suspicion): void {
    // A member reaped since loses its suspicion with its record.
    if (m.suspicion !== suspicion || m.state !== 'suspect') return;
    // Grace: gossip is probabilistic, and with loss a node can miss every copy of a
    // refutation. Before acting on second-hand news only, or when the suspect has sent us
    // something since the suspicion began (so it runs), probe it ourselves, with the
    // suspicion attached, and wait two probe intervals: a live node answers with its
    // current incarnation (refute() or correct()), even one that was stalled when the
    // probe arrived. The nodes holding first-hand evidence declare without this delay, and
    // their verdict reaches the others, so real failures are not detected later.
    const heard = (m.lastHeard ?? -Infinity) > suspicion.startMs;
    if (suspicion.graceUntil === undefined && !this.leaving && (!suspicion.firstHand || heard)) {
      const interval = this.awareness.scale(this.config.probeIntervalMs);
      suspicion.graceUntil = this.now + 2 * interval; // Stryker disable next-line BooleanLiteral: firstHand is read only while graceUntil is undefined, which it is no longer
      suspicion.firstHand = false;
      this.probe(this.now, m, interval);
      this.rescheduleSuspicion(m);
      return;
    }
    this.onDead({ t: 'dead', incarnation: m.incarnation, node: m.name, from: this.table.self.name });
  }

  private onDead(d: Dead, from?: Endpoint): void {
    const m = this.table.get(d.node);
    if (!m) return;
    if (d.incarnation < m.incarnation) {
      if (m === this.table.self && from) this.correct(from);
      return;
    }
    this.clearSuspicion(m);
    if (m.state === 'left') return d.from === d.node ? undefined : this.passOnLeave(m, from);
    if (m.state === 'dead') return this.takeLateLeave(m, d);
    if (m === this.table.self) {
      if (!this.leaving) this.refute(d.incarnation, d.from);
      return;
    }
    this.broadcast(m.name, d);
    if (d.from === this.table.self.name) this.counters.deathsDeclared++;
    m.incarnation = d.incarnation;
    const left = d.from === d.node;
    if (!left) {
      this.newDeaths.push(m.name);
      if (from) this.deathSources.add(endpointKey(from));
    }
    this.table.setState(m, left ? 'left' : 'dead');
    m.lastChange = this.now;
    this.emitEvent(left ? 'leave' : 'dead', m);
  }

  /**
   * A member held dead says itself that it left: its leave lost the race against our failure
   * detection, which is common when a leaving node stops soon after. memberlist keeps it dead;
   * we take the node's own word (signed, with identity on), so a graceful leave ends as left on
   * every node, and pass it on so that others who also declared it dead converge.
   */
  private takeLateLeave(m: Member, d: Dead): void {
    if (d.from !== d.node || m === this.table.self) return;
    this.broadcast(m.name, d);
    m.incarnation = d.incarnation;
    this.table.setState(m, 'left');
    m.lastChange = this.now;
    this.emitEvent('leave', m);
  }

  /**
   * A member we hold left is accused by the sender of this packet: a holder of `left` relays
   * no claims, so the sender missed the leave (it was deaf while the leave went out) and now
   * suspects a node that has stopped. Answer with the leave itself (signed, with identity on)
   * so it ends at left within a probe round, rather than at dead until a push/pull comes by.
   * Only to a member's own address, and once per probe interval per leaver, so a forged
   * claim cannot make us reflect leaves at others.
   */
  private passOnLeave(m: Member, to: Endpoint | undefined): void {
    if (!to || (m.toldAt ?? -Infinity) + this.config.probeIntervalMs > this.now) return;
    if (!this.table.atEndpoint(to.addr, to.port)) return;
    m.toldAt = this.now;
    // The leave we still gossip, if we do, so that piggybacking does not send it twice.
    const queued = this.queue.peek(m.name);
    this.outbox.send(to, [queued?.t === 'dead' && queued.from === m.name ? queued : this.leaveOf(m)]);
  }

  private leaveOf(m: Member): Dead {
    if (m === this.table.self) return this.selfLeave();
    const leave: Dead = { t: 'dead', incarnation: m.incarnation, node: m.name, from: m.name };
    if (m.leaveSig) leave.sig = m.leaveSig;
    if (m.proof) leave.cert = m.proof.cert;
    return leave;
  }

  private onAlive(a: Alive, quiet: boolean): void {
    const me = this.table.self;
    if (a.node.name === me.name) return this.onAliveAboutSelf(a);

    let m = this.table.get(a.node.name);
    let isNew = false;
    let moved = false;
    if (m && (m.addr !== a.node.addr || m.port !== a.node.port)) {
      // Same name, new address: a restart elsewhere. memberlist refuses it until a reclaim
      // time passes (#157, #222); we accept it as soon as the old life is over, or the new
      // one proves it is newer by a higher incarnation (it refuted the old one). With
      // identity on only the latter: an old signed alive from another address is a replay
      // (a restarted node's incarnation, seconds since the epoch, is higher anyway).
      if (((m.state === 'dead' || m.state === 'left') && !this.auth) || a.incarnation > m.incarnation) {
        moved = true;
      } else {
        this.counters.addressConflicts++;
        return;
      }
    }
    if (m && !moved && a.incarnation <= m.incarnation) return;
    // Only news gets this far, so each (node, incarnation) is verified about once.
    if (!this.admitAlive(a)) return;
    if (!m) {
      // Held as announced: a join, with nothing more to change (N² times while a simulated
      // cluster forms).
      m = this.table.add({
        name: a.node.name,
        addr: a.node.addr,
        port: a.node.port,
        meta: a.meta,
        incarnation: a.incarnation,
        state: 'alive',
        lastChange: this.now,
      });
      isNew = true;
    }
    if (this.auth) {
      m.vouched = a.incarnation;
      m.proof = a.sig && a.cert ? { sig: a.sig, cert: this.auth.certRef(a.cert) } : undefined;
      m.leaveSig = undefined;
    }

    if (isNew) {
      if (!quiet) this.broadcast(m.name, a);
      this.emitEvent('join', m);
      return;
    }

    this.clearSuspicion(m);
    const oldState = m.state;
    const metaChanged = !bytesEqual(m.meta, a.meta);
    if (!quiet) this.broadcast(m.name, a);
    m.incarnation = a.incarnation;
    this.table.move(m, a.node.addr, a.node.port, a.meta);
    this.table.setState(m, 'alive');

    let event: MemberEventType | undefined;
    if (oldState === 'dead' || oldState === 'left') event = 'join';
    else if (oldState === 'suspect') event = 'alive';
    else if (metaChanged || moved) event = 'update';
    if (event) {
      m.lastChange = this.now;
      this.emitEvent(event, m);
    }
  }

  private onAliveAboutSelf(a: Alive): void {
    const me = this.table.self;
    if (this.leaving || a.incarnation < me.incarnation) return;
    if (
      a.incarnation === me.incarnation &&
      a.node.addr === me.addr &&
      a.node.port === me.port &&
      bytesEqual(a.meta, me.meta)
    )
      return;
    // With identity on, only a life of ours that signed it (a restart elsewhere) makes us outbid it.
    if (!this.admitAlive(a)) return;
    // Someone holds a different picture of us at our incarnation or above: a previous
    // life at another address, or metadata we no longer have. Outbid it.
    this.refute(a.incarnation);
  }

  /**
   * A member we hold suspect or dead is sending us packets: it runs, and we missed its
   * refutation, or it never learnt of our verdict (the gossip went out while we were cut
   * off from it). Tell it directly, at most once per probe interval; it answers with a
   * refutation (refute() sends it straight back to us) or its current incarnation
   * (correct()), so a stale view heals as soon as the member talks to us instead of
   * lingering until the suspicion times out or a push/pull comes by.
   */
  private tellVerdict(m: Member): void {
    if (this.leaving || (m.toldAt ?? -Infinity) + this.config.probeIntervalMs > this.now) return;
    m.toldAt = this.now;
    const me = this.table.self.name;
    this.outbox.send(m, [
      m.state === 'dead'
        ? { t: 'dead', incarnation: m.incarnation, node: m.name, from: me }
        : { t: 'suspect', incarnation: m.incarnation, node: m.name, from: me },
    ]);
  }

  /**
   * Someone sent us a stale accusation (an incarnation we already refuted): they missed
   * our refutation. Tell them directly rather than wait for gossip or push/pull to.
   */
  private correct(to: Endpoint): void {
    if (this.leaving) return;
    const me = this.table.self;
    if (this.outbox.queuedFor(to).some((m) => m.t === 'alive' && m.node.name === me.name)) return;
    // Reuse the queued announcement if current, so piggybacking does not send it twice.
    const queued = this.queue.peek(me.name); // Stryker disable next-line StringLiteral: selfAlive() returns the very object queued while it is current (it caches it), so passing the queued one over sends the same message
    this.outbox.send(to, [queued?.t === 'alive' && queued.incarnation === me.incarnation ? queued : this.selfAlive()]);
  }

  /**
   * Bounded incarnations, and why we reject rather than wrap: memberlist keeps them in a
   * uint32 and lets refute() wrap around, after which the refutation is smaller than the
   * accusation and every node ignores it, so the accused is declared dead while running.
   * Here the codec rejects anything above MAX_INCARNATION, and news is dropped (counted)
   * when it is implausible, so that a key holder cannot push a member out of reach:
   *  - any incarnation more than incarnationLeadS seconds ahead of our clock (honest ones
   *    start at the clock and grow by one per refutation or metadata change);
   *  - an accusation of another member more than ACCUSATION_SLACK above the incarnation we
   *    know for it: an honest accuser accuses an incarnation the member announced, and
   *    announcements reach us too (a restart's jump arrives as the member's own alive).
   * The accused refutes whatever it finds plausible by the same rule, unless +1 would leave
   * its window (refute()); it refutes once its clock has moved on, when told again. So what
   * a key holder can still do is bounded by the clock: a member whose clock is behind its
   * peers' by d can be kept from refuting for about d seconds, or ACCUSATION_SLACK seconds
   * while the attack lasts. Per-node signatures (issue 13) are what would remove it.
   */
  private incarnationLimit(): number {
    const lead = this.config.incarnationLeadS;
    return lead > 0 ? Math.min(MAX_INCARNATION, Math.floor(this.now / 1000) + lead) : MAX_INCARNATION;
  }

  private plausible(incarnation: number, subject: string, accusation = false): boolean {
    let ok = incarnation <= this.incarnationLimit();
    if (ok && accusation && subject !== this.table.self.name) {
      const m = this.table.get(subject);
      ok = m === undefined || incarnation <= m.incarnation + ACCUSATION_SLACK;
    }
    if (!ok) this.counters.implausibleIncarnations++;
    return ok;
  }

  private refute(accused: number, accuser?: string): void {
    const me = this.table.self;
    if (accused >= this.incarnationLimit()) {
      // Outbidding it would leave the window our peers accept (or the valid range): wait
      // until our clock has moved on; the accusation will be told to us again.
      this.counters.implausibleIncarnations++;
      return;
    }
    me.incarnation = Math.max(me.incarnation + 1, accused + 1);
    // Lifeguard: having to refute means others could not hear us in time; we may be the slow one.
    this.awareness.applyDelta(1);
    this.counters.refutations++;
    const a = this.selfAlive();
    this.broadcast(me.name, a);
    // The accuser holds first-hand evidence and will not wait for more (see
    // suspicionExpired): tell it directly instead of trusting gossip to reach it in time.
    const accuserMember = accuser !== undefined && accuser !== me.name ? this.table.get(accuser) : undefined;
    if (accuserMember && isLive(accuserMember)) this.outbox.send(accuserMember, [a]);
  }

  // ---------------------------------------------------------------- dissemination

  /**
   * A round with nothing queued sends nothing, so rounds stop once the queue is empty and
   * broadcast() starts them again (wakeGossip): an idle node is not woken every gossip
   * interval (5 times a second on lan) for nothing. Rounds keep to one grid, so news waits
   * for the next round just as with rounds that never stop; only news queued by a timer at
   * the very instant of a round waits for the round after.
   */
  private gossipRound(now: number): void {
    this.gossipScheduled = false;
    this.sendGossip(this.config.gossipNodes);
    if (this.queue.size > 0) this.scheduleGossip(now);
  }

  /** Something was queued: the next round, unless one is due already. */
  private wakeGossip(): void {
    if (!this.gossipScheduled && this.gossipPhase !== undefined) this.scheduleGossip(this.now);
  }

  /** The round of the grid strictly after `after` (a round due then has run already). */
  private scheduleGossip(after: number): void {
    const i = this.config.gossipIntervalMs;
    const phase = this.gossipPhase!;
    this.gossipScheduled = true;
    this.timers.set(phase + (Math.floor((after - phase) / i) + 1) * i, (t) => this.gossipRound(t));
  }

  /** End of an input: flood new deaths, then turn the queued messages into outputs. */
  private flush(): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: with no new deaths floodDeaths finds nothing queued and returns (deathSources fills only beside newDeaths)
    if (this.newDeaths.length > 0) this.floodDeaths();
    this.outbox.flush();
  }

  /**
   * A verdict of death we did not hold before (declared or learnt) goes out at once, in
   * a gossip packet to gossipNodes live members, instead of waiting up to a gossip
   * interval at every hop. memberlist gets a fast spread for free, since every node
   * holding the suspicion declares at about the same time; here nodes with second-hand
   * suspicions wait out a grace period (suspicionExpired), so the verdict's first hops
   * decide how soon everyone agrees. Each copy is one of the update's transmit-limited
   * sends, so the total number of copies is the same as without the flood, and only a
   * new death (never a leave, which nobody waits on, nor other updates) triggers one:
   * at most gossipNodes packets per node per death.
   */
  private floodDeaths(): void {
    const keys = this.newDeaths.splice(0);
    const exclude = new Set(this.deathSources);
    this.deathSources.clear();
    // Still queued (not sent or replaced by newer news within this input)?
    const queued = keys.filter((k) => this.queue.peek(k)?.t === 'dead');
    if (queued.length === 0) return;
    const targets = this.table.sample(
      this.config.gossipNodes,
      (m) => m.state === 'alive' && !exclude.has(endpointKey(m)),
    );
    for (const target of targets) if (!this.outbox.gossip(target, queued)) return;
  }

  private sendGossip(fanout: number): void {
    // Stryker disable next-line ConditionalExpression: with an empty queue outbox.gossip sends nothing and ends the loop at the first target; the guard only saves drawing the sample
    if (this.queue.size === 0) return;
    const deadline = this.now - this.config.gossipToTheDeadTimeMs;
    // Recently dead members are included: if they were declared dead wrongly, this is how
    // they hear of it and refute.
    const targets = this.table.sample(fanout, (m) => isLive(m) || (m.state === 'dead' && m.lastChange > deadline));
    for (const target of targets) if (!this.outbox.gossip(target)) return;
  }

  /** Queue an update for piggybacking; one too large for any datagram goes out by stream instead. */
  private broadcast(key: string, msg: PacketMessage, onDone?: () => void): void {
    // Memoised: gossip hands the same message object on, so each is encoded once.
    const bytes = this.measureShared(msg);
    if (bytes + this.config.messageOverhead > this.outbox.budget) {
      const targets = this.table.sample(this.transmitLimit(), isLive);
      for (const t of targets) {
        this.counters.oversizeToStream++;
        this.outbox.stream(t, msg);
      }
      onDone?.();
      return;
    }
    this.queue.enqueue(key, msg, bytes, onDone);
    this.wakeGossip();
  }

  private transmitLimit(): number {
    return Math.max(1, retransmitLimit(this.config.retransmitMult, this.table.liveCount()));
  }

  // ---------------------------------------------------------------- anti-entropy and healing

  private pushPullRound(now: number, first = false): void {
    // The first sync falls at our phase of the interval scaled to the cluster we found by then
    // (memberlist's falls within the unscaled one): a large cluster started or restarted at
    // once would otherwise have every node send and merge all N entries within the same 30 s
    // (10,000 nodes: 10^8 entries each way), instead of spread over its scaled interval as
    // every later sync is.
    if (first) {
      const due = this.startedAt + Math.floor(this.pushPullPhase * this.pushPullInterval());
      if (due > now) {
        this.timers.set(due, (t) => this.pushPullRound(t));
        return;
      }
    }
    if (!this.leaving) {
      const [peer] = this.table.sample(1, (m) => m.state === 'alive');
      if (peer) {
        this.counters.pushPulls++;
        this.outbox.stream(peer, this.fullState(false));
      }
    }
    this.timers.set(now + this.pushPullInterval(), (t) => this.pushPullRound(t));
  }

  private pushPullInterval(): number {
    return pushPullScale(this.config.pushPullIntervalMs, this.table.liveCount());
  }

  private maintenanceInterval(): number {
    return this.config.healIntervalMs > 0 ? this.config.healIntervalMs : 10_000;
  }

  private maintenanceRound(now: number): void {
    this.reap(now);
    if (this.config.healIntervalMs > 0 && !this.leaving) this.healRound();
    this.timers.set(now + this.maintenanceInterval(), (t) => this.maintenanceRound(t));
  }

  /**
   * memberlist never looks back at members it declared dead, so an isolated node, or two
   * halves of a healed partition, stay apart for good. Here each node, every heal
   * interval, push-pulls with one dead member or one seed that is not a live member.
   * Like serf's reconnect, the chance is (#candidates / #live peers), so a lone failure
   * costs about one attempt per interval cluster-wide while a split retries at full rate.
   */
  private healRound(): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: with nobody dead the walk finds nobody; the count only saves it
    const candidates: Endpoint[] = this.table.dead() > 0 ? this.table.inStates('dead') : [];
    // Stryker disable next-line ConditionalExpression,EqualityOperator: with no seeds the loop over them adds nothing
    if (this.seeds.length > 0) {
      // Stryker disable next-line ArrayDeclaration: healing runs only while we are alive, so the loop below adds our endpoint anyway (and join() never keeps it as a seed)
      const live = new Set<string>([endpointKey(this.table.self)]);
      for (const m of this.table.values()) if (isLive(m)) live.add(endpointKey(m));
      for (const s of this.seeds) if (!live.has(endpointKey(s))) candidates.push(s);
    }
    if (candidates.length === 0) return;
    const peers = this.table.liveOthers();
    // Stryker disable next-line ConditionalExpression: there is a candidate here, so with no peers candidates.length / 0 is Infinity and min(1, Infinity) is 1
    const chance = peers === 0 ? 1 : Math.min(1, candidates.length / peers);
    if (this.rng.next() >= chance) return;
    const target = candidates[randomInt(this.rng, candidates.length)];
    this.counters.healAttempts++;
    this.outbox.stream(target, this.fullState(false));
  }

  private reap(now: number): void {
    // Most rounds find nobody to reap; walking all N members every round for nothing was an
    // eighth of the simulator's CPU at 1,000 nodes.
    // Stryker disable next-line ConditionalExpression: with nobody dead or left the walk below finds nobody to reap; the guard only saves the walk
    if (this.table.gone() === 0) return;
    const cutoff = now - this.config.reapAfterMs;
    const doomed = this.table.inStates('dead', 'left').filter((m) => m.lastChange <= cutoff);
    for (const m of doomed) {
      this.table.remove(m);
      this.emitEvent('reap', m);
    }
  }

  /**
   * Our full state. With identity on, each entry carries its member's signed alive and
   * names the certificate by reference, whole only where the peer may lack it: in a reply,
   * each certificate the peer's own push did not name (a joining node names none but its
   * own); in a push we start, only ours. A receiver that lacks one refuses that entry,
   * counted, and pulls (pullCertificates): its push lists the member without it.
   */
  private fullState(join: boolean, peerKnows?: ReadonlySet<string>): PushPull {
    const states: PushNodeState[] = [];
    for (const m of this.table.values()) states.push(this.pushEntry(m, peerKnows));
    return { t: 'push-pull', join, states };
  }

  private pushEntry(m: Member, peerKnows: ReadonlySet<string> | undefined): PushNodeState {
    // Without proofs, the table's entry: one per member and state, shared by the tables of
    // the process, so the simulator's N nodes no longer build N² entries per interval.
    if (!this.auth) return this.table.entryOf(m) as PushNodeState;
    const e: PushNodeState = {
      node: { name: m.name, addr: m.addr, port: m.port },
      incarnation: m.incarnation,
      state: m.state,
      meta: m.meta,
    };
    const proof = this.proofOf(m);
    if (!proof) return e;
    e.sig = proof.sig;
    e.cert = proof.ref;
    if (proof.leave) e.leave = proof.leave;
    if (peerKnows ? !peerKnows.has(refKey(proof.ref)) : m === this.table.self) e.cert = proof.der;
    return e;
  }

  /** The certificates a peer's push shows it holds: those its entries name, whole or by reference. */
  private certsKnownTo(msg: PushPull): Set<string> | undefined {
    if (!this.auth || !Array.isArray(msg.states)) return undefined;
    const known = new Set<string>();
    for (const s of msg.states) if (isPushNodeState(s) && s.cert) known.add(refKey(this.auth.certRef(s.cert)));
    return known;
  }

  private mergeChecked(msg: PushPull): boolean {
    if (!Array.isArray(msg.states)) {
      this.reject();
      return false;
    }
    try {
      this.merge(msg.states);
    } catch {
      this.reject();
    }
    return true;
  }

  /**
   * Merge a peer's full state. Remote deaths become suspicions (memberlist's rule: let the
   * node refute rather than trust a possibly stale verdict). When we knew nobody before,
   * nothing learnt is re-gossiped: there is no one who could need it, and a joining node
   * re-announcing all N members is what makes memberlist joins cost N² messages.
   */
  private merge(states: readonly unknown[]): void {
    const quiet = this.table.liveOthers() === 0;
    const me = this.table.self.name;
    for (const s of states) {
      if (!isPushNodeState(s)) {
        this.reject();
        continue;
      }
      if (!this.plausible(s.incarnation, s.node.name, s.state !== 'alive')) continue;
      if (this.auth && !this.mergeSigned(s, quiet)) continue;
      // Most entries of a push/pull repeat what we hold: drop those before building an alive
      // for each (a sixth of what the simulator allocated at 1,000 nodes).
      // Stryker disable next-line ConditionalExpression,LogicalOperator: onAlive drops the same entries at its first checks; this only saves the allocation
      if (s.state === 'alive' && this.holdsAlive(s)) continue;
      // Not spread from a conditional object: this runs for every entry of every push/pull.
      const alive: Alive = { t: 'alive', incarnation: s.incarnation, node: s.node, meta: s.meta };
      if (s.sig && s.cert) {
        alive.sig = s.sig;
        alive.cert = s.cert;
      }
      switch (s.state) {
        case 'alive':
          this.onAlive(alive, quiet);
          break;
        case 'suspect':
          // A suspect is still a member: learn it, then share the suspicion.
          if (!this.table.get(s.node.name)) this.onAlive(alive, quiet);
          this.onSuspect({ t: 'suspect', incarnation: s.incarnation, node: s.node.name, from: me }, quiet);
          break;
        case 'dead':
          this.onSuspect({ t: 'suspect', incarnation: s.incarnation, node: s.node.name, from: me }, quiet);
          break;
        case 'left':
          this.onDead({ t: 'dead', incarnation: s.incarnation, node: s.node.name, from: s.node.name });
          break;
      }
    }
  }

  /** An alive entry that onAlive would drop at once: a member other than us, at the same address, at this incarnation or a later one. */
  private holdsAlive(s: PushNodeState): boolean {
    return this.table.holdsAt(s.node.name, s.node.addr, s.node.port, s.incarnation);
  }

  /**
   * With identity on, a push/pull entry is only as good as the signature it carries: an
   * entry newer than what we hold is first taken as the node's signed alive (which it
   * must verify as), and a suspect or dead entry must then name an incarnation the node
   * signed; a left entry needs the node's signed leave. False: skip the entry.
   */
  private mergeSigned(s: PushNodeState, quiet: boolean): boolean {
    const name = s.node.name;
    if (s.state === 'left') return this.admitLeave(name, s.incarnation, s.leave, s.cert);
    if (s.state === 'alive') return true; // onAlive verifies it
    const m = this.table.get(name);
    // Stryker disable next-line UnaryOperator: with identity on, onAlive (the only place members are added) sets vouched, so for a member other than us the fallback is never used
    if (name !== this.table.self.name && (!m || s.incarnation > (m.vouched ?? -1))) {
      this.onAlive(
        {
          t: 'alive',
          incarnation: s.incarnation,
          node: s.node,
          meta: s.meta,
          ...(s.sig && s.cert ? { sig: s.sig, cert: s.cert } : {}),
        },
        quiet,
      );
    }
    return this.vouched(s.incarnation, name);
  }

  // ---------------------------------------------------------------- helpers

  /** What proves a member's current state to others (push/pull): its certificate's reference and DER. */
  private proofOf(m: Member): { sig: Uint8Array; ref: Uint8Array; der: Uint8Array; leave?: Uint8Array } | undefined {
    const auth = this.auth!;
    if (m === this.table.self) {
      const a = this.selfAlive();
      // Stryker disable next-line ConditionalExpression: proofOf runs only with identity on, and then selfAlive always signs
      if (!a.sig) return undefined;
      const leave = m.state === 'left' ? { leave: this.selfLeave().sig } : {};
      return { sig: a.sig, ref: auth.ownCert(false), der: auth.ownCert(true), ...leave };
    }
    if (!m.proof || m.vouched !== m.incarnation) return undefined;
    const der = auth.certificate(m.proof.cert);
    if (!der) return undefined;
    const leave = m.state === 'left' && m.leaveSig ? { leave: m.leaveSig } : {};
    return { sig: m.proof.sig, ref: m.proof.cert, der, ...leave };
  }

  private selfAlive(): Alive {
    const me = this.table.self;
    const cached = this.ownAlive;
    if (
      cached &&
      cached.incarnation === me.incarnation &&
      // Stryker disable next-line ConditionalExpression: our address never changes after construction (onAlive moves only other members)
      cached.node.addr === me.addr &&
      // Stryker disable next-line ConditionalExpression: our port never changes after construction (onAlive moves only other members)
      cached.node.port === me.port &&
      cached.meta === me.meta
    )
      return cached;
    const a: Alive = {
      t: 'alive',
      incarnation: me.incarnation,
      node: { name: me.name, addr: me.addr, port: me.port },
      meta: me.meta,
    };
    if (this.auth) {
      // The certificate goes out whole in our first alive (the join announcement) and after
      // a renewal; later alives name it by reference, which peers have learnt by then (a
      // peer that has not asks us, or the relay, by push/pull: pullCertificates).
      const ref = this.auth.ownCert(false);
      const full = !this.announcedCert || !bytesEqual(ref, this.announcedCert);
      this.announcedCert = ref;
      a.sig = this.auth.sign('alive', aliveBytes(a));
      a.cert = full ? this.auth.ownCert(true) : ref;
    }
    this.ownAlive = a;
    return a;
  }

  private selfLeave(): Dead {
    const me = this.table.self;
    const d: Dead = { t: 'dead', incarnation: me.incarnation, node: me.name, from: me.name };
    if (this.auth) {
      d.sig = this.auth.sign('leave', leaveBytes(me.name, me.incarnation));
      d.cert = this.auth.ownCert(false);
    }
    return d;
  }

  private nextSeq(): number {
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    return this.seq;
  }

  private jitter(interval: number): number {
    return Math.floor(this.rng.next() * interval);
  }

  private emitEvent(type: MemberEventType, m: Member): void {
    this.outbox.push({ kind: 'event', type, member: this.table.view(m) });
  }
}

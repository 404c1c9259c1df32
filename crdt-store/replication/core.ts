// The replication core: a LocalStore plus everything that keeps it in step with the
// other nodes, as a sans-IO state machine. It never touches a socket, a clock or
// Math.random: time comes in with every call, randomness from the injected Rng, and what
// it wants sent comes out of takeOutputs(). The daemon's driver (store-node.ts) and the
// simulator (props/sim/store-cluster.ts) drive the same core:
//
//   const core = new StoreCore({ store, rng, now });
//   core.setMembers(now, [{ name, addr, port }, ...])     live members (routing and liveness)
//   datagram in   -> core.receivePacket(now, from, bytes)
//   stream in     -> reply = core.receiveStream(now, from, bytes); send reply back if defined
//   stream reply  -> core.receiveStreamReply(now, from, bytes)
//   stream failed -> core.streamFailed(now, to)
//   clock reaches core.nextDeadline() -> core.tick(now)
//   local writes  -> core.store.update(...), then as after every call:
//   for (const o of core.takeOutputs(now)) ...       (or give an `emit` callback instead)
//     { kind: 'packet', to, bytes }            one datagram (bytes.length <= udpPayload)
//     { kind: 'stream', to, bytes, request }   one stream frame; if request, feed the reply back
//
// Nothing from the network throws: undecodable or invalid messages are counted by reason
// in stats().rejects and dropped; the store is never touched by them.
//
// Only members are heard. A datagram must come from a live member's store address and
// port; a stream (whose source port is the sender's ephemeral one) from a live member's
// address. Datagrams from an unknown sender wait a little (heldPacketMs, at most
// heldPackets of them) instead of being dropped at once: a node that has just joined
// pushes to peers that may not have heard of it yet, and its first changes should not
// have to wait for repair. A stream from an unknown sender is refused; its repair retries.
// Addresses are not proof (UDP can be spoofed): the keyring is what keeps strangers out.

import type { Rng } from '../../base/rng.js';
import type { LocalChange, LocalStore } from '../local-store.js';
import { DEFAULTS } from '../defaults.js';
import { ownDocId } from '../names.js';
import { selfContained } from './self-contained.js';
import { Digest } from './digest.js';
import { Endpoints } from './endpoints.js';
import { FastPath, type FastPathConfig, type FastPathStats } from './fast-path.js';
import { Repair, type Peer, type RepairConfig, type RepairStats } from './repair.js';
import { BroadcastRing } from './ring.js';
import { decode, encode, encodedSize, NO_FORWARD, REJECT_REASONS, type Message, type RejectReason } from './wire.js';

export type { Peer } from './repair.js';

export interface ReplicationConfig extends FastPathConfig, RepairConfig {
  /** Children per node in the eager broadcast tree (ring.ts): depth is ceil(log_F N). */
  treeFanout: number;
  /** Mean time between anti-entropy rounds (each one is jittered to 0.5x-1.5x). */
  repairIntervalMs: number;
  /** How often the reaping rule runs. */
  reapCheckMs: number;
  /** Documents unused for one to two of these periods hibernate (LocalStore.hibernateIdle). */
  hibernateEveryMs: number;
  /** How long a datagram from a sender not (yet) known as a member waits for it to become one. */
  heldPacketMs: number;
  /** At most this many such datagrams wait at once (the oldest is dropped first). */
  heldPackets: number;
  /** A start's new epoch waits this long for the node's first write, to go out with it (defaults.ts says why). */
  ownEpochHoldMs: number;
}

/** The defaults, with their reasons, live in crdt-store/defaults.ts. */
export const DEFAULT_REPLICATION: ReplicationConfig = DEFAULTS.replication;

export interface Member {
  name: string;
  addr: string;
  port: number;
  /** An agent from before certificate references (rolling upgrade): it is sent self-contained auth records. */
  selfContainedAuth?: boolean;
}

/** The path a remote change came in by: an eager push, a graft's answer, or a repair session. */
export type ArrivalPath = 'push' | 'graft' | 'repair';

export type StoreOutput = ({ kind: 'packet'; to: Peer } | { kind: 'stream'; to: Peer; request: boolean }) & {
  readonly bytes: Uint8Array;
  /** With StoreCoreOptions.shareMessages only: the message, handed on whole, and its size (SharedOutput). */
  readonly shared?: SharedMessage;
};

/** A message a simulator hands to its receiver whole (StoreCoreOptions.shareMessages), and the size of its bytes. */
export interface SharedMessage {
  readonly msg: Message;
  readonly size: number;
}

/**
 * An output of a core that shares its messages: its bytes are made only if read (a test
 * that compares them). The simulator needs the message and its size, and a push's bytes,
 * made once per child and held while the packet is in flight, were most of what forming a
 * simulated cluster kept through its young collections.
 */
class SharedOutput implements SharedMessage {
  constructor(
    readonly kind: 'packet' | 'stream',
    readonly to: Peer,
    readonly msg: Message,
    readonly size: number,
    readonly request: boolean,
  ) {}

  /** It is its own message and size: no second object per output. */
  get shared(): SharedMessage {
    return this;
  }

  get bytes(): Uint8Array {
    return encode(this.msg);
  }
}

export interface ReplicationStats {
  fastPath: FastPathStats;
  repair: RepairStats;
  rejects: Record<RejectReason, number>;
  packetsOut: number;
  packetBytesOut: number;
  streamsOut: number;
  streamBytesOut: number;
  packetsIn: number;
  packetBytesIn: number;
  streamsIn: number;
  streamBytesIn: number;
  /** Messages to a member we no longer know (dropped). */
  unroutable: number;
  /** Datagrams from a sender not yet known as a member, taken once it became one. */
  heldReplayed: number;
  members: number;
  digestDocs: number;
}

export interface StoreCoreOptions {
  store: LocalStore;
  rng: Rng;
  now: number;
  config?: Partial<ReplicationConfig>;
  /**
   * Takes each output the moment it is made, instead of takeOutputs(): a push is then
   * forwarded before this node spends time applying it, so a tree's depth does not add
   * up every hop's apply time. It must not call back into the core.
   */
  emit?: (output: StoreOutput) => void;
  /**
   * An output carries the message it encodes and its size (`shared`), for a simulator to
   * hand to the receiving core instead of bytes: every simulated node would otherwise decode
   * every push. Its bytes are counted, and made only if read.
   */
  shareMessages?: boolean;
}

const sizeOf = (input: Uint8Array | SharedMessage): number => (input instanceof Uint8Array ? input.length : input.size);

export class StoreCore {
  readonly store: LocalStore;
  readonly config: ReplicationConfig;
  private readonly rng: Rng;
  private readonly digest = new Digest();
  private readonly eager: BroadcastRing;
  private readonly lazy = new BroadcastRing(1);
  private readonly fast: FastPath;
  private readonly repair: Repair;
  private members = new Map<string, Peer>();
  private memberList: string[] = [];
  /** Every member's store endpoint (and so every member address): who is heard. */
  private memberEndpoints = new Endpoints();
  /** Store endpoints of members that read only self-contained auth records (self-contained.ts). */
  private legacyEndpoints = new Endpoints();
  private held: { at: number; from: Peer; packet: Uint8Array | SharedMessage }[] = [];
  private outbox: LocalChange[] = [];
  /** The new epoch's first change, until the node's first write or ownEpochAt. */
  private ownEpoch: LocalChange | undefined;
  private ownEpochAt = Infinity;
  private outputs: StoreOutput[] = [];
  private readonly emit: ((o: StoreOutput) => void) | undefined;
  private readonly shareMessages: boolean;
  /** What the core is applying right now (a watch handler called from inside it reads this). */
  private via: ArrivalPath | undefined;
  private nextRepairAt: number;
  private nextReapAt: number;
  private nextHibernateAt: number;
  private readonly rejects = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  private readonly io = {
    packetsOut: 0,
    packetBytesOut: 0,
    streamsOut: 0,
    streamBytesOut: 0,
    packetsIn: 0,
    packetBytesIn: 0,
    streamsIn: 0,
    streamBytesIn: 0,
    unroutable: 0,
    heldReplayed: 0,
  };

  constructor(opts: StoreCoreOptions) {
    this.store = opts.store;
    this.rng = opts.rng;
    this.config = { ...DEFAULT_REPLICATION, ...opts.config };
    this.emit = opts.emit;
    this.shareMessages = opts.shareMessages ?? false;
    this.eager = new BroadcastRing(0, this.config.treeFanout);
    const send = (to: string | Peer, msg: Message, mode: 'auto' | 'request' = 'auto') => this.send(to, msg, mode);
    this.fast = new FastPath(this.store.name, this.store, this.eager, this.lazy, this.config, send);
    this.repair = new Repair(this.store, this.digest, this.config, send, this.rng);
    this.eager.setMembers([this.store.name]);
    this.lazy.setMembers([this.store.name]);
    for (const d of this.store.documents()) this.digest.set(d.id, d.epoch, d.headsHash());
    this.store.observe({
      localChange: (c) => this.outbox.push(c),
      docUpdated: (d) => this.digest.set(d.id, d.epoch, d.headsHash()),
      docRemoved: (id) => this.digest.remove(id),
    });
    this.holdOwnEpoch(opts.now);
    this.nextRepairAt = opts.now + this.repairDelay();
    this.nextReapAt = opts.now + this.config.reapCheckMs;
    this.nextHibernateAt = opts.now + this.config.hibernateEveryMs;
  }

  // ------------------------------------------------------------ inputs

  /** The live members (alive or suspect in membership), this node excluded or not. */
  /**
   * `members` are the peers to replicate with; `alive` names the owners whose records the
   * live view shows (default: the same). They differ while a live member's store endpoint
   * is not known yet: it is alive, but cannot be sent to.
   */
  setMembers(now: number, members: readonly Member[], alive?: readonly string[]): void {
    const next = new Map<string, Peer>();
    for (const m of members) if (m.name !== this.store.name) next.set(m.name, m);
    const names = [...next.keys()];
    const changed = names.length !== this.memberList.length || names.some((n) => !this.members.has(n));
    this.members = next;
    this.memberEndpoints = new Endpoints(next.values());
    const legacy = members.filter((m) => m.selfContainedAuth && m.name !== this.store.name);
    this.legacyEndpoints = new Endpoints(legacy);
    if (changed) {
      this.memberList = names;
      this.eager.setMembers([this.store.name, ...names]);
      this.lazy.setMembers([this.store.name, ...names]);
    }
    this.store.setAlive(alive ?? names);
    this.replayHeld(now);
    this.flush(now);
  }

  /**
   * A datagram: its bytes, or, from a simulator that hands its nodes' messages on whole
   * (StoreCoreOptions.shareMessages), the message and its size, not decoded.
   */
  receivePacket(now: number, from: Peer, packet: Uint8Array | SharedMessage): void {
    this.io.packetsIn++;
    this.io.packetBytesIn += sizeOf(packet);
    this.expireHeld(now);
    if (!this.memberEndpoints.has(from)) {
      this.hold(now, from, packet);
      return;
    }
    this.take(now, from, packet);
    this.flush(now);
  }

  /** A stream from a peer (bytes, or a message as receivePacket's); the return value, if any, is its reply. */
  receiveStream(now: number, from: Peer, stream: Uint8Array | SharedMessage): Uint8Array | undefined {
    this.io.streamsIn++;
    this.io.streamBytesIn += sizeOf(stream);
    if (!this.memberEndpoints.hasAddr(from.addr)) {
      this.rejects.not_member++;
      return undefined;
    }
    const msg = this.messageOf(stream);
    let reply: Message | undefined;
    if (msg?.t === 'sync') reply = this.arriving('repair', () => this.repair.onSync(now, from, msg));
    else if (msg) this.handle(now, from, msg);
    this.flush(now);
    // A stream comes from an ephemeral port: a legacy member at that address gets the old form.
    if (reply && this.legacyEndpoints.hasAddr(from.addr)) reply = selfContained(reply, this.certOf);
    if (!reply) return undefined;
    const bytes = encode(reply);
    this.count(bytes.length, 'stream');
    return bytes;
  }

  /** The reply to a stream this core asked to open with request: true. */
  receiveStreamReply(now: number, from: Peer, bytes: Uint8Array): void {
    this.io.streamBytesIn += bytes.length;
    if (bytes.length === 0) return; // the peer had nothing to say
    const msg = this.decode(bytes);
    if (msg?.t === 'sync-reply') this.arriving('repair', () => this.repair.onSyncReply(now, from, msg));
    else if (msg) this.rejects.unexpected++;
    this.flush(now);
  }

  /** A stream this core asked for could not be delivered (or its reply never came). */
  streamFailed(now: number, to: Peer): void {
    this.repair.failed(to);
    this.flush(now);
  }

  tick(now: number): void {
    this.expireHeld(now);
    this.fast.tick(now);
    this.repair.tick(now);
    const again = this.repair.takeContinuation();
    if (again && !this.repair.busy) this.repair.begin(again);
    if (now >= this.nextRepairAt) {
      this.nextRepairAt = now + this.repairDelay();
      const peer = this.randomMember();
      if (peer) this.repair.begin(peer);
    }
    if (now >= this.nextReapAt) {
      this.nextReapAt = now + this.config.reapCheckMs;
      this.store.reap();
    }
    if (now >= this.nextHibernateAt) {
      this.nextHibernateAt = now + this.config.hibernateEveryMs;
      this.store.hibernateIdle();
    }
    this.flush(now);
  }

  nextDeadline(): number {
    return Math.min(
      this.nextRepairAt,
      this.nextReapAt,
      this.nextHibernateAt,
      this.ownEpochAt,
      this.fast.nextDeadline(),
      this.repair.nextDeadline(),
    );
  }

  /** What to send; pushes what local writes changed since the last call. */
  takeOutputs(now: number): StoreOutput[] {
    this.flush(now);
    const out = this.outputs;
    this.outputs = [];
    return out;
  }

  // ------------------------------------------------------------ observation

  stats(): ReplicationStats {
    return {
      fastPath: { ...this.fast.stats },
      repair: { ...this.repair.stats },
      rejects: { ...this.rejects, bad_change: this.fast.badChanges, bad_sync: this.repair.badSync },
      ...this.io,
      members: this.members.size,
      digestDocs: this.digest.size,
    };
  }

  /**
   * The path of the remote change being applied, when called from a watch handler the core
   * set off (undefined otherwise): for measuring which path late updates took.
   */
  arrivalPath(): ArrivalPath | undefined {
    return this.via;
  }

  /** The digest root: equal on two nodes when they hold the same documents at the same heads. */
  digestRoot(): number {
    return this.digest.root();
  }

  // ------------------------------------------------------------ internals

  private handle(now: number, from: Peer, msg: Message): void {
    switch (msg.t) {
      case 'push':
        this.arriving(msg.limit === NO_FORWARD ? 'graft' : 'push', () => this.fast.onPush(now, from, msg));
        return;
      case 'ihave':
        this.fast.onIHave(now, from, msg);
        return;
      case 'graft':
        this.fast.onGraft(from, msg);
        return;
      case 'digest':
        this.repair.onDigest(from, msg.root);
        return;
      case 'groups':
        this.repair.onGroups(now, from, msg.groups);
        return;
      default:
        this.rejects.unexpected++; // a session message outside a stream
    }
  }

  private arriving<T>(via: ArrivalPath, f: () => T): T {
    this.via = via;
    try {
      return f();
    } finally {
      this.via = undefined;
    }
  }

  private take(now: number, from: Peer, packet: Uint8Array | SharedMessage): void {
    const msg = this.messageOf(packet);
    if (msg) this.handle(now, from, msg);
  }

  private messageOf(input: Uint8Array | SharedMessage): Message | undefined {
    return input instanceof Uint8Array ? this.decode(input) : input.msg;
  }

  private hold(now: number, from: Peer, packet: Uint8Array | SharedMessage): void {
    if (this.config.heldPackets <= 0) {
      this.rejects.not_member++;
      return;
    }
    if (this.held.length >= this.config.heldPackets) {
      this.held.shift();
      this.rejects.not_member++;
    }
    this.held.push({ at: now, from, packet });
  }

  private expireHeld(now: number): void {
    let n = 0;
    while (n < this.held.length && now - this.held[n]!.at >= this.config.heldPacketMs) n++;
    if (n === 0) return;
    this.held.splice(0, n);
    this.rejects.not_member += n;
  }

  /** Datagrams held for senders that are members now are taken, in arrival order. */
  private replayHeld(now: number): void {
    this.expireHeld(now);
    if (this.held.length === 0) return;
    const keep: typeof this.held = [];
    const ready: typeof this.held = [];
    for (const h of this.held) (this.memberEndpoints.has(h.from) ? ready : keep).push(h);
    this.held = keep;
    for (const h of ready) {
      this.io.heldReplayed++;
      this.take(now, h.from, h.packet);
    }
  }

  private decode(bytes: Uint8Array): Message | undefined {
    const r = decode(bytes);
    if (r.ok) return r.msg;
    this.rejects[r.reason]++;
    return undefined;
  }

  private flush(now: number): void {
    if (this.ownEpoch && (this.outbox.length > 0 || now >= this.ownEpochAt)) {
      this.outbox.unshift(this.ownEpoch);
      this.ownEpoch = undefined;
      this.ownEpochAt = Infinity;
    }
    if (this.outbox.length === 0) return;
    const changes = this.outbox;
    this.outbox = [];
    this.fast.originate(now, changes);
  }

  private send(to: string | Peer, msg: Message, mode: 'auto' | 'request'): void {
    const peer = typeof to === 'string' ? this.members.get(to) : to;
    if (!peer) {
      this.io.unroutable++;
      return;
    }
    const sent = this.legacyEndpoints.has(peer) ? selfContained(msg, this.certOf) : msg;
    const bytes = this.shareMessages ? undefined : encode(sent);
    const size = bytes?.length ?? encodedSize(sent);
    const kind = mode === 'auto' && size <= this.config.udpPayload ? 'packet' : 'stream';
    this.count(size, kind);
    let out: StoreOutput;
    if (bytes === undefined) out = new SharedOutput(kind, peer, sent, size, mode === 'request') as StoreOutput;
    else if (kind === 'packet') out = { kind, to: peer, bytes };
    else out = { kind, to: peer, bytes, request: mode === 'request' };
    if (this.emit) this.emit(out);
    else this.outputs.push(out);
  }

  private readonly certOf = (auth: Uint8Array): Uint8Array | undefined => this.store.certsFor([auth])[0];

  private count(size: number, kind: 'packet' | 'stream'): void {
    if (kind === 'packet') {
      this.io.packetsOut++;
      this.io.packetBytesOut += size;
    } else {
      this.io.streamsOut++;
      this.io.streamBytesOut += size;
    }
  }

  private randomMember(): Peer | undefined {
    if (this.memberList.length === 0) return undefined;
    return this.members.get(this.memberList[Math.floor(this.rng.next() * this.memberList.length)]);
  }

  private repairDelay(): number {
    return this.config.repairIntervalMs * (0.5 + this.rng.next());
  }

  /**
   * A fresh epoch (every start) is pushed with the node's first write, or alone after
   * ownEpochHoldMs, so peers switch without waiting for repair.
   */
  private holdOwnEpoch(now: number): void {
    const own = this.store.doc(ownDocId(this.store.name));
    const heads = own?.heads() ?? [];
    if (!own || heads.length !== 1) return;
    const change = own.getChange(heads[0]);
    if (!change) return;
    this.ownEpoch = { docId: own.id, epoch: own.epoch, hash: heads[0], change, auth: own.auths.get(heads[0]) };
    this.ownEpochAt = now + this.config.ownEpochHoldMs;
  }
}

// The store for real networks: the replication core (replication/core.ts) wired to a
// UDP/TCP transport, a data directory and a real clock. This file owns time, sockets
// and files, and makes no replication decision.
//
// Transport: the store has its own port, served by membership's Transport class (one
// UDP socket and one TCP listener, bounded inbound streams, frame limits). Riding on
// membership's broadcast() instead was rejected: that path retransmits every payload
// ~4 log N times through SWIM's piggyback queue, only fits one packet, has no streams
// for repair, and would share the failure detector's packets and queue with bulk data.
// Peers are found through membership: a member's store listens on its gossip address at
// `peerPort(member)`, by default its gossip port plus the offset this node uses.
//
// Durability: update(..., { durable: true }) resolves once the write is fsynced. Writes
// made in the same event-loop turn share one fsync (group commit).

import { randomBytes } from 'node:crypto';
import { DeadlineTimer } from '../base/deadline-timer.js';
import { Keyring } from '../membership/keyring.js';
import { Xoshiro128 } from '../base/rng.js';
import { Transport, type TransportStats } from '../membership/transport.js';
import type { KeyOwnerRule } from './admission.js';
import { DEFAULTS } from './defaults.js';
import { sealedHello } from '../membership/stream-hello.js';
import { Envelope, ENVELOPE_REJECTS, type EnvelopeReject } from './envelope.js';
import { StoreValueError, type Json } from './json-value.js';
import type { ChangeAuth } from './change-auth.js';
import type { LocalStore, LocalStoreStats, Mutator, ReadOptions, UpdateOptions, UpdateResult } from './local-store.js';
import type { JournalStats, StoreFileError } from './persist/journal.js';
import { openMemoryStore, openStore, type OpenedStore } from './persist/open.js';
import {
  StoreCore,
  type ArrivalPath,
  type Member,
  type Peer,
  type ReplicationConfig,
  type ReplicationStats,
  type StoreOutput,
} from './replication/core.js';
import type { StoreRecord, WatchHandler } from './views.js';

/** What the store needs of membership (membership/membership.ts's Membership fits). */
export interface SourceMember {
  name: string;
  addr: string;
  port: number;
  state: string;
  meta?: Uint8Array;
}

export interface MembershipSource {
  members(): readonly SourceMember[];
  on(event: 'change', listener: () => void): unknown;
  off(event: 'change', listener: () => void): unknown;
}

export interface StoreNodeOptions {
  /** This node's name (the same as in membership). */
  name: string;
  /** The data directory (created if missing); undefined keeps the store in memory only. */
  dataDir: string | undefined;
  /** Address and port for the store's UDP socket and TCP listener (port 0: any free one). */
  bind: string;
  port: number;
  membership: MembershipSource;
  /** Own gossip port, to derive peers' store ports (default: the members' entry for `name`). */
  gossipPort?: number;
  /**
   * With identity on: does a member read auth records by certificate reference? One that
   * does not (an older agent, in a rolling upgrade) is sent self-contained records. Default: all do.
   */
  readsCertRefs?: (member: SourceMember) => boolean;
  /**
   * With identity on: does a member read batch-signed auth records? This node signs bursts
   * of its changes in batches only while every live member does. Default: all do.
   */
  readsBatchSigs?: (member: SourceMember) => boolean;
  /** Where a member's store listens; default: its gossip address, gossip port + (port - gossipPort). */
  peerEndpoint?: (member: SourceMember) => Peer;
  /** Cluster label and encryption keys (base64 AES-256, first encrypts), as for gossip. */
  label?: string;
  keys?: readonly string[];
  /**
   * The keyring to seal and open with, instead of one made from `keys`: give gossip's, so
   * that one rotation (add, use, remove) covers gossip and the store at the same moment.
   */
  keyring?: Keyring;
  /** Which document each key belongs in (LocalStoreOptions.keyOwner; weft's: records/schema.ts recordOwner). */
  keyOwner?: KeyOwnerRule;
  /** Identity (LocalStoreOptions.auth): sign own changes, check everyone's. */
  auth?: ChangeAuth;
  /** Largest UDP datagram, envelope included. Default 1200. */
  udpBytes?: number;
  replication?: Partial<Omit<ReplicationConfig, 'udpPayload'>>;
  reapAfterMs?: number;
  /** Stream connect/exchange timeout. Default 10 s. */
  streamTimeoutMs?: number;
  /** Failures that were absorbed, for the log (context is a short fixed phrase). */
  onError?: (err: Error, context: string) => void;
}

export interface StoreNodeStats {
  store: LocalStoreStats;
  replication: ReplicationStats;
  journal: JournalStats;
  transport: TransportStats;
  envelopeRejects: Record<EnvelopeReject, number>;
  streamFailures: number;
}

const clock = (): number => performance.timeOrigin + performance.now();

export class StoreNode {
  readonly name: string;
  /** What start-up found wrong with the data directory (it started anyway). */
  readonly problems: readonly StoreFileError[];
  private readonly envelopeRejects = Object.fromEntries(ENVELOPE_REJECTS.map((r) => [r, 0])) as Record<
    EnvelopeReject,
    number
  >;
  private streamFailures = 0;
  private readonly timer: DeadlineTimer;
  private flushScheduled = false;
  private durableWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private closed = false;
  private refreshScheduled = false;
  /**
   * Membership reports every member event; a join of N nodes is N events, each of which
   * would walk every member. One refresh per event-loop turn sees them all.
   */
  private readonly onMembers = () => {
    if (this.refreshScheduled) return;
    this.refreshScheduled = true;
    setImmediate(() => {
      this.refreshScheduled = false;
      this.refreshMembers();
    });
  };

  private constructor(
    private readonly opts: StoreNodeOptions,
    private readonly transport: Transport,
    private readonly core: StoreCore,
    private readonly opened: OpenedStore,
    private readonly envelope: Envelope,
    private readonly peerEndpoint: (m: SourceMember) => Peer,
    readonly local: Peer,
  ) {
    this.name = opts.name;
    this.problems = opened.problems;
    this.timer = new DeadlineTimer(clock, (now) => {
      if (this.closed) return;
      this.core.tick(now);
      this.flush();
    });
  }

  /** Opens the data directory, binds the port, and starts replicating with the members membership reports. */
  static async start(opts: StoreNodeOptions): Promise<StoreNode> {
    const onError = opts.onError ?? (() => {});
    const keyring = opts.keyring ?? (opts.keys?.length ? new Keyring(opts.keys) : undefined);
    const envelope = new Envelope({ label: opts.label ?? '', keyring });
    const storeOpts = {
      name: opts.name,
      clock,
      reapAfterMs: opts.reapAfterMs,
      keyOwner: opts.keyOwner,
      auth: opts.auth,
      onError: (e: unknown, ctx: string) => onError(asError(e), ctx),
    };
    const opened = opts.dataDir === undefined ? openMemoryStore(storeOpts) : openStore(opts.dataDir, storeOpts);
    for (const p of opened.problems) onError(p, 'data directory');
    const transport = new Transport({ onError, hello: sealedHello(envelope) });
    let local: Peer;
    try {
      local = await transport.bind(opts.bind, opts.port);
    } catch (err) {
      opened.close();
      throw err;
    }
    const gossipPort = opts.gossipPort ?? opts.membership.members().find((m) => m.name === opts.name)?.port;
    const offset = gossipPort === undefined ? undefined : local.port - gossipPort;
    const peerEndpoint =
      opts.peerEndpoint ??
      ((m: { addr: string; port: number }) => {
        if (offset === undefined)
          throw new Error("crdt-store: cannot tell peers' store ports: give gossipPort or peerEndpoint");
        return { addr: m.addr, port: m.port + offset };
      });
    // eslint-disable-next-line prefer-const -- the core's emit reads it before the node exists; a const there would throw
    let node: StoreNode | undefined;
    const core = new StoreCore({
      store: opened.store,
      rng: new Xoshiro128(randomBytes(4).readUInt32LE()),
      now: clock(),
      config: { ...opts.replication, udpPayload: (opts.udpBytes ?? DEFAULTS.udpBytes) - envelope.overhead },
      // Sent as soon as made: a forwarded push leaves before this node applies it.
      emit: (out) => node?.perform(out),
    });
    node = new StoreNode(opts, transport, core, opened, envelope, peerEndpoint, local);
    transport.onPacket((from, buf) => node.onPacket(from, buf));
    transport.onRequest((from, body) => node.onRequest(from, body));
    opts.membership.on('change', node.onMembers);
    node.refreshMembers();
    return node;
  }

  // ------------------------------------------------------------ the store API

  get store(): LocalStore {
    return this.core.store;
  }

  get(key: string, opts?: ReadOptions): StoreRecord | undefined {
    return this.core.store.get(key, opts);
  }

  keys(prefix = '', opts?: ReadOptions): string[] {
    return this.core.store.keys(prefix, opts);
  }

  /** LocalStore.writerOf. */
  writerOf(key: string, opts?: ReadOptions): string | undefined {
    return this.core.store.writerOf(key, opts);
  }

  /** LocalStore.versionOf. */
  versionOf(key: string, opts?: ReadOptions): number | undefined {
    return this.core.store.versionOf(key, opts);
  }

  entries(prefix = '', opts?: ReadOptions): StoreRecord[] {
    return this.core.store.entries(prefix, opts);
  }

  watch(prefix: string, handler: WatchHandler, opts?: ReadOptions): () => void {
    return this.core.store.watch(prefix, handler, opts);
  }

  /** As LocalStore.update; resolves once on disk if durable; rejects with StoreValueError for a bad key or value (nothing written). */
  async update(key: string, mutator: Mutator, opts: UpdateOptions = {}): Promise<UpdateResult> {
    const r = this.core.store.update(key, mutator, { ...opts, durable: false });
    await this.afterWrite(opts.durable === true); // even unchanged: the value it reports must be on disk
    return r;
  }

  async put(key: string, value: Json, opts: UpdateOptions = {}): Promise<UpdateResult> {
    if (value === undefined) throw new StoreValueError('value is undefined: use delete() to remove a key');
    return this.update(key, () => value, opts);
  }

  async delete(key: string, opts: UpdateOptions = {}): Promise<boolean> {
    const r = this.core.store.delete(key, { ...opts, durable: false });
    await this.afterWrite(opts.durable === true);
    return r;
  }

  /** Deletes every key of `keys` in one change per document (one fsync if durable); resolves with how many there were. */
  async deleteAll(keys: string[], opts: UpdateOptions = {}): Promise<number> {
    const n = this.core.store.batch(
      () => keys.filter((k) => this.core.store.delete(k, { ...opts, durable: false })).length,
    );
    await this.afterWrite(opts.durable === true);
    return n;
  }

  stats(): StoreNodeStats {
    return {
      store: this.core.store.stats(),
      replication: this.core.stats(),
      journal: this.opened.journal?.stats() ?? { logBytes: 0, snapshotBytes: 0, compactions: 0, syncs: 0 },
      transport: this.transport.stats(),
      envelopeRejects: { ...this.envelopeRejects },
      streamFailures: this.streamFailures,
    };
  }

  /** StoreCore.arrivalPath: which path the change a watch handler is told of came by. */
  arrivalPath(): ArrivalPath | undefined {
    return this.core.arrivalPath();
  }

  /** The anti-entropy digest root: equal on two nodes when they hold the same documents at the same heads. */
  digestRoot(): number {
    return this.core.digestRoot();
  }

  /** Writes out what is buffered, closes the port and the files. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opts.membership.off('change', this.onMembers);
    this.timer.stop();
    this.flush();
    await this.transport.close();
    for (const w of this.durableWaiters.splice(0)) w.resolve(); // flushed above, and synced by close below
    this.opened.journal?.sync();
    this.opened.close();
  }

  // ------------------------------------------------------------ internals

  private afterWrite(durable: boolean): Promise<void> {
    this.scheduleFlush();
    if (!durable) return Promise.resolve();
    return new Promise((resolve, reject) => this.durableWaiters.push({ resolve, reject }));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends what the core has for the network, writes the journal, acknowledges durable writes, re-arms the timer. */
  private flush(): void {
    if (this.closed && this.durableWaiters.length === 0) return;
    for (const out of this.core.takeOutputs(clock())) this.perform(out);
    const waiters = this.durableWaiters.splice(0);
    try {
      if (waiters.length > 0) this.opened.journal?.sync();
      else this.opened.journal?.flush();
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(asError(err));
      this.opts.onError?.(asError(err), 'journal write');
    }
    this.arm();
  }

  /** Sends one output of the core (called by the core as it makes them). */
  private perform(out: StoreOutput): void {
    if (this.closed) return;
    if (out.kind === 'packet') {
      this.transport.sendPacket(out.to, this.envelope.seal(out.bytes));
      return;
    }
    void this.stream(out.to, out.bytes, out.request);
  }

  private async stream(to: Peer, bytes: Uint8Array, request: boolean): Promise<void> {
    try {
      const reply = await this.transport.request(
        to,
        this.envelope.seal(bytes),
        this.opts.streamTimeoutMs ?? DEFAULTS.streamTimeoutMs,
      );
      if (this.closed || !request) return;
      if (reply.length === 0) {
        this.core.receiveStreamReply(clock(), to, new Uint8Array(0));
      } else {
        const opened = this.envelope.open(reply);
        if (!opened.ok) {
          this.envelopeRejects[opened.reason]++;
          this.core.streamFailed(clock(), to);
        } else {
          this.core.receiveStreamReply(clock(), to, opened.body);
        }
      }
    } catch (err) {
      this.streamFailures++;
      this.opts.onError?.(asError(err), 'store stream');
      if (!this.closed && request) this.core.streamFailed(clock(), to);
    }
    this.flush();
  }

  private onPacket(from: Peer, buf: Buffer): void {
    if (this.closed) return;
    const opened = this.envelope.open(buf);
    if (!opened.ok) {
      this.envelopeRejects[opened.reason]++;
      return;
    }
    this.core.receivePacket(clock(), from, opened.body);
    this.flush();
  }

  private async onRequest(from: Peer, body: Buffer): Promise<Uint8Array | undefined> {
    if (this.closed) return undefined;
    const opened = this.envelope.open(body);
    if (!opened.ok) {
      this.envelopeRejects[opened.reason]++;
      return undefined;
    }
    const reply = this.core.receiveStream(clock(), from, opened.body);
    this.flush();
    return reply && this.envelope.seal(reply);
  }

  private refreshMembers(): void {
    if (this.closed) return;
    const peers: Member[] = [];
    const alive: string[] = [];
    let batches = true;
    for (const m of this.opts.membership.members()) {
      if (m.name === this.name || (m.state !== 'alive' && m.state !== 'suspect')) continue;
      alive.push(m.name);
      if (this.opts.readsBatchSigs?.(m) === false) batches = false;
      try {
        const legacy = this.opts.auth !== undefined && this.opts.readsCertRefs?.(m) === false;
        peers.push({ name: m.name, ...this.peerEndpoint(m), ...(legacy ? { selfContainedAuth: true } : {}) });
      } catch (err) {
        this.opts.onError?.(asError(err), 'peer endpoint');
      }
    }
    this.store.signsInBatches(batches);
    this.core.setMembers(clock(), peers, alive);
    this.flush();
  }

  private arm(): void {
    if (!this.closed) this.timer.arm(this.core.nextDeadline());
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

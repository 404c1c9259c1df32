// The SWIM driver for real networks: the sans-IO core (membership/core) wired to the
// UDP/TCP transport, the wire codec and a real clock. This file owns time and sockets
// and nothing else; every protocol decision is the core's.
//
// The API follows swim-js and memberlist: start, join, leave, members, updateMeta, and
// events join / alive / update / suspect / dead / leave / reap, each also emitted as `change`.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { DEFAULTS } from './defaults.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  SwimCore,
  makeConfig,
  seededRng,
  type Endpoint,
  type MemberView,
  type Output,
  type SwimConfig,
  type SwimStats,
} from './core/index.js';
import {
  REJECT_REASONS,
  codecEnvelope,
  isRejectReason,
  decodePacket,
  decodeStream,
  encodePacket,
  encodeStream,
  encodedSize,
  packetOverhead,
  type RejectReason,
  type WireOptions,
} from './codec.js';
import { Keyring } from './keyring.js';
import { Transport, type TransportStats } from './transport.js';
import { sealedHello } from './stream-hello.js';
import { ReplayWindow } from './replay-window.js';
import { DeadlineTimer } from '../base/deadline-timer.js';
import type { Message } from './messages.js';
import type { MemberAuth } from './core/member-auth.js';

export interface MembershipOptions {
  name: string;
  bindAddr: string;
  bindPort: number;
  /** Address others reach us at; defaults to the bound address (must be an IP literal). */
  advertiseAddr?: string;
  config?: SwimConfig;
  /** Cluster label: packets from another label are rejected. */
  label?: string;
  /** Base64 AES-256 keys; the first encrypts. Empty: plain packets with a CRC. */
  keys?: readonly string[];
  /** A keyring to use instead of one made from `keys` (the agent's, shared with the store). */
  keyring?: Keyring;
  meta?: Uint8Array;
  /**
   * Also accept encrypted packets without a sender time, as agents from before replay
   * protection send them: for a rolling upgrade of an encrypted cluster (see codec.ts).
   */
  acceptUnstamped?: boolean;
  /** Signed membership (issue 13): see core/member-auth.ts and member-signer.ts. Without it, unsigned. */
  auth?: MemberAuth;
  /** Absorbed failures (send errors, bad streams), for the log. */
  onError?: (err: Error, context: string) => void;
}

export type MemberEvent = 'join' | 'alive' | 'update' | 'suspect' | 'dead' | 'leave' | 'reap';

/** A member as the API and CLI show it: times in wall-clock ms. */
export interface MemberInfo extends Omit<MemberView, 'lastChange' | 'meta'> {
  meta: Uint8Array;
  lastChange: number;
}

export class Membership extends EventEmitter {
  readonly name: string;
  readonly keyring: Keyring | undefined;
  readonly rejects: Record<RejectReason, number>;
  /** Streams we opened that failed (peer down, timeout). */
  streamFailures = 0;
  /** Outgoing messages dropped because they could not be encoded (a bug or a value we should never have accepted). */
  encodeFailures = 0;
  /** Exceptions thrown by our own event listeners, absorbed so they cannot stop gossip. */
  listenerErrors = 0;
  private encodeFailureLogged = false;

  private readonly core: SwimCore;
  private readonly wire: WireOptions;
  private readonly config: SwimConfig;
  // A timer callback is outside every socket handler's try/catch: an exception here would
  // be uncaught and end the process, so nothing may escape it.
  private readonly timer = new DeadlineTimer(
    () => this.now(),
    (now) => {
      try {
        this.core.tick(now);
      } catch (e) {
        this.opts.onError?.(e as Error, 'membership timer');
      }
      this.flush();
    },
  );
  private closed = false;
  private leaveWaiters: (() => void)[] = [];
  /** Told of each join push-pull's outcome: a reply (true), or a failure or refusal (false). */
  private joinWaiters: ((ok: boolean) => void)[] = [];

  private constructor(
    private readonly transport: Transport,
    local: Endpoint,
    private readonly opts: MembershipOptions,
    wire: WireOptions,
    rejects: Record<RejectReason, number>,
  ) {
    super();
    this.rejects = rejects;
    this.name = opts.name;
    this.config = { ...(opts.config ?? makeConfig(DEFAULTS.preset)) };
    this.keyring = wire.keyring;
    this.wire = wire;
    // The core packs compounds with the codec's exact sizes rather than its own estimate.
    // (0xffff messages: the widest array header, so any compound the core builds fits.)
    this.config.packetOverhead = packetOverhead(this.wire, 0xffff);
    this.config.messageOverhead = 0;
    this.core = new SwimCore({
      self: { name: opts.name, addr: local.addr, port: local.port },
      meta: opts.meta,
      config: this.config,
      rng: seededRng(randomBytes(4).readUInt32LE()),
      now: this.now(),
      // Every node derives the same probe order from a shared clock, so a dead member is
      // probed within one interval instead of whenever its turn comes in N random rings.
      alignedProbing: true,
      // Seconds since the epoch: a restarted node outranks every stale rumour about its previous life.
      incarnation: Math.floor(Date.now() / 1000),
      measure: (m) => encodedSize(m as Message),
      auth: opts.auth,
    });
    transport.onPacket((from, buf) => this.onPacket(from, buf));
    transport.onRequest((from, body) => this.onRequest(from, body));
  }

  /** Binds the gossip sockets and starts probing (alone until join). */
  static async start(opts: MembershipOptions): Promise<Membership> {
    const keyring = opts.keyring ?? (opts.keys?.length ? new Keyring(opts.keys) : undefined);
    const wire: WireOptions = {
      label: opts.label ?? '',
      keyring,
      replay: new ReplayWindow(),
      acceptUnstamped: opts.acceptUnstamped,
    };
    // Streams open with a hello sealed like our packets: no large read before it authenticates.
    const rejects = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
    const hello = sealedHello(
      codecEnvelope(wire),
      (reason) => (rejects[isRejectReason(reason) ? reason : 'malformed'] += 1),
    );
    const transport = new Transport({ onError: opts.onError, hello });
    const bound = await transport.bind(opts.bindAddr, opts.bindPort);
    const advertise = opts.advertiseAddr || bound.addr;
    if (isIP(advertise) === 0) {
      await transport.close();
      throw new Error(`advertise address ${advertise} must be an IP address`);
    }
    const m = new Membership(transport, { addr: advertise, port: bound.port }, opts, wire, rejects);
    m.flush();
    return m;
  }

  /** The address:port gossip is bound to. */
  get local(): Endpoint {
    const me = this.core.localMember();
    return { addr: me.addr, port: me.port };
  }

  /**
   * Contacts the seeds (host:port) by push/pull. Resolves with how many answered within the
   * TCP timeout; the core keeps retrying the seeds on its own (healing), so 0 is not final.
   */
  async join(seeds: readonly string[]): Promise<number> {
    const endpoints = (await Promise.all(seeds.map(resolveSeed))).flat();
    const own = this.local;
    const others = endpoints.filter((e) => !(e.addr === own.addr && e.port === own.port));
    if (others.length === 0) return 0;
    let answered = 0;
    let settled = 0;
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.config.tcpTimeoutMs).unref();
      this.joinWaiters.push((ok) => {
        if (ok) answered++;
        if (++settled === others.length) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    this.core.join(this.now(), others);
    this.flush();
    await done;
    this.joinWaiters = [];
    return answered;
  }

  /** Gossips our departure and waits until it has spread (or timeoutMs), then stops probing. */
  async leave(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    const left = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs).unref();
      this.leaveWaiters.push(() => (clearTimeout(timer), resolve()));
    });
    this.core.leave(this.now());
    this.flush();
    await left;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer.stop();
    await this.transport.close();
  }

  members(): MemberInfo[] {
    return this.core.members().map((m) => this.info(m));
  }

  /** How long a dead or left member is kept before it is forgotten (the preset's, or gossip.reapAfter). */
  get reapAfterMs(): number {
    return this.config.reapAfterMs;
  }

  localMember(): MemberInfo {
    return this.info(this.core.localMember());
  }

  updateMeta(meta: Uint8Array): void {
    this.core.updateMeta(this.now(), meta);
    this.flush();
  }

  /**
   * A revocation arrived (or certificates may have expired): members out of standing are
   * declared dead at once, and their gossip is refused from now on.
   */
  standingChanged(): void {
    this.core.standingChanged(this.now());
    this.flush();
  }

  /** Our certificate was renewed: a new incarnation announces it, whole, to everyone. */
  identityRenewed(): void {
    this.core.updateMeta(this.now(), this.core.localMember().meta);
    this.flush();
  }

  /** weft force-leave: a member dead here at incarnation `upTo` or earlier becomes left (Swim.forceLeave). */
  forceLeave(name: string, upTo: number): boolean {
    const changed = this.core.forceLeave(this.now(), name, upTo);
    this.flush();
    return changed;
  }

  /** Broadcast an opaque payload to every member (for layers above membership). */
  broadcast(data: Uint8Array): void {
    this.core.broadcastUser(this.now(), data);
    this.flush();
  }

  stats(): {
    swim: SwimStats;
    transport: TransportStats;
    rejects: Record<RejectReason, number>;
    streamFailures: number;
    encodeFailures: number;
    listenerErrors: number;
  } {
    return {
      swim: this.core.stats(),
      transport: this.transport.stats(),
      rejects: { ...this.rejects },
      streamFailures: this.streamFailures,
      encodeFailures: this.encodeFailures,
      listenerErrors: this.listenerErrors,
    };
  }

  /**
   * Monotonic (immune to NTP steps, unlike Date.now) yet on the wall-clock scale, so that
   * NTP-synced nodes agree on probe rounds and lastChange reads as epoch milliseconds.
   */
  private now(): number {
    return performance.timeOrigin + performance.now();
  }

  private info(m: MemberView): MemberInfo {
    return { ...m, lastChange: Math.round(m.lastChange) };
  }

  private onPacket(from: Endpoint, buf: Buffer): void {
    if (this.closed) return;
    const r = decodePacket(buf, this.wire);
    if (!r.ok) {
      this.rejects[r.reason]++;
      return;
    }
    this.core.receive(this.now(), from, r.msgs);
    this.flush();
  }

  private async onRequest(from: Endpoint, body: Buffer): Promise<Buffer | undefined> {
    if (this.closed) return undefined;
    const r = decodeStream(body, this.wire);
    if (!r.ok) {
      this.rejects[r.reason]++;
      return undefined;
    }
    let reply: Message | undefined;
    for (const msg of r.msgs) reply = this.core.receiveStream(this.now(), from, msg) ?? reply;
    this.flush();
    return reply ? this.encode(() => encodeStream([reply], this.wire)) : undefined;
  }

  /** Encodes, or drops the message: counted, logged the first time, never thrown. */
  private encode(fn: () => Buffer): Buffer | undefined {
    try {
      return fn();
    } catch (e) {
      this.encodeFailures++;
      if (!this.encodeFailureLogged) {
        this.encodeFailureLogged = true;
        this.opts.onError?.(e as Error, 'gossip encode (message dropped; further failures are only counted)');
      }
      return undefined;
    }
  }

  /** Carries out everything the core asked for, then re-arms the timer for its next deadline. */
  private flush(): void {
    if (this.closed) return;
    for (const out of this.core.takeOutputs()) this.perform(out);
    this.timer.arm(this.core.nextDeadline());
  }

  private emitSafely(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (e) {
      this.listenerErrors++;
      this.opts.onError?.(e as Error, `membership ${event} listener`);
    }
  }

  private perform(out: Output): void {
    switch (out.kind) {
      case 'packet': {
        const buf = this.encode(() => encodePacket(out.msgs, this.wire));
        if (buf) this.transport.sendPacket(out.to, buf);
        break;
      }
      case 'stream':
        void this.stream(out.to, out.msg);
        break;
      case 'event':
        this.emitSafely(out.type, this.info(out.member));
        this.emitSafely('change', { type: out.type, member: this.info(out.member) });
        break;
      case 'user':
        this.emitSafely('user', out.data, out.from);
        break;
      case 'left':
        for (const w of this.leaveWaiters.splice(0)) w();
        break;
    }
  }

  private async stream(to: Endpoint, msg: Message): Promise<void> {
    const joining = msg.t === 'push-pull' && msg.join;
    let replied = false;
    try {
      const body = this.encode(() => encodeStream([msg], this.wire));
      if (!body) return;
      const reply = await this.transport.request(to, body, this.config.tcpTimeoutMs);
      if (this.closed || reply.length === 0) return;
      const r = decodeStream(reply, this.wire);
      if (!r.ok) {
        this.rejects[r.reason]++;
        return;
      }
      for (const m of r.msgs) {
        if (m.t !== 'push-pull') continue;
        this.core.receiveStreamReply(this.now(), to, m);
        replied = true;
      }
      this.flush();
    } catch (e) {
      this.streamFailures++;
      this.opts.onError?.(e as Error, 'gossip stream');
    } finally {
      // An empty reply is a peer that refused us (wrong label or key): that seed has answered, negatively.
      if (joining) for (const w of this.joinWaiters) w(replied);
    }
  }
}

async function resolveSeed(seed: string): Promise<Endpoint[]> {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(seed);
  if (!m) return [];
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (isIP(host)) return [{ addr: host, port }];
  try {
    return (await lookup(host, { all: true })).map((a) => ({ addr: a.address, port }));
  } catch {
    return [];
  }
}

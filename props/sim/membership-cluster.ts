// A cluster of simulated hosts running SwimCore, with the faults the properties and the
// benchmark inject, and the questions they ask ("does everyone agree on who is live?").
//
// Later layers (the CRDT store, DNS) reuse the same world: `host(name)` gives the SimHost
// to bind their own app on another port, and `onEvent` feeds them membership changes.

import type { PushPull } from '../../membership/messages.js';
import { makeConfig, type SwimConfig } from '../../membership/core/config.js';
import type { Endpoint, MemberEventOutput, MemberView } from '../../membership/core/outputs.js';
import { Xoshiro128 } from '../../base/rng.js';
import type { MeasureFn } from '../../membership/core/size.js';
import { SwimCore } from '../../membership/core/swim.js';
import { MemberRegistry } from '../../membership/core/member-registry.js';
import type { MemberAuth } from '../../membership/core/member-auth.js';
import { SimHost } from './host.js';
import { SimNetwork, type LinkProfile, type TrafficCounters } from './network.js';
import { Scheduler } from './scheduler.js';
import { SwimApp } from './swim-app.js';

export const GOSSIP_PORT = 7946;

export interface MembershipClusterOptions {
  nodes: number;
  seed?: number;
  config?: SwimConfig;
  link?: Partial<LinkProfile>;
  /**
   * 'instant' (default): every node starts knowing every other, as after a long quiet
   * period; 'join': every node joins through the first one, staggered by joinStaggerMs.
   */
  form?: 'instant' | 'join';
  joinStaggerMs?: number;
  /** Size measure for the cores' packing and the stream byte counts (default: msgpackr size of the plain object). */
  measure?: MeasureFn;
  /** Node names; default node-0, node-1, ... */
  name?: (i: number) => string;
  /** Cluster-aligned probe rounds (the virtual clock is shared); default true. */
  alignedProbing?: boolean;
  /** How far each node's clock is off the simulation's (default: none). */
  skewMs?: (name: string) => number;
  /** Each timer of each node fires late by a uniform draw in [0, timerLateMs) ms (SimHost.timerLate); default 0. */
  timerLateMs?: number;
  /** Signed membership per node (issue 13; membership/core/member-auth.ts); default none: unsigned. */
  memberAuth?: (name: string) => MemberAuth | undefined;
  /** One MemberRegistry for every node's member table (default true), or one each as in separate processes. */
  shareRegistry?: boolean;
}

export interface RecordedEvent {
  at: number;
  /** Who saw it. */
  observer: string;
  type: MemberEventOutput['type'];
  member: MemberView;
  /** For dead events: was the subject's process actually running (a false death)? */
  subjectUp: boolean;
}

export interface SimMember {
  readonly name: string;
  readonly host: SimHost;
  app: SwimApp | undefined;
  /** Left gracefully: not expected in anyone's live set any more. */
  left: boolean;
}

/** How long the daemon waits for its leave to go out before it stops anyway (membership.ts). */
const LEAVE_TIMEOUT_MS = 5_000;

export class MembershipCluster {
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  readonly config: SwimConfig;
  private readonly rng: Xoshiro128;
  private readonly members = new Map<string, SimMember>();
  private readonly listeners: ((e: RecordedEvent) => void)[] = [];
  private addrCounter = 0;
  private readonly measure: MeasureFn | undefined;
  private readonly alignedProbing: boolean;
  private readonly skewMs: ((name: string) => number) | undefined;
  private readonly timerLateMs: number;
  private readonly auth: ((name: string) => MemberAuth | undefined) | undefined;
  /**
   * Shared by every node's member table: each keeps small numbers per member, not an
   * object (N² in one process). A crashed node's table is dropped without giving its
   * names back, so they stay counted until the run ends.
   */
  private readonly registry: MemberRegistry | undefined;

  constructor(opts: MembershipClusterOptions) {
    this.skewMs = opts.skewMs;
    this.timerLateMs = opts.timerLateMs ?? 0;
    this.registry = (opts.shareRegistry ?? true) ? new MemberRegistry() : undefined;
    this.auth = opts.memberAuth;
    this.rng = new Xoshiro128(opts.seed ?? 1);
    this.network = new SimNetwork(this.scheduler, this.rng.split(), opts.link);
    this.config = opts.config ?? makeConfig('lan');
    this.measure = opts.measure;
    this.alignedProbing = opts.alignedProbing ?? true;
    const name = opts.name ?? ((i: number) => `node-${i}`);
    const names: string[] = [];
    for (let i = 0; i < opts.nodes; i++) {
      names.push(name(i));
      this.boot(name(i), this.nextAddr());
    }
    if ((opts.form ?? 'instant') === 'instant') this.formInstantly();
    else {
      const seed = this.endpointOf(names[0]);
      const stagger = opts.joinStaggerMs ?? 10;
      names.slice(1).forEach((n, i) => this.scheduler.at(i * stagger, () => this.join(n, [seed])));
    }
  }

  // ------------------------------------------------------------ time

  get now(): number {
    return this.scheduler.now;
  }

  run(ms: number): void {
    this.scheduler.runFor(ms);
  }

  runUntil(t: number): void {
    this.scheduler.runUntil(t);
  }

  /**
   * Run until `done()` holds, checking every `checkEveryMs`; returns the virtual time it
   * first held, or undefined if it did not within `timeoutMs`.
   */
  runUntilTrue(done: () => boolean, timeoutMs: number, checkEveryMs = 100): number | undefined {
    const end = this.now + timeoutMs;
    for (;;) {
      if (done()) return this.now;
      if (this.now >= end) return undefined;
      this.scheduler.runUntil(Math.min(end, this.now + checkEveryMs));
    }
  }

  // ------------------------------------------------------------ nodes

  names(): string[] {
    return [...this.members.keys()];
  }

  node(name: string): SimMember {
    const m = this.members.get(name);
    if (!m) throw new RangeError(`no simulated node ${name}`);
    return m;
  }

  host(name: string): SimHost {
    return this.node(name).host;
  }

  core(name: string): SwimCore | undefined {
    return this.node(name).app?.core;
  }

  endpointOf(name: string): Endpoint {
    return { addr: this.host(name).addr, port: GOSSIP_PORT };
  }

  /** Nodes whose process runs (up or paused) and that have not left. */
  upNodes(): string[] {
    const out: string[] = [];
    for (const m of this.members.values()) if (m.app && m.host.status !== 'down' && !m.left) out.push(m.name);
    return out;
  }

  /** Start a new node now and join it through `seeds` (default: a random up node). */
  addNode(name: string, seeds?: string[]): void {
    if (this.members.has(name)) throw new RangeError(`node ${name} exists`);
    const up = this.upNodes();
    this.boot(name, this.nextAddr());
    const via = seeds ?? (up.length > 0 ? [up[Math.floor(this.rng.next() * up.length)]] : []);
    this.join(
      name,
      via.map((s) => this.endpointOf(s)),
    );
  }

  join(name: string, seeds: Endpoint[]): void {
    const app = this.node(name).app;
    if (!app) return;
    this.host(name).deliver(() => {
      const now = this.host(name).now;
      app.core.join(now, seeds);
      app.drain(now);
      this.host(name).touch(GOSSIP_PORT);
    });
  }

  crash(name: string): void {
    const m = this.node(name);
    m.host.crash();
    m.app = undefined;
  }

  /**
   * Boot a crashed node again with a fresh core (incarnation 0 unless given), at a new
   * address if asked, and join it through a random up node.
   */
  restart(
    name: string,
    opts: { newAddress?: boolean; incarnation?: number; seeds?: string[]; skewMs?: number } = {},
  ): void {
    const m = this.node(name);
    if (m.host.status !== 'down') this.crash(name);
    const addr = opts.newAddress ? this.nextAddr() : m.host.addr;
    m.host.restart(undefined, opts.skewMs);
    this.network.move(m.host, addr);
    m.left = false;
    this.startCore(m, opts.incarnation ?? 0);
    const up = this.upNodes().filter((n) => n !== name);
    const via = opts.seeds ?? (up.length > 0 ? [up[Math.floor(this.rng.next() * up.length)]] : []);
    this.join(
      name,
      via.map((s) => this.endpointOf(s)),
    );
  }

  pause(name: string, ms: number): void {
    this.host(name).pause(ms);
  }

  /**
   * Leave gracefully, then stop as the daemon does (membership/membership.ts leave()): once
   * the core says the leave has been sent often enough, or after LEAVE_TIMEOUT_MS. A leaver
   * that kept running would answer every late probe with its leave, which a real one does
   * not: nodes that missed the leave must learn it from the others.
   */
  leave(name: string): void {
    const m = this.node(name);
    const app = m.app;
    if (!app) return;
    m.left = true;
    m.host.deliver(() => {
      app.core.leave(m.host.now);
      app.drain(m.host.now);
      m.host.touch(GOSSIP_PORT);
    });
    this.scheduler.after(LEAVE_TIMEOUT_MS, () => this.stopLeaver(m, app));
  }

  private stopLeaver(m: SimMember, app: SwimApp): void {
    if (m.left && m.app === app) this.crash(m.name);
  }

  partition(groups: readonly (readonly string[])[]): void {
    this.network.partition(groups);
  }

  heal(): void {
    this.network.heal();
  }

  setLoss(loss: number): void {
    this.network.setDefault({ loss });
  }

  // ------------------------------------------------------------ observation

  onEvent(listener: (e: RecordedEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** What `observer` currently believes about everyone (undefined when it is down). */
  view(observer: string): MemberView[] | undefined {
    return this.core(observer)?.members();
  }

  /** Names `observer` holds alive (and, with includeSuspect, suspect). */
  liveSet(observer: string, includeSuspect = true): Set<string> {
    const out = new Set<string>();
    for (const m of this.view(observer) ?? []) {
      if (m.state === 'alive' || (includeSuspect && m.state === 'suspect')) out.add(m.name);
    }
    return out;
  }

  /** Every up node holds exactly the up nodes as live. */
  converged(includeSuspect = false): boolean {
    const up = this.upNodes();
    for (const observer of up) {
      const live = this.liveSet(observer, includeSuspect);
      if (live.size !== up.length) return false;
      for (const n of up) if (!live.has(n)) return false;
    }
    return true;
  }

  /** Up nodes whose live set differs from the truth, with what is missing or extra (for failure reports). */
  disagreements(): { observer: string; missing: string[]; extra: string[] }[] {
    const up = this.upNodes();
    const upSet = new Set(up);
    const out: { observer: string; missing: string[]; extra: string[] }[] = [];
    for (const observer of up) {
      const live = this.liveSet(observer, false);
      const missing = up.filter((n) => !live.has(n));
      const extra = [...live].filter((n) => !upSet.has(n));
      if (missing.length || extra.length) out.push({ observer, missing, extra });
    }
    return out;
  }

  /** Every up node other than `subject` holds it dead, left or not at all. */
  deadEverywhere(subject: string): boolean {
    for (const observer of this.upNodes()) {
      if (observer === subject) continue;
      const m = this.core(observer)?.member(subject);
      if (m && (m.state === 'alive' || m.state === 'suspect')) return false;
    }
    return true;
  }

  /** Every up node holds `subject` alive. */
  aliveEverywhere(subject: string): boolean {
    for (const observer of this.upNodes()) {
      if (observer === subject) continue;
      if (this.core(observer)?.member(subject)?.state !== 'alive') return false;
    }
    return true;
  }

  traffic(name: string): TrafficCounters {
    return this.network.counters(this.host(name).id);
  }

  // ------------------------------------------------------------ internals

  private nextAddr(): string {
    const i = ++this.addrCounter;
    return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  }

  private boot(name: string, addr: string): SimMember {
    const host = new SimHost(name, addr, this.scheduler);
    if (this.skewMs) host.setSkew(this.skewMs(name));
    if (this.timerLateMs > 0) {
      const rng = this.rng.split();
      host.timerLate = () => rng.next() * this.timerLateMs;
    }
    this.network.attach(host);
    const m: SimMember = { name, host, app: undefined, left: false };
    this.members.set(name, m);
    this.startCore(m, 0);
    return m;
  }

  private startCore(m: SimMember, incarnation: number): void {
    const core = new SwimCore({
      self: { name: m.name, addr: m.host.addr, port: GOSSIP_PORT },
      config: this.config,
      rng: this.rng.split(),
      now: m.host.now,
      incarnation,
      measure: this.measure,
      alignedProbing: this.alignedProbing,
      auth: this.auth?.(m.name),
      registry: this.registry,
    });
    const app: SwimApp = new SwimApp(
      core,
      m.host,
      GOSSIP_PORT,
      this.network,
      {
        onEvent: (host, e, now) => this.record(host, e, now),
        // Not from inside the drain: the datagrams queued beside it still go out.
        onOutput: (_host, o) => {
          if (o.kind === 'left') this.scheduler.after(0, () => this.stopLeaver(m, app));
        },
      },
      this.measure,
    );
    m.app = app;
    m.host.bind(GOSSIP_PORT, m.app);
  }

  private record(host: SimHost, e: MemberEventOutput, now: number): void {
    if (this.listeners.length === 0) return;
    const subject = this.members.get(e.member.name);
    const subjectUp = !!subject && subject.host.status !== 'down' && !subject.left;
    const rec: RecordedEvent = { at: now, observer: host.id, type: e.type, member: e.member, subjectUp };
    for (const l of this.listeners) l(rec);
  }

  /** Hand every node the full state at once, as the reply to its push-pull from a peer that knows all (no reply of its own to build and drop). */
  private formInstantly(): void {
    const states: PushPull['states'] = [];
    for (const m of this.members.values()) {
      const self = m.app!.core.localMember();
      // With signed membership, each node's own signed announcement stands for it.
      const own = m.app!.core.peekBroadcast(self.name);
      const proof = own?.t === 'alive' && own.sig && own.cert ? { sig: own.sig, cert: own.cert } : {};
      states.push({
        node: { name: self.name, addr: self.addr, port: self.port },
        incarnation: self.incarnation,
        state: 'alive',
        meta: self.meta,
        ...proof,
      });
    }
    const full: PushPull = { t: 'push-pull', join: false, states };
    for (const m of this.members.values()) {
      const app = m.app!;
      app.core.receiveStreamReply(m.host.now, { addr: m.host.addr, port: GOSSIP_PORT }, full);
      app.drain(m.host.now);
      m.host.touch(GOSSIP_PORT);
    }
  }
}

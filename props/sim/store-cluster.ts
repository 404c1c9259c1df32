// N simulated nodes running membership and the replicated store side by side: the store
// on its own port of each host, its liveness and routing fed from that node's own
// membership view (alive or suspect), its data directory on a SimDisk that survives the
// node's crashes. Faults are the membership cluster's, except that a crash also costs
// the disk its unsynced writes and a restart reopens the store from the disk.
//
//   const c = new StoreCluster({ nodes: 20, seed: 7 });
//   c.write('node-3', 'svc/web/1', { port: 80 }, { durable: true });
//   c.run(2_000);
//   c.storesAgree();  c.store('node-5').get('svc/web/1');

import { LocalStore, type UpdateOptions, type UpdateResult } from '../../crdt-store/local-store.js';
import type { Json } from '../../crdt-store/json-value.js';
import type { KeyOwnerRule } from '../../crdt-store/admission.js';
import type { ChangeAuth } from '../../crdt-store/change-auth.js';
import { Journal, type JournalOptions } from '../../crdt-store/persist/journal.js';
import { StoreCore, type Member, type ReplicationConfig } from '../../crdt-store/replication/core.js';
import { shareChangeIds } from '../../crdt-store/replication/wire.js';
import { murmur3 } from '../../crdt-store/hash.js';
import { DocPool } from '../../crdt-store/doc-pool.js';
import { amDecodeCacheSize } from '../../crdt-store/automerge.js';
import { Xoshiro128 } from '../../base/rng.js';
import { applyFault, type Fault } from './faults.js';
import { MembershipCluster, type MembershipClusterOptions } from './membership-cluster.js';
import { SimDisk } from './store-disk.js';
import { StoreApp, type StoreAppHooks } from './store-app.js';

export const STORE_PORT = 7947;

export interface StoreClusterOptions extends MembershipClusterOptions {
  replication?: Partial<ReplicationConfig>;
  reapAfterMs?: number;
  journal?: Omit<JournalOptions, 'name'>;
  /**
   * false: every store in memory only, as an agent without --data-dir (a restart comes
   * back empty and is filled by its peers). Saves each node journaling every document it
   * adopts, which dominates forming a large simulated cluster. Default true (SimDisk).
   */
  persist?: boolean;
  hooks?: StoreAppHooks;
  /** Which document each key belongs in (LocalStoreOptions.keyOwner); default none. */
  keyOwner?: KeyOwnerRule;
  /** Identity (issue 13): each node's ChangeAuth (signs its changes, checks everyone's); default none. */
  auth?: (name: string) => ChangeAuth | undefined;
  /**
   * Share read-only Automerge documents between the nodes' stores where they hold the same
   * history (crdt-store/doc-pool.ts): the same messages in the same order, without N copies
   * of every document and N applications of every change. A DocPool, or true for a new one.
   */
  shareDocs?: boolean | DocPool;
  /**
   * Hand each packet's and stream's message to its receiver whole
   * (StoreCoreOptions.shareMessages), as the membership simulator does, instead of every
   * node decoding every push. The bytes are still made and counted. Default false.
   */
  shareMessages?: boolean;
  /** Called when a node's store (re)starts, e.g. to attach watches. */
  onStart?(name: string, store: LocalStore): void;
}

interface StoreSlot {
  disk: SimDisk;
  app: StoreApp | undefined;
  starts: number;
}

export class StoreCluster {
  readonly membership: MembershipCluster;
  private readonly slots = new Map<string, StoreSlot>();
  private readonly seed: number;
  /** Nodes whose member refresh is queued for this instant (see queueRefresh). */
  private readonly refreshQueued = new Set<string>();
  /**
   * Each member's store endpoint, one object per member for every node's store (a store
   * keeps the ones it is given: N^2 objects if every node were given its own).
   */
  private readonly storeEndpoints = new Map<string, Member>();
  /** The documents the stores share (StoreClusterOptions.shareDocs), if they do. */
  readonly docPool: DocPool | undefined;

  constructor(private readonly opts: StoreClusterOptions) {
    this.seed = opts.seed ?? 1;
    this.docPool = opts.shareDocs === true ? new DocPool() : opts.shareDocs || undefined;
    // Every node decodes every change: keep them all decoded once (this process's cache),
    // and their ids one string each.
    if (this.docPool) {
      amDecodeCacheSize(65_536);
      shareChangeIds(65_536);
    }
    this.membership = new MembershipCluster(opts);
    for (const name of this.membership.names()) this.addSlot(name);
    this.membership.onEvent((e) => this.queueRefresh(e.observer));
    for (const name of this.membership.names()) this.startStore(name);
  }

  // ------------------------------------------------------------ time

  get now(): number {
    return this.membership.now;
  }

  run(ms: number): void {
    this.membership.run(ms);
  }

  runUntilTrue(done: () => boolean, timeoutMs: number, checkEveryMs = 100): number | undefined {
    return this.membership.runUntilTrue(done, timeoutMs, checkEveryMs);
  }

  // ------------------------------------------------------------ nodes

  names(): string[] {
    return this.membership.names();
  }

  upNodes(): string[] {
    return this.membership.upNodes().filter((n) => this.slots.get(n)?.app);
  }

  /** The running store of `name` (throws if it is down). */
  store(name: string): LocalStore {
    return this.core(name).store;
  }

  core(name: string): StoreCore {
    const app = this.slots.get(name)?.app;
    if (!app) throw new RangeError(`store of ${name} is not running`);
    return app.core;
  }

  isUp(name: string): boolean {
    return this.slots.get(name)?.app !== undefined && this.membership.host(name).status !== 'down';
  }

  disk(name: string): SimDisk {
    return this.slots.get(name)!.disk;
  }

  /**
   * Writes at `name` as its process would, now if it is up; `ack` is called with the
   * result once the write has returned (durable writes: once synced). Nothing happens at
   * a node that is down, and a paused one writes when it resumes.
   */
  write(
    name: string,
    key: string,
    value: Json | undefined,
    opts: UpdateOptions = {},
    ack?: (r: UpdateResult | boolean) => void,
  ): void {
    const host = this.membership.host(name);
    host.deliver(() => {
      const app = this.slots.get(name)?.app;
      if (!app) return;
      const r = value === undefined ? app.core.store.delete(key, opts) : app.core.store.put(key, value, opts);
      app.drain(host.now);
      ack?.(r);
    });
  }

  /** A datagram arrives at `name`'s store from `from` (a hostile peer's forgery), now if it is up. */
  inject(name: string, from: { addr: string; port: number }, bytes: Uint8Array): void {
    const host = this.membership.host(name);
    host.deliver(() => {
      const app = this.slots.get(name)?.app;
      if (!app) return;
      app.core.receivePacket(host.now, from, bytes);
      app.drain(host.now);
    });
  }

  addNode(name: string, seeds?: string[]): void {
    this.membership.addNode(name, seeds);
    this.addSlot(name);
    this.startStore(name);
  }

  crash(name: string): void {
    const slot = this.slots.get(name);
    this.membership.crash(name);
    if (!slot) return;
    slot.app?.core.store.close();
    slot.app = undefined;
    slot.disk.crash();
  }

  restart(name: string, opts: { newAddress?: boolean; skewMs?: number } = {}): void {
    if (this.membership.host(name).status !== 'down') this.crash(name);
    this.membership.restart(name, opts);
    this.startStore(name);
  }

  /** A fault from props/sim/faults.ts, with crash and restart extended to the store. */
  applyFault(f: Fault): void {
    if (f.kind === 'crash') this.crash(f.node);
    else if (f.kind === 'restart') {
      if (this.membership.host(f.node).status === 'down')
        this.restart(f.node, { newAddress: f.newAddress, skewMs: f.skewMs });
    } else applyFault(this.membership, f);
  }

  scheduleFaults(faults: readonly Fault[], offset = this.now): void {
    for (const f of faults) this.membership.scheduler.at(offset + f.at, () => this.applyFault(f));
  }

  // ------------------------------------------------------------ questions

  /** Every running store holds the same documents at the same heads (one digest root). */
  storesAgree(): boolean {
    const roots = new Set(this.upNodes().map((n) => this.core(n).digestRoot()));
    return roots.size <= 1;
  }

  /** Up nodes grouped by digest root (for failure reports). */
  rootGroups(): string[][] {
    const by = new Map<number, string[]>();
    for (const n of this.upNodes()) {
      const r = this.core(n).digestRoot();
      if (!by.has(r)) by.set(r, []);
      by.get(r)!.push(n);
    }
    return [...by.values()];
  }

  // ------------------------------------------------------------ internals

  private addSlot(name: string): void {
    const rng = new Xoshiro128(this.seed ^ murmur3(name, 0xd15c));
    this.slots.set(name, { disk: new SimDisk(name, rng), app: undefined, starts: 0 });
  }

  private startStore(name: string): void {
    const slot = this.slots.get(name)!;
    const host = this.membership.host(name);
    const journal = this.opts.persist === false ? undefined : new Journal(slot.disk, { ...this.opts.journal, name });
    const store = new LocalStore({
      name,
      clock: () => host.now,
      persistence: journal,
      reapAfterMs: this.opts.reapAfterMs,
      keyOwner: this.opts.keyOwner,
      auth: this.opts.auth?.(name),
      docPool: this.docPool,
    });
    const rng = new Xoshiro128(this.seed ^ murmur3(name, 0x5707e) ^ Math.imul(++slot.starts, 0x9e3779b9));
    const core = new StoreCore({
      store,
      rng,
      now: host.now,
      config: this.opts.replication,
      shareMessages: this.opts.shareMessages,
    });
    slot.app = new StoreApp(core, journal, host, STORE_PORT, this.membership.network, this.opts.hooks);
    host.bind(STORE_PORT, slot.app);
    this.opts.onStart?.(name, store);
    this.refreshMembers(name);
  }

  /**
   * As the daemon does (crdt-store/store-node.ts onMembers): one refresh per node per
   * event-loop turn, here per instant, however many member events the turn brought. A
   * push-pull that brings N members is N events, and a refresh walks every member: one
   * each would make forming N nodes cost N^3.
   */
  private queueRefresh(name: string): void {
    if (this.refreshQueued.has(name)) return;
    this.refreshQueued.add(name);
    this.membership.scheduler.at(this.now, () => {
      this.refreshQueued.delete(name);
      this.refreshMembers(name);
    });
  }

  private storeEndpoint(name: string, addr: string): Member {
    let m = this.storeEndpoints.get(name);
    if (m?.addr !== addr) this.storeEndpoints.set(name, (m = { name, addr, port: STORE_PORT }));
    return m;
  }

  /** Feeds `name`'s store the live members of its own membership view. */
  private refreshMembers(name: string): void {
    const slot = this.slots.get(name);
    const app = slot?.app;
    const host = this.membership.host(name);
    if (!app || host.status === 'down') return;
    const view = this.membership.view(name) ?? [];
    const live = view
      .filter((m) => m.state === 'alive' || m.state === 'suspect')
      .map((m) => this.storeEndpoint(m.name, m.addr));
    host.deliver(() => {
      if (slot.app !== app) return;
      app.core.setMembers(host.now, live);
      app.drain(host.now);
    });
  }
}

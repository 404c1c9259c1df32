// The overlay driver: keeps this node's lease in the store and the kernel in line with
// every live node's lease, level-triggered (docs/ARCHITECTURE.md, "The reconcile pattern"). A pass
//   1. finds the underlay (underlay.ts: config, else the route towards a peer, else the default route);
//   2. decides the lease and writes it if it changed (lease-keeper.ts);
//   3. computes the desired state from the live view (desired.ts);
//   4. reads the kernel state and applies the difference (plan.ts, ip.ts).
// Passes run on the shared reconcile runner (base/reconcile-runner.ts): after every change
// of the overlay records (a dead owner's records leave the live view, which is a change)
// and every reconcileEveryMs, one at a time; changes that arrive during a pass cause one
// more pass, not one each; a failed pass is retried with backoff. Every pass reads the
// kernel (the state is small), so drift is found on any pass, not only the periodic one.
import { Registry } from 'prom-client';
import { ReconcileRunner, type ReconcileStatus } from '../base/reconcile-runner.js';
import type { StoreRecord, WatchEvent } from '../crdt-store/views.js';
import { parseIPv4, parsePrefix, subnetCount, type Prefix } from './cidr.js';
import { DEFAULTS, overlayRunnerTimings } from './defaults.js';
import {
  gatewayAddr,
  peersOf,
  vtepAddr,
  vtepMac,
  VXLAN_OVERHEAD,
  type DesiredState,
  type PeerEntry,
  type SkipReason,
} from './desired.js';
import { IpAdapter, type HostLinks } from './ip.js';
import type { LeaseConfig } from './lease.js';
import { LeaseKeeper, type LeaseStore } from './lease-keeper.js';
import { OverlayMetrics } from './metrics.js';
import { plan, planCleanup, planWithdraw, type Command } from './plan.js';
import {
  MAX_SUBNET_LEN,
  MAX_VNI,
  MIN_SUBNET_LEN,
  OVERLAY_PREFIX,
  readLeases,
  type Lease,
  type LeaseRecord,
  type Vtep,
} from './records.js';
import { UnderlayFinder, type Underlay } from './underlay.js';
import { HostRules, type HostRulesStatus } from './host-rules.js';

/** What the driver needs of the store: LocalStore and StoreNode both fit. */
export interface OverlayStore extends LeaseStore {
  entries(prefix: string, opts?: { view?: 'live' | 'all' }): StoreRecord[];
  watch(prefix: string, handler: (e: WatchEvent) => void, opts?: { view?: 'live' | 'all' }): () => void;
}

/** The component's log (base/log.ts). */
export type OverlayLog = import('../base/log.js').Log;

export interface OverlayOptions {
  store: OverlayStore;
  /** This node's name (the store's and membership's). */
  node: string;
  /** The cluster CIDR subnets are leased from. Default DEFAULTS.cidr (172.16.0.0/16). */
  cidr?: string;
  /** Prefix length of each node's subnet. Default 24. */
  subnetPrefix?: number;
  /** VXLAN network id. Default 1. */
  vni?: number;
  /** VXLAN UDP port. Default 4789 (IANA). */
  port?: number;
  /** Underlay IPv4 address (must be on a device of this host). Default: the source address of the route to the first peer, else of the default route. */
  underlay?: string;
  /** VXLAN device name. Default weft.vx. */
  device?: string;
  /** Bridge for local containers, holding the subnet's .1 as their gateway; false: none. Default weft0. */
  bridge?: string | false;
  /** Network namespace to configure instead of the current one (tests, the bench). */
  netns?: string;
  log: OverlayLog;
  /** Where the weft_overlay_ metrics go. Default: a private registry. */
  registry?: Registry;
  /** Full reconcile period (repairs changes made by hand). Default 10 s. */
  reconcileEveryMs?: number;
  /** Wall clock for claim times. Default Date.now. */
  now?: () => number;
  /** Keep the masquerade, DOCKER-USER and (setForwarding) ip_forward host rules (host-rules.ts); needs a bridge. Default: none. */
  hostRules?: { setForwarding: boolean };
  /** Called after every pass (the Docker network keeper follows the lease from here). */
  onPass?: (status: OverlayStatus) => void;
}

export class OverlayConfigError extends Error {
  override name = 'OverlayConfigError';
}

export interface OverlayStatus {
  node: string;
  cidr: string;
  subnetPrefix: number;
  device: string;
  bridge: string | null;
  netns: string | null;
  /** held: the lease is ours; exhausted: no free subnet; waiting: no underlay address yet. */
  state: 'starting' | 'held' | 'exhausted' | 'waiting' | 'stopped';
  lease: LeaseRecord | null;
  underlay: Underlay | null;
  peers: PeerEntry[];
  skipped: { node: string; reason: SkipReason }[];
  /** What the kernel held after the last pass that changed something (or the first). */
  programmed: { device: boolean; bridge: boolean; routes: number; neighbours: number; fdb: number } | null;
  /** IPv4 forwarding in the namespace; off means containers cannot reach other hosts. */
  forwarding: boolean | null;
  /** The masquerade, DOCKER-USER and ip_forward rules, when the driver keeps them. */
  hostRules: HostRulesStatus | null;
  lastReconcile: ReconcileStatus | null;
  reconciles: number;
  driftRepaired: number;
  applyFailures: number;
  leaseChanges: number;
  badRecords: number;
}

interface Resolved {
  cidrText: string;
  cidr: Prefix;
  subnetLen: number;
  vni: number;
  port: number;
  device: string;
  bridge: string | undefined;
  everyMs: number;
}

const DEV_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Checks the options; the error says which one and what is allowed. */
export function resolveOptions(o: OverlayOptions): Resolved {
  const cidrText = o.cidr ?? DEFAULTS.cidr;
  const cidr = parsePrefix(cidrText);
  if (!cidr)
    throw new OverlayConfigError(
      `overlay cidr "${cidrText}" is not an IPv4 prefix with its host bits zero (e.g. 172.16.0.0/16)`,
    );
  const subnetLen = o.subnetPrefix ?? DEFAULTS.subnetPrefix;
  if (!Number.isInteger(subnetLen) || subnetLen < Math.max(cidr.len, MIN_SUBNET_LEN) || subnetLen > MAX_SUBNET_LEN)
    throw new OverlayConfigError(
      `overlay subnet prefix /${subnetLen} must be between /${Math.max(cidr.len, MIN_SUBNET_LEN)} (the cidr's) and /${MAX_SUBNET_LEN}`,
    );
  if (subnetCount(cidr, subnetLen) > 1 << 20)
    throw new OverlayConfigError(
      `overlay cidr ${cidrText} holds more than 2^20 /${subnetLen} subnets: use a longer subnet prefix`,
    );
  const vni = o.vni ?? DEFAULTS.vni;
  if (!Number.isInteger(vni) || vni < 1 || vni > MAX_VNI)
    throw new OverlayConfigError(`overlay vni ${vni} must be an integer from 1 to ${MAX_VNI}`);
  const port = o.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new OverlayConfigError(`overlay port ${port} must be 1-65535`);
  if (o.underlay !== undefined && parseIPv4(o.underlay) === undefined)
    throw new OverlayConfigError(`overlay underlay "${o.underlay}" is not an IPv4 address`);
  const device = o.device ?? DEFAULTS.device;
  const bridge = o.bridge === false ? undefined : (o.bridge ?? DEFAULTS.bridge);
  for (const [what, name] of [
    ['device', device],
    ['bridge', bridge],
  ] as const)
    if (name !== undefined && !DEV_NAME.test(name))
      throw new OverlayConfigError(`overlay ${what} name "${name}" must be 1-15 letters, digits, '.', '-' or '_'`);
  if (bridge === device) throw new OverlayConfigError('overlay bridge and device need different names');
  const everyMs = o.reconcileEveryMs ?? DEFAULTS.reconcileEveryMs;
  if (!(everyMs >= DEFAULTS.minReconcileEveryMs))
    throw new OverlayConfigError(`overlay reconcile period ${everyMs} ms is below ${DEFAULTS.minReconcileEveryMs} ms`);
  return { cidrText, cidr, subnetLen, vni, port, device, bridge, everyMs };
}

export class OverlayDriver {
  readonly metrics: OverlayMetrics;
  readonly registry: Registry;
  readonly ip: IpAdapter;
  private readonly cfg: Resolved;
  private readonly leaseCfg: LeaseConfig;
  private readonly log: OverlayLog;
  private readonly now: () => number;
  private readonly mac: string;
  private unwatch: (() => void)[] = [];
  private readonly runner: ReconcileRunner;

  private readonly underlays: UnderlayFinder;
  private readonly leases: LeaseKeeper;
  private readonly hostRules: HostRules | undefined;
  /** The desired state of the last pass that applied without failures, as text, for drift detection. */
  private lastClean: string | undefined;
  private readonly badSeen = new Map<string, string>();
  private lastProblem = '';
  private st: OverlayStatus;

  private constructor(private readonly opts: OverlayOptions) {
    this.cfg = resolveOptions(opts);
    this.leaseCfg = { cidr: this.cfg.cidr, subnetLen: this.cfg.subnetLen };
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.mac = vtepMac(opts.node);
    this.registry = opts.registry ?? new Registry();
    this.metrics = new OverlayMetrics(this.registry);
    this.ip = new IpAdapter({ netns: opts.netns });
    this.hostRules = hostRulesFor(opts, this.cfg);
    this.underlays = new UnderlayFinder({
      configured: opts.underlay,
      node: opts.node,
      probe: DEFAULTS.defaultRouteProbe,
      routeTo: (dst) => this.ip.routeTo(dst),
    });
    this.leases = new LeaseKeeper({
      node: opts.node,
      store: opts.store,
      cfg: this.leaseCfg,
      now: this.now,
      log: this.log,
      onClaim: () => {
        this.st.leaseChanges++;
        this.metrics.leaseChanges.inc();
      },
    });
    this.runner = new ReconcileRunner({
      pass: () => this.pass(),
      ...overlayRunnerTimings(this.cfg.everyMs),
      onPass: (s) => this.passed(s),
    });
    this.st = {
      node: opts.node,
      cidr: this.cfg.cidrText,
      subnetPrefix: this.cfg.subnetLen,
      device: this.cfg.device,
      bridge: this.cfg.bridge ?? null,
      netns: opts.netns ?? null,
      state: 'starting',
      lease: null,
      underlay: null,
      peers: [],
      skipped: [],
      programmed: null,
      forwarding: null,
      hostRules: null,
      lastReconcile: null,
      reconciles: 0,
      driftRepaired: 0,
      applyFailures: 0,
      leaseChanges: 0,
      badRecords: 0,
    };
  }

  /**
   * Starts the driver and runs the first pass before resolving (its failure is in
   * status(), not thrown: the timer retries). Throws OverlayConfigError for bad options.
   */
  static async start(opts: OverlayOptions): Promise<OverlayDriver> {
    const o = new OverlayDriver(opts);
    // The initial entries a watch delivers are what the first pass below reads anyway.
    const kick = (e?: WatchEvent): void => {
      if (!e?.initial) o.runner.request();
    };
    // Both views: the live one decides the peers, the 'all' one the leases (a dead owner's
    // claim still holds its subnet until reaped).
    o.unwatch.push(opts.store.watch(OVERLAY_PREFIX, kick, { view: 'all' }));
    o.unwatch.push(opts.store.watch(OVERLAY_PREFIX, kick, { view: 'live' }));
    o.runner.start();
    await o.reconcileNow();
    return o;
  }

  /** Runs a pass now (after the one running, if any) and resolves when it is done. */
  async reconcileNow(): Promise<void> {
    await this.runner.runNow(true);
  }

  /** Stops watching and reconciling; the kernel configuration stays as it is. */
  async stop(): Promise<void> {
    for (const u of this.unwatch) u();
    this.unwatch = [];
    await this.runner.stop();
    this.st.state = 'stopped';
  }

  /** Stops, then removes the devices weft made (and with them every route, neighbour and FDB entry on them). */
  async cleanup(): Promise<{ removed: string[]; failed: { line: string; error: string }[] }> {
    await this.stop();
    return OverlayDriver.cleanupHost({
      netns: this.opts.netns,
      device: this.cfg.device,
      bridge: this.cfg.bridge ?? false,
    });
  }

  /** Removes weft's overlay devices from a host without a running driver (`weft agent --cleanup`). */
  static async cleanupHost(
    o: { netns?: string; device?: string; bridge?: string | false } = {},
  ): Promise<{ removed: string[]; failed: { line: string; error: string }[] }> {
    const ip = new IpAdapter({ netns: o.netns });
    const names = [o.device ?? DEFAULTS.device, ...(o.bridge === false ? [] : [o.bridge ?? DEFAULTS.bridge])];
    const actual = await ip.read(names[0], names[1]);
    const cmds = planCleanup(actual, names);
    const r = await ip.apply(cmds);
    return { removed: cmds.map((c) => c.args[c.args.length - 1]), failed: r.failed };
  }

  private passed(s: ReconcileStatus): void {
    this.st.reconciles++;
    this.metrics.reconciles.inc();
    this.metrics.duration.observe(s.durationMs / 1000);
    this.st.lastReconcile = s;
    if (s.ok) this.lastProblem = '';
    this.opts.onPass?.(this.status());
  }

  status(): OverlayStatus {
    return structuredClone(this.st);
  }

  // ------------------------------------------------------------ one pass

  /** One pass; throws when it failed (the runner retries it). */
  private async pass(): Promise<{ changed: boolean }> {
    const applied = { failures: 0 };
    try {
      const host = await this.ip.links(this.cfg.bridge ? [this.cfg.device, this.cfg.bridge] : [this.cfg.device]);
      const desired = await this.desiredState(host);
      const rules = await this.hostRules?.ensure();
      if (rules) this.st.hostRules = rules.status;
      const commands = await this.converge(desired, host, applied);
      return { changed: commands > 0 || (rules?.changed ?? 0) > 0 };
    } catch (err) {
      if (applied.failures === 0) this.metrics.reconcileErrors.inc();
      this.lastClean = undefined;
      this.problem(`overlay: ${err instanceof Error ? err.message : String(err)}`, {});
      throw err;
    }
  }

  /** Finds the underlay, keeps this node's lease and derives the devices and peers wanted; throws when either is missing. */
  private async desiredState(host: HostLinks): Promise<DesiredState> {
    const all = this.readLeases('all');
    const live = this.readLeases('live');
    const underlay = await this.underlays.find(host, live);
    this.st.underlay = underlay ?? null;
    if (!underlay) {
      this.st.state = 'waiting';
      throw new Error(
        this.opts.underlay
          ? `underlay address ${this.opts.underlay} is on no device of this host: set overlay.underlay to one of its addresses`
          : 'no underlay address found (no peer, no default route): set overlay.underlay',
      );
    }
    const vtep: Vtep = { addr: underlay.addr, mac: this.mac, vni: this.cfg.vni, port: this.cfg.port };
    const lease = await this.leases.keep(all, vtep);
    this.st.lease = lease ?? null;
    if (!lease) {
      this.st.state = 'exhausted';
      await this.withdraw(host);
      throw new Error(
        `no free /${this.cfg.subnetLen} left in ${this.st.cidr}: widen overlay.cidr or lengthen overlay.subnetPrefix`,
      );
    }
    this.st.state = 'held';
    const prefix = parsePrefix(lease.subnet)!;
    const { peers, skipped } = peersOf(this.opts.node, live, all, {
      cfg: this.leaseCfg,
      vni: this.cfg.vni,
      port: this.cfg.port,
      underlay: underlay.addr,
    });
    this.st.peers = peers;
    this.st.skipped = skipped;
    this.metrics.peers.set(peers.length);
    const counts: Partial<Record<SkipReason, number>> = {};
    for (const s of skipped) counts[s.reason] = (counts[s.reason] ?? 0) + 1;
    this.metrics.setSkipped(counts);
    return {
      device: {
        name: this.cfg.device,
        vni: this.cfg.vni,
        port: this.cfg.port,
        local: underlay.addr,
        dev: underlay.dev,
        mtu: underlay.mtu - VXLAN_OVERHEAD,
        mac: this.mac,
        addr: `${vtepAddr(prefix)}/32`,
      },
      bridge: this.cfg.bridge ? { name: this.cfg.bridge, addr: `${gatewayAddr(prefix)}/${prefix.len}` } : undefined,
      peers,
    };
  }

  /** No lease: takes this node's overlay addresses and peer entries off the devices (plan.ts, planWithdraw). */
  private async withdraw(host: HostLinks): Promise<void> {
    const cmds = planWithdraw(
      await this.ip.read(this.cfg.device, this.cfg.bridge, host),
      this.cfg.device,
      this.cfg.bridge,
    );
    if (cmds.length === 0) return;
    const r = await this.ip.apply(cmds);
    for (const c of cmds) this.metrics.command(c.kind);
    this.st.applyFailures += r.failed.length;
    this.metrics.applyFailures.inc(r.failed.length);
    this.st.peers = [];
    this.st.programmed = summarize(await this.ip.read(this.cfg.device, this.cfg.bridge), this.cfg);
    this.log.warn(
      { commands: cmds.length, failed: r.failed.length },
      "overlay: no subnet held: this node's overlay addresses and routes to peers removed until a lease returns",
    );
  }

  /** Applies the commands that take the kernel to the desired state; returns how many there were, throws when some failed. */
  private async converge(desired: DesiredState, host: HostLinks, applied: { failures: number }): Promise<number> {
    const actual = await this.ip.read(this.cfg.device, this.cfg.bridge, host);
    const cmds = plan(desired, actual);
    const key = JSON.stringify(desired);
    if (cmds.length > 0) {
      // Nothing we asked for changed, yet the kernel differs: someone changed it by hand.
      if (key === this.lastClean) {
        this.st.driftRepaired += cmds.length;
        this.metrics.driftRepaired.inc(cmds.length);
        this.log.warn({ commands: cmds.map(describe) }, 'overlay: repairing configuration changed outside weft');
      }
      const r = await this.ip.apply(cmds);
      for (const c of cmds) this.metrics.command(c.kind);
      applied.failures = r.failed.length;
      if (applied.failures > 0) {
        this.st.applyFailures += applied.failures;
        this.metrics.applyFailures.inc(applied.failures);
        throw new Error(
          `${applied.failures} of ${cmds.length} ip/bridge commands failed, first: "${r.failed[0].line}": ${r.failed[0].error}`,
        );
      }
      this.st.programmed = summarize(await this.ip.read(this.cfg.device, this.cfg.bridge), this.cfg);
    } else if (!this.st.programmed) this.st.programmed = summarize(actual, this.cfg);
    this.lastClean = key;
    if (this.st.forwarding === null || cmds.length > 0) await this.checkForwarding();
    return cmds.length;
  }

  private async checkForwarding(): Promise<void> {
    const was = this.st.forwarding;
    this.st.forwarding = (await this.ip.forwarding()) ?? null;
    // Said when it turns off, not through problem(): a clean pass clears that, and the
    // next pass that applies commands would say it again.
    if (this.st.forwarding === false && was !== false && this.cfg.bridge)
      this.log.warn(
        {},
        'overlay: IPv4 forwarding is off, so containers cannot reach other hosts: set net.ipv4.ip_forward=1',
      );
  }

  /** Logs a problem once until it changes or clears, not on every pass. */
  private problem(msg: string, obj: object): void {
    if (msg === this.lastProblem) return;
    this.lastProblem = msg;
    this.log.warn(obj, msg);
  }

  private readLeases(view: 'live' | 'all'): Lease[] {
    const { leases, bad } = readLeases(this.opts.store.entries(OVERLAY_PREFIX, { view }));
    for (const b of bad) {
      const text = JSON.stringify(this.opts.store.entries(b.key, { view }).find((r) => r.key === b.key));
      if (this.badSeen.get(b.key) === text) continue;
      this.badSeen.set(b.key, text);
      this.st.badRecords++;
      this.metrics.bad(b.reason);
      this.log.warn({ key: b.key, reason: b.reason }, 'overlay: skipping a malformed overlay record');
    }
    return leases;
  }
}

/** The host rules, when asked for and there is a bridge for containers. */
function hostRulesFor(opts: OverlayOptions, cfg: Resolved): HostRules | undefined {
  if (!opts.hostRules || !cfg.bridge) return undefined;
  return new HostRules({
    cidr: cfg.cidrText,
    netns: opts.netns,
    setForwarding: opts.hostRules.setForwarding,
    timeoutMs: DEFAULTS.commandTimeoutMs,
  });
}

function summarize(a: Awaited<ReturnType<IpAdapter['read']>>, cfg: Resolved): OverlayStatus['programmed'] {
  return {
    device: a.links[cfg.device] !== undefined,
    bridge: cfg.bridge !== undefined && a.links[cfg.bridge] !== undefined,
    routes: a.routes.length,
    neighbours: a.neigh.filter((n) => n.permanent).length,
    fdb: a.fdb.length,
  };
}

const describe = (c: Command): string => `${c.tool} ${c.args.join(' ')}`;

// The load balancer: follows the store, and after every change (coalesced for debounceMs,
// at most 50 ms) and every resyncMs runs one level-triggered pass: desired state from all
// records -> datapath, on the shared reconcile runner (base/reconcile-runner.ts). A pass
// that fails is retried with backoff; nothing here is fatal after start.
//
//   const lb = await LbDriver.start({ source: store, registry, log });
//   dns: DnsServer.start({ ..., vips: lb.dnsVips });
//   lb.status()   for /v1/vips;   await lb.stop()   leaves the kernel rules in place
//   await lb.cleanup()   removes them (weft's table and interface)
//
// Datapaths:
//   nft        (root and nft present; the default then) VIP addresses from vipCidr on the
//              weft-vip0 dummy interface, DNAT in the `inet weft` table. Clients anywhere on
//              the node (local processes, containers routed through it) use the VIP address.
//   userspace  a proxy per VIP listening on a loopback address allocated from proxyCidr
//              (127.128.0.0/9 by default: on Linux every 127/8 address is local, no setup)
//              at the VIP's own port. Only clients on this host reach it; `dnsVips` answers
//              that loopback address, so `<vip>.vip.<domain>` resolves to something that
//              works here, and status() shows it. A VIP port below 1024 needs
//              CAP_NET_BIND_SERVICE (status and the log say so).
import { Registry } from 'prom-client';
import { ReconcileRunner, type ReconcileStatus } from '../base/reconcile-runner.js';
import { sameSet } from '../base/sets.js';
import { allocate, parseCidr, parseCidr6, type Cidr, type Cidr6 } from './allocator.js';
import { vipClaims } from './claims.js';
import { DEFAULTS, lbRunnerTimings } from './defaults.js';
import { type DesiredState } from './desired.js';
import { DesiredIndex } from './desired-index.js';
import { LbMetrics } from './metrics.js';
import { NftDatapath, readKernelAtStart, type KernelAtStart, type KernelState } from './nft-datapath.js';
import type { Affinity } from './nft-plan.js';
import { UserspaceProxy, type Policy, type ProxyOptions, type ProxyVip } from './proxy.js';
import { ProxyPool } from './proxy-pool.js';
import { RecordIndex, type RecordSource } from './records.js';
import { SERVICE_PREFIX } from '../records/schema.js';
import { VipTable } from './vip-source.js';
import { hostAddresses, REFUSAL_REASONS, VipGuard, type Refusal, type RefusalReason } from './vip-guard.js';

/** The component's log (base/log.ts). */
export type LbLog = import('../base/log.js').Log;

export type DatapathChoice = 'auto' | 'nft' | 'userspace';

export interface LbOptions {
  /** The store (live view): crdt-store's StoreNode or LocalStore. */
  source: RecordSource;
  /** Default auto: nft when root and `nft` works, else userspace. */
  datapath?: DatapathChoice;
  /** Where VIP names get their addresses. Every node of a cluster must use the same one. Default 198.18.0.0/15. */
  vipCidr?: string;
  /** With it, VIP names also get an IPv6 address from here (AAAA), and literal IPv6 VIPs may lie in it. Default none. */
  vipCidr6?: string;
  /** Where literal-IP VIPs may be besides vipCidr: IPv4 or IPv6 CIDRs. Default none. */
  vipAllow?: readonly string[];
  /** Userspace datapath: where its listen addresses come from. Default 127.128.0.0/9. */
  proxyCidr?: string;
  /** nft: `source` keeps a client on one backend (jhash of its address); default none (random). */
  affinity?: Affinity;
  /** Userspace: backend choice. Default round-robin. */
  policy?: Policy;
  /** Userspace: timeouts and passive checks. */
  proxy?: Omit<ProxyOptions, 'policy' | 'onEvent'>;
  /** Userspace: acceptor processes (cluster workers); 0 runs the proxy in this process. Default 2. */
  proxyWorkers?: number;
  /** nft: run nft and ip in this network namespace (tests, benches). */
  netns?: string;
  /** nft table name (family ip). Default weft. */
  table?: string;
  /** Dummy interface for VIP addresses. Default weft-vip0. */
  iface?: string;
  /** Changes within this window share one pass. Default 10 ms, at most 50. */
  debounceMs?: number;
  /** Full check of the datapath against the kernel. Default 30 s. */
  resyncMs?: number;
  log?: LbLog;
  /** Where the weft_lb_* metrics go. Default: a registry of its own. */
  registry?: Registry;
  /** LbDriver.readKernel's read, begun earlier with the same options (else start reads). */
  kernel?: Promise<KernelAtStart>;
}

export interface VipStatus {
  key: string;
  vip: string;
  /** The VIP's address (the same on every node); undefined when the CIDR is full. */
  addr: string | undefined;
  /** Its IPv6 address, with lb.vipCidr6. */
  addr6?: string;
  port: number;
  proto: 'tcp' | 'udp';
  /** Userspace: where this node's proxy listens for it. */
  listen?: string;
  backends: string[];
  /** The backends of addr6. */
  backends6?: string[];
  error?: string;
}

export interface LbStatus {
  datapath: 'nft' | 'userspace';
  vipCidr: string;
  vipCidr6?: string;
  vipAllow: string[];
  /** VIPs left out because their address may not be a VIP, with the reason. */
  refused: { key: string; reason: RefusalReason; error: string }[];
  /** As of the last pass that succeeded. */
  vips: VipStatus[];
  unallocated: string[];
  /** Passes completed (succeeded or failed). */
  passes: number;
  lastReconcile: ReconcileStatus | undefined;
}

/** A start failure, said in one line for a person. */
export class LbStartError extends Error {
  override name = 'LbStartError';
}

const hostPort = (b: { addr: string; port: number }): string =>
  b.addr.includes(':') ? `[${b.addr}]:${b.port}` : `${b.addr}:${b.port}`;

const silent: LbLog = { debug() {}, info() {}, warn() {}, error() {} };

export class LbDriver {
  /** VIP name -> its address (the same on every node). */
  readonly vips = new VipTable();
  /** VIP name -> the address a client on this node connects to: `vips` with nft, the proxy's listen address with userspace. Give this one to DNS. */
  readonly dnsVips: VipTable;
  readonly registry: Registry;
  readonly index = new RecordIndex();
  readonly datapath: NftDatapath | UserspaceProxy | ProxyPool;
  private readonly vipCidr: Cidr;
  private readonly proxyCidr: Cidr;
  private readonly log: LbLog;
  private readonly runner: ReconcileRunner;
  private readonly metrics: LbMetrics;
  private desired: DesiredState = {
    vips: [],
    addrs: new Map(),
    addrs6: new Map(),
    droppedBackends: [],
    unallocated: [],
    conflicts: new Map(),
    refused: [],
  };
  private readonly vipCidr6: Cidr6 | undefined;
  /** "key addr" of IPv6 backends left out and logged already. */
  private droppedSeen = new Set<string>();
  readonly guard: VipGuard;
  /** This node's own addresses (not the VIP interface's), refreshed on full passes and every few seconds. */
  private local = new Set<string>();
  private localAt = -Infinity;
  /** The kernel as read at the start (nft): the first pass's full check takes it instead of reading. */
  private startState: KernelState | undefined;
  /** VIP key -> reason, for VIPs refused and logged already (a log line per VIP, not per pass). */
  private refusedSeen = new Map<string, RefusalReason>();
  private conflictsSeen = new Set<string>();
  private lastRangeInUse = '';
  private readonly refusedTotal = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<
    RefusalReason,
    number
  >;
  private readonly droppedBackendsTotal: Partial<Record<RefusalReason, number>> = {};
  private proxyVips = new Map<string, ProxyVip>();
  /** The desired state kept change by change; rebuilt from every record on each full pass. */
  private desiredIndex: DesiredIndex | undefined;
  /** Endpoint and declared-VIP keys changed since the last pass. */
  private readonly changedKeys = new Set<string>();
  private detach: (() => void) | undefined;
  private reconciles = { ok: 0, error: 0 };
  private applyFailures = 0;
  private lastUnallocated = '';
  private warnedConntrack = false;

  private constructor(
    opts: LbOptions,
    datapath: NftDatapath | UserspaceProxy | ProxyPool,
    vipCidr: Cidr,
    proxyCidr: Cidr,
    guard: VipGuard,
  ) {
    this.guard = guard;
    this.datapath = datapath;
    this.vipCidr = vipCidr;
    this.vipCidr6 = guard.vipCidr6;
    this.proxyCidr = proxyCidr;
    this.log = opts.log ?? silent;
    this.runner = new ReconcileRunner({
      pass: (full) => this.pass(full),
      ...lbRunnerTimings(opts),
      onPass: (s, retryInMs) => {
        this.metrics.duration.observe(s.durationMs / 1000);
        if (!s.ok) this.log.error({ err: s.error, retryInMs }, 'load balancer pass failed; retrying');
        else if (s.changed)
          this.log.debug(
            { ms: s.durationMs, vips: this.desired.vips.length, full: s.full },
            'load balancer applied a change',
          );
      },
    });
    this.dnsVips = datapath.kind === 'nft' ? this.vips : new VipTable();
    this.registry = opts.registry ?? new Registry();
    this.metrics = new LbMetrics(this.registry, () => ({
      vips: this.desired.vips.length,
      backends: this.desired.vips.reduce((n, v) => n + v.backends.length, 0),
      unallocated: this.desired.unallocated.length,
      reconciles: this.reconciles,
      applyFailures: this.applyFailures,
      skipped: this.index.skipped,
      refused: this.refusedTotal,
      droppedBackends: this.droppedBackendsTotal,
      proxy: this.datapath.kind === 'userspace' ? this.datapath.stats : undefined,
      proxyRestarts: this.datapath instanceof ProxyPool ? this.datapath.restarts : undefined,
    }));
    this.index.onRecord = (key) => this.changedKeys.add(key);
    this.index.onSkip = (key, reason) =>
      this.log.warn({ key, reason }, 'load balancer skipped a store record that does not parse');
  }

  static async start(opts: LbOptions): Promise<LbDriver> {
    const vipCidr = parseCidr(opts.vipCidr ?? DEFAULTS.vipCidr);
    const proxyCidr = parseCidr(opts.proxyCidr ?? DEFAULTS.proxyCidr);
    let guard: VipGuard;
    try {
      const vipCidr6 = opts.vipCidr6 ? parseCidr6(opts.vipCidr6) : undefined;
      guard = new VipGuard({ vipCidr, vipCidr6, allow: opts.vipAllow });
    } catch (err) {
      throw new LbStartError((err as Error).message);
    }
    const choice = opts.datapath ?? DEFAULTS.datapath;
    if (!['auto', 'nft', 'userspace'].includes(choice))
      throw new LbStartError(`load balancer datapath "${choice}" is not one of auto, nft, userspace`);
    let kind: 'nft' | 'userspace' = choice === 'nft' ? 'nft' : 'userspace';
    let kernel: KernelAtStart | undefined;
    if (choice !== 'userspace') {
      const root = process.getuid?.() === 0;
      kernel = await (opts.kernel ?? LbDriver.readKernel(opts));
      const usable = kernel?.nft !== undefined;
      if (choice === 'nft' && !usable) {
        throw new LbStartError(
          root
            ? 'the nft datapath needs a working `nft` command: install nftables, or use datapath userspace'
            : 'the nft datapath needs root: run as root, or use datapath userspace',
        );
      }
      kind = usable ? 'nft' : 'userspace';
    }
    let lb: LbDriver | undefined = undefined;
    const datapath =
      kind === 'nft'
        ? new NftDatapath({
            netns: opts.netns,
            table: opts.table,
            iface: opts.iface,
            affinity: opts.affinity,
            vipCidr: [vipCidr.text, ...(guard.vipCidr6 ? [guard.vipCidr6.text] : [])],
            tables: kernel?.nft?.tables,
          })
        : userspaceDatapath(opts, (what, detail) =>
            lb?.log[what === 'ejected' ? 'info' : 'warn'](detail, EVENTS[what]),
          );
    lb = new LbDriver(opts, datapath, vipCidr, proxyCidr, guard);
    if (kind === 'nft') lb.startState = kernel;
    const started = lb;
    lb.detach = lb.index.attach(opts.source, () => started.runner.request());
    await lb.runner.runNow(true);
    lb.runner.start();
    lb.log.info({ datapath: kind, vipCidr: vipCidr.text, vips: lb.desired.vips.length }, 'load balancer started');
    return lb;
  }

  /**
   * The kernel reads the nft datapath's start needs (nft, our table, the addresses), begun
   * now so that they can run while other components start; undefined where the nft
   * datapath cannot be chosen (datapath userspace, or not root).
   */
  static readKernel(
    opts: Pick<LbOptions, 'datapath' | 'netns' | 'table' | 'iface'>,
  ): Promise<KernelAtStart> | undefined {
    if ((opts.datapath ?? DEFAULTS.datapath) === 'userspace' || process.getuid?.() !== 0) return undefined;
    return readKernelAtStart(opts);
  }

  get kind(): 'nft' | 'userspace' {
    return this.datapath.kind;
  }

  /** Passes run so far (status() has it too, but builds every VIP's status). */
  get passes(): number {
    return this.runner.passes;
  }

  /** Runs a pass now (after any running one) and resolves when the datapath holds the current records. */
  async reconcileNow(full = false): Promise<void> {
    await this.runner.runNow(full);
  }

  /** One level-triggered pass; throws when it failed (the runner retries it as a full pass). */
  private async pass(full: boolean): Promise<{ changed: boolean }> {
    let changed: boolean;
    try {
      // A full check reads the kernel first: our table, and this node's addresses with it.
      let state: KernelState | undefined;
      if (full && this.datapath.kind === 'nft') {
        state = this.startState ?? (await this.datapath.readState());
        this.startState = undefined;
      }
      if (state?.addrs) {
        this.local = state.addrs.local;
        this.localAt = performance.now();
      } else if (full || this.localAt === -Infinity) {
        this.local = await this.localAddresses();
        this.localAt = performance.now();
      }
      const desired = this.desiredState(full);
      this.noteRefused(desired);
      this.noteDropped(desired);
      const unalloc = desired.unallocated.join(',');
      if (unalloc !== this.lastUnallocated && unalloc)
        this.log.warn(
          { vipCidr: this.vipCidr.text, names: desired.unallocated },
          'VIP CIDR is full: these VIPs have no address; configure a larger vipCidr',
        );
      this.lastUnallocated = unalloc;
      if (this.datapath.kind === 'nft') {
        const r = await this.datapath.apply(desired.vips, full, this.rangeIsFree(), state);
        this.applyFailures += r.failures;
        changed = r.changed;
        if (r.conntrackError && !this.warnedConntrack) {
          this.warnedConntrack = true;
          this.log.warn(
            { err: r.conntrackError },
            'load balancer: UDP clients may keep reaching removed backends until their flows expire',
          );
        }
      } else {
        changed = await this.applyUserspace(this.datapath, desired);
      }
      if (desired.addrs !== this.desired.addrs || desired.addrs6 !== this.desired.addrs6)
        this.vips.set(desired.addrs, desired.addrs6);
      this.desired = desired;
      this.reconciles.ok++;
      if (performance.now() - this.localAt > DEFAULTS.localAddrsRefreshMs) void this.refreshLocal();
      return { changed };
    } catch (err) {
      this.reconciles.error++;
      this.applyFailures++;
      this.desiredIndex = undefined;
      if (this.datapath.kind === 'nft') this.datapath.invalidate();
      throw err;
    }
  }

  /**
   * The desired state: on a full pass (and the first) from every record, as computeDesired
   * builds it; otherwise from the last one and the records changed since (desired-index.ts).
   */
  private desiredState(full: boolean): DesiredState {
    const keys = [...this.changedKeys];
    this.changedKeys.clear();
    let d = this.desiredIndex;
    if (full || !d) {
      d = DesiredIndex.of(this.index.endpoints, this.index.declared, this.vipCidr, {
        guard: this.guard,
        cidr6: this.vipCidr6,
      });
    } else {
      for (const k of keys)
        if (k.startsWith(SERVICE_PREFIX)) d.endpoint(k, this.index.endpoints.get(k));
        else d.declare(k, this.index.declared.get(k));
    }
    this.desiredIndex = d;
    return d.compute({ members: this.index.memberAddrs(), local: this.local });
  }

  /** The userspace proxy listens for each VIP on an address of its own range, which DNS then answers for the VIP. */
  private async applyUserspace(proxy: UserspaceProxy | ProxyPool, desired: DesiredState): Promise<boolean> {
    const listen = allocate(
      desired.vips.map((v) => v.vip),
      this.proxyCidr,
      vipClaims(this.index.endpoints.values(), this.index.declared.values()),
    ).addrs;
    this.proxyVips = new Map();
    for (const v of desired.vips) {
      const addr = listen.get(v.vip);
      if (addr === undefined || v.addr === undefined) continue;
      // One listener (a loopback IPv4 address) serves both families' backends: a proxy
      // connects to either, and the host has a single IPv6 loopback address to listen on.
      const backends = [...v.backends, ...(v.backends6 ?? [])];
      this.proxyVips.set(v.key, { key: v.key, proto: v.proto, listen: { addr, port: v.port }, backends });
    }
    const r = await proxy.apply([...this.proxyVips.values()]);
    this.applyFailures += r.failed.length;
    const local = new Map<string, string>();
    for (const v of desired.vips) if (v.addr !== undefined && listen.has(v.vip)) local.set(v.vip, listen.get(v.vip)!);
    this.dnsVips.set(local);
    return r.changed;
  }

  /**
   * Re-reads this node's addresses after a pass rather than inside it: reading costs a
   * process, which would lengthen the change that happens to fall on it (issue 17). A
   * change asks for another pass; a failure waits for the next full pass, which reads them.
   */
  private async refreshLocal(): Promise<void> {
    this.localAt = performance.now();
    try {
      const next = await this.localAddresses();
      if (sameSet(next, this.local)) return;
      this.local = next;
      this.runner.request();
    } catch (err) {
      this.log.debug({ err }, "load balancer could not read this node's addresses; the next full pass will");
    }
  }

  /** This node's addresses, the VIP interface's left out: from the kernel (nft, in its namespace) or Node (userspace). */
  private async localAddresses(): Promise<Set<string>> {
    if (this.datapath.kind === 'nft') return this.datapath.localAddresses();
    return hostAddresses();
  }

  /**
   * Whether the VIP CIDR holds none of this node's or the members' addresses. Refusing the
   * whole range would otherwise cut the node off from hosts in it (a vipCidr overlapping the
   * node network is a misconfiguration, said once in the log); VIPs still work.
   */
  private rangeIsFree(): boolean {
    const inUse = [...this.local, ...this.index.memberAddrs()].filter((a) => this.guard.inVipCidr(a)).sort();
    const key = inUse.join(',');
    if (inUse.length && key !== this.lastRangeInUse)
      this.log.error(
        { vipCidr: this.vipCidr.text, inUse },
        `lb.vipCidr ${this.vipCidr.text} holds addresses in use (${inUse.slice(0, 5).join(', ')}): traffic to the range is not refused on this node, and VIP names may shadow real hosts; choose a range no host uses (the default 198.18.0.0/15)`,
      );
    this.lastRangeInUse = key;
    return inUse.length === 0;
  }

  /** Logs and counts each refused VIP once (again only if its reason changes). */
  private noteRefused(desired: DesiredState): void {
    const now = new Map<string, RefusalReason>();
    for (const r of desired.refused) {
      now.set(r.key, r.reason);
      if (this.refusedSeen.get(r.key) === r.reason) continue;
      this.refusedTotal[r.reason]++;
      this.log.warn({ vip: r.key, reason: r.reason }, `load balancer refused VIP ${r.key}: ${r.message}`);
    }
    this.refusedSeen = now;
    const conflicts = new Set<string>();
    for (const [lit, holder] of desired.conflicts) {
      const key = `${lit} ${holder}`;
      conflicts.add(key);
      if (!this.conflictsSeen.has(key))
        this.log.warn(
          { vip: lit, holder },
          `load balancer: VIP ${lit} is the address VIP ${holder} already holds (the earlier claim); it gets no address`,
        );
    }
    this.conflictsSeen = conflicts;
  }

  /** Logs and counts each IPv6 backend left out once (as long as it stays left out). */
  private noteDropped(desired: DesiredState): void {
    const now = new Set<string>();
    for (const d of desired.droppedBackends) {
      const id = `${d.key} ${d.addr}`;
      now.add(id);
      if (this.droppedSeen.has(id)) continue;
      this.droppedBackendsTotal[d.reason] = (this.droppedBackendsTotal[d.reason] ?? 0) + 1;
      this.log.warn(
        { vip: d.key, backend: d.addr, reason: d.reason },
        `load balancer left backend ${d.addr} out of VIP ${d.key} (${d.reason}): the kernel cannot reach it as written; give the endpoint a global IPv6 or an IPv4 address`,
      );
    }
    this.droppedSeen = now;
  }

  /**
   * Why a literal VIP would be refused here (members and this node's addresses as of the
   * last pass), or undefined: for the API, so a writer gets a 400 instead of a record
   * every reader skips.
   */
  refusal(vip: string): Refusal | undefined {
    return this.guard.check(vip, { members: this.index.memberAddrs(), local: this.local });
  }

  status(): LbStatus {
    return {
      datapath: this.datapath.kind,
      vipCidr: this.vipCidr.text,
      ...(this.vipCidr6 ? { vipCidr6: this.vipCidr6.text } : {}),
      vipAllow: [...this.guard.allow],
      refused: this.desired.refused.map((r) => ({ key: r.key, reason: r.reason, error: r.message })),
      vips: this.desired.vips.map((v) => {
        const s: VipStatus = {
          key: v.key,
          vip: v.vip,
          addr: v.addr,
          port: v.port,
          proto: v.proto,
          backends: v.backends.map(hostPort),
        };
        if (v.addr6 !== undefined) Object.assign(s, { addr6: v.addr6, backends6: (v.backends6 ?? []).map(hostPort) });
        const p = this.proxyVips.get(v.key);
        if (p) {
          s.listen = `${p.listen.addr}:${p.listen.port}`;
          const e = this.datapath.kind === 'userspace' ? this.datapath.listenError(p) : undefined;
          if (e) s.error = e;
        }
        const holder = this.desired.conflicts.get(v.vip);
        if (holder !== undefined) s.error = `no address: VIP ${holder} holds ${v.vip} (the earlier claim)`;
        else if (v.addr === undefined) s.error = 'no address: the VIP CIDR is full';
        return s;
      }),
      unallocated: this.desired.unallocated,
      passes: this.runner.passes,
      lastReconcile: this.runner.last,
    };
  }

  /** Stops following the store. Kernel rules stay, so traffic to VIPs keeps flowing across an agent restart; the userspace proxy closes. */
  async stop(): Promise<void> {
    this.detach?.();
    await this.runner.stop();
    if (this.datapath.kind === 'userspace') await this.datapath.stop();
  }

  /** stop(), then removes weft's nft table and dummy interface. */
  async cleanup(): Promise<void> {
    await this.stop();
    if (this.datapath.kind === 'nft') await this.datapath.cleanup();
  }
}

const EVENTS = {
  listen_failed:
    'load balancer proxy cannot listen for a VIP (a port below 1024 needs root or CAP_NET_BIND_SERVICE; or the port is taken)',
  ejected: 'load balancer ejected a backend after a failed connect',
  worker_exited: 'load balancer proxy worker exited; it is replaced',
} as const;

/** The userspace proxy: in this process, or on opts.proxyWorkers cluster workers. */
function userspaceDatapath(
  opts: LbOptions,
  onEvent: (what: keyof typeof EVENTS, detail: Record<string, unknown>) => void,
): UserspaceProxy | ProxyPool {
  const workers = opts.proxyWorkers ?? DEFAULTS.proxyWorkers;
  if (workers <= 0) return new UserspaceProxy({ ...opts.proxy, policy: opts.policy, onEvent });
  const p = opts.proxy ?? {};
  const { connectTimeoutMs, ejectMs, ejectMaxMs, maxAttempts, udpIdleMs } = p; // a clock cannot cross processes
  return new ProxyPool({
    connectTimeoutMs,
    ejectMs,
    ejectMaxMs,
    maxAttempts,
    udpIdleMs,
    policy: opts.policy,
    workers,
    onEvent,
  });
}

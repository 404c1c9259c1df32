// The kernel datapath: our nft table plus the VIP addresses on the dummy interface.
//
// Level-triggered: between full checks a pass plans only the VIPs that changed since what it
// last applied (nft-plan-index.ts; kube-proxy's partial sync) and applies their commands as
// one transaction; a full check plans the whole table, reads the table from the kernel and,
// if it differs at all, rewrites it whole in one transaction. Full checks run on the first pass (so a
// restart that finds its own rules in place writes nothing), on the resync timer, and
// after any failed transaction (a table someone else changed shows up as a failure).
import { DEFAULTS } from './defaults.js';
import { vipAddresses, type DesiredVip } from './desired.js';
import { DummyInterface, vipAddressesOf, type IpLink } from './dummy.js';
import { run } from '../base/exec.js';
import { sameSet } from '../base/sets.js';
import { Nft } from './nft.js';
import { LEGACY_FAMILY, matches, renderDiff, renderFull, type Affinity, type NftActual } from './nft-plan.js';
import { PlanIndex } from './nft-plan-index.js';

export interface NftDatapathOptions {
  netns?: string;
  table?: string;
  iface?: string;
  affinity?: Affinity;
  /** The VIP CIDRs (`198.18.0.0/15`, and lb.vipCidr6): traffic to them that is not DNATed is refused, never routed. */
  vipCidr?: string | readonly string[];
  /**
   * The tables `Nft.probe` listed at the start ("family name"): the first full check looks
   * for weft's table of before IPv6 only if it is listed (each read is a process start).
   */
  tables?: ReadonlySet<string>;
}

/** One `ip -j addr show`: the namespace's addresses, and the VIP interface's. */
export interface AddressRead {
  /** Every address but the VIP interface's. */
  local: Set<string>;
  /** The VIP interface's IPv4 and global IPv6 addresses; `have` undefined: there is no such interface. */
  iface: { have: Set<string> | undefined };
}

/**
 * What a full check reads of the kernel: our table and the addresses, in one round of
 * process starts (`nft`, `ip`). Each start costs the agent's main thread a few ms, and
 * made one after another they were most of the load balancer's share of a start.
 */
export interface KernelState {
  /** Our table (empty if absent); undefined if the read failed, and the check reads it again. */
  actual: NftActual | undefined;
  /** undefined if `ip` failed. */
  addrs: AddressRead | undefined;
}

/** The kernel at the start: whether nft runs here, beside the first full check's reads. */
export interface KernelAtStart extends KernelState {
  /** `nft -j list tables` (Nft.probe): undefined if nft does not run here. */
  nft: { tables?: ReadonlySet<string> } | undefined;
}

export function readKernelAtStart(opts: { netns?: string; table?: string; iface?: string }): Promise<KernelAtStart> {
  const nft = new Nft({ netns: opts.netns, table: opts.table });
  return Promise.all([
    Nft.probe({ netns: opts.netns }),
    readKernelState(nft, opts.netns, opts.iface ?? DEFAULTS.iface),
  ]).then(([probe, state]) => ({ nft: probe, ...state }));
}

function readKernelState(nft: Nft, netns: string | undefined, iface: string): Promise<KernelState> {
  return Promise.all([nft.read().catch(() => undefined), readAddresses(netns, iface).catch(() => undefined)]).then(
    ([actual, addrs]) => ({ actual, addrs }),
  );
}

export interface ApplyResult {
  /** Whether anything was written to the kernel. */
  changed: boolean;
  /** Whether the table was rewritten whole. */
  full: boolean;
  /** Transactions that failed in this pass (the pass still converged if it returned). */
  failures: number;
  /** VIPs this datapath cannot program (an address that is no IP). */
  skipped: string[];
  /** UDP flows to removed backends that could not be forgotten (no `conntrack` command). */
  conntrackError?: string;
}

export class NftDatapath {
  readonly kind = 'nft' as const;
  readonly nft: Nft;
  readonly iface: DummyInterface;
  private readonly affinity: Affinity;
  private readonly vipCidr: string | readonly string[] | undefined;
  /** What was last applied, VIP by VIP; undefined: read the kernel on the next pass. */
  private index: PlanIndex | undefined;
  /** The VIP ranges guarded in `index`'s plan. */
  private indexRange = '';
  private readonly netns: string | undefined;
  /** Whether the interface held the plan's addresses after the last pass. */
  private addrsSynced = false;
  private legacyChecked = false;
  /** `tables` until the first full check. */
  private probedTables: ReadonlySet<string> | undefined;
  /** UDP VIP "addr port" -> its backends "addr port", as last applied. */
  private udp = new Map<string, Set<string>>();

  constructor(opts: NftDatapathOptions = {}) {
    this.nft = new Nft({ table: opts.table, netns: opts.netns });
    this.iface = new DummyInterface({ name: opts.iface, netns: opts.netns });
    this.affinity = opts.affinity ?? DEFAULTS.affinity;
    this.probedTables = opts.tables;
    this.vipCidr = opts.vipCidr;
    this.netns = opts.netns;
  }

  /** What a full check reads (apply takes it), in one round. */
  readState(): Promise<KernelState> {
    return readKernelState(this.nft, this.netns, this.iface.name);
  }

  /**
   * `guardRange`: refuse traffic to the VIP CIDR that is not DNATed (off when the CIDR holds
   * addresses in use). `state`: what readState said just before, for a full check.
   */
  async apply(
    vips: readonly DesiredVip[],
    fullCheck: boolean,
    guardRange = true,
    state?: KernelState,
  ): Promise<ApplyResult> {
    const range = guardRange ? this.vipCidr : undefined;
    const ranges = range === undefined ? [] : typeof range === 'string' ? [range] : [...range];
    const rangeKey = ranges.join(' ');
    const res: ApplyResult = { changed: false, full: false, failures: 0, skipped: [] };
    let next: PlanIndex | undefined;
    let addrsChanged = true;
    let ifaceRead: { have: Set<string> | undefined } | undefined;
    const old = this.index;
    if (old && !fullCheck) {
      let script: string | undefined;
      if (old.incremental && rangeKey === this.indexRange) {
        // The usual pass: only the VIPs that changed are planned and written.
        const u = old.update(vips);
        if (u) [next, script, addrsChanged] = [old, renderDiff(u.from, u.to, this.nft.table), u.addrsChanged];
      } else {
        next = new PlanIndex(vips, this.affinity, ranges);
        script = renderDiff(old.plan, next.plan, this.nft.table);
        addrsChanged = !sameSet(old.plan.vipAddrs, next.plan.vipAddrs);
      }
      this.index = undefined;
      if (next) {
        try {
          if (script) await this.nft.apply(script);
          res.changed = script !== undefined;
          this.index = next;
        } catch {
          res.failures++;
          next = undefined;
        }
      }
    }
    if (fullCheck || !this.index) {
      next ??= new PlanIndex(vips, this.affinity, ranges);
      addrsChanged = true;
      ifaceRead = await this.writeFull(next, res, state);
      this.index = next;
    }
    this.indexRange = rangeKey;
    const plan = this.index.plan;
    res.skipped = plan.skipped;
    // Addresses after rules: a new VIP's address is routed only once its DNAT is in place.
    // Like the table, the interface is read on full checks and when the addresses change.
    if (fullCheck || addrsChanged || !this.addrsSynced) {
      this.addrsSynced = false;
      if ((await this.iface.sync(plan.vipAddrs, ifaceRead)) > 0) res.changed = true;
      this.addrsSynced = true;
    }
    const err = await this.forgetUdpFlows(vips);
    if (err) res.conntrackError = err;
    return res;
  }

  /**
   * A full check: reads the table and writes it whole if it is not what `next` plans.
   * Returns what the VIP interface holds, read beside the table (undefined if that read failed).
   */
  private async writeFull(
    next: PlanIndex,
    res: ApplyResult,
    state: KernelState | undefined,
  ): Promise<{ have: Set<string> | undefined } | undefined> {
    // What `state` lacks is read here, together (each read is a process start). Once per
    // start: weft's table of before IPv6 beside ours (a downgrade and upgrade again) would
    // hook VIP traffic twice; the full write deletes it.
    const probed = this.probedTables;
    this.probedTables = undefined;
    const [actual, legacy, iface] = await Promise.all([
      state?.actual ?? this.nft.read(),
      !this.legacyChecked &&
        (probed === undefined || probed.has(`${LEGACY_FAMILY} ${this.nft.table}`)) &&
        this.nft.legacyExists(),
      // A failed read is left to the interface's sync to report, after the rules are written.
      state?.addrs?.iface ??
        this.iface.addresses().then(
          (have) => ({ have }),
          () => undefined,
        ),
    ]);
    this.legacyChecked = true;
    // A missing interface (a fresh host) is added while the rules are written: it gets no
    // address until the sync after them, so no VIP is routed before its DNAT is in place.
    // If adding fails, the sync tries again and reports it.
    const added =
      iface !== undefined && iface.have === undefined
        ? this.iface.create().then(
            () => ({ have: new Set<string>() }),
            () => undefined,
          )
        : undefined;
    if (legacy || !matches(next.plan, actual)) {
      try {
        await this.nft.apply(renderFull(next.plan, this.nft.table));
      } catch (err) {
        res.failures++;
        await added; // not left running into the retry
        throw err;
      }
      res.changed = res.full = true;
    }
    return added ? await added : iface;
  }

  /**
   * UDP has no end of flow: conntrack keeps a client's flow on the backend NAT first chose
   * (for 30-120 s after its last packet), so a removed backend would keep receiving. Like
   * kube-proxy, delete those flows (conntrack -D); TCP flows end on their own.
   */
  private async forgetUdpFlows(vips: readonly DesiredVip[]): Promise<string | undefined> {
    const next = new Map<string, Set<string>>();
    for (const v of vips)
      if (v.proto === 'udp')
        for (const a of vipAddresses(v))
          next.set(`${a.addr} ${v.port}`, new Set(a.backends.map((b) => `${b.addr} ${b.port}`)));
    const gone: [string, string][] = [];
    for (const [vip, backends] of this.udp) for (const b of backends) if (!next.get(vip)?.has(b)) gone.push([vip, b]);
    this.udp = next;
    for (const [vip, b] of gone) {
      const [va, vp] = vip.split(' ');
      const [ba, bp] = b.split(' ');
      try {
        await run(
          [
            'conntrack',
            '-D',
            '-p',
            'udp',
            '--orig-dst',
            va,
            '--orig-port-dst',
            vp,
            '--reply-src',
            ba,
            '--reply-port-src',
            bp,
          ],
          { netns: this.netns },
        );
      } catch (err) {
        const msg = String((err as { stderr?: string }).stderr ?? err);
        if (/0 flow entries/.test(msg)) continue; // nothing to forget: exit status 1
        return `cannot remove UDP flows to a removed backend (${(err as Error).message}); install the conntrack command (conntrack-tools)`;
      }
    }
    return undefined;
  }

  /** The namespace's IPv4 and IPv6 addresses, the VIP interface's left out. */
  async localAddresses(): Promise<Set<string>> {
    return (await readAddresses(this.netns, this.iface.name)).local;
  }

  /** Forget what was applied, so the next pass reads the kernel. */
  invalidate(): void {
    this.index = undefined;
    this.addrsSynced = false;
  }

  /** Removes the table and the interface. */
  async cleanup(): Promise<void> {
    this.invalidate();
    await this.nft.remove();
    await this.iface.remove();
  }
}

/** The addresses of a namespace (`ip -j addr show`): the interface `iface`'s apart. */
export async function readAddresses(netns: string | undefined, iface: string): Promise<AddressRead> {
  const out = await run(['ip', '-j', 'addr', 'show'], { netns });
  const local = new Set<string>();
  let have: Set<string> | undefined;
  for (const l of JSON.parse(out || '[]') as IpLink[]) {
    if (l.ifname === iface) vipAddressesOf(l, (have ??= new Set()));
    else for (const a of l.addr_info ?? []) if (typeof a.local === 'string') local.add(a.local);
  }
  return { local, iface: { have } };
}

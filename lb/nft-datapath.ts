// The kernel datapath: our nft table plus the VIP addresses on the dummy interface.
//
// Level-triggered: a pass plans the whole desired table. Between full checks it diffs the
// plan against what it last applied (kube-proxy's partial sync) and applies the difference
// as one transaction; a full check reads the table from the kernel and, if it differs at
// all, rewrites it whole in one transaction. Full checks run on the first pass (so a
// restart that finds its own rules in place writes nothing), on the resync timer, and
// after any failed transaction (a table someone else changed shows up as a failure).
import { DEFAULTS } from './defaults.js';
import { vipAddresses, type DesiredVip } from './desired.js';
import { DummyInterface } from './dummy.js';
import { run } from '../base/exec.js';
import { Nft } from './nft.js';
import { matches, planNft, renderDiff, renderFull, type Affinity, type NftPlan } from './nft-plan.js';

export interface NftDatapathOptions {
  netns?: string;
  table?: string;
  iface?: string;
  affinity?: Affinity;
  /** The VIP CIDRs (`198.18.0.0/15`, and lb.vipCidr6): traffic to them that is not DNATed is refused, never routed. */
  vipCidr?: string | readonly string[];
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
  private applied: NftPlan | undefined;
  private readonly netns: string | undefined;
  private syncedAddrs: string | undefined;
  private legacyChecked = false;
  /** UDP VIP "addr port" -> its backends "addr port", as last applied. */
  private udp = new Map<string, Set<string>>();

  constructor(opts: NftDatapathOptions = {}) {
    this.nft = new Nft({ table: opts.table, netns: opts.netns });
    this.iface = new DummyInterface({ name: opts.iface, netns: opts.netns });
    this.affinity = opts.affinity ?? DEFAULTS.affinity;
    this.vipCidr = opts.vipCidr;
    this.netns = opts.netns;
  }

  /** `guardRange`: refuse traffic to the VIP CIDR that is not DNATed (off when the CIDR holds addresses in use). */
  async apply(vips: readonly DesiredVip[], fullCheck: boolean, guardRange = true): Promise<ApplyResult> {
    const plan = planNft(vips, this.affinity, guardRange ? this.vipCidr : undefined);
    const res: ApplyResult = { changed: false, full: false, failures: 0, skipped: plan.skipped };
    if (this.applied && !fullCheck) {
      const script = renderDiff(this.applied, plan, this.nft.table);
      try {
        if (script) await this.nft.apply(script);
        res.changed = script !== undefined;
        this.applied = plan;
      } catch {
        res.failures++;
        this.applied = undefined;
      }
    }
    if (fullCheck || !this.applied) {
      const actual = await this.nft.read();
      // Once per start: weft's table of before IPv6 beside ours (a downgrade and upgrade
      // again) would hook VIP traffic twice; the full write deletes it.
      const legacy = !this.legacyChecked && (await this.nft.legacyExists());
      this.legacyChecked = true;
      if (legacy || !matches(plan, actual)) {
        try {
          await this.nft.apply(renderFull(plan, this.nft.table));
        } catch (err) {
          res.failures++;
          throw err;
        }
        res.changed = res.full = true;
      }
      this.applied = plan;
    }
    // Addresses after rules: a new VIP's address is routed only once its DNAT is in place.
    // Like the table, the interface is read on full checks and when the addresses change.
    const addrs = [...plan.vipAddrs].sort().join(' ');
    if (fullCheck || addrs !== this.syncedAddrs) {
      this.syncedAddrs = undefined;
      if ((await this.iface.sync(plan.vipAddrs)) > 0) res.changed = true;
      this.syncedAddrs = addrs;
    }
    const err = await this.forgetUdpFlows(vips);
    if (err) res.conntrackError = err;
    return res;
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
    const out = await run(['ip', '-j', 'addr', 'show'], { netns: this.netns });
    const links = JSON.parse(out || '[]') as { ifname?: string; addr_info?: { local?: string }[] }[];
    const set = new Set<string>();
    for (const l of links) {
      if (l.ifname === this.iface.name) continue;
      for (const a of l.addr_info ?? []) if (typeof a.local === 'string') set.add(a.local);
    }
    return set;
  }

  /** Forget what was applied, so the next pass reads the kernel. */
  invalidate(): void {
    this.applied = undefined;
    this.syncedAddrs = undefined;
  }

  /** Removes the table and the interface. */
  async cleanup(): Promise<void> {
    this.invalidate();
    await this.nft.remove();
    await this.iface.remove();
  }
}

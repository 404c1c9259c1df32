// Finds the underlay: the address VXLAN packets leave from, and its device and MTU.
// Config wins; otherwise the source address of the route towards the first live peer (its
// VTEP), else the default route's. Once found it is kept while it stays on the host, so
// VTEPs do not flap with routing changes.
import type { HostLinks } from './ip.js';
import type { Lease } from './records.js';

export interface Underlay {
  addr: string;
  dev: string;
  mtu: number;
  /** How it was found: config, `route to <node>` or default route. */
  source: string;
}

export interface UnderlayFinderOptions {
  /** overlay.underlay, when configured. */
  configured?: string;
  /** This node's name (its own lease is no peer to route to). */
  node: string;
  /** An address asked for the default route's source when no peer is known (DEFAULTS.defaultRouteProbe); nothing is sent to it. */
  probe: string;
  /** Where packets to `dst` leave from (IpAdapter.routeTo). */
  routeTo: (dst: string) => Promise<{ addr: string; dev: string } | undefined>;
}

const LOOPBACK = (a: string): boolean => a.startsWith('127.');

export class UnderlayFinder {
  private kept: Underlay | undefined;

  constructor(private readonly o: UnderlayFinderOptions) {}

  async find(host: HostLinks, live: Lease[]): Promise<Underlay | undefined> {
    const on = (addr: string, source: string): Underlay | undefined => {
      const o = host.addrOwner.get(addr);
      return o ? { addr, dev: o.dev, mtu: o.mtu, source } : undefined;
    };
    if (this.o.configured) return on(this.o.configured, 'config');
    const kept = this.kept && on(this.kept.addr, this.kept.source);
    if (kept) return (this.kept = kept);
    const targets: [string, string][] = live
      .filter((l) => l.node !== this.o.node)
      .map((l) => [l.vtep.addr, `route to ${l.node}`]);
    targets.push([this.o.probe, 'default route']);
    for (const [dst, source] of targets) {
      const r = await this.o.routeTo(dst);
      if (!r || LOOPBACK(r.addr)) continue;
      const found = on(r.addr, source);
      if (found) return (this.kept = found);
    }
    return undefined;
  }
}

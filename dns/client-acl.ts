// Who may recurse through this server (names outside weft's domain are forwarded only for
// them; weft's own names are answered for everyone). An open resolver is an amplifier and a
// poisoning oracle for the whole network, so the default is this node's own clients:
// loopback, its Docker bridge networks and, with the overlay on, the overlay CIDR.
//
// The list holds CIDRs and two words:
//   docker    the subnets of this host's Docker bridges (docker0, br-*), read from the
//             interfaces: again on a timer the adapter runs, and when an unknown client
//             asks (at most every refreshMs), so a new bridge is allowed at its first query.
//   overlay   the overlay CIDR, when the agent runs the overlay (else nothing).
// Sans-IO: the interface list and the clock come in from the caller.
import { DEFAULTS } from './defaults.js';
import type { NetworkInterfaceInfo } from 'node:os';
import { NetSet, parseNet, type Net } from './netset.js';

/** Interface names of Docker's bridges: the default one and those of user-defined networks. */
const DOCKER_BRIDGE = /^(docker\d+|br-[0-9a-f]{12})$/;

export type Interfaces = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

export interface RecursionAclOptions {
  /** CIDRs and the words docker and overlay. Default DEFAULTS.recursionAllow. */
  allow?: readonly string[];
  /** The overlay CIDR when the overlay runs. */
  overlayCidr?: string;
  /** The host's interfaces (os.networkInterfaces). */
  interfaces: Interfaces;
  /** Least time between two reads of the interfaces on an unknown client's query. Default 10 s. */
  refreshMs?: number;
}

/** Checks the list and says what is wrong with it, for a config error. */
export function checkRecursionAllow(allow: readonly string[]): string | undefined {
  for (const a of allow)
    if (a !== 'docker' && a !== 'overlay' && !parseNet(a))
      return `"${a}" is neither a CIDR (a.b.c.d/n or v6/n) nor docker or overlay`;
  return undefined;
}

export class RecursionAcl {
  private readonly fixed: Net[] = [];
  private readonly docker: boolean;
  private readonly nets = new NetSet();
  private readonly interfaces: Interfaces;
  private readonly refreshMs: number;
  private lastRefresh = -Infinity;
  /** The Docker bridge networks found at the last refresh. */
  bridges: string[] = [];

  constructor(opts: RecursionAclOptions) {
    const allow = opts.allow ?? DEFAULTS.recursionAllow;
    const bad = checkRecursionAllow(allow);
    if (bad) throw new Error(`DNS recursion allow-list: ${bad}`);
    for (const a of allow) {
      if (a === 'overlay') {
        const n = opts.overlayCidr ? parseNet(opts.overlayCidr) : undefined;
        if (n) this.fixed.push(n);
      } else if (a !== 'docker') this.fixed.push(parseNet(a)!);
    }
    this.docker = allow.includes('docker');
    this.interfaces = opts.interfaces;
    this.refreshMs = opts.refreshMs ?? DEFAULTS.aclRefreshMs;
    this.refresh(-Infinity);
  }

  /** Whether a client at this address may recurse. An unknown one re-reads the bridges first (rate-limited). */
  allows(address: string, now: number): boolean {
    if (this.nets.has(address)) return true;
    if (!this.docker || now - this.lastRefresh < this.refreshMs) return false;
    this.refresh(now);
    return this.nets.has(address);
  }

  /** Reads the Docker bridges again (the adapter's timer, and unknown clients). */
  refresh(now: number): void {
    this.lastRefresh = now;
    const nets = [...this.fixed];
    const bridges: string[] = [];
    if (this.docker) {
      let ifs: NodeJS.Dict<NetworkInterfaceInfo[]> = {};
      try {
        ifs = this.interfaces();
      } catch {
        // no interface list: the fixed networks only
      }
      for (const [name, addrs] of Object.entries(ifs)) {
        if (!DOCKER_BRIDGE.test(name)) continue;
        for (const a of addrs ?? []) {
          // Link-local (fe80::/10, 169.254/16) is the same range on every link: a neighbour on
          // eth0 would match a bridge's fe80::/64, and the set does not know interfaces.
          if (!a.cidr || a.internal || /^(fe[89ab][0-9a-f]:|169\.254\.)/i.test(a.address)) continue;
          const n = parseNet(a.cidr);
          if (n) {
            nets.push(n);
            bridges.push(a.cidr);
          }
        }
      }
    }
    this.bridges = bridges;
    this.nets.set(nets);
  }

  /** What is allowed now, for logs and status. */
  describe(): string[] {
    return [...this.fixed.map((n) => n.text), ...this.bridges];
  }
}

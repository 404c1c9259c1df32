// Which literal IPs may be VIPs (issue 12, item 8; the class of Kubernetes CVE-2020-8554).
// A VIP address is programmed on every node (on the dummy interface, in the DNAT map), so
// a VIP on a node's own address, on loopback or on the cloud metadata address takes that
// address over: the node's own services behind it are cut off or redirected. So a literal
// VIP is accepted only inside lb.vipCidr or the operator's lb.vipAllow, and never on a
// special-purpose address, a member's address or one of this node's own addresses,
// whichever source it came from (labels, the API, a record another node wrote).
//
// The same check serves the writers (API 400, label problems) and every reader (the
// load balancer skips the record). Pure: members' and local addresses are passed in.
import { BlockList, isIP, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { inCidr, inCidr6, ipv4ToInt, ipv6ToBig, parseCidr, parseCidr6, type Cidr, type Cidr6 } from './allocator.js';

export type RefusalReason =
  | 'unspecified'
  | 'loopback'
  | 'link_local'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'network_address'
  | 'outside_range'
  | 'member_address'
  | 'local_address';
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'unspecified',
  'loopback',
  'link_local',
  'multicast',
  'broadcast',
  'reserved',
  'network_address',
  'outside_range',
  'member_address',
  'local_address',
];

export interface Refusal {
  reason: RefusalReason;
  /** One line for a person: what is wrong and what to do. */
  message: string;
}

// Addresses no VIP may have, even inside vipAllow: an allow-list cannot make them safe.
const SPECIAL: [RefusalReason, string, number, 'ipv4' | 'ipv6', string][] = [
  ['unspecified', '0.0.0.0', 8, 'ipv4', 'an unspecified ("this network") address'],
  ['loopback', '127.0.0.0', 8, 'ipv4', 'a loopback address'],
  ['link_local', '169.254.0.0', 16, 'ipv4', 'a link-local address (169.254.169.254 is cloud metadata)'],
  ['multicast', '224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['broadcast', '255.255.255.255', 32, 'ipv4', 'the broadcast address'],
  ['reserved', '240.0.0.0', 4, 'ipv4', 'a reserved address (240.0.0.0/4)'],
  ['unspecified', '::', 128, 'ipv6', 'the unspecified address'],
  ['loopback', '::1', 128, 'ipv6', 'the loopback address'],
  ['link_local', 'fe80::', 10, 'ipv6', 'a link-local address'],
  ['multicast', 'ff00::', 8, 'ipv6', 'a multicast address'],
  ['reserved', '::ffff:0:0', 96, 'ipv6', 'an IPv4-mapped address (write the IPv4 address)'],
];
const specialLists = SPECIAL.map(([reason, addr, prefix, family, what]) => {
  const b = new BlockList();
  b.addSubnet(addr, prefix, family);
  return { reason, family, what, b };
});

/** An IPv4 or IPv6 CIDR as written in lb.vipAllow, or undefined. */
export function parseAnyCidr(text: string): { addr: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const v = isIP(m[1]);
  const prefix = Number(m[2]);
  if (v === 0 || prefix > (v === 4 ? 32 : 128)) return undefined;
  return { addr: m[1], prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

export interface GuardContext {
  /** Members' addresses (node records). */
  members?: ReadonlySet<string>;
  /** This node's own addresses (not the VIP interface's). */
  local?: ReadonlySet<string>;
}

// IPv6 backends the kernel cannot DNAT to as written: a link-local address needs its
// interface (a zone a record cannot carry), multicast and unspecified are no hosts, and an
// IPv4-mapped address is an IPv4 host (its endpoint should give the IPv4 address). ::1 is
// accepted, as 127.0.0.1 is for IPv4: a backend on the node itself, for its own clients.
const BAD_BACKENDS6 = specialLists.filter((s) => s.family === 'ipv6' && s.reason !== 'loopback');

/** Why an IPv6 backend address is left out of a VIP, or undefined (IPv4 backends are taken as they are). */
export function backendRefusal(addr: string): RefusalReason | undefined {
  if (isIP(addr) !== 6) return undefined;
  return BAD_BACKENDS6.find((s) => s.b.check(addr, 'ipv6'))?.reason;
}

export class VipGuard {
  readonly vipCidr: Cidr;
  readonly vipCidr6: Cidr6 | undefined;
  readonly allow: readonly string[];
  private readonly allowList = new BlockList();

  /** Throws a short message naming the bad entry. */
  constructor(opts: { vipCidr: string | Cidr; vipCidr6?: string | Cidr6; allow?: readonly string[] }) {
    this.vipCidr = typeof opts.vipCidr === 'string' ? parseCidr(opts.vipCidr) : opts.vipCidr;
    this.vipCidr6 = typeof opts.vipCidr6 === 'string' ? parseCidr6(opts.vipCidr6) : opts.vipCidr6;
    this.allow = [...(opts.allow ?? [])];
    for (const a of this.allow) {
      const c = parseAnyCidr(a);
      if (!c) throw new Error(`lb.vipAllow entry "${a}" is not a CIDR like 10.99.0.0/24 or fd00:99::/64`);
      this.allowList.addSubnet(c.addr, c.prefix, c.family);
    }
  }

  /** Why `addr` (a literal VIP) is refused, or undefined when it may be a VIP. */
  check(addr: string, ctx: GuardContext = {}): Refusal | undefined {
    const v = isIP(addr);
    if (v === 0) return undefined; // a name: its address comes from the allocator
    const family = v === 4 ? 'ipv4' : 'ipv6';
    const where = `lb.vipCidr (${this.vipCidr.text})${this.vipCidr6 ? `, lb.vipCidr6 (${this.vipCidr6.text})` : ''}${this.allow.length ? ` or lb.vipAllow (${this.allow.join(', ')})` : ''}`;
    for (const s of specialLists) {
      if (s.family === family && s.b.check(addr, family))
        return {
          reason: s.reason,
          message: `VIP ${addr} is ${s.what}: it cannot be a VIP; use a name, or an address inside ${where}`,
        };
    }
    const inRange6 = this.vipCidr6 !== undefined && inCidr6(this.vipCidr6, addr);
    if (inRange6 && this.vipCidr6!.first === 1 && ipv6ToBig(addr) === this.vipCidr6!.base)
      return {
        reason: 'network_address',
        message: `VIP ${addr} is the subnet-router anycast address of lb.vipCidr6 (${this.vipCidr6!.text}); use another address`,
      };
    const inRange = inCidr(this.vipCidr, addr) || inRange6;
    if (inRange && !inRange6 && this.vipCidr.prefix < 31) {
      const off = ipv4ToInt(addr) - this.vipCidr.base;
      if (off === 0 || off === 2 ** (32 - this.vipCidr.prefix) - 1)
        return {
          reason: 'network_address',
          message: `VIP ${addr} is the network or broadcast address of lb.vipCidr (${this.vipCidr.text}); use another address`,
        };
    }
    if (!inRange && !this.allowList.check(addr, family))
      return {
        reason: 'outside_range',
        message: `VIP ${addr} is outside ${where}; use a name, or an address inside it (the operator can add ranges to lb.vipAllow)`,
      };
    if (ctx.members?.has(addr))
      return {
        reason: 'member_address',
        message: `VIP ${addr} is a cluster member's own address: it would cut that node off; use another address`,
      };
    if (ctx.local?.has(addr))
      return {
        reason: 'local_address',
        message: `VIP ${addr} is an address of this node: it would cut the node off; use another address`,
      };
    return undefined;
  }

  /** Whether `addr` is inside a VIP CIDR (lb.vipCidr, or lb.vipCidr6 when set). */
  inVipCidr(addr: string): boolean {
    return (
      (isIPv4(addr) && inCidr(this.vipCidr, addr)) || (this.vipCidr6 !== undefined && inCidr6(this.vipCidr6, addr))
    );
  }
}

/** This host's addresses as Node sees them (its network namespace), one interface left out (the VIP dummy). */
export function hostAddresses(except = 'weft-vip0'): Set<string> {
  const out = new Set<string>();
  for (const [name, list] of Object.entries(networkInterfaces())) {
    if (name === except) continue;
    for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ''));
  }
  return out;
}

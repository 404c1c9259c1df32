// VIP addresses, hashed from VIP names into a CIDR, with no coordination between nodes.
//
// The rule (every node holding the same records computes the same map):
//   1. Every VIP has a claim time: the earliest `since` among the records naming it
//      (claims.ts; records without one claim at 0, which is how older versions behave).
//   2. VIPs are taken in claim order, ties by name (code points). A name probes
//      hash(name, 0), hash(name, 1), ... (PROBES rehashes), then the slots after its last
//      probe, and keeps the first slot not already held. A literal IP inside the CIDR takes
//      its own slot if no earlier claim holds it, else it gets nothing (a conflict).
// So the earliest claim keeps its address, as overlay leases do (overlay/lease.ts): a VIP
// added later never moves one that exists, because it sorts after it; only a VIP whose
// records all went away and came back (a new claim) can land elsewhere. Whatever order
// records arrive in, the same claims give the same map.
// When the CIDR is full, the latest claims get no address (reported, not fatal).
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

const PROBES = 16;

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
  /** First usable offset from base and how many usable slots there are. */
  first: number;
  size: number;
  text: string;
}

export function ipv4ToInt(a: string): number {
  const p = a.split('.');
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
}

export function intToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** An IPv4 CIDR (the VIP range). Throws a short message a person can act on. */
export function parseCidr(text: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text.trim());
  if (!m || !isIPv4(m[1]) || +m[2] > 32) throw new Error(`VIP CIDR "${text}" is not an IPv4 CIDR like 198.18.0.0/15`);
  const prefix = +m[2];
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const base = (ipv4ToInt(m[1]) & mask) >>> 0;
  const total = 2 ** (32 - prefix);
  // The network and broadcast addresses are not handed out (except in /31 and /32).
  const first = total > 2 ? 1 : 0;
  const size = total > 2 ? total - 2 : total;
  return { base, prefix, first, size, text: `${intToIpv4(base)}/${prefix}` };
}

export function inCidr(cidr: Cidr, addr: string): boolean {
  if (!isIPv4(addr)) return false;
  const n = ipv4ToInt(addr);
  return n - cidr.base >= 0 && n - cidr.base < 2 ** (32 - cidr.prefix);
}

/** An IPv6 CIDR (lb.vipCidr6). Slots are the offsets from the network address, at most 2^48 of them. */
export interface Cidr6 {
  family: 'ipv6';
  base: bigint;
  prefix: number;
  first: number;
  size: number;
  text: string;
}

export function ipv6ToBig(a: string): bigint {
  let text = a.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToInt(v4[1]);
    text = text.slice(0, v4.index) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** RFC 5952's text (as nft and inet_ntop print it): the longest run of two or more zero groups is `::`. */
export function bigToIpv6(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = [-1, 0];
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best[1] && j - i >= 2) best = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best[0] < 0) return hex.join(':');
  return `${hex.slice(0, best[0]).join(':')}::${hex.slice(best[0] + best[1]).join(':')}`;
}

/** An address as nft prints it: IPv6 in RFC 5952 form, IPv4 unchanged. */
export const canonicalIp = (a: string): string => (isIPv6(a) ? bigToIpv6(ipv6ToBig(a)) : a);

/** An IPv6 CIDR (lb.vipCidr6). Throws a short message a person can act on. */
export function parseCidr6(text: string): Cidr6 {
  const m = /^([0-9a-fA-F:]+)\/(\d+)$/.exec(text.trim());
  if (!m || !isIPv6(m[1]) || +m[2] > 128)
    throw new Error(`VIP CIDR "${text}" is not an IPv6 CIDR like fd00:5:0:0::/64`);
  const prefix = +m[2];
  const host = 128n - BigInt(prefix);
  const base = (ipv6ToBig(m[1]) >> host) << host;
  const total = 2n ** host;
  // The first address is the subnet-router anycast address (RFC 4291): not handed out.
  const first = total > 1n ? 1 : 0;
  const size = Number(total - BigInt(first) < 2n ** 48n ? total - BigInt(first) : 2n ** 48n);
  return { family: 'ipv6', base, prefix, first, size, text: `${bigToIpv6(base)}/${prefix}` };
}

export function inCidr6(cidr: Cidr6, addr: string): boolean {
  if (!isIPv6(addr)) return false;
  const off = ipv6ToBig(addr) - cidr.base;
  return off >= 0n && off < 2n ** BigInt(128 - cidr.prefix);
}

/** A CIDR of either family as slots: what the allocation below needs of it. */
interface Slots {
  size: number;
  /** The slot of an address, or undefined when it is outside the slots. */
  slotOf(addr: string): number | undefined;
  addrOf(slot: number): string;
}

function slotsOf(cidr: Cidr | Cidr6): Slots {
  if ('family' in cidr) {
    return {
      size: cidr.size,
      slotOf: (a) => {
        if (!inCidr6(cidr, a)) return undefined;
        const s = ipv6ToBig(a) - cidr.base - BigInt(cidr.first);
        return s < BigInt(cidr.size) ? Number(s) : undefined;
      },
      addrOf: (s) => bigToIpv6(cidr.base + BigInt(cidr.first + s)),
    };
  }
  return {
    size: cidr.size,
    slotOf: (a) => (inCidr(cidr, a) ? ipv4ToInt(a) - cidr.base - cidr.first : undefined),
    addrOf: (s) => intToIpv4((cidr.base + cidr.first + s) >>> 0),
  };
}

function probe(name: string, k: number, size: number): number {
  const h = createHash('sha256').update(`${name}\0${k}`).digest();
  // 48 bits of hash, so the modulo is near-uniform for any CIDR size.
  return (h.readUIntBE(0, 6) % size) | 0;
}

export interface Allocation {
  /** VIP (name or literal IP) -> address. */
  addrs: Map<string, string>;
  /** Names that got no address because the CIDR is full, in claim order. */
  unallocated: string[];
  /** Literal IPs inside the CIDR whose address an earlier claim holds -> the VIP holding it. */
  conflicts: Map<string, string>;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const isLiteral = (v: string): boolean => isIPv4(v) || v.includes(':');

/**
 * Addresses for a set of VIPs (names and literal IPs); a pure function of the set and the
 * claims (VIP -> claim time; a VIP without one claims at 0). `reserved`: addresses inside
 * the CIDR no VIP may take (members' own addresses).
 */
export function allocate(
  vips: Iterable<string>,
  cidr: Cidr | Cidr6,
  claims?: ReadonlyMap<string, number>,
  reserved: Iterable<string> = [],
): Allocation {
  const addrs = new Map<string, string>();
  const conflicts = new Map<string, string>();
  const taken = new Map<number, string>();
  const slots = slotsOf(cidr);
  for (const r of reserved) {
    const s = slots.slotOf(r);
    if (s !== undefined) taken.set(s, '');
  }
  const claim = (v: string): number => claims?.get(v) ?? 0;
  // Literals first on a tie, so that with no claims at all a literal keeps its slot (as before).
  const order = [...new Set(vips)].sort(
    (a, b) => claim(a) - claim(b) || Number(isLiteral(b)) - Number(isLiteral(a)) || byCodePoint(a, b),
  );
  const unallocated: string[] = [];
  for (const v of order) {
    if (isLiteral(v)) {
      const s = slots.slotOf(v);
      if (s === undefined) {
        addrs.set(v, v);
        continue;
      }
      const holder = taken.get(s);
      if (holder !== undefined) conflicts.set(v, holder);
      else {
        taken.set(s, v);
        addrs.set(v, v);
      }
      continue;
    }
    if (taken.size >= slots.size) {
      unallocated.push(v);
      continue;
    }
    let slot = -1;
    let last = 0;
    for (let k = 0; k < PROBES && slot < 0; k++) {
      last = probe(v, k, slots.size);
      if (!taken.has(last)) slot = last;
    }
    for (let i = 1; slot < 0 && i <= slots.size; i++) {
      const s = (last + i) % slots.size;
      if (!taken.has(s)) slot = s;
    }
    taken.set(slot, v);
    addrs.set(v, slots.addrOf(slot));
  }
  return { addrs, unallocated, conflicts };
}

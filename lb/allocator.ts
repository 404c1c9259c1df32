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
import { isIPv4 } from 'node:net';

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
  cidr: Cidr,
  claims?: ReadonlyMap<string, number>,
  reserved: Iterable<string> = [],
): Allocation {
  const addrs = new Map<string, string>();
  const conflicts = new Map<string, string>();
  const taken = new Map<number, string>();
  for (const r of reserved) if (inCidr(cidr, r)) taken.set(ipv4ToInt(r) - cidr.base - cidr.first, '');
  const claim = (v: string): number => claims?.get(v) ?? 0;
  // Literals first on a tie, so that with no claims at all a literal keeps its slot (as before).
  const order = [...new Set(vips)].sort(
    (a, b) => claim(a) - claim(b) || Number(isLiteral(b)) - Number(isLiteral(a)) || byCodePoint(a, b),
  );
  const unallocated: string[] = [];
  for (const v of order) {
    if (isLiteral(v)) {
      if (!inCidr(cidr, v)) {
        addrs.set(v, v);
        continue;
      }
      const s = ipv4ToInt(v) - cidr.base - cidr.first;
      const holder = taken.get(s);
      if (holder !== undefined) conflicts.set(v, holder);
      else {
        taken.set(s, v);
        addrs.set(v, v);
      }
      continue;
    }
    if (taken.size >= cidr.size) {
      unallocated.push(v);
      continue;
    }
    let slot = -1;
    let last = 0;
    for (let k = 0; k < PROBES && slot < 0; k++) {
      last = probe(v, k, cidr.size);
      if (!taken.has(last)) slot = last;
    }
    for (let i = 1; slot < 0 && i <= cidr.size; i++) {
      const s = (last + i) % cidr.size;
      if (!taken.has(s)) slot = s;
    }
    taken.set(slot, v);
    addrs.set(v, intToIpv4((cidr.base + cidr.first + slot) >>> 0));
  }
  return { addrs, unallocated, conflicts };
}

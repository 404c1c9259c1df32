// VIP addresses, hashed from VIP names into a CIDR, with no coordination between nodes.
//
// The rule (every node holding the same set of names computes the same map):
//   1. A literal-IP VIP is its own address; if it lies in the CIDR it reserves that slot.
//   2. Names are taken in code-point order. Each probes hash(name, 0), hash(name, 1), ...
//      (PROBES rehashes), then the slots after its last probe, and keeps the first slot
//      not already held. So the smallest of two colliding names keeps the slot and the
//      other moves on, whatever order the names arrived in.
// A name's address depends only on the names sorting before it that land on one of its
// probes: adding a VIP can move a later-sorting VIP it collides with (and that one, in
// turn, a later one on its path), never an earlier one. With a sparse CIDR (the default
// /8 holds 16.7M slots) that is rare; with a tiny one it is routine, and still agreed on.
// When the CIDR is full, the names sorting last get no address (reported, not fatal).
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';

export const DEFAULT_VIP_CIDR = '11.0.0.0/8';
/** Where the userspace datapath listens: on Linux every 127/8 address is local, and 127.128/9 is rarely used. */
export const DEFAULT_PROXY_CIDR = '127.128.0.0/9';
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
  if (!m || !isIPv4(m[1]) || +m[2] > 32) throw new Error(`VIP CIDR "${text}" is not an IPv4 CIDR like 11.0.0.0/8`);
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
  /** Names that got no address because the CIDR is full, in code-point order. */
  unallocated: string[];
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Addresses for a set of VIPs (names and literal IPs); a pure function of the set. */
export function allocate(vips: Iterable<string>, cidr: Cidr): Allocation {
  const addrs = new Map<string, string>();
  const taken = new Set<number>();
  const names: string[] = [];
  for (const v of new Set(vips)) {
    if (isIPv4(v) || v.includes(':')) {
      addrs.set(v, v);
      if (inCidr(cidr, v)) taken.add(ipv4ToInt(v) - cidr.base - cidr.first);
    } else names.push(v);
  }
  names.sort(byCodePoint);
  const unallocated: string[] = [];
  for (const name of names) {
    if (taken.size >= cidr.size) {
      unallocated.push(name);
      continue;
    }
    let slot = -1;
    let last = 0;
    for (let k = 0; k < PROBES && slot < 0; k++) {
      last = probe(name, k, cidr.size);
      if (!taken.has(last)) slot = last;
    }
    for (let i = 1; slot < 0 && i <= cidr.size; i++) {
      const s = (last + i) % cidr.size;
      if (!taken.has(s)) slot = s;
    }
    taken.add(slot);
    addrs.set(name, intToIpv4((cidr.base + cidr.first + slot) >>> 0));
  }
  return { addrs, unallocated };
}

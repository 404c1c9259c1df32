// Sets of IP networks, and client addresses as dgram and net report them, matched without
// allocating: the DNS server asks about every UDP packet (recursion ACL, rate-limit keys).
// overlay/cidr.ts and lb/allocator.ts parse IPv4 only, with a split per call; clients here
// come over IPv6 too (and as ::ffff:a.b.c.d on a dual-stack socket).

/** An IPv4 dotted quad as an unsigned 32-bit number, or -1. No allocation. */
export function ipv4Number(s: string, from = 0): number {
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + octet;
}

/**
 * An IPv6 address into `out` (8 groups); false when it is not one. A zone (%eth0) is ignored,
 * an embedded IPv4 tail is read. No allocation.
 */
export function ipv6Groups(s: string, out: Uint16Array): boolean {
  let end = s.indexOf('%');
  if (end < 0) end = s.length;
  let n = 0;
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === end) {
      out.fill(0);
      return true;
    }
  }
  while (i < end) {
    if (n === 8) return false;
    // An IPv4 tail takes two groups.
    let j = i;
    while (j < end && s.charCodeAt(j) !== 58 && s.charCodeAt(j) !== 46) j++;
    if (j < end && s.charCodeAt(j) === 46) {
      if (n > 6) return false;
      const v4 = ipv4Number(s.slice(i, end));
      if (v4 < 0) return false;
      out[n++] = v4 >>> 16;
      out[n++] = v4 & 0xffff;
      break; // the tail ends the address
    }
    if (j === i || j - i > 4) return false;
    let g = 0;
    for (let k = i; k < j; k++) {
      const c = s.charCodeAt(k);
      const h = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (h < 0) return false;
      g = g * 16 + h;
    }
    out[n++] = g;
    i = j;
    if (i < end) {
      i++; // the ':'
      if (i < end && s.charCodeAt(i) === 58) {
        if (gap >= 0) return false;
        gap = n;
        i++;
      } else if (i === end) return false;
    }
  }
  if (gap < 0) return n === 8;
  if (n === 8) return false;
  // Move the groups after the gap to the end, zeros in between.
  const after = n - gap;
  for (let k = 0; k < after; k++) out[7 - k] = out[n - 1 - k];
  for (let k = gap; k < 8 - after; k++) out[k] = 0;
  return true;
}

const scratch = new Uint16Array(8);

/** An address as dgram reports it: IPv4 as a number (also when mapped into IPv6), else -1 with the groups in `groups`; -2 when it is no address. */
export function clientAddress(s: string, groups: Uint16Array = scratch): number {
  const v4 = ipv4Number(s);
  if (v4 >= 0) return v4;
  if (!ipv6Groups(s, groups)) return -2;
  if (
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0xffff
  )
    return groups[6] * 65536 + groups[7];
  return -1;
}

export interface Net {
  text: string;
  v4: boolean;
  /** IPv4: the network as a number; IPv6: unused. */
  base: number;
  /** IPv6: the network's groups. */
  groups: Uint16Array;
  len: number;
}

/** `a.b.c.d/len` or `v6/len` (host bits set are allowed and ignored, as in `ip addr`), or undefined. */
export function parseNet(text: string): Net | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  const v4 = ipv4Number(addr);
  if (v4 >= 0) {
    if (len > 32) return undefined;
    return { text, v4: true, base: mask4(v4, len), groups: new Uint16Array(8), len };
  }
  const groups = new Uint16Array(8);
  if (!ipv6Groups(addr, groups) || len > 128) return undefined;
  for (let g = 0; g < 8; g++) {
    const bits = Math.max(0, Math.min(16, len - g * 16));
    groups[g] &= bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
  }
  return { text, v4: false, base: 0, groups, len };
}

function mask4(n: number, len: number): number {
  return len === 0 ? 0 : (n - (n % 2 ** (32 - len))) >>> 0;
}

/** A set of networks: does it hold an address? */
export class NetSet {
  private v4base: number[] = [];
  private v4size: number[] = [];
  private v6: Net[] = [];

  constructor(nets: Iterable<Net> = []) {
    this.set(nets);
  }

  set(nets: Iterable<Net>): void {
    this.v4base = [];
    this.v4size = [];
    this.v6 = [];
    for (const n of nets) {
      if (n.v4) {
        this.v4base.push(n.base);
        this.v4size.push(2 ** (32 - n.len));
      } else this.v6.push(n);
    }
  }

  get empty(): boolean {
    return this.v4base.length === 0 && this.v6.length === 0;
  }

  /** Whether the address (as dgram or net report it) is in one of the networks. */
  has(address: string): boolean {
    const v4 = clientAddress(address, scratch);
    if (v4 >= 0) return this.hasV4(v4);
    return v4 === -1 && this.hasV6(scratch);
  }

  hasV4(n: number): boolean {
    const b = this.v4base;
    for (let i = 0; i < b.length; i++) if (n - b[i] >= 0 && n - b[i] < this.v4size[i]) return true;
    return false;
  }

  hasV6(groups: Uint16Array): boolean {
    next: for (const net of this.v6) {
      for (let g = 0; g * 16 < net.len; g++) {
        const bits = Math.min(16, net.len - g * 16);
        const mask = (0xffff << (16 - bits)) & 0xffff;
        if ((groups[g] & mask) !== net.groups[g]) continue next;
      }
      return true;
    }
    return false;
  }
}

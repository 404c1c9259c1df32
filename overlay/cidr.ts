// IPv4 prefixes as numbers. The overlay is IPv4 only: flannel's and dcos-net's VXLAN
// overlays are too, and a /16 of /24s covers 256 nodes per cluster CIDR; a bigger cluster
// widens the CIDR or narrows the subnets.

export interface Prefix {
  /** The network address as an unsigned 32-bit number (host bits zero). */
  readonly base: number;
  /** Prefix length, 0..32. */
  readonly len: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The address as a number, or undefined unless it is a dotted quad. */
export function parseIPv4(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const sizeOf = (len: number): number => 2 ** (32 - len);

/** A prefix in a.b.c.d/len form with no host bits set, or undefined. */
export function parsePrefix(s: unknown): Prefix | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const base = parseIPv4(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (base === undefined || !/^(3[0-2]|[12]?\d)$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (base % sizeOf(len) !== 0) return undefined;
  return { base, len };
}

export function formatPrefix(p: Prefix): string {
  return `${formatIPv4(p.base)}/${p.len}`;
}

/** Does `outer` contain all of `inner`? */
export function contains(outer: Prefix, inner: Prefix): boolean {
  return inner.len >= outer.len && Math.floor(inner.base / sizeOf(outer.len)) === outer.base / sizeOf(outer.len);
}

/** CIDR blocks are nested or disjoint, so two overlap exactly when one contains the other. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  return contains(a, b) || contains(b, a);
}

/** How many subnets of length `len` the prefix holds. */
export function subnetCount(p: Prefix, len: number): number {
  return len < p.len ? 0 : 2 ** (len - p.len);
}

/** The i-th subnet of length `len` inside `p`. */
export function subnetAt(p: Prefix, len: number, i: number): Prefix {
  return { base: p.base + i * sizeOf(len), len };
}

/** The address `offset` places above the network address. */
export function hostAt(p: Prefix, offset: number): string {
  return formatIPv4(p.base + offset);
}

/** The prefix itself and every shorter prefix containing it, as keys (for overlap lookups). */
export function ancestorKeys(p: Prefix): string[] {
  const out: string[] = [];
  for (let len = p.len; len >= 0; len--) out.push(`${p.base - (p.base % sizeOf(len))}/${len}`);
  return out;
}

export const prefixKey = (p: Prefix): string => `${p.base}/${p.len}`;

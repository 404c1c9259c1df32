// Subnet leases: which subnet of the cluster CIDR each node takes, with no coordinator.
//
// Every node writes its own claim (overlay/<node>, records.ts) and reads everyone's. Two
// claims conflict when their subnets overlap. The rule, the same on every node and
// depending only on the claims: the claim with the earlier claimedAt wins, ties broken
// by node name (code points). A claim holds its subnet only if no overlapping claim
// precedes it; the node whose claim does not hold picks another subnet. So the earliest
// claim of the cluster never moves, the next never moves once it does not overlap the
// first, and so on: it converges whatever the order in which claims arrive.
//
// A node picks subnets in an order derived from a hash of its name (double hashing over
// the subnets of the CIDR), skipping any overlapping a claim it can see. A node that lost
// its data directory therefore re-derives the subnet it had, unless someone took it
// meanwhile. The claims seen include those of owners that are dead but not yet reaped
// (the store's 'all' view), so a node that comes back within reapAfter finds its subnet
// still free; the store reaps a long-dead owner's records, which frees its subnet.
//
// A new claim is stamped max(now, latest claimedAt seen + 1): a node that moves never
// outranks a claim it already knew of, even with a clock behind everyone else's, while
// the wall clock keeps a newly started node (that has not yet received the others'
// claims) from outranking incumbents that claimed long ago.
import { murmur3 } from '../crdt-store/hash.js';
import { ancestorKeys, contains, formatPrefix, prefixKey, subnetAt, subnetCount, type Prefix } from './cidr.js';
import type { Lease, LeaseRecord, Vtep } from './records.js';

export interface LeaseConfig {
  /** The cluster CIDR every subnet comes from. */
  cidr: Prefix;
  /** Prefix length of one node's subnet (24: a /24 per node). */
  subnetLen: number;
}

export interface Claim {
  node: string;
  prefix: Prefix;
  claimedAt: number;
}

/** Does claim `a` take precedence over claim `b`? */
export function precedes(a: Claim, b: Claim): boolean {
  if (a.claimedAt !== b.claimedAt) return a.claimedAt < b.claimedAt;
  return a.node < b.node;
}

/** Prefixes seen so far, for "does this one overlap any of them" in O(prefix length). */
class PrefixSet {
  private readonly exact = new Set<string>();
  /** Every prefix containing one of `exact` (itself included). */
  private readonly covering = new Set<string>();

  add(p: Prefix): void {
    this.exact.add(prefixKey(p));
    for (const k of ancestorKeys(p)) this.covering.add(k);
  }

  overlapsAny(p: Prefix): boolean {
    return this.covering.has(prefixKey(p)) || ancestorKeys(p).some((k) => this.exact.has(k));
  }
}

/** The claims that hold their subnet: those no overlapping claim precedes. */
export function holding<T extends Claim>(claims: readonly T[]): T[] {
  const sorted = [...claims].sort((a, b) => (precedes(a, b) ? -1 : precedes(b, a) ? 1 : 0));
  const seen = new PrefixSet();
  const out: T[] = [];
  for (const c of sorted) {
    if (!seen.overlapsAny(c.prefix)) out.push(c);
    seen.add(c.prefix);
  }
  return out;
}

/** The order in which `node` tries the subnets: indices 0..count-1, each once. */
export function* probeOrder(node: string, count: number): Generator<number> {
  if (count <= 0) return;
  const start = murmur3(node, 0x0e1a) % count;
  // count is a power of two, so any odd step visits every index once.
  const step = count === 1 ? 1 : (murmur3(node, 0x57e9) % count) | 1;
  for (let i = 0, at = start; i < count; i++, at = (at + step) % count) yield at;
}

export function fitsConfig(p: Prefix, cfg: LeaseConfig): boolean {
  return p.len === cfg.subnetLen && contains(cfg.cidr, p);
}

/**
 * Claims that count: inside the cluster CIDR and no wider than one subnet. A node with
 * another config (a narrower subnet prefix during a change) still counts; a faulty one
 * claiming 10.0.0.0/8 must not take every subnet from everyone.
 */
export function countsAsClaim(p: Prefix, cfg: LeaseConfig): boolean {
  return p.len >= cfg.subnetLen && contains(cfg.cidr, p);
}

export type LeaseDecision =
  /** The current claim holds (possibly with a new vtep to write). */
  | { kind: 'keep'; record: LeaseRecord }
  /** Claim this subnet now (the current claim lost, is missing, or does not fit the config). */
  | { kind: 'claim'; record: LeaseRecord; lostTo?: string }
  /** No subnet left that does not overlap someone's claim. */
  | { kind: 'exhausted'; held: number; lostTo?: string };

/**
 * What `self` should hold, given its current claim (if any), the others' claims (every
 * claim the store holds, dead owners' included) and the VTEP it publishes.
 */
export function decideLease(
  self: string,
  own: Lease | undefined,
  claims: readonly Claim[],
  cfg: LeaseConfig,
  vtep: Vtep,
  now: number,
): LeaseDecision {
  const others = claims.filter((c) => c.node !== self && countsAsClaim(c.prefix, cfg));
  let lostTo: string | undefined;
  if (own && fitsConfig(own.prefix, cfg)) {
    const winner = others.find(
      (o) => precedes(o, own) && (contains(o.prefix, own.prefix) || contains(own.prefix, o.prefix)),
    );
    if (!winner) return { kind: 'keep', record: { subnet: own.subnet, claimedAt: own.claimedAt, vtep } };
    lostTo = winner.node;
  }
  const taken = new PrefixSet();
  let latest = -1;
  for (const o of others) {
    taken.add(o.prefix);
    latest = Math.max(latest, o.claimedAt);
  }
  if (own) latest = Math.max(latest, own.claimedAt);
  const count = subnetCount(cfg.cidr, cfg.subnetLen);
  for (const i of probeOrder(self, count)) {
    const p = subnetAt(cfg.cidr, cfg.subnetLen, i);
    if (taken.overlapsAny(p)) continue;
    const claimedAt = Math.max(Math.floor(now), latest + 1);
    return { kind: 'claim', record: { subnet: formatPrefix(p), claimedAt, vtep }, ...(lostTo ? { lostTo } : {}) };
  }
  return { kind: 'exhausted', held: others.length, ...(lostTo ? { lostTo } : {}) };
}

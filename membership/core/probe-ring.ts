// Cluster-aligned probe order. memberlist's nodes each shuffle their own list, so the
// probes a crashed node receives arrive as a Poisson stream: the first one comes after
// ~1 s on average but after 4.6 s at the 99th percentile, which dominates the tail of
// detection time. Here every node derives the same shuffle of the live members for each
// cycle, and in round r probes the member r+1 places after itself. With views that agree
// and clocks that agree (wall time, NTP), each round is a permutation: every live member
// is probed exactly once per probe interval, so a crash is probed within one interval.
// With unsynchronised clocks the offsets are unrelated and this degrades to a plain
// shuffled round-robin, each node still visiting every member once per cycle.

import { isLive, type Member, type MemberTable } from './members.js';

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Indexes packed below each key (sortPacked): room for 2^21 live members, beyond which a plain sort does. */
const INDEX_SPAN = 2 ** 21;

export class ProbeRing {
  /** Registry numbers of the live members, in ring order. */
  // Stryker disable next-line ArrayDeclaration: the first target() always builds: cycles count from time 0 and table versions from 0, so neither is -1
  private ring: Uint32Array = new Uint32Array(0);
  // Stryker disable next-line UnaryOperator: the first target() always builds: cycles count from time 0 and table versions from 0, so neither is -1
  private selfIndex = -1;
  // Stryker disable next-line ObjectLiteral,UnaryOperator: the first target() always builds: cycles count from time 0 and table versions from 0, so neither is -1
  private builtFor = { cycle: -1, version: -1 };

  constructor(private readonly table: MemberTable) {}

  /** The member to probe in round `round` (floor(time / probeInterval)), if any. */
  target(round: number): Member | undefined {
    const live = this.table.liveCount();
    // Stryker disable next-line LogicalOperator: the check below refuses the same cases (self not in the ring, or a ring of one)
    if (live < 2 || !isLive(this.table.self)) return undefined;
    const span = live - 1;
    const cycle = Math.floor(round / span);
    this.build(cycle);
    // Stryker disable next-line LogicalOperator: after the check above, self is live so in the ring, and the ring holds live >= 2 members
    if (this.selfIndex < 0 || this.ring.length < 2) return undefined;
    const offset = (round % span) + 1;
    const id = this.ring[(this.selfIndex + offset) % this.ring.length];
    return id === this.table.selfId ? undefined : this.table.byId(id);
  }

  private build(cycle: number): void {
    const version = this.table.version;
    if (this.builtFor.cycle === cycle && this.builtFor.version === version) return;
    const salt = mix32(cycle ^ 0x9e3779b9);
    const live = this.table.liveIds();
    const registry = this.table.registry;
    const key = (id: number) => mix32(registry.hashOf(id) ^ salt);
    const byName = (a: number, b: number) => {
      const x = registry.nameOf(a);
      const y = registry.nameOf(b);
      return x < y ? -1 : x > y ? 1 : 0;
    };
    // Stryker disable next-line all: 2^21 live members is beyond any test, and both ways sort alike (probe-ring-ties pins the order)
    this.ring = registry.ring(
      cycle,
      live,
      (id) => this.table.isLiveId(id),
      () =>
        live.length < INDEX_SPAN ? sortPacked(live, key, byName) : live.sort((a, b) => key(a) - key(b) || byName(a, b)),
    );
    this.selfIndex = this.ring.indexOf(this.table.selfId);
    // Stryker disable next-line ObjectLiteral: a cache key; without it every call rebuilds the same ring
    this.builtFor = { cycle, version };
  }
}

/**
 * `live` sorted by key, then name. Each member's key (32 bits) and its index are packed
 * into one double, so that a numeric sort of a typed array does the work: with a
 * comparator over {member, key} objects, rebuilding the rings was a tenth of the
 * simulator's CPU at 2,000 nodes. Names are hashed once, by the registry.
 */
function sortPacked(
  live: Uint32Array,
  key: (id: number) => number,
  byName: (a: number, b: number) => number,
): Uint32Array {
  const n = live.length;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = key(live[i]) * INDEX_SPAN + i;
  packed.sort();
  const ring = new Uint32Array(n);
  for (let j = 0; j < n; j++) ring[j] = live[packed[j] % INDEX_SPAN];
  // Equal keys (names whose hashes collide) came out in table order: put them in name order.
  for (let j = 0; j < n;) {
    let end = j + 1;
    const k = Math.floor(packed[j] / INDEX_SPAN);
    while (end < n && Math.floor(packed[end] / INDEX_SPAN) === k) end++;
    if (end - j > 1) ring.subarray(j, end).sort(byName);
    j = end;
  }
  return ring;
}

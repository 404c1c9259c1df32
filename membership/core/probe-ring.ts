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

function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Indexes packed below each key (sortPacked): room for 2^21 live members, beyond which a plain sort does. */
const INDEX_SPAN = 2 ** 21;

export class ProbeRing {
  // Stryker disable next-line ArrayDeclaration: the first target() always builds: cycles count from time 0 and table versions from 0, so neither is -1
  private ring: Member[] = [];
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
    const m = this.ring[(this.selfIndex + offset) % this.ring.length];
    return m === this.table.self ? undefined : m;
  }

  private build(cycle: number): void {
    const version = this.table.version;
    if (this.builtFor.cycle === cycle && this.builtFor.version === version) return;
    const salt = mix32(cycle ^ 0x9e3779b9);
    const live: Member[] = [];
    for (const m of this.table.values()) if (isLive(m)) live.push(m);
    const n = live.length;
    // Stryker disable next-line all: 2^21 live members is beyond any test, and both ways sort alike (probe-ring-ties pins the order)
    this.ring =
      n < INDEX_SPAN ? sortPacked(live, salt) : live.sort((a, b) => keyOf(a, salt) - keyOf(b, salt) || byName(a, b));
    this.selfIndex = this.ring.indexOf(this.table.self);
    // Stryker disable next-line ObjectLiteral: a cache key; without it every call rebuilds the same ring
    this.builtFor = { cycle, version };
  }
}

const byName = (a: Member, b: Member) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

const keyOf = (m: Member, salt: number) => mix32(nameHash(m.name) ^ salt);

/**
 * `live` sorted by key, then name. Each member's key (32 bits) and its index are packed
 * into one double, so that a numeric sort of a typed array does the work: with a
 * comparator over {member, key} objects, rebuilding the rings was a tenth of the
 * simulator's CPU at 2,000 nodes. Names are hashed again at each build (once a cycle of
 * N rounds, or when the live set changes): a cache cost an entry per member for good.
 */
function sortPacked(live: Member[], salt: number): Member[] {
  const n = live.length;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = keyOf(live[i], salt) * INDEX_SPAN + i;
  packed.sort();
  const ring: Member[] = new Array<Member>(n);
  for (let j = 0; j < n; j++) ring[j] = live[packed[j] % INDEX_SPAN];
  // Equal keys (names whose hashes collide) came out in table order: put them in name order.
  for (let j = 0; j < n;) {
    let end = j + 1;
    const key = Math.floor(packed[j] / INDEX_SPAN);
    while (end < n && Math.floor(packed[end] / INDEX_SPAN) === key) end++;
    if (end - j > 1) {
      const tied = ring.slice(j, end).sort(byName);
      for (let k = j; k < end; k++) ring[k] = tied[k - j];
    }
    j = end;
  }
  return ring;
}

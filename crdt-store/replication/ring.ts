// Broadcast trees over a ring of the live members. Each member sits at a 52-bit position
// (a salted hash of its name); a broadcast hands every member one range of the ring to
// cover. A node covering (itself, limit) splits the M members inside its range into up to
// `fanout` (F) equal runs and sends to the first member of each, which covers up to the
// next one: every range shrinks F-fold at each hop, so everyone is reached once, in at most
// ceil(log_F N) hops, with N - 1 messages (El-Ansary et al., "Efficient broadcast in
// structured P2P networks", with arity F). A wide fan-out keeps the tree shallow: every
// hop costs a scheduling delay and an event-loop turn at a relay, and a push lost on the
// way costs its whole subtree, at most N / F nodes. The price is F sends at the origin.
//
// Ranges travel as ring positions, not names or indices, so two nodes whose member lists
// differ a little still split the ring consistently; a member one node does not know is
// missed by that broadcast and caught by the lazy path or repair. Different salts give
// independent orders: ring 0 carries eager pushes; on ring 1 each node's successor is
// its lazy peer, an announcer placed independently of the eager tree.

import { position52, RING_SIZE } from '../hash.js';
import { LruMap } from '../../base/lru.js';

export interface RingChild {
  name: string;
  /** The end (exclusive) of the child's range, as a ring position. */
  limit: number;
}

/**
 * Ring positions by salt and name, made once per process: each membership change re-places
 * every member, and a simulator's nodes all place the same names. Bounded; a name pushed
 * out is hashed again.
 */
const placed = new Map<number, LruMap<string, number>>();
const PLACED_NAMES = 65_536;

function placedFor(salt: number): LruMap<string, number> {
  let table = placed.get(salt);
  if (!table) placed.set(salt, (table = new LruMap(PLACED_NAMES)));
  return table;
}

export class BroadcastRing {
  // The members in ring order (ties by name), with their positions beside them: two arrays,
  // not an object and a map entry per member (every node holds a ring of every member).
  private names: string[] = [];
  private positions = new Float64Array(0);
  private readonly placed: LruMap<string, number>;

  constructor(
    private readonly salt: number,
    private readonly fanout = 2,
  ) {
    this.placed = placedFor(salt);
  }

  position(name: string): number {
    // Not getOrAdd: its maker, a closure over the name, would be made at every call (one per packet).
    const known = this.placed.get(name);
    if (known !== undefined) return known;
    const p = position52(name, this.salt);
    this.placed.set(name, p);
    return p;
  }

  /** The members (this node included), each once. */
  setMembers(names: Iterable<string>): void {
    const list = [...names];
    const pos = list.map((n) => this.position(n));
    const order = list.map((_, i) => i);
    order.sort((a, b) => pos[a] - pos[b] || (list[a] < list[b] ? -1 : list[a] > list[b] ? 1 : 0));
    this.names = order.map((i) => list[i]);
    this.positions = Float64Array.from(order, (i) => pos[i]);
  }

  get size(): number {
    return this.names.length;
  }

  /** The member after `self` on this ring (undefined when alone). */
  successor(self: string): string | undefined {
    const i = this.indexOf(self);
    if (i === undefined || this.names.length < 2) return undefined;
    return this.names[(i + 1) % this.names.length];
  }

  /**
   * Where `self` sends a broadcast it covers up to `limit` (undefined: it originates it,
   * and covers the whole ring).
   */
  children(self: string, limit?: number): RingChild[] {
    const i = this.indexOf(self);
    const n = this.names.length;
    if (i === undefined || n < 2) return [];
    const me = this.positions[i];
    const span = limit === undefined ? RING_SIZE : distance(me, limit) || RING_SIZE;
    const m = this.inRange(i, me, span);
    const runs = Math.min(Math.max(2, this.fanout), m);
    // Each run covers up to where the next one starts; the last, up to the range's end.
    const out: RingChild[] = [];
    let start = (i + 1) % n;
    for (let r = 1; r <= runs; r++) {
      const next = (i + 1 + Math.floor((r * m) / runs)) % n;
      out.push({ name: this.names[start], limit: r < runs ? this.positions[next] : (limit ?? me) });
      start = next;
    }
    return out;
  }

  /** Where `name` is in ring order (binary search by its position, then its name), if it is a member. */
  private indexOf(name: string): number | undefined {
    const p = this.position(name);
    let lo = 0;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.positions[mid];
      if (q < p || (q === p && this.names[mid] < name)) lo = mid + 1;
      else hi = mid;
    }
    return this.names[lo] === name ? lo : undefined;
  }

  /** How many members follow slot i within `span` of its position (binary search over the sorted ring). */
  private inRange(i: number, me: number, span: number): number {
    const n = this.names.length;
    let lo = 0; // slots i+1 .. i+lo are in range
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      const d = distance(me, this.positions[(i + mid) % n]);
      if (d !== 0 && d < span) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Clockwise distance from a to b on the ring. */
function distance(a: number, b: number): number {
  const d = b - a;
  return d >= 0 ? d : d + RING_SIZE;
}

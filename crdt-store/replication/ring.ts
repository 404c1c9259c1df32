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

export interface RingChild {
  name: string;
  /** The end (exclusive) of the child's range, as a ring position. */
  limit: number;
}

interface Slot {
  pos: number;
  name: string;
}

export class BroadcastRing {
  private slots: Slot[] = [];
  private readonly index = new Map<string, number>();
  private readonly positions = new Map<string, number>();

  constructor(
    private readonly salt: number,
    private readonly fanout = 2,
  ) {}

  position(name: string): number {
    let p = this.positions.get(name);
    if (p === undefined) {
      p = position52(name, this.salt);
      this.positions.set(name, p);
    }
    return p;
  }

  /** The members (this node included). */
  setMembers(names: Iterable<string>): void {
    const slots: Slot[] = [];
    for (const name of names) slots.push({ pos: this.position(name), name });
    slots.sort((a, b) => a.pos - b.pos || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.slots = slots;
    this.index.clear();
    slots.forEach((s, i) => this.index.set(s.name, i));
    for (const n of this.positions.keys()) if (!this.index.has(n)) this.positions.delete(n);
  }

  get size(): number {
    return this.slots.length;
  }

  /** The member after `self` on this ring (undefined when alone). */
  successor(self: string): string | undefined {
    const i = this.index.get(self);
    if (i === undefined || this.slots.length < 2) return undefined;
    return this.slots[(i + 1) % this.slots.length].name;
  }

  /**
   * Where `self` sends a broadcast it covers up to `limit` (undefined: it originates it,
   * and covers the whole ring).
   */
  children(self: string, limit?: number): RingChild[] {
    const i = this.index.get(self);
    const n = this.slots.length;
    if (i === undefined || n < 2) return [];
    const me = this.slots[i].pos;
    const span = limit === undefined ? RING_SIZE : distance(me, limit) || RING_SIZE;
    const m = this.inRange(i, me, span);
    const runs = Math.min(Math.max(2, this.fanout), m);
    const picked: Slot[] = [];
    for (let r = 0; r < runs; r++) picked.push(this.slots[(i + 1 + Math.floor((r * m) / runs)) % n]);
    return picked.map((s, j) => ({ name: s.name, limit: j + 1 < picked.length ? picked[j + 1].pos : (limit ?? me) }));
  }

  /** How many members follow slot i within `span` of its position (binary search over the sorted ring). */
  private inRange(i: number, me: number, span: number): number {
    const n = this.slots.length;
    let lo = 0; // slots i+1 .. i+lo are in range
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      const d = distance(me, this.slots[(i + mid) % n].pos);
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

// Broadcast trees over a ring of the live members. Each member sits at a 52-bit position
// (a salted hash of its name); a broadcast hands every member one range of the ring to
// cover. A node covering (itself, limit) sends to its successors at index distance 1, 2,
// 4, 8, ... inside the range, each child covering up to the next child: the range halves
// at every hop, so everyone is reached once, in at most ceil(log2 N) hops, with N - 1
// messages (El-Ansary et al., "Efficient broadcast in structured P2P networks").
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

  constructor(private readonly salt: number) {}

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
    const picked: Slot[] = [];
    for (let step = 1; step < n; step *= 2) {
      const s = this.slots[(i + step) % n];
      const d = distance(me, s.pos);
      if (d === 0 || d >= span) break; // fingers only move further round the ring
      if (picked.length === 0 || picked[picked.length - 1] !== s) picked.push(s);
    }
    return picked.map((s, j) => ({ name: s.name, limit: j + 1 < picked.length ? picked[j + 1].pos : (limit ?? me) }));
  }
}

/** Clockwise distance from a to b on the ring. */
function distance(a: number, b: number): number {
  const d = b - a;
  return d >= 0 ? d : d + RING_SIZE;
}

// What the member tables of one process can share: each name's number, and where a member
// lives with what it announced (its place). A table keeps per member only small numbers in
// columns indexed by the name's number, among them the number of a shared place.
//
// Why: the simulator runs N nodes in one process, each holding every member, so N² records.
// As one object per record (plus its entries in two Maps) that was ~220 B each, and the GC
// marked all of them: 10,000 nodes did not fit in 23 GB (bench/scale-sim.ts). The daemon
// has one table and its own registry; the simulator hands one registry to all its nodes.
//
// Names and places are counted: a number whose name no table holds any more is reused, and
// a place no table holds is dropped, so churning names and addresses leave nothing behind.
import type { MemberState, NodeAddress, PushNodeState } from '../messages.js';
import { bytesEqual } from './guards.js';
import { capacityFor, grown } from '../../base/typed-arrays.js';

/** Where a member lives and the metadata it announced, as some table holds it. Never changed: a move makes a new one. */
export interface Place {
  /** The place's own number (a table keeps this, not a reference: numbers cost the GC nothing). */
  readonly no: number;
  readonly id: number;
  readonly addr: string;
  readonly port: number;
  readonly meta: Uint8Array;
  /** The member's address as messages carry it. */
  readonly node: Readonly<NodeAddress>;
  /**
   * The last push/pull entry (without proofs) made from this place, handed out again while
   * a table holds the same incarnation and state: the simulator's nodes then send the same
   * objects, where each push/pull built N new ones, held while in flight.
   */
  entry: Readonly<PushNodeState> | undefined;
}

interface CountedPlace extends Place {
  refs: number;
}

/** FNV-1a over the name's UTF-16 units: the probe ring's key, the same on every node. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Probe rings kept for other tables: views that differ for a while (a death spreading) make a few sets at once. */
const RINGS_KEPT = 4;

export class MemberRegistry {
  private readonly ids = new Map<string, number>();
  /** The last name found, and its number: a push/pull entry is looked up three times in a row, and the next entry is often the next number. */
  private lastName: string | undefined = undefined;
  private lastId = 0;
  private readonly names: (string | undefined)[] = [];
  private nameRefs = new Uint32Array(16);
  private hashes = new Uint32Array(16);
  private readonly free: number[] = [];
  /** Per number, the last place made for it: the next table that holds the same finds it here. */
  private readonly latest: (CountedPlace | undefined)[] = [];
  /** Places by number; 0 is none. */
  private readonly places: (CountedPlace | undefined)[] = [undefined];
  private readonly freePlaces: number[] = [];
  /** Places some table holds, by port then address. */
  private readonly byEndpoint = new Map<number, Map<string, CountedPlace[]>>();
  /** Rings built lately, newest first. */
  private readonly rings: { cycle: number; sum: number; ring: Uint32Array }[] = [];

  /** One more holder of `name`; its number. */
  acquire(name: string): number {
    let id = name === this.lastName ? this.lastId : this.ids.get(name);
    if (id === undefined) {
      id = this.free.pop() ?? this.names.length;
      if (id >= this.nameRefs.length) this.grow(id);
      this.ids.set(name, id);
      this.names[id] = name;
      this.hashes[id] = nameHash(name);
    }
    this.nameRefs[id]++;
    this.lastName = name;
    this.lastId = id;
    return id;
  }

  /** A holder of the number is done with it; the last one frees it. */
  release(id: number): void {
    if (--this.nameRefs[id] > 0) return;
    const name = this.names[id];
    if (name !== undefined) this.ids.delete(name);
    if (name === this.lastName) this.lastName = undefined;
    this.names[id] = undefined;
    this.latest[id] = undefined;
    this.free.push(id);
  }

  /** The number of a name some table holds, if any. */
  lookup(name: string): number | undefined {
    if (name === this.lastName) return this.lastId;
    // A push/pull lists members in the order its sender added them, often ours: try the
    // number after the last one before the map (whose lookups missed the caches at 10,000).
    const next = this.lastId + 1;
    if (this.names[next] === name) {
      this.lastName = name;
      this.lastId = next;
      return next;
    }
    const id = this.ids.get(name);
    if (id !== undefined) {
      this.lastName = name;
      this.lastId = id;
    }
    return id;
  }

  nameOf(id: number): string {
    return this.names[id] as string;
  }

  hashOf(id: number): number {
    return this.hashes[id];
  }

  /** Numbers in use lie below this. */
  get span(): number {
    return this.names.length;
  }

  /** The number of a place for the member, shared with any table that holds the same; the caller holds it until drop(). */
  place(id: number, addr: string, port: number, meta: Uint8Array): number {
    const last = this.latest[id];
    if (last && last.addr === addr && last.port === port && (last.meta === meta || bytesEqual(last.meta, meta))) {
      last.refs++;
      return last.no;
    }
    const node = Object.freeze({ name: this.nameOf(id), addr, port });
    const no = this.freePlaces.pop() ?? this.places.length;
    const p: CountedPlace = { no, id, addr, port, meta, node, entry: undefined, refs: 1 };
    this.places[no] = p;
    this.latest[id] = p;
    let byAddr = this.byEndpoint.get(port);
    if (!byAddr) {
      byAddr = new Map();
      this.byEndpoint.set(port, byAddr);
    }
    const here = byAddr.get(addr);
    if (here) here.push(p);
    else byAddr.set(addr, [p]);
    return no;
  }

  /** The place under a number some table holds. */
  placeAt(no: number): Place {
    return this.places[no] as Place;
  }

  drop(no: number): void {
    const p = this.places[no];
    if (!p || --p.refs > 0) return;
    this.places[no] = undefined;
    this.freePlaces.push(no);
    if (this.latest[p.id] === p) this.latest[p.id] = undefined;
    const byAddr = this.byEndpoint.get(p.port);
    const here = byAddr?.get(p.addr);
    if (!byAddr || !here) return;
    const i = here.indexOf(p);
    if (i >= 0) here.splice(i, 1);
    if (here.length > 0) return;
    byAddr.delete(p.addr);
    if (byAddr.size === 0) this.byEndpoint.delete(p.port);
  }

  /**
   * The probe ring of `cycle` over the live set `live` (numbers, any order), built once for
   * all the tables that hold the same set: a simulated cluster's nodes mostly agree, and each
   * sorting N members for itself was N² log N at every change of the live set. A ring made
   * for another set is never handed out: `isLive` must hold for every number in it, and the
   * sizes must match (its numbers are distinct, so the sets are then equal).
   */
  ring(cycle: number, live: Uint32Array, isLive: (id: number) => boolean, build: () => Uint32Array): Uint32Array {
    let sum = 0;
    for (let i = 0; i < live.length; i++) sum = (sum + this.hashes[live[i]]) >>> 0;
    for (const r of this.rings) {
      if (r.cycle !== cycle || r.sum !== sum || r.ring.length !== live.length) continue;
      let same = true;
      for (let i = 0; i < r.ring.length && same; i++) same = isLive(r.ring[i]);
      if (same) return r.ring;
    }
    const ring = build();
    this.rings.unshift({ cycle, sum, ring });
    if (this.rings.length > RINGS_KEPT) this.rings.pop();
    return ring;
  }

  /** The member as a push/pull entry without proofs, shared with any table that holds the same. */
  entry(place: Place, incarnation: number, state: MemberState): Readonly<PushNodeState> {
    const e = place.entry;
    if (e && e.incarnation === incarnation && e.state === state) return e;
    return (place.entry = Object.freeze({ node: place.node, incarnation, state, meta: place.meta }));
  }

  /** Places some table holds at `addr:port`. */
  at(addr: string, port: number): readonly Place[] | undefined {
    return this.byEndpoint.get(port)?.get(addr);
  }

  private grow(id: number): void {
    const n = capacityFor(this.nameRefs.length, id);
    this.nameRefs = grown(this.nameRefs, n);
    this.hashes = grown(this.hashes, n);
  }
}

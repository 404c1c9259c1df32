// What the member tables of one process can share: each name's number, and where a member
// lives with what it announced (its place). A table keeps per member only small numbers in
// columns indexed by the name's number, and a reference to a shared place.
//
// Why: the simulator runs N nodes in one process, each holding every member, so N² records.
// As one object per record (plus its entries in two Maps) that was ~220 B each, and the GC
// marked all of them: 10,000 nodes did not fit in 23 GB (bench/scale-sim.ts). The daemon
// has one table and its own registry; the simulator hands one registry to all its nodes.
//
// Names and places are counted: a number whose name no table holds any more is reused, and
// a place no table holds is dropped, so churning names and addresses leave nothing behind.
import { bytesEqual } from './guards.js';

/** Where a member lives and the metadata it announced, as some table holds it. Never changed: a move makes a new one. */
export interface Place {
  readonly id: number;
  readonly addr: string;
  readonly port: number;
  readonly meta: Uint8Array;
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
  private readonly names: (string | undefined)[] = [];
  private nameRefs = new Uint32Array(16);
  private hashes = new Uint32Array(16);
  private readonly free: number[] = [];
  /** Per number, the last place made for it: the next table that holds the same finds it here. */
  private readonly latest: (CountedPlace | undefined)[] = [];
  /** Places some table holds, by port then address. */
  private readonly byEndpoint = new Map<number, Map<string, CountedPlace[]>>();
  /** Rings built lately, newest first. */
  private readonly rings: { cycle: number; sum: number; ring: Uint32Array }[] = [];

  /** One more holder of `name`; its number. */
  acquire(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.free.pop() ?? this.names.length;
      if (id >= this.nameRefs.length) this.grow(id);
      this.ids.set(name, id);
      this.names[id] = name;
      this.hashes[id] = nameHash(name);
    }
    this.nameRefs[id]++;
    return id;
  }

  /** A holder of the number is done with it; the last one frees it. */
  release(id: number): void {
    if (--this.nameRefs[id] > 0) return;
    const name = this.names[id];
    if (name !== undefined) this.ids.delete(name);
    this.names[id] = undefined;
    this.latest[id] = undefined;
    this.free.push(id);
  }

  /** The number of a name some table holds, if any. */
  lookup(name: string): number | undefined {
    return this.ids.get(name);
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

  /** A place for the member, shared with any table that holds the same; the caller holds it until drop(). */
  place(id: number, addr: string, port: number, meta: Uint8Array): Place {
    const last = this.latest[id];
    if (last && last.addr === addr && last.port === port && (last.meta === meta || bytesEqual(last.meta, meta))) {
      last.refs++;
      return last;
    }
    const p: CountedPlace = { id, addr, port, meta, refs: 1 };
    this.latest[id] = p;
    let byAddr = this.byEndpoint.get(port);
    if (!byAddr) {
      byAddr = new Map();
      this.byEndpoint.set(port, byAddr);
    }
    const here = byAddr.get(addr);
    if (here) here.push(p);
    else byAddr.set(addr, [p]);
    return p;
  }

  drop(place: Place): void {
    const p = place as CountedPlace;
    if (--p.refs > 0) return;
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

  /** Places some table holds at `addr:port`. */
  at(addr: string, port: number): readonly Place[] | undefined {
    return this.byEndpoint.get(port)?.get(addr);
  }

  private grow(id: number): void {
    let n = this.nameRefs.length;
    while (n <= id) n *= 2;
    const refs = new Uint32Array(n);
    refs.set(this.nameRefs);
    this.nameRefs = refs;
    const hashes = new Uint32Array(n);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }
}

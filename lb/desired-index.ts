// The desired state kept up to date change by change, so that a pass after one record
// changed costs what that record touches, not the whole table (issue 17: rebuilding 1,000
// VIPs x 10 backends for one backend was 40 % of an update's time). Its result is exactly
// computeDesired's over the same records (desired-index.test.ts checks that on random
// sequences of changes); the driver's full passes build a new index from all records, so
// a slip in the bookkeeping here lasts at most until the next full pass.
//
// Per VIP key it keeps who names it (declarations, endpoints), and per VIP name each
// record's claim. The allocator runs again only when its inputs change: a name's claim
// moves (a name that comes or goes moves it from or to none), or the members change; and
// then only the VIPs of names whose address moved are rebuilt. Members or this node's
// addresses changing rebuild every VIP.
import { isIP } from 'node:net';
import { isServing, type DeclaredVip, type Proto } from '../records/schema.js';
import type { Cidr, Cidr6 } from './allocator.js';
import {
  addBackends,
  allocateBoth,
  byDropped,
  cmp,
  refuseLocalAddresses,
  sortedVips,
  vipId,
  type DesiredOptions,
  type DesiredState,
  type DesiredVip,
  type DroppedBackend,
  type RefusedVip,
  type VipEntry,
} from './desired.js';
import type { EndpointEntry } from './records.js';
import type { RefusalReason, VipGuard } from './vip-guard.js';

/** A VIP key and the records naming it. */
interface KeyState {
  vip: string;
  port: number;
  proto: Proto;
  declared: Set<string>;
  endpoints: Map<string, EndpointEntry>;
}

/** What one VIP key contributes to the desired state. */
interface KeyOutput {
  vip?: DesiredVip;
  refused?: RefusedVip;
  dropped: DroppedBackend[];
}

/** What stays fixed for an index's life: the ranges and the guard. */
export interface DesiredIndexOptions {
  guard?: VipGuard;
  cidr6?: Cidr6;
}

/** What may change between passes: members' and this node's addresses. */
export interface DesiredContext {
  members?: ReadonlySet<string>;
  local?: ReadonlySet<string>;
}

type Allocated = ReturnType<typeof allocateBoth>;
type ClaimItem = { vip: string; since?: number };

const sameSet = (a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean =>
  (a?.size ?? 0) === (b?.size ?? 0) && [...(a ?? [])].every((x) => b?.has(x));

export class DesiredIndex {
  private readonly cidr: Cidr;
  private readonly fixed: DesiredIndexOptions;
  private readonly endpoints = new Map<string, EndpointEntry>();
  private readonly declared = new Map<string, DeclaredVip>();
  private readonly keys = new Map<string, KeyState>();
  /** VIP name -> its keys. */
  private readonly nameKeys = new Map<string, Set<string>>();
  /** VIP name -> record ("e " or "d " + store key) -> that record's claim on it. */
  private readonly claimSrc = new Map<string, Map<string, number>>();
  private readonly out = new Map<string, KeyOutput>();
  /** Keys whose output must be rebuilt. */
  private readonly dirty = new Set<string>();
  private allocDirty = true;
  private alloc: Allocated | undefined;
  private sortedKeys: string[] | undefined;
  private members: ReadonlySet<string> | undefined;
  private local: ReadonlySet<string> | undefined;
  /** Literal VIP -> the guard's verdict with the current members. */
  private verdicts = new Map<string, { reason: RefusalReason; message: string } | undefined>();
  private last: DesiredState | undefined;

  constructor(cidr: Cidr, opts: DesiredIndexOptions = {}) {
    this.cidr = cidr;
    this.fixed = opts;
  }

  /** An index holding these records. */
  static of(
    endpoints: Iterable<[string, EndpointEntry]>,
    declared: Iterable<[string, DeclaredVip]>,
    cidr: Cidr,
    opts: DesiredIndexOptions = {},
  ): DesiredIndex {
    const d = new DesiredIndex(cidr, opts);
    for (const [k, e] of endpoints) d.endpoint(k, e);
    for (const [k, v] of declared) d.declare(k, v);
    return d;
  }

  /** The endpoint record at a store key is now `e` (undefined: gone). */
  endpoint(key: string, e: EndpointEntry | undefined): void {
    const before = this.endpoints.get(key);
    if (before === e) return;
    if (e) this.endpoints.set(key, e);
    else this.endpoints.delete(key);
    const left: string[] = [];
    for (const b of before?.rec.vips ?? []) {
      const id = vipId(b.vip, b.port, b.proto);
      this.keys.get(id)?.endpoints.delete(key);
      left.push(id);
    }
    for (const b of e?.rec.vips ?? []) this.keyState(b.vip, b.port, b.proto).endpoints.set(key, e!);
    for (const id of left) this.dropIfUnnamed(id);
    this.reclaim(`e ${key}`, before?.rec.vips ?? [], e?.rec.vips ?? []);
  }

  /** The declared VIP at a store key is now `d` (undefined: gone). */
  declare(key: string, d: DeclaredVip | undefined): void {
    const before = this.declared.get(key);
    if (before === d) return;
    if (d) this.declared.set(key, d);
    else this.declared.delete(key);
    const id = before && vipId(before.vip, before.port, before.proto);
    if (id) this.keys.get(id)?.declared.delete(key);
    if (d) this.keyState(d.vip, d.port, d.proto).declared.add(key);
    if (id) this.dropIfUnnamed(id);
    this.reclaim(`d ${key}`, before ? [before] : [], d ? [d] : []);
  }

  /** The VIP key's state, created if missing; marked for rebuilding. */
  private keyState(vip: string, port: number, proto: Proto): KeyState {
    const key = vipId(vip, port, proto);
    let k = this.keys.get(key);
    if (!k) {
      this.keys.set(key, (k = { vip, port, proto, declared: new Set(), endpoints: new Map() }));
      let names = this.nameKeys.get(vip);
      if (!names) this.nameKeys.set(vip, (names = new Set()));
      names.add(key);
      this.sortedKeys = undefined;
    }
    this.dirty.add(key);
    return k;
  }

  /** Marks the key for rebuilding, and forgets it when no record names it. */
  private dropIfUnnamed(key: string): void {
    const k = this.keys.get(key);
    if (!k) return;
    this.dirty.add(key);
    if (k.endpoints.size || k.declared.size) return;
    this.keys.delete(key);
    const names = this.nameKeys.get(k.vip);
    names?.delete(key);
    if (names?.size === 0) this.nameKeys.delete(k.vip);
    this.sortedKeys = undefined;
  }

  /** A name's claim: the earliest among the records naming it (claims.ts). */
  private claimOf(vip: string): number | undefined {
    const src = this.claimSrc.get(vip);
    if (!src) return undefined;
    let min = Infinity;
    for (const s of src.values()) if (s < min) min = s;
    return min;
  }

  /** One record's claims were `before` and are now `after`; the allocator runs again if a name's claim moved. */
  private reclaim(src: string, before: readonly ClaimItem[], after: readonly ClaimItem[]): void {
    const names = new Set([...before, ...after].map((b) => b.vip));
    const was = new Map([...names].map((n) => [n, this.claimOf(n)]));
    for (const b of before) {
      const m = this.claimSrc.get(b.vip);
      m?.delete(src);
      if (m?.size === 0) this.claimSrc.delete(b.vip);
    }
    for (const b of after) {
      let m = this.claimSrc.get(b.vip);
      if (!m) this.claimSrc.set(b.vip, (m = new Map()));
      m.set(src, Math.min(m.get(src) ?? Infinity, b.since ?? 0));
    }
    for (const n of names) if (this.claimOf(n) !== was.get(n)) this.allocDirty = true;
  }

  private refusalOf(vip: string): { reason: RefusalReason; message: string } | undefined {
    const guard = this.fixed.guard;
    if (!guard || isIP(vip) === 0) return undefined;
    if (!this.verdicts.has(vip)) this.verdicts.set(vip, guard.check(vip, { members: this.members }));
    return this.verdicts.get(vip);
  }

  private opts(): DesiredOptions {
    return { guard: this.fixed.guard, cidr6: this.fixed.cidr6, members: this.members, local: this.local };
  }

  /** Runs the allocator again; marks the keys of every name whose addresses moved. */
  private reallocate(): Allocated {
    const names: string[] = [];
    for (const [name, keys] of this.nameKeys) if (!this.refusalOf(name) && keys.size) names.push(name);
    const claims = new Map<string, number>();
    for (const n of names) claims.set(n, this.claimOf(n) ?? 0);
    const next = allocateBoth(names, this.cidr, claims, this.opts());
    const prev = this.alloc;
    for (const [name, keys] of this.nameKeys) {
      if (prev && prev.addrs.get(name) === next.addrs.get(name) && prev.addrs6.get(name) === next.addrs6.get(name))
        continue;
      for (const k of keys) this.dirty.add(k);
    }
    this.alloc = next;
    this.allocDirty = false;
    return next;
  }

  /** One VIP key's part of the desired state, as computeDesired builds it. */
  private build(key: string, k: KeyState, alloc: Allocated): KeyOutput {
    const r = this.refusalOf(k.vip);
    if (r) return { refused: { key, vip: k.vip, ...r }, dropped: [] };
    const entry: VipEntry = { vip: k.vip, port: k.port, proto: k.proto, backends: new Map(), backends6: new Map() };
    const bound: [EndpointEntry, VipEntry, number][] = [];
    for (const e of k.endpoints.values()) {
      if (!isServing(e.rec)) continue;
      for (const b of e.rec.vips) if (vipId(b.vip, b.port, b.proto) === key) bound.push([e, entry, b.targetPort]);
    }
    const one = new Map([[key, entry]]);
    const refused = new Map<string, RefusedVip>();
    refuseLocalAddresses(one, alloc.addrs, alloc.addrs6, refused, this.opts());
    const dropped: DroppedBackend[] = [];
    addBackends(bound, alloc.addrs, alloc.addrs6, dropped);
    dropped.sort(byDropped);
    const no = refused.get(key);
    if (no) return { refused: no, dropped };
    return { vip: sortedVips(one, alloc.addrs, alloc.addrs6)[0], dropped };
  }

  /**
   * The desired state for these members and local addresses. A VIP that did not change
   * keeps its DesiredVip object from the last call, so a datapath can tell changes by identity.
   */
  compute(ctx: DesiredContext = {}): DesiredState {
    if (!sameSet(ctx.members, this.members)) {
      this.members = ctx.members;
      this.verdicts = new Map();
      this.allocDirty = true;
      for (const k of this.keys.keys()) this.dirty.add(k);
    }
    if (!sameSet(ctx.local, this.local)) {
      this.local = ctx.local;
      for (const k of this.keys.keys()) this.dirty.add(k);
    }
    // A set of the same content, but another object: the options passed on must be the caller's.
    this.members = ctx.members;
    this.local = ctx.local;
    const again = this.allocDirty || !this.alloc;
    const alloc = again ? this.reallocate() : this.alloc!;
    if (!again && this.dirty.size === 0 && this.last) return this.last;
    for (const key of this.dirty) {
      const k = this.keys.get(key);
      if (k) this.out.set(key, this.build(key, k, alloc));
      else this.out.delete(key);
    }
    this.dirty.clear();
    this.sortedKeys ??= [...this.keys.keys()].sort(cmp);
    const vips: DesiredVip[] = [];
    const refused: RefusedVip[] = [];
    const droppedBackends: DroppedBackend[] = [];
    for (const key of this.sortedKeys) {
      const o = this.out.get(key)!;
      if (o.vip) vips.push(o.vip);
      if (o.refused) refused.push(o.refused);
      for (const d of o.dropped) droppedBackends.push(d);
    }
    this.last = {
      vips,
      addrs: alloc.addrs,
      addrs6: alloc.addrs6,
      droppedBackends,
      unallocated: alloc.unallocated,
      conflicts: alloc.conflicts,
      refused,
    };
    return this.last;
  }
}

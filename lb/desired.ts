// The desired state: from the parsed records and the allocator, every VIP with its address
// and backends. Pure, and independent of the order records arrived in: VIPs are sorted by
// key, backends by address and port, duplicates removed.
//
// A VIP exists while any live endpoint binds it (whatever its health) or a `vip/` record
// declares it, so its address does not come and go with its endpoints' health. Its backends
// are the serving endpoints (health healthy or none) bound to it: each of the endpoint's
// addresses of the VIP address's family, at the binding's target port. With lb.vipCidr6 a
// named VIP also gets an IPv6 address (addr6), whose backends (backends6) are the
// endpoints' IPv6 addresses: a VIP address never gets a backend of the other family
// (filtered, not refused: a dual-stack endpoint is normal). IPv6 backends the kernel cannot
// reach as written (link-local, multicast, unspecified, IPv4-mapped) are left out and
// listed in `droppedBackends` with the reason.
//
// With a guard, literal VIPs it refuses are left out (vip-guard.ts): those refused for what
// every node sees alike (the address, the ranges, members' node records) before
// allocation, so every node still agrees on the addresses; those on one of this node's own
// addresses after it, since only this node must not program them.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { isServing, type DeclaredVip, type Proto } from '../records/schema.js';
import { allocate, type Allocation, type Cidr, type Cidr6 } from './allocator.js';
import { vipClaims } from './claims.js';
import type { EndpointEntry } from './records.js';
import { backendRefusal, type RefusalReason, type VipGuard } from './vip-guard.js';

export interface Backend {
  addr: string;
  port: number;
}

export interface DesiredVip {
  /** `<vip>:<port>/<proto>`, as in the store's `vip/` keys. */
  key: string;
  /** The VIP's name, or its literal IP. */
  vip: string;
  /** Undefined when the CIDR is full and this name got no address. */
  addr: string | undefined;
  port: number;
  proto: Proto;
  backends: Backend[];
  /** A named VIP's IPv6 address (lb.vipCidr6), when there is one. */
  addr6?: string;
  /** The backends of addr6 (IPv6). */
  backends6?: Backend[];
}

/** A VIP's addresses, each with its backends. */
export function vipAddresses(v: DesiredVip): { addr: string; backends: Backend[] }[] {
  const out: { addr: string; backends: Backend[] }[] = [];
  if (v.addr !== undefined) out.push({ addr: v.addr, backends: v.backends });
  if (v.addr6 !== undefined) out.push({ addr: v.addr6, backends: v.backends6 ?? [] });
  return out;
}

export interface DroppedBackend {
  key: string;
  addr: string;
  reason: RefusalReason;
}

export interface RefusedVip {
  key: string;
  vip: string;
  reason: RefusalReason;
  message: string;
}

export interface DesiredState {
  vips: DesiredVip[];
  /** VIP name or literal IP -> address. */
  addrs: Map<string, string>;
  /** VIP name -> its IPv6 address (with lb.vipCidr6). */
  addrs6: Map<string, string>;
  /** IPv6 backends left out because the kernel cannot reach them as written, by VIP key and address. */
  droppedBackends: DroppedBackend[];
  unallocated: string[];
  /** Literal IPs in the CIDR whose address an earlier claim holds -> the VIP holding it. */
  conflicts: Map<string, string>;
  /** VIPs the guard refused, by key (not in `vips`). */
  refused: RefusedVip[];
}

export interface DesiredOptions {
  /** Refuses literal VIPs on special, foreign, members' or local addresses. */
  guard?: VipGuard;
  /** Members' addresses: refused as literals, never handed to a name. */
  members?: ReadonlySet<string>;
  /** This node's own addresses: VIPs there are not programmed here. */
  local?: ReadonlySet<string>;
  /** lb.vipCidr6: named VIPs also get an IPv6 address from it. */
  cidr6?: Cidr6;
}

export const vipId = (vip: string, port: number, proto: Proto): string => `${vip}:${port}/${proto}`;

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byBackend = (a: Backend, b: Backend): number => cmp(a.addr, b.addr) || a.port - b.port;
/** Backends left out, by VIP key and address: not in the order records arrived. */
export const byDropped = (a: DroppedBackend, b: DroppedBackend): number => cmp(a.key, b.key) || cmp(a.addr, b.addr);

/** A VIP while the desired state is built: its backends keyed by address and port. */
export interface VipEntry {
  vip: string;
  port: number;
  proto: Proto;
  backends: Map<string, Backend>;
  backends6: Map<string, Backend>;
}

/** The VIPs with their allocated addresses, in key order, backends sorted. */
export function sortedVips(
  vips: Map<string, VipEntry>,
  addrs: ReadonlyMap<string, string>,
  addrs6: ReadonlyMap<string, string>,
): DesiredVip[] {
  const out: DesiredVip[] = [];
  for (const [key, v] of vips) {
    const d: DesiredVip = {
      key,
      vip: v.vip,
      addr: addrs.get(v.vip),
      port: v.port,
      proto: v.proto,
      backends: [...v.backends.values()].sort(byBackend),
    };
    const a6 = addrs6.get(v.vip);
    if (a6 !== undefined) Object.assign(d, { addr6: a6, backends6: [...v.backends6.values()].sort(byBackend) });
    out.push(d);
  }
  return out.sort((a, b) => cmp(a.key, b.key));
}

/** Takes out of `vips` (into `refused`) each VIP allocated an address of this node. */
export function refuseLocalAddresses(
  vips: Map<string, VipEntry>,
  addrs: ReadonlyMap<string, string>,
  addrs6: ReadonlyMap<string, string>,
  refused: Map<string, RefusedVip>,
  opts: DesiredOptions,
): void {
  if (!opts.guard || !opts.local?.size) return;
  for (const [key, v] of vips) {
    const addr = [addrs.get(v.vip), addrs6.get(v.vip)].find((a) => a !== undefined && opts.local?.has(a));
    if (addr === undefined) continue;
    const message = isIP(v.vip) ? opts.guard.check(v.vip, { local: opts.local })?.message : undefined;
    refused.set(key, {
      key,
      vip: v.vip,
      reason: 'local_address',
      message:
        message ??
        `VIP ${v.vip} got ${addr}, an address of this node: it is not programmed here; take that address off the node or out of lb.vipCidr`,
    });
    vips.delete(key);
  }
}

/**
 * Each bound endpoint's addresses of the VIP's family become its backends, on the binding's
 * target port; with an IPv6 address too (addr6), its IPv6 addresses become backends6.
 */
export function addBackends(
  bound: [EndpointEntry, VipEntry, number][],
  addrs: ReadonlyMap<string, string>,
  addrs6: ReadonlyMap<string, string>,
  dropped: DroppedBackend[],
): void {
  for (const [e, v, targetPort] of bound) {
    const six = isIPv6(addrs.get(v.vip) ?? '0.0.0.0');
    for (const a of e.rec.addrs) {
      const into = isIPv4(a)
        ? six
          ? undefined
          : v.backends
        : six
          ? v.backends
          : addrs6.has(v.vip)
            ? v.backends6
            : undefined;
      if (!into) continue;
      const reason = backendRefusal(a);
      if (reason) dropped.push({ key: vipId(v.vip, v.port, v.proto), addr: a, reason });
      else into.set(`${a} ${targetPort}`, { addr: a, port: targetPort });
    }
  }
}

/**
 * Addresses for the VIPs: names and IPv4 literals from lb.vipCidr; with lb.vipCidr6, names
 * also from it (addrs6) and IPv6 literals checked against it. Both in claim order, so the
 * earliest claim keeps its address in each family.
 */
export function allocateBoth(
  vips: string[],
  cidr: Cidr,
  claims: ReadonlyMap<string, number>,
  opts: DesiredOptions,
): Allocation & { addrs6: Map<string, string> } {
  const members = opts.members ?? [];
  const cidr6 = opts.cidr6;
  if (!cidr6) return { ...allocate(vips, cidr, claims, members), addrs6: new Map() };
  const r = allocate(
    vips.filter((v) => !isIPv6(v)),
    cidr,
    claims,
    members,
  );
  const r6 = allocate(
    vips.filter((v) => isIP(v) !== 4),
    cidr6,
    claims,
    members,
  );
  const addrs6 = new Map<string, string>();
  for (const [v, a] of r6.addrs) (isIP(v) ? r.addrs : addrs6).set(v, a);
  for (const [v, h] of r6.conflicts) r.conflicts.set(v, h);
  const unallocated = [...new Set([...r.unallocated, ...r6.unallocated])];
  return { addrs: r.addrs, conflicts: r.conflicts, unallocated, addrs6 };
}

export function computeDesired(
  endpoints: Iterable<EndpointEntry>,
  declared: Iterable<DeclaredVip>,
  cidr: Cidr,
  opts: DesiredOptions = {},
): DesiredState {
  const eps = [...endpoints];
  const decl = [...declared];
  // Literal VIPs the guard refuses for what every node sees alike, each checked once.
  const verdicts = new Map<string, { reason: RefusalReason; message: string } | undefined>();
  const refusalOf = (vip: string) => {
    if (!opts.guard || isIP(vip) === 0) return undefined;
    if (!verdicts.has(vip)) verdicts.set(vip, opts.guard.check(vip, { members: opts.members }));
    return verdicts.get(vip);
  };
  const refusedByKey = new Map<string, RefusedVip>();
  const vips = new Map<string, VipEntry>();
  /** The VIP's entry, or undefined when it is refused (noted once per key). */
  const touch = (vip: string, port: number, proto: Proto) => {
    const key = vipId(vip, port, proto);
    const r = refusalOf(vip);
    if (r) {
      refusedByKey.set(key, { key, vip, ...r });
      return undefined;
    }
    let v = vips.get(key);
    if (!v) vips.set(key, (v = { vip, port, proto, backends: new Map(), backends6: new Map() }));
    return v;
  };
  for (const d of decl) touch(d.vip, d.port, d.proto);
  const bound: [EndpointEntry, NonNullable<ReturnType<typeof touch>>, number][] = [];
  for (const e of eps) {
    for (const b of e.rec.vips) {
      const v = touch(b.vip, b.port, b.proto);
      if (v && isServing(e.rec)) bound.push([e, v, b.targetPort]);
    }
  }
  const claims = vipClaims(eps, decl);
  const { addrs, addrs6, unallocated, conflicts } = allocateBoth(
    [...vips.values()].map((v) => v.vip),
    cidr,
    claims,
    opts,
  );
  // Only now: this node's own addresses must not change what the others compute.
  refuseLocalAddresses(vips, addrs, addrs6, refusedByKey, opts);
  const droppedBackends: DroppedBackend[] = [];
  addBackends(bound, addrs, addrs6, droppedBackends);
  droppedBackends.sort(byDropped);
  const out = sortedVips(vips, addrs, addrs6);
  const refused = [...refusedByKey.values()].sort((a, b) => cmp(a.key, b.key));
  return { vips: out, addrs, addrs6, droppedBackends, unallocated, conflicts, refused };
}

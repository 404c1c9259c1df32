// The desired state: from the parsed records and the allocator, every VIP with its address
// and backends. Pure, and independent of the order records arrived in: VIPs are sorted by
// key, backends by address and port, duplicates removed.
//
// A VIP exists while any live endpoint binds it (whatever its health) or a `vip/` record
// declares it, so its address does not come and go with its endpoints' health. Its backends
// are the serving endpoints (health healthy or none) bound to it: each of the endpoint's
// addresses of the VIP address's family, at the binding's target port.
//
// With a guard, literal VIPs it refuses are left out (vip-guard.ts): those refused for what
// every node sees alike (the address, the ranges, members' node records) before
// allocation, so every node still agrees on the addresses; those on one of this node's own
// addresses after it, since only this node must not program them.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { isServing, type DeclaredVip, type Proto } from '../records/schema.js';
import { allocate, type Cidr } from './allocator.js';
import { vipClaims } from './claims.js';
import type { EndpointEntry } from './records.js';
import type { RefusalReason, VipGuard } from './vip-guard.js';

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
}

export const vipId = (vip: string, port: number, proto: Proto): string => `${vip}:${port}/${proto}`;

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byBackend = (a: Backend, b: Backend): number => cmp(a.addr, b.addr) || a.port - b.port;

/** A VIP while the desired state is built: its backends keyed by address and port. */
interface VipEntry {
  vip: string;
  port: number;
  proto: Proto;
  backends: Map<string, Backend>;
}

/** The VIPs with their allocated addresses, in key order, backends sorted. */
function sortedVips(vips: Map<string, VipEntry>, addrs: ReadonlyMap<string, string>): DesiredVip[] {
  const out: DesiredVip[] = [];
  for (const [key, v] of vips) {
    out.push({
      key,
      vip: v.vip,
      addr: addrs.get(v.vip),
      port: v.port,
      proto: v.proto,
      backends: [...v.backends.values()].sort(byBackend),
    });
  }
  return out.sort((a, b) => cmp(a.key, b.key));
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
    if (!v) vips.set(key, (v = { vip, port, proto, backends: new Map() }));
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
  const { addrs, unallocated, conflicts } = allocate(
    [...vips.values()].map((v) => v.vip),
    cidr,
    claims,
    opts.members ?? [],
  );
  // Only now: this node's own addresses must not change what the others compute.
  if (opts.guard && opts.local?.size) {
    for (const [key, v] of vips) {
      const addr = addrs.get(v.vip);
      if (addr === undefined || !opts.local.has(addr)) continue;
      const message = isIP(v.vip) ? opts.guard.check(v.vip, { local: opts.local })?.message : undefined;
      refusedByKey.set(key, {
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
  for (const [e, v, targetPort] of bound) {
    const six = isIPv6(addrs.get(v.vip) ?? '0.0.0.0');
    for (const a of e.rec.addrs) {
      if (six ? !isIPv6(a) : !isIPv4(a)) continue;
      v.backends.set(`${a} ${targetPort}`, { addr: a, port: targetPort });
    }
  }
  const out = sortedVips(vips, addrs);
  const refused = [...refusedByKey.values()].sort((a, b) => cmp(a.key, b.key));
  return { vips: out, addrs, unallocated, conflicts, refused };
}

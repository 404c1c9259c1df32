// The desired state: from the parsed records and the allocator, every VIP with its address
// and backends. Pure, and independent of the order records arrived in: VIPs are sorted by
// key, backends by address and port, duplicates removed.
//
// A VIP exists while any live endpoint binds it (whatever its health) or a `vip/` record
// declares it, so its address does not come and go with its endpoints' health. Its backends
// are the serving endpoints (health healthy or none) bound to it: each of the endpoint's
// addresses of the VIP address's family, at the binding's target port.
import { isIPv4, isIPv6 } from 'node:net';
import { isServing, type DeclaredVip, type Proto } from '../src/records.js';
import { allocate, type Cidr } from './allocator.js';
import type { EndpointEntry } from './records.js';

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

export interface DesiredState {
  vips: DesiredVip[];
  /** VIP name or literal IP -> address. */
  addrs: Map<string, string>;
  unallocated: string[];
}

export const vipId = (vip: string, port: number, proto: Proto): string => `${vip}:${port}/${proto}`;

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byBackend = (a: Backend, b: Backend): number => cmp(a.addr, b.addr) || a.port - b.port;

export function computeDesired(endpoints: Iterable<EndpointEntry>, declared: Iterable<DeclaredVip>, cidr: Cidr): DesiredState {
  const vips = new Map<string, { vip: string; port: number; proto: Proto; backends: Map<string, Backend> }>();
  const touch = (vip: string, port: number, proto: Proto) => {
    const key = vipId(vip, port, proto);
    let v = vips.get(key);
    if (!v) vips.set(key, (v = { vip, port, proto, backends: new Map() }));
    return v;
  };
  for (const d of declared) touch(d.vip, d.port, d.proto);
  const bound: [EndpointEntry, ReturnType<typeof touch>, number][] = [];
  for (const e of endpoints) {
    for (const b of e.rec.vips) {
      const v = touch(b.vip, b.port, b.proto);
      if (isServing(e.rec)) bound.push([e, v, b.targetPort]);
    }
  }
  const { addrs, unallocated } = allocate([...vips.values()].map((v) => v.vip), cidr);
  for (const [e, v, targetPort] of bound) {
    const six = isIPv6(addrs.get(v.vip) ?? '0.0.0.0');
    for (const a of e.rec.addrs) {
      if (six ? !isIPv6(a) : !isIPv4(a)) continue;
      v.backends.set(`${a} ${targetPort}`, { addr: a, port: targetPort });
    }
  }
  const out: DesiredVip[] = [];
  for (const [key, v] of vips) {
    out.push({ key, vip: v.vip, addr: addrs.get(v.vip), port: v.port, proto: v.proto, backends: [...v.backends.values()].sort(byBackend) });
  }
  out.sort((a, b) => cmp(a.key, b.key));
  return { vips: out, addrs, unallocated };
}

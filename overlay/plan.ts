// The reconciler's core, sans-IO: desired state + actual state -> the fewest iproute2
// commands that turn one into the other. Planning against the state those commands
// produce yields nothing (plan.test.ts checks it on a model, ip.test.ts on the kernel).
//
// Everything on weft's own devices is weft's: an address, route, neighbour or FDB entry
// there that is not desired is removed. Non-permanent neighbour entries are the kernel's
// cache and are left alone unless they shadow a desired one.
import type { DesiredState, PeerEntry } from './desired.js';

export interface VxlanInfo {
  id: number;
  port: number;
  local: string | undefined;
  /** The underlay device's name. */
  link: string | undefined;
  learning: boolean;
}

export interface LinkState {
  name: string;
  /** 'vxlan', 'bridge', ... (undefined: a plain device). */
  kind: string | undefined;
  up: boolean;
  mtu: number;
  mac: string;
  vxlan: VxlanInfo | undefined;
  /** IPv4 addresses with prefix length, e.g. 10.42.1.0/32. */
  addrs: string[];
}

export interface RouteState {
  /** With prefix length, e.g. 10.42.2.0/24 (a host route as /32). */
  dst: string;
  gateway: string | undefined;
  onlink: boolean;
}

export interface NeighState {
  dst: string;
  lladdr: string | undefined;
  permanent: boolean;
}

export interface FdbState {
  mac: string;
  dst: string;
  permanent: boolean;
}

/** The kernel state the planner looks at: weft's devices, and the entries on the VXLAN device. */
export interface ActualState {
  links: Record<string, LinkState>;
  routes: RouteState[];
  neigh: NeighState[];
  fdb: FdbState[];
}

export type CommandKind = 'link' | 'addr' | 'route' | 'neigh' | 'fdb';

export interface Command {
  tool: 'ip' | 'bridge';
  kind: CommandKind;
  /** One line of `ip -batch` / `bridge -batch`. */
  args: string[];
}

export const emptyActual = (): ActualState => ({ links: {}, routes: [], neigh: [], fdb: [] });

const ip = (kind: CommandKind, ...args: (string | number)[]): Command => ({ tool: 'ip', kind, args: args.map(String) });
const br = (...args: (string | number)[]): Command => ({ tool: 'bridge', kind: 'fdb', args: args.map(String) });

/** ip prints a host route without its length. */
export const normDst = (dst: string): string => (dst.includes('/') ? dst : `${dst}/32`);

function vxlanMatches(l: LinkState, d: DesiredState['device']): boolean {
  const v = l.vxlan;
  return (
    l.kind === 'vxlan' &&
    v !== undefined &&
    v.id === d.vni &&
    v.port === d.port &&
    v.local === d.local &&
    v.link === d.dev &&
    !v.learning
  );
}

/**
 * Commands in application order: ip's first (devices, addresses, routes, neighbours),
 * then bridge's (FDB entries need the device). Each tool's commands run as one batch.
 */
export function plan(desired: DesiredState, actual: ActualState): Command[] {
  const out: Command[] = [];
  const dev = desired.device.name;
  const fresh = planDevice(out, desired.device, actual.links[dev]);
  if (desired.bridge) planBridge(out, desired.bridge, actual.links[desired.bridge.name]);
  // A fresh device holds no entries, whatever the old one had.
  planRoutes(out, dev, desired.peers, fresh ? [] : actual.routes);
  planNeighbours(out, dev, desired.peers, fresh ? [] : actual.neigh);
  planFdb(out, dev, desired.peers, fresh ? [] : actual.fdb);
  return out;
}

/** The VXLAN device, its address and link state; true when it is (re)created, so holds no entries. */
function planDevice(out: Command[], d: DesiredState['device'], existing: LinkState | undefined): boolean {
  const dev = d.name;
  let cur = existing;
  let fresh = false;
  // VNI, port, local address and underlay device cannot be changed in place.
  if (cur && !vxlanMatches(cur, d)) {
    out.push(ip('link', 'link', 'del', 'dev', dev));
    cur = undefined;
  }
  if (!cur) {
    out.push(
      ip(
        'link',
        'link',
        'add',
        dev,
        'address',
        d.mac,
        'mtu',
        d.mtu,
        'type',
        'vxlan',
        'id',
        d.vni,
        'dstport',
        d.port,
        'local',
        d.local,
        'dev',
        d.dev,
        'nolearning',
      ),
    );
    fresh = true;
  } else {
    if (cur.mtu !== d.mtu) out.push(ip('link', 'link', 'set', 'dev', dev, 'mtu', d.mtu));
    if (cur.mac !== d.mac) out.push(ip('link', 'link', 'set', 'dev', dev, 'address', d.mac));
  }
  addrs(out, dev, fresh ? [] : cur!.addrs, [d.addr]);
  if (fresh || !cur!.up) out.push(ip('link', 'link', 'set', 'dev', dev, 'up'));
  return fresh;
}

function planBridge(out: Command[], b: NonNullable<DesiredState['bridge']>, existing: LinkState | undefined): void {
  let bcur = existing;
  if (bcur && bcur.kind !== 'bridge') {
    out.push(ip('link', 'link', 'del', 'dev', b.name));
    bcur = undefined;
  }
  if (!bcur) out.push(ip('link', 'link', 'add', b.name, 'type', 'bridge'));
  addrs(out, b.name, bcur?.addrs ?? [], [b.addr]);
  if (!bcur?.up) out.push(ip('link', 'link', 'set', 'dev', b.name, 'up'));
}

function planRoutes(out: Command[], dev: string, peers: readonly PeerEntry[], routes: ActualState['routes']): void {
  const want = new Map<string, PeerEntry>(peers.map((p) => [normDst(p.subnet), p]));
  const routeOk = new Set<string>();
  const routeDel: Command[] = [];
  const perDst = new Map<string, number>();
  for (const r of routes) perDst.set(normDst(r.dst), (perDst.get(normDst(r.dst)) ?? 0) + 1);
  for (const r of routes) {
    const p = want.get(normDst(r.dst));
    // Kept only when alone: a delete of another route to the same destination could hit it.
    if (p && r.gateway === p.gateway && r.onlink && perDst.get(normDst(r.dst)) === 1) routeOk.add(normDst(r.dst));
    else
      routeDel.push(ip('route', 'route', 'del', normDst(r.dst), 'dev', dev, ...(r.gateway ? ['via', r.gateway] : [])));
  }
  // A delete without a gateway removes the first route to that destination, which may be
  // one being kept: the exact ones go first.
  routeDel.sort((a, b) => Number(!a.args.includes('via')) - Number(!b.args.includes('via')));
  out.push(...routeDel);
  for (const p of peers)
    if (!routeOk.has(normDst(p.subnet)))
      out.push(ip('route', 'route', 'replace', p.subnet, 'via', p.gateway, 'dev', dev, 'onlink'));
}

// Neighbours last among ip's lines: `ip neigh` ends the whole batch on a failure
// (iproute2 6.1 exits), where the other commands let -force go on.
function planNeighbours(out: Command[], dev: string, peers: readonly PeerEntry[], neigh: ActualState['neigh']): void {
  const wantGw = new Map<string, PeerEntry>(peers.map((p) => [p.gateway, p]));
  for (const n of neigh)
    if (n.permanent && !wantGw.has(n.dst)) out.push(ip('neigh', 'neigh', 'del', n.dst, 'dev', dev));
  const neighOk = new Set(neigh.filter((n) => n.permanent).map((n) => `${n.dst} ${n.lladdr}`));
  for (const p of peers)
    if (!neighOk.has(`${p.gateway} ${p.mac}`))
      out.push(ip('neigh', 'neigh', 'replace', p.gateway, 'lladdr', p.mac, 'dev', dev, 'nud', 'permanent'));
}

// A unicast MAC has one remote in a VXLAN FDB (`append` adds remotes only to the
// all-zero and multicast MACs), and `replace` rewrites it in place.
function planFdb(out: Command[], dev: string, peers: readonly PeerEntry[], fdb: readonly FdbState[]): void {
  const wantMac = new Map<string, PeerEntry>(peers.map((p) => [p.mac, p]));
  const fdbByMac = new Map<string, FdbState[]>();
  for (const f of fdb) fdbByMac.set(f.mac, [...(fdbByMac.get(f.mac) ?? []), f]);
  for (const [mac, entries] of fdbByMac) {
    const p = wantMac.get(mac);
    if (p && entries.length === 1) continue;
    for (const f of entries)
      if (!p || f.dst !== p.underlay) out.push(br('fdb', 'del', mac, 'dev', dev, 'dst', f.dst, 'self'));
  }
  for (const p of peers) {
    const entries = fdbByMac.get(p.mac) ?? [];
    if (entries.length === 1 && entries[0].dst === p.underlay && entries[0].permanent) continue;
    if (entries.length > 1 && entries.some((f) => f.dst === p.underlay && f.permanent)) continue;
    out.push(br('fdb', 'replace', p.mac, 'dev', dev, 'dst', p.underlay, 'self', 'permanent'));
  }
}

// New addresses first: removing a device's last IPv4 address makes the kernel flush its
// routes and neighbours, which would undo the rest of the plan.
function addrs(out: Command[], dev: string, have: readonly string[], want: readonly string[]): void {
  for (const a of want) if (!have.includes(a)) out.push(ip('addr', 'addr', 'add', a, 'dev', dev));
  for (const a of have) if (!want.includes(a)) out.push(ip('addr', 'addr', 'del', a, 'dev', dev));
}

/**
 * The lease was lost and no subnet is free: this node's overlay addresses (the VTEP's and
 * the gateway on the bridge, now another node's) and every peer entry go, so the host no
 * longer routes that subnet to its own bridge. The devices stay: Docker's network names the
 * bridge, and the next lease gets its addresses back on them.
 */
export function planWithdraw(actual: ActualState, device: string, bridge: string | undefined): Command[] {
  const out: Command[] = [];
  const dev = actual.links[device];
  if (dev) {
    // Entries before addresses: the last address going flushes the routes, and a delete of
    // a route already gone would count as a failure.
    planRoutes(out, device, [], actual.routes);
    planNeighbours(out, device, [], actual.neigh);
    planFdb(out, device, [], actual.fdb);
    addrs(out, device, dev.addrs, []);
  }
  const gw = bridge === undefined ? undefined : actual.links[bridge];
  if (gw) addrs(out, bridge!, gw.addrs, []);
  return out;
}

/** Removes weft's devices; the kernel drops their addresses, routes, neighbours and FDB entries with them. */
export function planCleanup(actual: ActualState, names: readonly string[]): Command[] {
  return names.filter((n) => actual.links[n]).map((n) => ip('link', 'link', 'del', 'dev', n));
}

/** The line `ip -batch` or `bridge -batch` reads. */
export const batchLine = (c: Command): string => c.args.join(' ');

// The records weft keeps in the store, and what their keys look like. This is a protocol
// between nodes: the registrar and the API write these, and DNS, the load balancer and the
// overlay read them on every node. Readers validate every value (a peer may run another
// version or be faulty) and skip what does not parse, counting it.
//
//   node/<node>                          owned by <node>: how to reach the node
//   svc/<service>/<node>/<id>            owned by <node>: one endpoint of a service
//   vip/<name-or-ip>:<port>/<proto>      shared: a VIP declared through the API
//   kv/<key>                             shared: user data (weft kv ...)
//   overlay/<node>                       owned by <node>: its subnet lease (overlay/records.ts)
//   keyring/<node>                       owned by <node>: fingerprints of its keys (src/keyring-sync.ts)
//   keyring-op                           shared: the last cluster-wide keyring operation
//   revoked/<node>                       shared: a CA-signed revocation of node's certificate
//   force-leave/<node>                   shared: an operator's force-leave of a failed node
//
// Only the owner writes its own records (docs/ARCHITECTURE.md, "Owner writes, and the live
// view"): recordOwner() says which document each key belongs in, and the store
// (crdt-store/admission.ts) refuses changes that write a key elsewhere and shows no record
// held elsewhere. A reader ignores records
// whose owner is not alive, which the store's live view already does.
import { isIP } from 'node:net';
import { SHARED_OWNER } from '../crdt-store/names.js';
import { parseEndpointExtras, type EndpointExtras } from './endpoint-tags.js';
import { checksServing, parseCheckRecords, type CheckRecord } from './checks.js';

/** A store event, as crdt-store's watches deliver it (the parts readers use). */
export interface SourceEvent {
  key: string;
  /** owner: the node whose document holds it, or SHARED_OWNER (crdt-store's records say). */
  after: { value: unknown; owner?: string } | undefined;
}

/** What DNS and the LB read records from: crdt-store's LocalStore and StoreNode (live view) both fit. */
export interface RecordSource {
  watch(prefix: string, handler: (event: SourceEvent) => void): () => void;
}

export const NODE_PREFIX = 'node/';
export const SERVICE_PREFIX = 'svc/';
export const VIP_PREFIX = 'vip/';
export const KV_PREFIX = 'kv/';
export const OVERLAY_PREFIX = 'overlay/';
/** revoked/<node>: a CA-signed revocation of node's certificate (issue 13; src/components/identity-routes.ts). */
export const REVOKED_PREFIX = 'revoked/';
/** force-leave/<node>: an operator's weft force-leave of a failed node (src/components/force-leave.ts). */
export const FORCE_LEAVE_PREFIX = 'force-leave/';
export const KEYRING_PREFIX = 'keyring/';
export const KEYRING_OP_KEY = 'keyring-op';

/**
 * The document a key belongs in: the node it names for node/, svc/, overlay/ and keyring/
 * keys, SHARED_OWNER for kv/, vip/ and keyring-op, or undefined for keys of no weft key
 * space (anywhere). A key of an owned space that names no node (malformed) belongs
 * nowhere: SHARED_OWNER would let anyone write it, so it gets an owner no node has.
 */
export function recordOwner(key: string): string | undefined {
  if (
    key.startsWith(KV_PREFIX) ||
    key.startsWith(VIP_PREFIX) ||
    key === KEYRING_OP_KEY ||
    key.startsWith(REVOKED_PREFIX) ||
    key.startsWith(FORCE_LEAVE_PREFIX)
  )
    return SHARED_OWNER;
  if (key.startsWith(SERVICE_PREFIX)) return parseEndpointKey(key)?.node ?? NOBODY;
  for (const prefix of [NODE_PREFIX, OVERLAY_PREFIX, KEYRING_PREFIX]) {
    if (key.startsWith(prefix)) {
      const node = key.slice(prefix.length);
      return node.length > 0 && !node.includes('/') ? node : NOBODY;
    }
  }
  return undefined;
}

/** An owner no document has (not a node name, not SHARED_OWNER): what malformed owned keys get. */
const NOBODY = '';

/** Does a record held by `owner` (a node, or SHARED_OWNER) sit where its key says it belongs? Readers check it too. */
export function ownedAsKeySays(key: string, owner: string | undefined): boolean {
  if (owner === undefined) return true; // a source that does not say (tests' plain maps)
  const want = recordOwner(key);
  return want === undefined || want === owner;
}

export type Proto = 'tcp' | 'udp';
export type Health = 'healthy' | 'starting' | 'unhealthy' | 'none';

export interface NodeRecord {
  /** The node's address (its advertised gossip address). */
  addr: string;
}

export interface PortSpec {
  port: number;
  proto: Proto;
}

/** A VIP this endpoint is a backend of. */
export interface VipBinding {
  /** A VIP name (hashed into the VIP CIDR) or a literal IP address. */
  vip: string;
  port: number;
  proto: Proto;
  /** The endpoint's port that the VIP's traffic goes to. */
  targetPort: number;
  /**
   * When this VIP was first claimed (ms since the epoch), as the writer saw it: the VIP's
   * current claim if it already existed, else the time of writing. The earliest claim
   * keeps its address (lb/claims.ts). Absent in records of older versions: 0.
   */
  since?: number;
}

/** tags, meta and name (records/endpoint-tags.ts): optional, so records of older nodes still parse. */
export interface EndpointRecord extends EndpointExtras {
  service: string;
  /** The endpoint's addresses (IPv4 and/or IPv6), one per network it is on. */
  addrs: string[];
  /** Named ports, for SRV: `_<name>._<proto>.<service>.svc.<domain>`. */
  ports: Record<string, PortSpec>;
  /** Docker's healthcheck state; 'none' when there is no healthcheck. Only healthy and none are answered. */
  health: Health;
  vips: VipBinding[];
  source: 'docker' | 'api';
  /** The container id, for source docker. */
  container?: string;
  /**
   * Source api only: the service file (or config file) that defines it (src/service-files.ts),
   * so a reload knows what is its own to update and remove. Older versions ignore it.
   */
  file?: string;
  /** Health checks run by the owning node (records/checks.ts); absent: none (and in older nodes' records). */
  checks?: CheckRecord[];
}

export interface DeclaredVip {
  vip: string;
  port: number;
  proto: Proto;
  /** As VipBinding.since. */
  since?: number;
}

// A DNS label: what a service or VIP name must be so it can appear in a name.
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isServiceName(name: unknown): name is string {
  return typeof name === 'string' && LABEL.test(name);
}

export const nodeKey = (node: string): string => `${NODE_PREFIX}${node}`;
export const endpointKey = (service: string, node: string, id: string): string =>
  `${SERVICE_PREFIX}${service}/${node}/${id}`;
export const vipKey = (v: DeclaredVip): string => `${VIP_PREFIX}${v.vip}:${v.port}/${v.proto}`;

/** Docker's healthcheck and weft's checks must both allow it: either one failing takes the endpoint out. */
export function isServing(e: EndpointRecord): boolean {
  return (e.health === 'healthy' || e.health === 'none') && checksServing(e.checks);
}

const isPort = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535;
const isProto = (p: unknown): p is Proto => p === 'tcp' || p === 'udp';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
// A path as the file field holds it: printable, bounded (it is shown in tables).
export const FILE_ORIGIN = /^[\x20-\x7e]{1,1024}$/;
const HEALTH: readonly Health[] = ['healthy', 'starting', 'unhealthy', 'none'];

/** A VIP is a service-style name or a literal IP. */
export function isVipName(v: unknown): v is string {
  return typeof v === 'string' && (LABEL.test(v) || isIP(v) !== 0);
}

export function parseNodeRecord(v: unknown): NodeRecord | undefined {
  return isObject(v) && typeof v.addr === 'string' && isIP(v.addr) !== 0 ? { addr: v.addr } : undefined;
}

const isSince = (s: unknown): s is number => s === undefined || (Number.isSafeInteger(s) && (s as number) >= 0);

export function parseVipBinding(v: unknown): VipBinding | undefined {
  if (
    !isObject(v) ||
    !isVipName(v.vip) ||
    !isPort(v.port) ||
    !isProto(v.proto) ||
    !isPort(v.targetPort) ||
    !isSince(v.since)
  )
    return undefined;
  const b: VipBinding = { vip: v.vip, port: v.port, proto: v.proto, targetPort: v.targetPort };
  if (v.since !== undefined) b.since = v.since;
  return b;
}

export function parseDeclaredVip(v: unknown): DeclaredVip | undefined {
  if (!isObject(v) || !isVipName(v.vip) || !isPort(v.port) || !isProto(v.proto) || !isSince(v.since)) return undefined;
  const d: DeclaredVip = { vip: v.vip, port: v.port, proto: v.proto };
  if (v.since !== undefined) d.since = v.since;
  return d;
}

/** The endpoint in a store value, or undefined if any part of it is not as this file says. */
export function parseEndpointRecord(v: unknown): EndpointRecord | undefined {
  if (!isObject(v) || !isServiceName(v.service)) return undefined;
  if (!Array.isArray(v.addrs) || !v.addrs.every((a) => typeof a === 'string' && isIP(a) !== 0)) return undefined;
  if (!isObject(v.ports)) return undefined;
  const ports: Record<string, PortSpec> = {};
  for (const [name, p] of Object.entries(v.ports)) {
    if (!LABEL.test(name) || !isObject(p) || !isPort(p.port) || !isProto(p.proto)) return undefined;
    ports[name] = { port: p.port, proto: p.proto };
  }
  if (!HEALTH.includes(v.health as Health)) return undefined;
  if (!Array.isArray(v.vips)) return undefined;
  const vips: VipBinding[] = [];
  for (const b of v.vips) {
    const parsed = parseVipBinding(b);
    if (!parsed) return undefined;
    vips.push(parsed);
  }
  if (v.source !== 'docker' && v.source !== 'api') return undefined;
  if (v.container !== undefined && typeof v.container !== 'string') return undefined;
  const rec: EndpointRecord = {
    service: v.service,
    addrs: [...(v.addrs as string[])],
    ports,
    health: v.health as Health,
    vips,
    source: v.source,
  };
  if (typeof v.container === 'string') rec.container = v.container;
  if (v.file !== undefined) {
    if (typeof v.file !== 'string' || !FILE_ORIGIN.test(v.file)) return undefined;
    rec.file = v.file;
  }
  const checks = parseCheckRecords(v.checks);
  if (checks === false) return undefined;
  if (checks) rec.checks = checks;
  const extras = parseEndpointExtras(v);
  if (!extras) return undefined;
  return Object.assign(rec, extras);
}

/** Parsed endpoints by the store value they came from (see endpointRecordOf). */
const parsedEndpoints = new WeakMap<object, EndpointRecord | null>();

/**
 * parseEndpointRecord for the readers that keep what they parse (the DNS zone, the LB
 * index): a store value is deep-frozen and never changes, so it is parsed once, and every
 * reader of that value holds the same parsed record, deep-frozen in turn (read it, never
 * change it). A value that is not frozen is parsed afresh each time.
 */
export function endpointRecordOf(v: unknown): EndpointRecord | undefined {
  if (!isObject(v) || !Object.isFrozen(v)) return parseEndpointRecord(v);
  let rec = parsedEndpoints.get(v);
  if (rec === undefined) {
    rec = parseEndpointRecord(v) ?? null;
    if (rec) deepFreeze(rec);
    parsedEndpoints.set(v, rec);
  }
  return rec ?? undefined;
}

function deepFreeze(v: unknown): void {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return;
  for (const child of Object.values(v)) deepFreeze(child);
  Object.freeze(v);
}

/** The parts of an endpoint key, or undefined if it is not one. */
export function parseEndpointKey(key: string): { service: string; node: string; id: string } | undefined {
  if (!key.startsWith(SERVICE_PREFIX)) return undefined;
  const rest = key.slice(SERVICE_PREFIX.length);
  const a = rest.indexOf('/');
  const b = rest.lastIndexOf('/');
  if (a <= 0 || b <= a + 1 || b === rest.length - 1) return undefined;
  return { service: rest.slice(0, a), node: rest.slice(a + 1, b), id: rest.slice(b + 1) };
}

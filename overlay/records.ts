// The overlay's record in the store: one per node, owned by it (docs/ARCHITECTURE.md, "Owner writes, and the live view").
//
//   overlay/<node>   owned by <node>
//   {
//     "subnet": "10.42.7.0/24",        the node's lease: its containers' addresses
//     "claimedAt": 1718000000000,      ms; when the node claimed this subnet (conflict rule, lease.ts)
//     "vtep": {
//       "addr": "192.168.1.5",         underlay IPv4 address VXLAN packets for this node go to
//       "mac": "0e:12:34:56:78:9a",    MAC of the node's VXLAN device (neighbour + FDB entries)
//       "vni": 1,                      VXLAN network id
//       "port": 4789                   VXLAN UDP port
//     }
//   }
//
// This is a protocol between nodes that may run other versions: a reader validates every
// value and skips (and counts) what does not parse; unknown extra fields are ignored so a
// later version may add some.
import { isNodeName } from '../crdt-store/names.js';
import { OVERLAY_PREFIX } from '../records/schema.js';
import type { StoreRecord } from '../crdt-store/views.js';
import { parseIPv4, parsePrefix, type Prefix } from './cidr.js';

export { OVERLAY_PREFIX };
export const leaseKey = (node: string): string => `${OVERLAY_PREFIX}${node}`;

export interface Vtep {
  addr: string;
  mac: string;
  vni: number;
  port: number;
}

export interface LeaseRecord {
  subnet: string;
  claimedAt: number;
  vtep: Vtep;
}

/** A parsed lease with its owner and the subnet as numbers. */
export interface Lease extends LeaseRecord {
  node: string;
  prefix: Prefix;
}

/** Why a record was skipped (the label of weft_overlay_bad_records_total). */
export type BadReason = 'bad_key' | 'wrong_owner' | 'bad_value';
export const BAD_REASONS: readonly BadReason[] = ['bad_key', 'wrong_owner', 'bad_value'];

/** Subnets shorter than /8 or longer than /30 are refused: no room for a gateway and hosts. */
export const MIN_SUBNET_LEN = 8;
export const MAX_SUBNET_LEN = 30;
export const MAX_VNI = 0xffffff;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A unicast, non-zero MAC in lower-case colon form. */
export function isUnicastMac(v: unknown): v is string {
  return typeof v === 'string' && MAC.test(v) && (parseInt(v.slice(0, 2), 16) & 1) === 0 && v !== '00:00:00:00:00:00';
}

export function parseVtep(v: unknown): Vtep | undefined {
  if (!isObject(v)) return undefined;
  if (parseIPv4(v.addr) === undefined || !isUnicastMac(v.mac)) return undefined;
  if (!Number.isInteger(v.vni) || (v.vni as number) < 0 || (v.vni as number) > MAX_VNI) return undefined;
  if (!Number.isInteger(v.port) || (v.port as number) < 1 || (v.port as number) > 65535) return undefined;
  return { addr: v.addr as string, mac: v.mac as string, vni: v.vni as number, port: v.port as number };
}

export function parseLeaseRecord(v: unknown): LeaseRecord | undefined {
  if (!isObject(v)) return undefined;
  const p = parsePrefix(v.subnet);
  if (!p || p.len < MIN_SUBNET_LEN || p.len > MAX_SUBNET_LEN) return undefined;
  if (!Number.isSafeInteger(v.claimedAt) || (v.claimedAt as number) < 0) return undefined;
  const vtep = parseVtep(v.vtep);
  if (!vtep) return undefined;
  return { subnet: v.subnet as string, claimedAt: v.claimedAt as number, vtep };
}

/** The lease in one store record, or why it is not one. */
export function parseLease(r: StoreRecord): Lease | BadReason {
  const node = r.key.slice(OVERLAY_PREFIX.length);
  if (!r.key.startsWith(OVERLAY_PREFIX) || !isNodeName(node) || node.includes('/')) return 'bad_key';
  // Only the owner writes its lease; another node's document holding this key is a fault.
  if (r.owner !== node) return 'wrong_owner';
  const rec = parseLeaseRecord(r.value);
  if (!rec) return 'bad_value';
  return { ...rec, node, prefix: parsePrefix(rec.subnet)! };
}

/** The leases among `records` (entries under OVERLAY_PREFIX), and the skipped ones. */
export function readLeases(records: Iterable<StoreRecord>): {
  leases: Lease[];
  bad: { key: string; reason: BadReason }[];
} {
  const leases: Lease[] = [];
  const bad: { key: string; reason: BadReason }[] = [];
  for (const r of records) {
    const l = parseLease(r);
    if (typeof l === 'string') bad.push({ key: r.key, reason: l });
    else leases.push(l);
  }
  return { leases, bad };
}

/** The record as stored (plain JSON, fields in a fixed order). */
export function leaseValue(l: LeaseRecord): {
  subnet: string;
  claimedAt: number;
  vtep: { addr: string; mac: string; vni: number; port: number };
} {
  return {
    subnet: l.subnet,
    claimedAt: l.claimedAt,
    vtep: { addr: l.vtep.addr, mac: l.vtep.mac, vni: l.vtep.vni, port: l.vtep.port },
  };
}

// The configuration this node should have, from the leases in the store: its VXLAN device
// with the overlay address, the bridge for its containers, and for every live peer a
// route, a neighbour entry and an FDB entry (the scheme of flannel's vxlan backend: the
// peer's subnet is routed via the peer's VTEP address .0, onlink; the neighbour entry
// resolves that address to the peer's VTEP MAC without ARP; the FDB entry sends frames for
// that MAC to the peer's underlay address, so no learning or flooding is needed).
import { createHash } from 'node:crypto';
import { hostAt, type Prefix } from './cidr.js';
import { countsAsClaim, holding, type Claim, type LeaseConfig } from './lease.js';
import type { Lease } from './records.js';

export interface PeerEntry {
  node: string;
  /** The peer's subnet, e.g. 10.42.7.0/24: routed via `gateway`. */
  subnet: string;
  /** The peer's VTEP overlay address (its subnet's .0). */
  gateway: string;
  mac: string;
  /** The peer's underlay address: VXLAN packets to `mac` go there. */
  underlay: string;
}

export interface DeviceSpec {
  name: string;
  vni: number;
  port: number;
  /** Underlay source address and the device it is on. */
  local: string;
  dev: string;
  mtu: number;
  mac: string;
  /** The node's own VTEP address, <subnet>.0/32. */
  addr: string;
}

export interface BridgeSpec {
  name: string;
  /** The containers' gateway, <subnet>.1/<len>. */
  addr: string;
}

export interface DesiredState {
  device: DeviceSpec;
  bridge: BridgeSpec | undefined;
  peers: PeerEntry[];
}

/** Why a peer's lease is not programmed (label of weft_overlay_peers_skipped). */
export type SkipReason = 'conflict' | 'foreign_subnet' | 'other_vxlan' | 'same_underlay' | 'duplicate_mac';

export interface PeerOptions {
  cfg: LeaseConfig;
  vni: number;
  port: number;
  /** This node's underlay address: a peer claiming the same one is misconfigured. */
  underlay?: string;
}

/**
 * The peers to program: the live leases (other than `self`'s) whose claim holds among
 * `claims` (every claim held, dead owners' included, as lease.ts decides), inside the
 * cluster CIDR and no wider than a subnet, on the same VNI and port. Sorted by node name.
 */
export function peersOf(
  self: string,
  live: readonly Lease[],
  claims: readonly Claim[],
  o: PeerOptions,
): { peers: PeerEntry[]; skipped: { node: string; reason: SkipReason }[] } {
  const holds = new Set(holding(claims.filter((c) => countsAsClaim(c.prefix, o.cfg))).map((c) => c.node));
  const peers: PeerEntry[] = [];
  const skipped: { node: string; reason: SkipReason }[] = [];
  const macs = new Set<string>();
  for (const l of [...live].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))) {
    if (l.node === self) continue;
    let reason: SkipReason | undefined;
    // A peer's route must not capture addresses outside the overlay (a faulty peer
    // claiming 10.0.0.0/8 would otherwise take this node's traffic), nor more than a subnet.
    if (!countsAsClaim(l.prefix, o.cfg)) reason = 'foreign_subnet';
    else if (!holds.has(l.node)) reason = 'conflict';
    else if (l.vtep.vni !== o.vni || l.vtep.port !== o.port) reason = 'other_vxlan';
    else if (o.underlay !== undefined && l.vtep.addr === o.underlay) reason = 'same_underlay';
    else if (macs.has(l.vtep.mac)) reason = 'duplicate_mac';
    if (reason) {
      skipped.push({ node: l.node, reason });
      continue;
    }
    macs.add(l.vtep.mac);
    peers.push({ node: l.node, subnet: l.subnet, gateway: vtepAddr(l.prefix), mac: l.vtep.mac, underlay: l.vtep.addr });
  }
  return { peers, skipped };
}

/** A node's VTEP overlay address: its subnet's network address, as flannel does. */
export const vtepAddr = (p: Prefix): string => hostAt(p, 0);

/** The containers' gateway on the node's bridge: the subnet's first host address. */
export const gatewayAddr = (p: Prefix): string => hostAt(p, 1);

/**
 * The MAC of a node's VXLAN device, derived from its name so that it survives the device
 * being re-created (peers' neighbour and FDB entries stay right) and needs no read-back.
 * Locally administered, unicast.
 */
export function vtepMac(node: string): string {
  const h = createHash('sha256').update(`weft-vtep:${node}`).digest();
  const bytes = [0x0e, h[0], h[1], h[2], h[3], h[4]];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** VXLAN over IPv4 adds 50 bytes: outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

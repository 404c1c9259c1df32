// overlay: the VXLAN overlay as a library.
//
//   const o = await OverlayDriver.start({ store, node, cidr, subnetPrefix, vni, port, underlay, bridge, log, registry });
//   o.status()   lease, peers, programmed state, last pass;   await o.stop()   (config stays)
//   await o.cleanup()  or  OverlayDriver.cleanupHost({ device, bridge })   (removes weft's devices)
//
// Layers, each usable alone:
//   cidr.ts      IPv4 prefixes
//   records.ts   overlay/<node> lease records and their validating parser
//   lease.ts     the lease rule: who holds which subnet, what to claim
//   desired.ts   the desired state: device, bridge, peers
//   plan.ts      desired + actual -> ip/bridge commands (sans-IO)
//   ip.ts        ip -json / ip -batch adapter, with a netns option
//   docker.ts    the Docker network on the node's subnet: create options and the sans-IO plan
//   docker-network.ts  keeps that network in line through dockerode (DockerNetworkKeeper)
//   host-rules.ts  masquerade (nft), DOCKER-USER accept (iptables), ip_forward
//   underlay.ts  finds the underlay address and device
//   lease-keeper.ts  keeps this node's lease in the store
//   defaults.ts  DEFAULTS: every default, with its reason
//   driver.ts    OverlayDriver: watches, passes on the reconcile runner, status
export {
  OverlayDriver,
  OverlayConfigError,
  resolveOptions,
  type OverlayOptions,
  type OverlayStatus,
  type OverlayStore,
  type OverlayLog,
} from './driver.js';
export {
  OVERLAY_PREFIX,
  leaseKey,
  parseLease,
  parseLeaseRecord,
  readLeases,
  type Lease,
  type LeaseRecord,
  type Vtep,
  type BadReason,
} from './records.js';
export {
  decideLease,
  holding,
  precedes,
  probeOrder,
  type LeaseConfig,
  type LeaseDecision,
  type Claim,
} from './lease.js';
export {
  peersOf,
  vtepMac,
  vtepAddr,
  gatewayAddr,
  VXLAN_OVERHEAD,
  type DesiredState,
  type PeerEntry,
  type SkipReason,
} from './desired.js';
export { plan, planCleanup, type ActualState, type Command } from './plan.js';
export { IpAdapter } from './ip.js';
export { DEFAULTS } from './defaults.js';
export {
  dockerNetworkPlan,
  dockerNetworkArgs,
  planDockerNetwork,
  type DockerNetworkPlan,
  type DockerNetworkWant,
  type DockerNetworkActual,
  type DockerNetworkStep,
} from './docker.js';
export {
  DockerNetworkKeeper,
  DockerodeNetworks,
  type DockerNetworks,
  type DockerNetworkStatus,
} from './docker-network.js';
export { HostRules, MASQ_TABLE, type HostRulesStatus } from './host-rules.js';

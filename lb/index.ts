// lb: L4 load balancing for VIPs.
//
//   allocator.ts     VIP name -> address in a CIDR, the same on every node (collisions too),
//                    earliest claim first, so an existing VIP never moves
//   claims.ts        VIP claim times from the records; what writers stamp
//   vip-guard.ts     which literal IPs may be VIPs (not loopback, metadata, members' or own...)
//   records.ts       store records (svc/, vip/, node/) parsed and validated; RecordSource
//   desired.ts       records + allocator -> every VIP with address and backends (pure)
//   desired-index.ts the same, kept change by change (a pass after a change costs what it touches)
//   vip-source.ts    VIP name -> address with change notification (DNS's VipSource)
//   nft-plan.ts      desired -> nft script (one inet table, both families); nft JSON -> comparable state (pure)
//   nft-plan-index.ts the applied plan VIP by VIP: a change's commands only
//   nft.ts, dummy.ts the adapters: nft, ip (dummy interface), run by base/exec.ts
//   nft-datapath.ts  the kernel datapath (diff from last applied; full check reads the kernel)
//   proxy.ts         the userspace datapath: TCP/UDP proxy, passive checks, fail-open, draining
//   proxy-handles.ts its TCP relay on libuv's handles (node internals; net.Socket where absent)
//   metrics.ts       weft_lb_* metrics
//   defaults.ts      DEFAULTS: every default, with its reason
//   driver.ts        LbDriver: watches, passes on the reconcile runner (base/), status
export {
  LbDriver,
  LbStartError,
  type LbOptions,
  type LbStatus,
  type VipStatus,
  type LbLog,
  type DatapathChoice,
} from './driver.js';
export { allocate, parseCidr, parseCidr6, type Cidr, type Cidr6, type Allocation } from './allocator.js';
export { DEFAULTS } from './defaults.js';
export { computeDesired, vipId, type DesiredVip, type DesiredState, type Backend, type RefusedVip } from './desired.js';
export { vipClaims, stampClaims } from './claims.js';
export { VipGuard, type Refusal, type RefusalReason } from './vip-guard.js';
export { RecordIndex, type RecordSource, type SourceEvent } from './records.js';
export { VipTable, type VipHandler } from './vip-source.js';
export { planNft, renderFull, renderDiff, parseActual, matches, type NftPlan, type Affinity } from './nft-plan.js';
export { NftDatapath } from './nft-datapath.js';
export { UserspaceProxy, type ProxyOptions, type ProxyVip, type Policy } from './proxy.js';

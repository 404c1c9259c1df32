// props/sim: a deterministic simulated world for cluster tests and benchmarks.
//
//   Scheduler        virtual clock + event heap (at, after, runUntil, step)
//   SimNetwork       datagrams with per-link loss/latency/duplication/reordering,
//                    reliable delayed streams, partitions and one-way blocks
//   SimHost          a machine: address, up/paused/down, apps bound to ports
//   SwimApp          drives a SwimCore on a host (same contract as the daemon's adapter)
//   MembershipCluster  N hosts running membership, faults, convergence questions
//   faults           timed fault schedules, replayable and printable
//
// Quick start:
//   const c = new MembershipCluster({ nodes: 50, seed: 7 });
//   c.run(10_000);                  // 10 s of virtual time
//   c.crash('node-3'); c.partition([['node-1','node-2'], [...]]); c.setLoss(0.05);
//   c.runUntilTrue(() => c.deadEverywhere('node-3'), 60_000);
//   c.heal(); c.runUntilTrue(() => c.converged(), 120_000);

export { Scheduler, type ScheduledEvent } from './scheduler.js';
export { SimNetwork, DEFAULT_LINK, type LinkProfile, type TrafficCounters } from './network.js';
export { SimHost, type SimApp, type HostStatus } from './host.js';
export { SwimApp, type SwimAppHooks } from './swim-app.js';
export {
  MembershipCluster,
  GOSSIP_PORT,
  type MembershipClusterOptions,
  type RecordedEvent,
  type SimMember,
} from './membership-cluster.js';
export * as latency from './latency.js';
export { Xoshiro128 } from '../../base/rng.js';
export { scheduleFaults, applyFault, describeFaults, skewFromSeed, type Fault } from './faults.js';

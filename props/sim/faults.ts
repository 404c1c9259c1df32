// Timed fault schedules: plain data, so a failing property prints one that can be pasted
// back to replay it, and fast-check can shrink it.

import type { MembershipCluster } from './membership-cluster.js';

export type Fault =
  | { at: number; kind: 'crash'; node: string }
  | { at: number; kind: 'restart'; node: string; newAddress: boolean }
  | { at: number; kind: 'pause'; node: string; ms: number }
  | { at: number; kind: 'partition'; groups: string[][] }
  | { at: number; kind: 'heal' }
  | { at: number; kind: 'loss'; p: number }
  | { at: number; kind: 'leave'; node: string };

/** Schedule every fault on the cluster's clock (times relative to `offset`). */
export function scheduleFaults(cluster: MembershipCluster, faults: readonly Fault[], offset = cluster.now): void {
  for (const f of faults) cluster.scheduler.at(offset + f.at, () => applyFault(cluster, f));
}

export function applyFault(cluster: MembershipCluster, f: Fault): void {
  switch (f.kind) {
    case 'crash':
      cluster.crash(f.node);
      return;
    case 'restart':
      // Only a crashed node restarts; a schedule may name one that is still running.
      if (cluster.host(f.node).status === 'down') cluster.restart(f.node, { newAddress: f.newAddress });
      return;
    case 'pause':
      cluster.pause(f.node, f.ms);
      return;
    case 'partition':
      cluster.partition(f.groups);
      return;
    case 'heal':
      cluster.heal();
      return;
    case 'loss':
      cluster.setLoss(f.p);
      return;
    case 'leave':
      cluster.leave(f.node);
      return;
  }
}

/** One line per fault, for failure reports. */
export function describeFaults(faults: readonly Fault[]): string {
  return faults
    .map((f) => {
      const at = `t=${(f.at / 1000).toFixed(1)}s`;
      switch (f.kind) {
        case 'crash':
        case 'leave':
          return `${at} ${f.kind} ${f.node}`;
        case 'restart':
          return `${at} restart ${f.node}${f.newAddress ? ' at a new address' : ''}`;
        case 'pause':
          return `${at} pause ${f.node} for ${f.ms} ms`;
        case 'partition':
          return `${at} partition ${f.groups.map((g) => `[${g.join(',')}]`).join(' | ')}`;
        case 'heal':
          return `${at} heal`;
        case 'loss':
          return `${at} loss ${(f.p * 100).toFixed(1)} %`;
      }
    })
    .join('\n');
}

// Timed fault schedules: plain data, so a failing property prints one that can be pasted
// back to replay it, and fast-check can shrink it.

import type { MembershipCluster } from './membership-cluster.js';

export type Fault =
  | { at: number; kind: 'crash'; node: string }
  | {
      at: number;
      kind: 'restart';
      node: string;
      newAddress: boolean;
      /** its clock set this far off after the reboot */ skewMs?: number;
    }
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
      if (cluster.host(f.node).status === 'down')
        cluster.restart(f.node, { newAddress: f.newAddress, skewMs: f.skewMs });
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
          return `${at} restart ${f.node}${f.newAddress ? ' at a new address' : ''}${f.skewMs ? ` with its clock ${f.skewMs > 0 ? '+' : ''}${f.skewMs} ms off` : ''}`;
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

/**
 * A clock offset per node, from a run's seed: machines whose clocks disagree by up to
 * ±10 minutes, as an unsynchronised datacenter might have.
 */
export function skewFromSeed(seed: number): (name: string) => number {
  return (name) => {
    let h = seed >>> 0;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x9e3779b1) >>> 0;
    return (h % 1_200_001) - 600_000;
  };
}

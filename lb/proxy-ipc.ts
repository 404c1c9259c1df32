// The messages between the userspace proxy's pool (proxy-pool.ts, in the agent) and its
// cluster workers (proxy-worker.ts). Plain JSON over the cluster's IPC channel.
import type { ProxyOptions, ProxyStats, ProxyVip } from './proxy.js';
export { zeroStats } from './proxy.js';

/** What a worker's UserspaceProxy is built with (the serialisable part of ProxyOptions). */
export type WorkerOptions = Pick<
  ProxyOptions,
  'policy' | 'connectTimeoutMs' | 'ejectMs' | 'ejectMaxMs' | 'maxAttempts' | 'udpIdleMs'
> & {
  /** How often the worker reports its counters. */
  statsMs?: number;
};

/** The environment variable that carries WorkerOptions to a worker (cluster.fork's env). */
export const WORKER_OPTIONS_ENV = 'WEFT_PROXY_WORKER_OPTIONS';

export type ToWorker = { t: 'apply'; seq: number; vips: ProxyVip[] } | { t: 'stop' };

export type FromWorker =
  | { t: 'ready' }
  /** errors: [listener id, listen error] of the listeners that could not listen. */
  | { t: 'applied'; seq: number; changed: boolean; failed: string[]; errors: [string, string][] }
  /** Cumulative counters of this worker since it started, and its open connections. */
  | { t: 'stats'; stats: ProxyStats; active: number }
  | { t: 'event'; what: 'ejected' | 'listen_failed'; detail: Record<string, unknown> };

/** A VIP's listener: protocol, address, port (as UserspaceProxy keys it). */
export function listenerId(v: ProxyVip): string {
  return `${v.proto} ${v.listen.addr} ${v.listen.port}`;
}

/** Adds b's counters into a. */
export function addStats(a: ProxyStats, b: ProxyStats): void {
  for (const k of Object.keys(a) as (keyof ProxyStats)[]) a[k] += b[k] ?? 0;
}

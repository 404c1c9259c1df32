// The messages between the agent's DNS server and its worker processes (worker-pool.ts and
// worker.ts), over the child_process IPC channel with advanced serialization (Buffers and
// typed arrays cross as they are). Types, and the bound both sides know.
import type { StatsSnapshot } from './stats.js';
import type { SourceEvent } from './zone.js';

/** What a worker needs to answer as the agent does, all plain data. */
export interface WorkerInit {
  domain: string;
  ttlS: number;
  nodeName?: string;
  maxUdpPayload: number;
  /** Whether the agent forwards names outside the zone (RA set; such queries go back to it). */
  forwards: boolean;
  recursionAllow?: readonly string[];
  overlayCidr?: string;
  /** The configured rate limit: a worker holds its share of it (see `readers`). */
  rateLimit: { ratePerS: number; burst: number; slip: number; maxClients?: number; exempt: readonly string[] };
  /** The processes reading the sockets as this worker starts: it holds 1/readers of the rate limit until told otherwise. */
  readers: number;
}

/** One change the zone follows: a store record (node/ or svc/) or a VIP. */
export type ZoneEvent =
  | { k: 'node'; e: SourceEvent }
  | { k: 'svc'; e: SourceEvent }
  | { k: 'vip'; vip: string; addr: string | undefined; addr6: string | undefined };

export type ToWorker =
  | { t: 'init'; init: WorkerInit }
  /** The zone's events up to `seq` (a new worker gets every current record in one). */
  | { t: 'zone'; seq: number; events: ZoneEvent[] }
  /** Comes with the bound UDP socket as the IPC handle; `at` names the listen address. */
  | { t: 'socket'; at: string }
  | { t: 'close'; at: string }
  /** The processes now reading the sockets (the agent among them or not): each holds that share of the rate limit. */
  | { t: 'readers'; n: number };

export type FromWorker =
  | { t: 'ready'; pid: number }
  /** A query the worker does not answer (a name outside the zone): the agent forwards or refuses it. */
  | { t: 'relay'; at: string; msg: Uint8Array; address: string; port: number }
  /** The worker's counters since it started, datagrams read, and the zone version it answers from. */
  | {
      t: 'stats';
      seq: number;
      packets: number;
      stats: StatsSnapshot;
      limited: { slipped: number; dropped: number };
      relays: RelayCounts;
    }
  /** Every LOAD_REPORT_MS (agent-reading.ts): since the last, the share of its time the worker was busy and of its reads it relayed; the sockets it reads. */
  | { t: 'load'; busy: number; relayed: number; sockets: number };

/** Why a worker answered a name to forward itself instead of relaying it: relay_backlog (MAX_RELAY_BACKLOG reached). */
export const RELAY_REFUSALS = ['relay_backlog'] as const;
export type RelayRefusal = (typeof RELAY_REFUSALS)[number];

/** Queries a worker relayed to the agent, and those it answered SERVFAIL instead, by reason. */
export interface RelayCounts {
  sent: number;
  refused: Record<RelayRefusal, number>;
}

/**
 * Relays a worker has handed to its IPC channel that are not yet written to the agent's end
 * (the agent is slow to read): past this many a name to forward is answered SERVFAIL instead.
 */
export const MAX_RELAY_BACKLOG = 2048;

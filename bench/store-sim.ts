// Simulated figures of the store (props/sim, membership and store on every node, the
// lan membership preset, constant one-way link delay):
//   - time from an update at one node until every node's live view shows it (p50, p99);
//   - messages and bytes the store received per node per update (store port only:
//     pushes, announcements, grafts, and whatever repair ran meanwhile);
//   - store bytes sent per node per second when nothing changes (anti-entropy digests).
import { latency } from '../props/sim/index.js';
import { StoreCluster, type StoreClusterOptions } from '../props/sim/store-cluster.js';
import { makeConfig } from '../membership/core/config.js';

export interface StoreSimResult {
  nodes: number;
  updates: number;
  update_interval_ms: number;
  link_ms: number;
  visible_p50_ms: number;
  visible_p99_ms: number;
  visible_max_ms: number;
  msgs_per_node_per_update: number;
  bytes_per_node_per_update: number;
  pushes_per_node_per_update: number;
  idle_repair_bytes_per_node_s: number;
  idle_repair_msgs_per_node_s: number;
  wall_s: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Envelope bytes the daemon adds per message (plain mode, no label): version, mode, label length, CRC. */
const ENVELOPE = 7;

/** Messages and bytes (with the envelope) every node took in and sent so far, and the pushes it took in. */
function clusterIO(c: StoreCluster, names: string[]) {
  return names.reduce(
    (acc, n) => {
      const s = c.core(n).stats();
      acc.msgs += s.packetsIn + s.streamsIn;
      acc.bytes += s.packetBytesIn + s.streamBytesIn + (s.packetsIn + s.streamsIn) * ENVELOPE;
      acc.pushes += s.fastPath.pushesIn;
      acc.outMsgs += s.packetsOut + s.streamsOut;
      acc.outBytes += s.packetBytesOut + s.streamBytesOut + (s.packetsOut + s.streamsOut) * ENVELOPE;
      return acc;
    },
    { msgs: 0, bytes: 0, pushes: 0, outMsgs: 0, outBytes: 0 },
  );
}

/** Per key written: ms until the last node's live view showed it; keys not seen by all are missing. */
function visibleLatencies(
  writtenAt: Map<string, number>,
  seenAt: Map<string, number[]>,
  nodes: number,
): { lat: number[]; missing: number } {
  const lat: number[] = [];
  let missing = 0;
  for (const [key, at] of writtenAt) {
    const seen = seenAt.get(key) ?? [];
    if (seen.length < nodes) missing++;
    else lat.push(Math.max(...seen) - at);
  }
  return { lat, missing };
}

/** When each node's live view first showed each key under bench/, by key. */
function watchFirstSeen(c: StoreCluster): Map<string, number[]> {
  const seenAt = new Map<string, number[]>();
  for (const n of c.names()) {
    c.store(n).watch('bench/', (e) => {
      if (e.initial || !e.after) return;
      let at = seenAt.get(e.key);
      if (!at) seenAt.set(e.key, (at = []));
      at.push(c.now);
    });
  }
  return seenAt;
}

/** `updates` writes of bench/<i> at pseudo-random nodes, one every `intervalMs`; returns when each key was written. */
function scheduleUpdates(c: StoreCluster, updates: number, intervalMs: number): Map<string, number> {
  const names = c.names();
  const writtenAt = new Map<string, number>();
  let rnd = 12345;
  for (let i = 0; i < updates; i++) {
    c.membership.scheduler.at(c.now + i * intervalMs, () => {
      rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
      const node = names[rnd % names.length];
      const key = `bench/${i}`;
      writtenAt.set(key, c.now);
      c.write(node, key, { i, addr: '10.0.0.1', port: 8080 });
    });
  }
  return writtenAt;
}

export function runStoreSim(opts: {
  nodes: number;
  updates: number;
  intervalMs: number;
  linkMs: number;
  idleS: number;
  seed?: number;
  log: (l: string) => void;
  auth?: StoreClusterOptions['auth'];
}): StoreSimResult {
  const t0 = performance.now();
  const c = new StoreCluster({
    nodes: opts.nodes,
    seed: opts.seed ?? 42,
    config: makeConfig('lan'),
    link: { latency: latency.constant(opts.linkMs) },
    auth: opts.auth,
  });
  const names = c.names();
  const seenAt = watchFirstSeen(c);
  c.run(5000); // warm-up: first repair rounds, epochs known everywhere
  if (!c.storesAgree()) opts.log('warning: stores differ after warm-up');

  const io = () => clusterIO(c, names);

  // Idle: nothing changes, only anti-entropy runs.
  const idle0 = io();
  c.run(opts.idleS * 1000);
  const idle1 = io();
  const idleBytes = (idle1.outBytes - idle0.outBytes) / opts.nodes / opts.idleS;
  const idleMsgs = (idle1.outMsgs - idle0.outMsgs) / opts.nodes / opts.idleS;
  opts.log(`idle: ${idleBytes.toFixed(1)} B and ${idleMsgs.toFixed(2)} messages per node per s`);

  // Updates at random nodes, one every intervalMs.
  const before = io();
  const writtenAt = scheduleUpdates(c, opts.updates, opts.intervalMs);
  c.run(opts.updates * opts.intervalMs + 2000);
  const after = io();
  const { lat, missing } = visibleLatencies(writtenAt, seenAt, opts.nodes);
  if (missing) opts.log(`warning: ${missing} updates not visible everywhere after the run`);
  const perNodeUpdate = (x: number) => x / opts.nodes / opts.updates;
  const r: StoreSimResult = {
    nodes: opts.nodes,
    updates: opts.updates,
    update_interval_ms: opts.intervalMs,
    link_ms: opts.linkMs,
    visible_p50_ms: +pct(lat, 50).toFixed(2),
    visible_p99_ms: +pct(lat, 99).toFixed(2),
    visible_max_ms: +Math.max(...lat).toFixed(2),
    msgs_per_node_per_update: +perNodeUpdate(after.msgs - before.msgs).toFixed(3),
    bytes_per_node_per_update: +perNodeUpdate(after.bytes - before.bytes).toFixed(1),
    pushes_per_node_per_update: +perNodeUpdate(after.pushes - before.pushes).toFixed(3),
    idle_repair_bytes_per_node_s: +idleBytes.toFixed(1),
    idle_repair_msgs_per_node_s: +idleMsgs.toFixed(3),
    wall_s: +((performance.now() - t0) / 1000).toFixed(1),
  };
  return r;
}

export interface BusySimResult {
  /** Update visible at every node, p50 / p99 (ms), with today's replication settings and with the old ones. */
  p50_ms: number;
  p99_ms: number;
  old_p50_ms: number;
  old_p99_ms: number;
  msgs_per_node_per_update: number;
  old_msgs_per_node_per_update: number;
  /** The path of each update's last arrival (what sets its latency), with today's settings. */
  last_by_path: Record<string, number>;
}

/** The old replication settings: a binary eager tree, no announcements on pushes. */
export const OLD_FAST_PATH = { treeFanout: 2, pushAnnounceMs: 0 };

/** Latencies of `updates` writes every intervalMs at random nodes of `c`, its messages per node per update, and the path of each last arrival. */
function busyRun(c: StoreCluster, updates: number, intervalMs: number, loss: number) {
  const names = c.names();
  const seen = new Map<string, { at: number; via: string }[]>();
  for (const n of names)
    c.store(n).watch('bench/', (e) => {
      if (e.initial || !e.after) return;
      if (!seen.has(e.key)) seen.set(e.key, []);
      seen.get(e.key)!.push({ at: c.now, via: c.core(n).arrivalPath() ?? 'none' });
    });
  c.run(5000);
  c.membership.network.setDefault({ loss });
  const before = clusterIO(c, names);
  const writtenAt = scheduleUpdates(c, updates, intervalMs);
  c.run(updates * intervalMs + 3000);
  const msgs = (clusterIO(c, names).msgs - before.msgs) / names.length / updates;
  const lat: number[] = [];
  const last: Record<string, number> = {};
  for (const [key, at] of writtenAt) {
    const s = seen.get(key) ?? [];
    if (s.length < names.length) {
      lat.push(Infinity);
      continue;
    }
    const worst = s.reduce((a, b) => (b.at > a.at ? b : a));
    lat.push(worst.at - at);
    last[worst.via] = (last[worst.via] ?? 0) + 1;
  }
  return { lat, msgs, last };
}

/**
 * The real bench's conditions, modelled: every hop (a datagram and the event-loop turn that
 * takes it) costs 1-12 ms on a busy host, 2 % of them a descheduled process's extra
 * (Pareto, from 20 ms), and 0.3 % of datagrams are lost. 20 nodes, 10 updates per second;
 * today's settings against the old ones, over the same seeds.
 */
export function runBusySim(opts: { nodes: number; updates: number; seeds: number[] }): BusySimResult {
  const link = { latency: latency.withTail(latency.uniform(1, 12), 0.02, 20) };
  const run = (replication: StoreClusterOptions['replication']) => {
    const lat: number[] = [];
    const last: Record<string, number> = {};
    let msgs = 0;
    for (const seed of opts.seeds) {
      const c = new StoreCluster({ nodes: opts.nodes, seed, config: makeConfig('lan'), link, replication });
      const r = busyRun(c, opts.updates, 100, 0.003);
      lat.push(...r.lat);
      msgs += r.msgs / opts.seeds.length;
      for (const [k, v] of Object.entries(r.last)) last[k] = (last[k] ?? 0) + v;
    }
    return { lat, msgs, last };
  };
  const now = run(undefined);
  const old = run(OLD_FAST_PATH);
  return {
    p50_ms: +pct(now.lat, 50).toFixed(1),
    p99_ms: +pct(now.lat, 99).toFixed(1),
    old_p50_ms: +pct(old.lat, 50).toFixed(1),
    old_p99_ms: +pct(old.lat, 99).toFixed(1),
    msgs_per_node_per_update: +now.msgs.toFixed(3),
    old_msgs_per_node_per_update: +old.msgs.toFixed(3),
    last_by_path: now.last,
  };
}

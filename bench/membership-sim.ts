// Simulated membership figures at N nodes, lan preset (the simulated half of
// `npm run bench -- membership`, README "Tests and benchmarks"):
//   - time for a crash to be marked dead at 100 % of members (p50, p99),
//   - time for a join to reach 100 % of members (p50, p99),
//   - false deaths with 5 % loss and one member paused 2 s at a time,
//   - bytes and messages per member per second in steady state.
//
// Trials run one after another inside one simulated cluster, each once the previous has
// converged: crash a random member, wait until every live member holds it dead, then
// join a fresh member and wait until every live member holds it alive.
//
// Run directly: `node dist/bench/membership-sim.js [nodes] [trials] [seed]`.

import { pathToFileURL } from 'node:url';
import { encodedSize, packetOverhead } from '../membership/codec.js';
import { makeConfig, type SwimConfig } from '../membership/core/config.js';
import { pushPullScale } from '../membership/core/math.js';
import type { Message } from '../membership/messages.js';
import { MembershipCluster, type RecordedEvent } from '../props/sim/index.js';

export interface MembershipSimOptions {
  nodes: number;
  trials: number;
  seed?: number;
  /** Virtual seconds of the Lifeguard (loss + pause) scenario; default 60. */
  lifeguardSeconds?: number;
  /**
   * Virtual seconds of the idle window traffic is measured over; default one push/pull
   * period at this size (180 s at 1,000 nodes), so full-state syncs are counted at their
   * steady rate.
   */
  idleSeconds?: number;
  log?: (line: string) => void;
}

export interface MembershipSimResult {
  dead_p50_s: number;
  dead_p99_s: number;
  join_p50_s: number;
  join_p99_s: number;
  false_deaths: number;
  bytes_per_member_s: number;
  msgs_per_member_s: number;
  wall_s: number;
}

/** Nearest-rank percentile; p in (0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const TRIAL_TIMEOUT_MS = 180_000;

/**
 * Time from now until every up node other than `subject` has reported `done` for it,
 * taken from the exact event times, not from polling.
 */
function timeUntilAll(
  cluster: MembershipCluster,
  subject: string,
  done: (e: RecordedEvent) => boolean,
  alreadyDone: (observer: string) => boolean,
): number | undefined {
  const start = cluster.now;
  const waiting = new Set(cluster.upNodes().filter((n) => n !== subject && !alreadyDone(n)));
  let last = start;
  const off = cluster.onEvent((e) => {
    if (e.member.name === subject && done(e) && waiting.delete(e.observer)) last = e.at;
  });
  const finished = cluster.runUntilTrue(
    () => {
      // Observers that crashed meanwhile no longer count.
      for (const n of waiting) if (cluster.host(n).status === 'down') waiting.delete(n);
      return waiting.size === 0;
    },
    TRIAL_TIMEOUT_MS,
    100,
  );
  off();
  return finished === undefined ? undefined : last - start;
}

function trafficTotals(cluster: MembershipCluster): { bytes: number; msgs: number } {
  let bytes = 0;
  let msgs = 0;
  for (const n of cluster.names()) {
    const t = cluster.traffic(n);
    bytes += t.bytesOut + t.streamBytesOut;
    msgs += t.packetsOut + t.streamsOut;
  }
  return { bytes, msgs };
}

/** Trials in one cluster: crash a member and time until all see it dead, then add one and time until all see it alive. */
function crashAndJoinTrials(
  cluster: MembershipCluster,
  trials: number,
  seed: number,
  log: (line: string) => void,
): { deadTimes: number[]; joinTimes: number[] } {
  const deadTimes: number[] = [];
  const joinTimes: number[] = [];
  let pick = seed >>> 0;
  for (let i = 0; i < trials; i++) {
    const up = cluster.upNodes();
    pick = (Math.imul(pick, 1103515245) + 12345) >>> 0;
    const victim = up[pick % up.length];
    cluster.crash(victim);
    const dead = timeUntilAll(
      cluster,
      victim,
      (e) => e.type === 'dead' || e.type === 'leave' || e.type === 'reap',
      (o) => {
        const s = cluster.core(o)?.member(victim)?.state;
        return s === undefined || s === 'dead' || s === 'left';
      },
    );
    if (dead !== undefined) deadTimes.push(dead / 1000);

    const joiner = `joiner-${i}`;
    cluster.addNode(joiner);
    const join = timeUntilAll(
      cluster,
      joiner,
      (e) => e.type === 'join' || e.type === 'alive',
      (o) => cluster.core(o)?.member(joiner)?.state === 'alive',
    );
    if (join !== undefined) joinTimes.push(join / 1000);
    log(
      `trial ${i + 1}/${trials}: dead ${dead === undefined ? 'timeout' : (dead / 1000).toFixed(2) + ' s'}, join ${join === undefined ? 'timeout' : (join / 1000).toFixed(2) + ' s'}`,
    );
    cluster.run(2000);
  }
  return { deadTimes, joinTimes };
}

/** Lifeguard: 5 % loss everywhere, one member paused 2 s out of every 5 s; how many members were declared dead while up. */
function lifeguardFalseDeaths(opts: {
  nodes: number;
  seed: number;
  lifeguardSeconds?: number;
  config: SwimConfig;
  measure: (m: Message) => number;
  log: (line: string) => void;
}): number {
  const { seed, config, measure, log } = opts;
  const lg = new MembershipCluster({ nodes: opts.nodes, seed: seed + 1, config, measure, link: { loss: 0.05 } });
  let falseDeaths = 0;
  lg.onEvent((e) => {
    if (e.type === 'dead' && e.subjectUp) falseDeaths++;
  });
  const sleeper = lg.names()[Math.floor(opts.nodes / 2)];
  const lgMs = (opts.lifeguardSeconds ?? 60) * 1000;
  for (let t = 5000; t < lgMs; t += 5000) lg.scheduler.at(t, () => lg.pause(sleeper, 2000));
  lg.run(lgMs + 10_000);
  log(`lifeguard: ${falseDeaths} false deaths over ${lgMs / 1000 + 10} s`);
  return falseDeaths;
}

export async function runMembershipSim(opts: MembershipSimOptions): Promise<MembershipSimResult> {
  const started = performance.now();
  const seed = opts.seed ?? 1;
  const log = opts.log ?? (() => {});
  // Sized exactly as the daemon's wire codec encodes (no label, CRC, no encryption), so the
  // bytes counted are the bytes a real cluster would send.
  const config = makeConfig('lan', { packetOverhead: packetOverhead({}, 0xffff), messageOverhead: 0 });
  const measure = (m: Message) => encodedSize(m);

  // --- steady state traffic, then crash and join trials, in one cluster
  const cluster = new MembershipCluster({ nodes: opts.nodes, seed, config, measure });
  cluster.run(30_000); // past start-up: everyone's first gossip of itself is done
  const before = trafficTotals(cluster);
  const idleMs =
    opts.idleSeconds !== undefined ? opts.idleSeconds * 1000 : pushPullScale(config.pushPullIntervalMs, opts.nodes);
  cluster.run(idleMs);
  const after = trafficTotals(cluster);
  const memberSeconds = cluster.upNodes().length * (idleMs / 1000);
  const bytesPerMemberS = (after.bytes - before.bytes) / memberSeconds;
  const msgsPerMemberS = (after.msgs - before.msgs) / memberSeconds;
  log(`steady state: ${bytesPerMemberS.toFixed(0)} B and ${msgsPerMemberS.toFixed(2)} msgs per member per s`);

  const { deadTimes, joinTimes } = crashAndJoinTrials(cluster, opts.trials, seed, log);
  const falseDeaths = lifeguardFalseDeaths({ ...opts, seed, config, measure, log });

  return {
    dead_p50_s: round(percentile(deadTimes, 50)),
    dead_p99_s: round(percentile(deadTimes, 99)),
    join_p50_s: round(percentile(joinTimes, 50)),
    join_p99_s: round(percentile(joinTimes, 99)),
    false_deaths: falseDeaths,
    bytes_per_member_s: round(bytesPerMemberS),
    msgs_per_member_s: round(msgsPerMemberS),
    wall_s: round((performance.now() - started) / 1000),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main(): Promise<void> {
  const [nodes = '1000', trials = '20', seed = '1'] = process.argv.slice(2);
  const r = await runMembershipSim({
    nodes: Number(nodes),
    trials: Number(trials),
    seed: Number(seed),
    log: (l) => console.error(l),
  });
  const rows: [string, string][] = [
    ['nodes', nodes],
    ['trials', trials],
    ['crash -> dead at 100 %, p50', `${r.dead_p50_s} s`],
    ['crash -> dead at 100 %, p99', `${r.dead_p99_s} s`],
    ['join -> alive at 100 %, p50', `${r.join_p50_s} s`],
    ['join -> alive at 100 %, p99', `${r.join_p99_s} s`],
    ['false deaths (5 % loss, 1 paused)', String(r.false_deaths)],
    ['bytes per member per s', String(r.bytes_per_member_s)],
    ['messages per member per s', String(r.msgs_per_member_s)],
    ['wall time', `${r.wall_s} s`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  console.log(JSON.stringify(r));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

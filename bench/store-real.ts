// Real figure of the store: BENCH_STORE_AGENTS (20) agents, each its own process with
// membership and store on its own loopback address (127.0.20.x), lan membership preset,
// default replication. Updates at random agents, one every intervalMs; the time until
// every agent's live view shows an update, p50 and p99, on the shared wall clock.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const agentJs = fileURLToPath(new URL('./store-agent.js', import.meta.url));

export interface StoreRealResult {
  agents: number;
  updates: number;
  interval_ms: number;
  visible_p50_ms: number;
  visible_p99_ms: number;
  visible_max_ms: number;
  /** The same in the all view: replication alone, not waiting on membership's opinion of the writer. */
  held_p50_ms: number;
  held_p99_ms: number;
  missing: number;
  agent_rss_mb_p50: number;
  /** Messages (packets and streams) the store received per agent per update, during the updates. */
  msgs_per_node_per_update: number;
  /** Per path (push, graft, repair, none): arrivals, and of them those later than LATE_MS after the put. */
  paths: Record<string, { arrivals: number; late: number; late_max_ms: number }>;
  /** The last arrival of each update (what sets its latency): how many came by each path. */
  last_by_path: Record<string, number>;
  /** Worst event-loop delay p99 and max over the agents (a hop waits for its process). */
  loop_p99_ms_max: number;
  loop_max_ms_max: number;
  form_s: number;
  wall_s: number;
}

interface Agent {
  proc: ChildProcess;
  send(v: unknown): void;
  lines: ((m: Record<string, unknown>) => void)[];
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An arrival later than this after its put counts as late in the per-path table. */
export const LATE_MS = 100;

/** When each key was put, and when each agent saw it (by which path), and held it. */
interface Timeline {
  seen: Map<string, number[]>;
  via: Map<string, string[]>;
  held: Map<string, number[]>;
  put: Map<string, number>;
}

/** Agent `i` on 127.0.20.(i+1), joining the first; its event lines go into `tl`. Resolves once it says ready. */
function startAgent(i: number, dir: string, port: number, tl: Timeline): Promise<Agent> {
  return new Promise((resolve, reject) => {
    const addr = `127.0.20.${i + 1}`;
    const args = [
      agentJs,
      `a${i + 1}`,
      addr,
      String(port),
      join(dir, `a${i + 1}`),
      ...(i > 0 ? [`127.0.20.1:${port}`] : []),
    ];
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const a: Agent = { proc, send: (v) => proc.stdin!.write(JSON.stringify(v) + '\n'), lines: [] };
    proc.on('error', reject);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as Record<string, unknown>;
      if (m.ready) resolve(a);
      if (typeof m.seen === 'string') {
        if (!tl.seen.has(m.seen)) tl.seen.set(m.seen, []);
        if (!tl.via.has(m.seen)) tl.via.set(m.seen, []);
        tl.seen.get(m.seen)!.push(m.at as number);
        tl.via.get(m.seen)!.push(String(m.via));
      }
      if (typeof m.held === 'string') {
        if (!tl.held.has(m.held)) tl.held.set(m.held, []);
        tl.held.get(m.held)!.push(m.at as number);
      }
      if (typeof m.put === 'string') tl.put.set(m.put, m.at as number);
      for (const l of a.lines.splice(0)) l(m);
    });
  });
}

interface AgentStats {
  members: number;
  root: number;
  rss: number;
  loop_p99_ms: number;
  loop_max_ms: number;
}

function agentStats(a: Agent): Promise<AgentStats> {
  return new Promise((resolve) => {
    const wait = (m: Record<string, unknown>) => (m.stats ? resolve(m.stats as AgentStats) : a.lines.push(wait));
    a.lines.push(wait);
    a.send({ op: 'stats' });
  });
}

/** Seconds until every store knows every other member and all hold the same documents. */
async function waitFormed(agents: Agent[]): Promise<number> {
  const formStart = performance.now();
  for (;;) {
    const s = await Promise.all(agents.map(agentStats));
    if (s.every((x) => x.members === agents.length - 1) && new Set(s.map((x) => x.root)).size === 1) break;
    if (performance.now() - formStart > 60_000) throw new Error('the agents did not form a cluster within 60 s');
    await sleep(250);
  }
  return (performance.now() - formStart) / 1000;
}

/** Per key put: ms until the last agent saw it, and held it; keys not seen by all are missing. */
function latencies(tl: Timeline, agents: number): { lat: number[]; heldLat: number[]; missing: number } {
  const lat: number[] = [];
  const heldLat: number[] = [];
  let missing = 0;
  for (const [key, at] of tl.put) {
    const s = tl.seen.get(key) ?? [];
    if (s.length < agents) missing++;
    else lat.push(Math.max(...s) - at);
    const h = tl.held.get(key) ?? [];
    if (h.length === agents) heldLat.push(Math.max(...h) - at);
  }
  return { lat, heldLat, missing };
}

/** Where the time went: arrivals by path, the late ones, and the path of each update's last arrival. */
function byPath(tl: Timeline): Pick<StoreRealResult, 'paths' | 'last_by_path'> {
  const paths: StoreRealResult['paths'] = {};
  const last: Record<string, number> = {};
  for (const [key, put] of tl.put) {
    const at = tl.seen.get(key) ?? [];
    const via = tl.via.get(key) ?? [];
    let worst = -1;
    for (let i = 0; i < at.length; i++) {
      const p = (paths[via[i]] ??= { arrivals: 0, late: 0, late_max_ms: 0 });
      const lat = at[i] - put;
      p.arrivals++;
      if (lat > LATE_MS) {
        p.late++;
        p.late_max_ms = Math.max(p.late_max_ms, +lat.toFixed(1));
      }
      if (worst < 0 || at[i] > at[worst]) worst = i;
    }
    if (worst >= 0) last[via[worst]] = (last[via[worst]] ?? 0) + 1;
  }
  return { paths, last_by_path: last };
}

type Rep = {
  fastPath: Record<string, number>;
  repair: Record<string, number>;
  packetsIn: number;
  streamsIn: number;
};
const repOf = (x: unknown) => (x as { replication: Rep }).replication;

export async function runStoreReal(opts: {
  agents: number;
  updates: number;
  intervalMs: number;
  port?: number;
  log: (l: string) => void;
}): Promise<StoreRealResult> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-store-real-'));
  const port = opts.port ?? 17946;
  const agents: Agent[] = [];
  const tl: Timeline = { seen: new Map(), via: new Map(), held: new Map(), put: new Map() };
  try {
    agents.push(await startAgent(0, dir, port, tl));
    for (let i = 1; i < opts.agents; i++) agents.push(await startAgent(i, dir, port, tl));
    const formS = await waitFormed(agents);
    opts.log(`${opts.agents} agents formed and in agreement after ${formS.toFixed(1)} s`);
    const initial = (await Promise.all(agents.map(agentStats))).map(repOf);
    for (const a of agents) a.send({ op: 'begin' });
    let rnd = 777;
    for (let i = 0; i < opts.updates; i++) {
      rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
      agents[rnd % agents.length].send({ op: 'put', key: `bench/${i}`, value: { i, addr: '10.0.0.1', port: 8080 } });
      await sleep(opts.intervalMs);
    }
    await sleep(3000);
    const final = await Promise.all(agents.map(agentStats));
    const rss = final.map((s) => s.rss / 1e6);
    const fp = final.map(repOf);
    const sum = (f: (x: Rep) => number) => fp.reduce((a, x) => a + f(x), 0) - initial.reduce((a, x) => a + f(x), 0);
    opts.log(
      `fast path: ${sum((x) => x.fastPath.pushesIn)} pushes in, ${sum((x) => x.fastPath.changesApplied)} applied (${sum((x) => x.fastPath.graftedApplied)} grafted), ${sum((x) => x.fastPath.incomplete)} incomplete, ${sum((x) => x.fastPath.ihavesIn)} announcements in, ${sum((x) => x.fastPath.graftsOut)} grafts; repair: ${sum((x) => x.repair.docsRepaired)} documents repaired`,
    );
    const { lat, heldLat, missing } = latencies(tl, opts.agents);
    if (missing) opts.log(`warning: ${missing} updates not seen everywhere`);
    return {
      agents: opts.agents,
      updates: opts.updates,
      interval_ms: opts.intervalMs,
      visible_p50_ms: +pct(lat, 50).toFixed(1),
      visible_p99_ms: +pct(lat, 99).toFixed(1),
      visible_max_ms: +Math.max(...lat).toFixed(1),
      held_p50_ms: +pct(heldLat, 50).toFixed(1),
      held_p99_ms: +pct(heldLat, 99).toFixed(1),
      missing,
      agent_rss_mb_p50: +pct(rss, 50).toFixed(1),
      msgs_per_node_per_update: +(sum((x) => x.packetsIn + x.streamsIn) / opts.agents / opts.updates).toFixed(3),
      ...byPath(tl),
      loop_p99_ms_max: +Math.max(...final.map((s) => s.loop_p99_ms)).toFixed(1),
      loop_max_ms_max: +Math.max(...final.map((s) => s.loop_max_ms)).toFixed(1),
      form_s: +formS.toFixed(1),
      wall_s: +((performance.now() - t0) / 1000).toFixed(1),
    };
  } finally {
    for (const a of agents) a.send({ op: 'stop' });
    await sleep(1500);
    for (const a of agents) if (a.proc.exitCode === null) a.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

// The idle cost of a member of a cluster, weft beside serf in the same run (the idle half of
// issue 17): N weft agents running membership and the store only (no DNS, LB, Docker or
// overlay), and N serf agents (lan profile), each on its own loopback address. Once both
// clusters are whole and every agent has run `settleS` seconds, both are sampled over the same
// windows, so they share whatever else the machine is doing:
//   - CPU: utime + stime of every agent from /proc/<pid>/stat, as % of one core per agent;
//   - RSS: VmRSS of every agent at the end (median and max);
//   - bytes sent per agent per second: weft from its counters (gossip + store), serf from
//     memberlist's counters sent to a statsd listener here (bench/membership-statsd.ts).
// weft's memory is broken down from one agent's /metrics (heap, external, array buffers).
// Beside them run the floors, each with the agent's flags and environment: a bare `node`
// doing nothing, whose RSS is what any agent on this Node costs before weft holds anything;
// one that has also loaded the Node modules an idle agent loads; and FLOOR_COPIES that hold
// Automerge as an idle member's store does besides (bench/idle-floor.ts), the floor of the
// stack the agent is built on. What an agent holds above that is weft's own.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcGroup, benchPorts, cleanEnv, sleep, type BenchPorts, type Proc } from './membership-procs.js';
import { startStatsd, type StatsdSink } from './membership-statsd.js';
import { AGENT_NODE_FLAGS, agentEnv } from '../src/node-flags.js';
import { serfInstalled } from './membership-real.js';
import { envFlag, envNumber as num } from './_env.js';
import { residentMb, type ResidentMb } from './proc-memory.js';
import { cpuMs } from './proc-cpu.js';

// BENCH_WEFT_CLI: another build's dist/src/cli.js, to compare before and after a change.
const CLI = process.env.BENCH_WEFT_CLI ?? fileURLToPath(new URL('../src/cli.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./idle-floor.js', import.meta.url));
/** Processes at the Automerge floor, whose median is reported: one process's RSS varies by MBs. */
const FLOOR_COPIES = 3;

export interface IdleOptions {
  agents: number;
  /** Seconds every agent runs before the windows start (serf's first push/pull is 30 s in). */
  settleS: number;
  /** Seconds of measurement, split into `windows` windows. */
  idleS: number;
  windows: number;
  serfBin: string;
  weftNet?: string;
  serfNet?: string;
  log: (line: string) => void;
}

export interface Side {
  cpu_pct_per_agent: number;
  /** Every window's figure, to show the spread. */
  cpu_pct_windows: number[];
  rss_mb_median: number;
  rss_mb_max: number;
  /** The anonymous part of RSS (bench/proc-memory.ts): what the agent itself holds. */
  rss_anon_mb_median: number;
  bytes_per_agent_s: number;
}

export interface IdleResult {
  agents: number;
  weft: Side;
  serf: Side;
  /** A bare node with the agent's flags, MB, read when the agents are. */
  floor: ResidentMb;
  /** A node that has loaded the Node modules an idle agent loads. */
  builtinsFloor: ResidentMb;
  /** And holds Automerge as an idle member's store does (the median of FLOOR_COPIES). */
  stackFloor: ResidentMb;
  /** MB of one weft agent by kind, from its /metrics. */
  weftMemory: Record<string, number>;
  load1: number[];
  seconds: number;
}

interface Member {
  proc: Proc;
  api?: string;
}

const ipOf = (net: string, i: number) => `${net}.${i + 1}`;

async function metricsText(api: string): Promise<string> {
  const r = await fetch(`${api}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`${api}/metrics: HTTP ${r.status}`);
  return r.text();
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** weft: membership and the store, every other component off, listeners on port 0 but gossip. */
async function startWeft(
  group: ProcGroup,
  net: string,
  port: number,
  i: number,
  join: string | undefined,
): Promise<Member> {
  const args = [
    ...AGENT_NODE_FLAGS,
    CLI,
    'agent',
    '--node',
    `weft-${i + 1}`,
    '--bind',
    ipOf(net, i),
    '--bind-port',
    String(port),
    ...['--api-port', '0', '--store-port', '0', '--dns-listen', '', '--lb-datapath', 'off', '--docker', 'false'],
    ...['--preset', 'lan', '--log-format', 'json'],
    ...(join ? ['--join', join] : []),
  ];
  const proc = group.spawn(`weft-${i + 1}`, process.execPath, args, agentEnv(cleanEnv()));
  // Generous: 30 agents loading their modules on a shared 2-core host.
  const ready = await proc.waitFor((t) => t.includes('weft agent ready'), 300_000, 'ready line');
  return { proc, api: (JSON.parse(ready.text) as { api?: string }).api };
}

async function startSerf(
  group: ProcGroup,
  o: IdleOptions & { serfNet: string; ports: BenchPorts },
  dir: string,
  statsd: StatsdSink,
  i: number,
): Promise<Member> {
  const cfg = join(dir, `serf-${i + 1}.json`);
  writeFileSync(cfg, JSON.stringify({ statsd_addr: `127.0.0.1:${statsd.ports[i]}` }));
  // hermetic: serf's agent, on the ports benchPorts found free
  const args = ['agent', '-node', `serf-${i + 1}`, '-bind', `${ipOf(o.serfNet, i)}:${o.ports.gossip}`];
  args.push('-rpc-addr', `${ipOf(o.serfNet, i)}:${o.ports.serfRpc}`, '-profile=lan', '-config-file', cfg);
  if (i > 0) args.push('-retry-join', `${ipOf(o.serfNet, 0)}:${o.ports.gossip}`, '-retry-interval', '1s');
  const proc = group.spawn(`serf-${i + 1}`, o.serfBin, args, cleanEnv());
  await proc.waitFor((t) => t.includes('Serf agent running!'), 30_000, '"Serf agent running!"');
  return { proc };
}

/** Starts `n` members, the first alone, then the rest four at a time (2 cores). */
async function startAll(n: number, start: (i: number) => Promise<Member>): Promise<Member[]> {
  const out: Member[] = [await start(0)];
  for (let i = 1; i < n; i += 4) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 4); j++) batch.push(start(j));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function aliveCount(m: Member, serfBin: string, rpc: string | undefined): Promise<number> {
  if (m.api) {
    const r = await fetch(`${m.api}/v1/members`, { signal: AbortSignal.timeout(5000) });
    const body = (await r.json()) as { members: { state: string }[] };
    return body.members.filter((x) => x.state === 'alive').length;
  }
  return new Promise((resolve) => {
    execFile(serfBin, ['members', '-status', 'alive', '-rpc-addr', rpc!], { timeout: 5000 }, (err, out) =>
      resolve(err ? 0 : out.trim().split('\n').filter(Boolean).length),
    );
  });
}

/** Waits until every member sees every other alive. */
async function waitWhole(members: Member[], serfBin: string, rpcOf: (i: number) => string, what: string) {
  const deadline = performance.now() + 180_000;
  for (;;) {
    const counts = await Promise.all(members.map((m, i) => aliveCount(m, serfBin, rpcOf(i)).catch(() => 0)));
    if (counts.every((c) => c === members.length)) return;
    if (performance.now() > deadline)
      throw new Error(`${what}: not whole after 180 s (alive seen: ${counts.join(' ')})`);
    await sleep(500);
  }
}

async function weftBytes(members: Member[]): Promise<number> {
  const texts = await Promise.all(members.map((m) => metricsText(m.api!)));
  return texts.reduce(
    (a, t) => a + metric(t, 'weft_gossip_bytes_out_total') + metric(t, 'weft_store_bytes_out_total'),
    0,
  );
}

function serfBytes(statsd: StatsdSink): number {
  const s = statsd.sum();
  return s.udpBytes + s.tcpBytes;
}

const sumCpuMs = (ms: Member[]) => ms.reduce((a, m) => a + cpuMs(m.proc.pid), 0);

/** Both clusters over the same windows: CPU % of a core per agent in each window, and bytes over all. */
async function sample(weft: Member[], serf: Member[], statsd: StatsdSink, o: IdleOptions) {
  const cpu = { weft: [] as number[], serf: [] as number[] };
  const load1: number[] = [];
  const b0 = { weft: await weftBytes(weft), serf: serfBytes(statsd) };
  const t0 = performance.now();
  for (let w = 0; w < o.windows; w++) {
    const start = { weft: sumCpuMs(weft), serf: sumCpuMs(serf), at: performance.now() };
    await sleep((o.idleS * 1000) / o.windows);
    const s = (performance.now() - start.at) / 1000;
    // ms of CPU per s of wall, per agent: / 10 is % of a core.
    cpu.weft.push((sumCpuMs(weft) - start.weft) / 10 / s / weft.length);
    cpu.serf.push((sumCpuMs(serf) - start.serf) / 10 / s / serf.length);
    load1.push(loadavg()[0]!);
    o.log(
      `window ${w + 1}/${o.windows}: weft ${cpu.weft.at(-1)!.toFixed(2)} %, serf ${cpu.serf.at(-1)!.toFixed(2)} % of a core per agent`,
    );
  }
  const seconds = (performance.now() - t0) / 1000;
  const bytes = { weft: (await weftBytes(weft)) - b0.weft, serf: serfBytes(statsd) - b0.serf };
  return { cpu, load1, seconds, bytes };
}

function side(ms: Member[], cpuWindows: number[], bytes: number, seconds: number): Side {
  const mem = ms.map((m) => residentMb(m.proc.pid));
  const rss = mem.map((m) => m.rss).sort((a, b) => a - b);
  const anon = mem.map((m) => m.anon).sort((a, b) => a - b);
  const total = cpuWindows.reduce((a, b) => a + b, 0);
  return {
    cpu_pct_per_agent: round(total / cpuWindows.length, 3),
    cpu_pct_windows: cpuWindows.map((c) => round(c, 3)),
    rss_mb_median: round(rss[Math.floor(rss.length / 2)]!, 1),
    rss_mb_max: round(rss.at(-1)!, 1),
    rss_anon_mb_median: round(anon[Math.floor(anon.length / 2)]!, 1),
    bytes_per_agent_s: round(bytes / ms.length / seconds, 1),
  };
}

/** One weft agent's memory by kind, MB, from the default metrics. */
function memoryOf(text: string): Record<string, number> {
  const mb = (name: string) => round(metric(text, name) / 1048576, 1);
  return {
    rss: mb('weft_process_resident_memory_bytes'),
    'V8 heap total': mb('weft_nodejs_heap_size_total_bytes'),
    'V8 heap used': mb('weft_nodejs_heap_size_used_bytes'),
    'external (Buffers, wasm memory)': mb('weft_nodejs_external_memory_bytes'),
  };
}

export async function runIdleComparison(o: IdleOptions): Promise<IdleResult> {
  const weftNet = o.weftNet ?? '127.0.12';
  const serfNet = o.serfNet ?? '127.0.13';
  const group = new ProcGroup();
  const dir = mkdtempSync(join(tmpdir(), 'weft-idle-bench-'));
  const statsd = await startStatsd(o.agents);
  const kill = () => group.killAllSync();
  process.on('exit', kill);
  try {
    o.log(`starting ${o.agents} weft agents (membership + store) and ${o.agents} serf agents ...`);
    const ports = await benchPorts([weftNet, serfNet], o.agents);
    const seed = `${ipOf(weftNet, 0)}:${ports.gossip}`;
    const weft = await startAll(o.agents, (i) => startWeft(group, weftNet, ports.gossip, i, i > 0 ? seed : undefined));
    const floorProc = (name: string, args: string[]) =>
      group.spawn(name, process.execPath, [...AGENT_NODE_FLAGS, ...args], agentEnv(cleanEnv()));
    const floor = floorProc('node-floor', ['-e', 'setInterval(() => {}, 1000)']);
    const builtinsFloor = floorProc('builtins-floor', [FLOOR, 'builtins']);
    const stackFloors = Array.from({ length: FLOOR_COPIES }, (_, i) =>
      floorProc(`automerge-floor-${i + 1}`, [FLOOR, 'automerge', String(o.agents)]),
    );
    await Promise.all([builtinsFloor, ...stackFloors].map((p) => p.waitFor((t) => t === 'ready', 60_000, 'ready')));
    const serf = await startAll(o.agents, (i) => startSerf(group, { ...o, serfNet, ports }, dir, statsd, i));
    const rpcOf = (i: number) => `${ipOf(serfNet, i)}:${ports.serfRpc}`;
    await Promise.all([waitWhole(weft, o.serfBin, rpcOf, 'weft'), waitWhole(serf, o.serfBin, rpcOf, 'serf')]);
    o.log(`both clusters whole; settling ${o.settleS} s, then ${o.idleS} s in ${o.windows} windows`);
    await sleep(o.settleS * 1000);
    const s = await sample(weft, serf, statsd, o);
    return {
      agents: o.agents,
      weft: side(weft, s.cpu.weft, s.bytes.weft, s.seconds),
      serf: side(serf, s.cpu.serf, s.bytes.serf, s.seconds),
      floor: residentMb(floor.pid),
      builtinsFloor: residentMb(builtinsFloor.pid),
      stackFloor: medianMb(stackFloors.map((p) => residentMb(p.pid))),
      weftMemory: memoryOf(await metricsText(weft[0]!.api!)),
      load1: s.load1.map((l) => round(l, 2)),
      seconds: round(s.seconds, 1),
    };
  } finally {
    process.off('exit', kill);
    await group.killAll();
    await statsd.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures issue 17 names, for a bench's JSON line. */
export function idleFigures(r: IdleResult | null): Record<string, number | null> {
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? round(a / b, 3) : null);
  return {
    idle_cpu_ratio_vs_serf: ratio(r?.weft.cpu_pct_per_agent, r?.serf.cpu_pct_per_agent),
    idle_rss_mb: r?.weft.rss_mb_median ?? null,
    idle_rss_anon_mb: r?.weft.rss_anon_mb_median ?? null,
    node_floor_rss_mb: r ? round(r.floor.rss, 1) : null,
    node_floor_rss_anon_mb: r ? round(r.floor.anon, 1) : null,
    builtins_floor_rss_mb: r ? round(r.builtinsFloor.rss, 1) : null,
    stack_floor_rss_mb: r ? round(r.stackFloor.rss, 1) : null,
    stack_floor_rss_anon_mb: r ? round(r.stackFloor.anon, 1) : null,
    weft_own_rss_mb: r ? round(r.weft.rss_mb_median - r.stackFloor.rss, 1) : null,
    idle_cpu_pct: r?.weft.cpu_pct_per_agent ?? null,
    serf_idle_cpu_pct: r?.serf.cpu_pct_per_agent ?? null,
    serf_idle_rss_mb: r?.serf.rss_mb_median ?? null,
    serf_idle_rss_anon_mb: r?.serf.rss_anon_mb_median ?? null,
    idle_wire_bytes_per_s: r?.weft.bytes_per_agent_s ?? null,
    serf_idle_wire_bytes_per_s: r?.serf.bytes_per_agent_s ?? null,
  };
}

export function idleTable(r: IdleResult): string[] {
  const rows: [string, string, string, string][] = [
    ['', 'weft', 'serf', 'aim'],
    ['CPU, % of a core per agent', String(r.weft.cpu_pct_per_agent), String(r.serf.cpu_pct_per_agent), 'weft <= serf'],
    ['  per window', r.weft.cpu_pct_windows.join(' '), r.serf.cpu_pct_windows.join(' '), ''],
    ['RSS per agent, median MB', String(r.weft.rss_mb_median), String(r.serf.rss_mb_median), 'weft <= 60'],
    ['RSS per agent, max MB', String(r.weft.rss_mb_max), String(r.serf.rss_mb_max), ''],
    ['  of it anonymous, median MB', String(r.weft.rss_anon_mb_median), String(r.serf.rss_anon_mb_median), ''],
    ['bare node with the same flags, RSS MB', String(round(r.floor.rss, 1)), '', 'the floor'],
    ['  of it anonymous, MB', String(round(r.floor.anon, 1)), '', ''],
    ['  and the Node modules an agent loads', String(round(r.builtinsFloor.rss, 1)), '', ''],
    [
      `  and Automerge, ${r.agents} documents (median of ${FLOOR_COPIES})`,
      String(round(r.stackFloor.rss, 1)),
      '',
      "the stack's floor",
    ],
    ['  of it anonymous, MB', String(round(r.stackFloor.anon, 1)), '', ''],
    ["weft's own: RSS above the stack's floor", String(round(r.weft.rss_mb_median - r.stackFloor.rss, 1)), '', ''],
    ['bytes sent per agent per s', String(r.weft.bytes_per_agent_s), String(r.serf.bytes_per_agent_s), ''],
  ];
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((x) => x[c]!.length)));
  const lines = rows.map((x) => `${x[0].padEnd(w[0]!)}  ${x[1].padStart(w[1]!)}  ${x[2].padStart(w[2]!)}  ${x[3]}`);
  lines.push('', 'one weft agent, MB:');
  for (const [k, v] of Object.entries(r.weftMemory)) lines.push(`  ${k.padEnd(34)} ${v}`);
  lines.push('', `load average (1 min) at each window: ${r.load1.join(' ')}`);
  return lines;
}

/** The process of median RSS, with its parts. */
function medianMb(ms: ResidentMb[]): ResidentMb {
  return [...ms].sort((a, b) => a.rss - b.rss)[Math.floor(ms.length / 2)]!;
}

function round(x: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

/** The bench's knobs (bench/idle.ts lists them), at smoke sizes under --smoke. */
export function idleOptions(serfBin: string): IdleOptions {
  return {
    agents: num('BENCH_IDLE_AGENTS', 30, 3),
    settleS: num('BENCH_IDLE_SETTLE_S', 40, 1),
    idleS: num('BENCH_IDLE_S', 60, 2),
    windows: num('BENCH_IDLE_WINDOWS', 4, 2),
    serfBin,
    log: (l) => console.error(`  ${l}`),
  };
}

/**
 * For bench/membership.ts: the idle comparison with this bench's knobs, its table printed,
 * and its figures; null figures when serf is missing, with BENCH_SKIP_IDLE=1 or
 * BENCH_SKIP_REAL=1, and under --smoke (`npm run bench -- idle --smoke` covers it).
 */
export async function idleForMembershipBench(smoke: boolean): Promise<Record<string, number | null>> {
  const serfBin = process.env.BENCH_SERF_BIN ?? 'serf';
  if (smoke || envFlag('BENCH_SKIP_IDLE') || envFlag('BENCH_SKIP_REAL') || !serfInstalled(serfBin))
    return idleFigures(null);
  const r = await runIdleComparison(idleOptions(serfBin));
  console.log(`\nidle: ${r.agents} weft agents (membership + store) beside ${r.agents} serf agents (bench idle)`);
  for (const l of idleTable(r)) console.log(`  ${l}`);
  return idleFigures(r);
}

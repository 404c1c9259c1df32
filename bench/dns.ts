// `npm run bench -- dns`: weft's DNS server against dnsmasq, with dnsperf, on loopback.
//   weft: 1,000 service names (2 endpoints each) from a real LocalStore, in a child process
//         (bench/dns-server.ts) so this harness does not share its event loop;
//   dnsmasq: the same 1,000 names and addresses from a hosts file.
// Figures: max qps (dnsperf unthrottled, 100 outstanding), p50/p99 latency at 20,000 qps
// (percentiles from dnsperf -v per-query lines), the server's CPU per query in both runs and
// how much of it is user time, the rest being the kernel's (/proc; weft's agent and workers
// together): on loopback the kernel's part is about the same for both, a little less for
// weft, whose answers to a burst leave in one sendmmsg (src/node-flags.ts: 8.1 against 9.1 us
// a query at max qps, 13.4 against 16.8 at 20k, in one run), and the gap in qps is the user
// part (Node's datagram binding and our answer against dnsmasq's C); Node's floor
// (bench/dns-floor.ts), run at both loads too, under the same flags, shows how much of
// each figure is Node's; the 20k runs again with each server on a CPU of its own and dnsperf
// on another (bench/cpu-affinity.ts; `_own_core` figures), as a client on another host would
// be: sharing the cores, the tail also measures where the scheduler put server and generator;
// and the qps of forwarded names answered from weft's cache (upstream: a tiny local server;
// the cache is warmed first), and the max qps of forwarding names never asked before, weft
// against dnsmasq, both forwarding to a third dnsmasq that answers them (every name new, so
// no cache helps either). Each load runs
// BENCH_DNS_ROUNDS (3) times, weft and dnsmasq interleaved; the figures are medians.
// Answers are checked during each max-qps run (bench/dns-check.ts): `wrong_answers` must be 0.
// weft runs as the agent does by default: dns.workers worker processes, started under load
// (BENCH_DNS_WORKERS overrides; `weft_worker_processes` says how many ran).
// Knobs: BENCH_DNS_SECONDS (4) per run, BENCH_DNS_ROUNDS (3), BENCH_DNS_WORKERS.
// --smoke: one round of 0.5 s runs; without dnsperf or dnsmasq the JSON line names them in
// `absent` (figures null).
// Progress on stderr; the table on stdout; the last line is one JSON object.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { TestUpstream } from '../dns/upstream.fixture.js';
import { affinitySplit, pinTree } from './cpu-affinity.js';
import { benchAddr } from './dns-data.js';
import { checkAnswers, type CheckResult } from './dns-check.js';
import { envNumber as num, missingCommands, printAbsent, SMOKE } from './_env.js';
import { AGENT_NODE_FLAGS } from '../src/node-flags.js';
import { treeCpuSplitMs, type CpuSplit } from './proc-cpu.js';

const SERVICES = 1000;
const PER = 2;
const WEFT = '127.0.8.2';
const DNSMASQ = '127.0.8.3';
/** Node's floor: a server that answers with the query's own bytes (bench/dns-floor.ts). */
const FLOOR = '127.0.8.7';
const UPSTREAM = '127.0.8.1';
/** The forwarding comparison: the upstream both forward to, and the two forwarders. */
const MISS_UPSTREAM = '127.0.8.4';
const WEFT_FWD = '127.0.8.5';
const DNSMASQ_FWD = '127.0.8.6';
/** Names in each never-asked list: more than a run can send at any rate seen here. */
const MISS_NAMES = SMOKE ? 20_000 : 250_000;
const seconds = num('BENCH_DNS_SECONDS', 4, 0.5);
const rounds = num('BENCH_DNS_ROUNDS', 3, 1);
const warmS = SMOKE ? 0.3 : 1;
const progress = (l: string) => console.error(`  ${l}`);

const missing = missingCommands(['dnsperf', 'dnsmasq']);
if (missing.length) {
  for (const cmd of missing)
    console.error(
      `bench dns needs \`${cmd}\` on PATH (apt-get install -y ${cmd === 'dnsmasq' ? 'dnsmasq-base' : 'dnsperf'})`,
    );
  printAbsent(missing, {
    qps: null,
    qps_ratio_vs_dnsmasq: null,
    node_floor_ratio_vs_dnsmasq: null,
    node_floor_p99_ms_at_20k: null,
    p99_ms_at_20k: null,
    dnsmasq_p99_ms_at_20k: null,
    wrong_answers: null,
    cached_forward_qps: null,
    forward_miss_ratio_vs_dnsmasq: null,
  });
  process.exit(SMOKE ? 0 : 1);
}

const dir = mkdtempSync(join(tmpdir(), 'weft-bench-dns-'));
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

// ---------------------------------------------------------------- inputs
let hosts = '';
let zoneQueries = '';
for (let s = 0; s < SERVICES; s++) {
  for (let e = 0; e < PER; e++) hosts += `${benchAddr(s, e)} s${s}.svc.weft.internal\n`;
  zoneQueries += `s${s}.svc.weft.internal A\n`;
}
let fwdQueries = '';
for (let i = 0; i < 100; i++) fwdQueries += `f${i}.example.test A\n`;
writeFileSync(join(dir, 'hosts'), hosts);
writeFileSync(join(dir, 'zone.txt'), zoneQueries);
writeFileSync(join(dir, 'fwd.txt'), fwdQueries);
writeFileSync(join(dir, 'probe.txt'), 'probe.miss.test A\n');
/** A list of names no server has been asked before, for one run. */
function missFile(tag: string): string {
  const lines: string[] = [];
  for (let i = 0; i < MISS_NAMES; i++) lines.push(`m${i}.${tag}.miss.test A`);
  const file = join(dir, `miss-${tag}.txt`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

// ---------------------------------------------------------------- servers
const upstream = await TestUpstream.start(UPSTREAM, (q) => ({
  answers: [{ type: 'A', name: q.name, ttl: 3600, data: '192.0.2.1' }],
}));

async function freePort(addr: string): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, addr, () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Starts a Node child of this bench (`script` prints one JSON line with its port first): its port and pid. */
async function startNodeChild(
  script: string,
  args: string[],
): Promise<{ port: number; pid: number; line: Record<string, unknown> }> {
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, join(import.meta.dirname, script), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const parsed = JSON.parse(line) as { port: number };
  return { port: parsed.port, pid: child.pid!, line: parsed };
}

/** Starts weft's DNS child: its port, and its pid (its workers are its children). */
async function startWeft(addr = WEFT, upstreamLabel = upstream.label): Promise<{ port: number; pid: number }> {
  const c = await startNodeChild('dns-server.js', [addr, String(SERVICES), String(PER), upstreamLabel]);
  progress(`weft serving ${String(c.line.names)} names on ${addr}:${c.port} (pid ${c.pid})`);
  return c;
}

/**
 * Starts a dnsmasq at `addr`: by default the peer serving the zone's names from a hosts
 * file; `args` replace those (the forwarding comparison's upstream and forwarder).
 * Ready once it answers a query of `probe` (a dnsperf file in the bench's directory).
 */
async function startDnsmasq(
  addr = DNSMASQ,
  args = ['--no-hosts', `--addn-hosts=${join(dir, 'hosts')}`],
  probe = 'zone.txt',
  role = `serving ${SERVICES} names`,
): Promise<{ port: number; pid: number }> {
  const port = await freePort(addr);
  const child = spawn(
    'dnsmasq',
    [
      '-C',
      '/dev/null',
      '--no-resolv',
      ...args,
      `--port=${port}`,
      `--listen-address=${addr}`,
      '--bind-interfaces',
      '--keep-in-foreground',
      '--cache-size=10000',
      '--local-ttl=5',
      '--user=root',
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  // Ready when it answers.
  for (let i = 0; i < 50; i++) {
    if ((await perf(addr, port, join(dir, probe), { seconds: 0.2, qps: 100 })).completed > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  progress(`dnsmasq ${role} on ${addr}:${port} (pid ${child.pid})`);
  return { port, pid: child.pid! };
}

// ---------------------------------------------------------------- dnsperf
interface PerfResult {
  qps: number;
  completed: number;
  lost: number;
  p50_ms?: number;
  p99_ms?: number;
}

const run = promisify(execFile);

/** One dnsperf run. Asynchronous: the upstream for forwarded names answers from this process meanwhile. */
async function perf(
  server: string,
  port: number,
  file: string,
  o: { seconds: number; qps?: number; verbose?: boolean; cpu?: number },
): Promise<PerfResult> {
  const args = ['-s', server, '-p', String(port), '-d', file, '-l', String(o.seconds), '-q', '100', '-t', '2'];
  if (o.qps) args.push('-Q', String(o.qps));
  if (o.verbose) args.push('-v');
  const [cmd, argv] = o.cpu === undefined ? ['dnsperf', args] : ['taskset', ['-c', String(o.cpu), 'dnsperf', ...args]];
  const { stdout: out } = await run(cmd, argv, { encoding: 'utf8', maxBuffer: 256 << 20 });
  const r: PerfResult = {
    qps: Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    completed: Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0),
    lost: Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? 0),
  };
  if (o.verbose) {
    const lat: number[] = [];
    for (const m of out.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)) lat.push(Number(m[1]) * 1000);
    lat.sort((a, b) => a - b);
    const pct = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : NaN);
    r.p50_ms = round(pct(50), 3);
    r.p99_ms = round(pct(99), 3);
  }
  return r;
}

/** The DNS worker processes weft's server runs (children named dns/worker.js). */
async function workerProcesses(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  try {
    const { stdout } = await run('pgrep', ['-P', String(pid), '-f', 'dns/worker'], { encoding: 'utf8' });
    return stdout.split('\n').filter((l) => l.trim() !== '').length;
  } catch {
    return 0; // pgrep exits 1 when none
  }
}

const sum = (xs: CheckResult[], k: 'checked' | 'wrong' | 'unanswered') => xs.reduce((a, c) => a + c[k], 0);

const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---------------------------------------------------------------- runs
const load0 = loadavg()[0];
const weft = await startWeft();
const dnsmasq = await startDnsmasq();
const floor = await startNodeChild('dns-floor.js', [FLOOR]);
progress(`Node's floor (answers each query with its own bytes) on ${FLOOR}:${floor.port} (pid ${floor.pid})`);
const [weftPort, dnsmasqPort] = [weft.port, dnsmasq.port];
// The server processes (weft's with its workers), for the CPU each answer costs.
const serverPid = { weft: weft.pid, dnsmasq: dnsmasq.pid, floor: floor.pid };
const zoneFile = join(dir, 'zone.txt');

// Warm-up: weft precomputes answers on first use and V8 optimises the hot path.
await perf(WEFT, weftPort, zoneFile, { seconds: warmS });
await perf(DNSMASQ, dnsmasqPort, zoneFile, { seconds: warmS });
await perf(FLOOR, floor.port, zoneFile, { seconds: warmS });

type Server = keyof typeof serverPid;
const max = { weft: [] as number[], dnsmasq: [] as number[], floor: [] as number[] };
const checks = { weft: [] as CheckResult[], dnsmasq: [] as CheckResult[] };
const sample = SMOKE ? 50 : 500;
const at20k = { weft: [] as PerfResult[], dnsmasq: [] as PerfResult[], floor: [] as PerfResult[] };
/** The same with the server on a CPU of its own and dnsperf on another. */
const at20kOwnCore = { weft: [] as PerfResult[], dnsmasq: [] as PerfResult[], floor: [] as PerfResult[] };
const split = affinitySplit();
if ('absent' in split) progress(`20k runs on a CPU of their own: not run (${split.absent})`);
/**
 * Server CPU per answered query, µs, split into user and kernel time: at max qps, what
 * decides it when the load generator shares the cores; at 20k, what a burst waits behind.
 */
const cpuAtMax = { weft: [] as CpuSplit[], dnsmasq: [] as CpuSplit[], floor: [] as CpuSplit[] };
const cpuAt20k = { weft: [] as CpuSplit[], dnsmasq: [] as CpuSplit[], floor: [] as CpuSplit[] };
/** Runs `load` against `who`'s server (with its workers), and its CPU per completed query in µs. */
async function perQueryCpu<T extends { completed: number }>(
  who: Server,
  load: () => Promise<T>,
): Promise<[T, CpuSplit]> {
  const before = treeCpuSplitMs(serverPid[who]);
  const r = await load();
  const after = treeCpuSplitMs(serverPid[who]);
  const per = (k: keyof CpuSplit) => ((after[k] - before[k]) * 1000) / Math.max(1, r.completed);
  return [r, { user: per('user'), system: per('system') }];
}
const total = (c: CpuSplit) => c.user + c.system;
for (let r = 0; r < rounds; r++) {
  // Alternate who goes first, so a slow patch of the machine does not always hit one side;
  // Node's floor runs between the two.
  const order: [Server, string, number][] = [
    ['weft', WEFT, weftPort],
    ['floor', FLOOR, floor.port],
    ['dnsmasq', DNSMASQ, dnsmasqPort],
  ];
  if (r % 2) order.reverse();
  for (const [who, addr, port] of order) {
    const load = perQueryCpu(who, () => perf(addr, port, zoneFile, { seconds }));
    if (who === 'floor') {
      // Its answers are echoes, not checked.
      const [m, cpu] = await load;
      max.floor.push(m.qps);
      cpuAtMax.floor.push(cpu);
      progress(`round ${r + 1}: Node's floor max ${round(m.qps)} qps, ${round(total(cpu), 1)} µs CPU a query`);
      continue;
    }
    // Answers are checked while the load runs (weft's workers answer only under load).
    const [[m, cpu], c] = await Promise.all([
      load,
      checkAnswers(addr, port, { count: sample, ms: seconds * 700, services: SERVICES, per: PER, nx: who === 'weft' }),
    ]);
    max[who].push(m.qps);
    cpuAtMax[who].push(cpu);
    checks[who].push(c);
    progress(
      `round ${r + 1}: ${who} max ${round(m.qps)} qps (lost ${m.lost}); answers checked ${c.checked}, wrong ${c.wrong}, unanswered ${c.unanswered}${c.examples.length ? `: ${c.examples.join('; ')}` : ''}`,
    );
  }
  for (const [who, addr, port] of order) {
    const [l, cpu] = await perQueryCpu(who, () => perf(addr, port, zoneFile, { seconds, qps: 20_000, verbose: true }));
    at20k[who].push(l);
    cpuAt20k[who].push(cpu);
    progress(
      `round ${r + 1}: ${who} at 20k: ${round(l.qps)} qps, p50 ${l.p50_ms} ms, p99 ${l.p99_ms} ms, ${round(total(cpu), 1)} µs CPU a query (user ${round(cpu.user, 1)})`,
    );
  }
  if ('absent' in split) continue;
  for (const [who, addr, port] of order) {
    const unpin = pinTree(serverPid[who], String(split.server));
    try {
      const l = await perf(addr, port, zoneFile, { seconds, qps: 20_000, verbose: true, cpu: split.generator });
      at20kOwnCore[who].push(l);
      progress(`round ${r + 1}: ${who} at 20k, on a CPU of its own: p50 ${l.p50_ms} ms, p99 ${l.p99_ms} ms`);
    } finally {
      unpin();
    }
  }
}

// Forwarded names on cache hits: warm every name, then measure.
const fwdFile = join(dir, 'fwd.txt');
await perf(WEFT, weftPort, fwdFile, { seconds: warmS, qps: 1000 });
const askedBefore = upstream.asked.length;
const cached: number[] = [];
for (let r = 0; r < rounds; r++) cached.push((await perf(WEFT, weftPort, fwdFile, { seconds })).qps);
const upstreamDuring = upstream.asked.length - askedBefore;
progress(
  `cached forwards: ${cached.map((q) => round(q)).join(', ')} qps; upstream asked ${upstreamDuring} times meanwhile`,
);

const weftWorkers = await workerProcesses(weft.pid);

// Forwarding names never asked before: weft and dnsmasq each forward to the same dnsmasq
// upstream, which answers every name under miss.test. The zone's servers stop first, so the
// two cores are the forwarder's, the upstream's and dnsperf's.
// They stay in `children`, so the exit handler still kills any that did not stop.
for (const c of children) c.kill('SIGTERM');
const missUpstream = await startDnsmasq(
  MISS_UPSTREAM,
  ['--no-hosts', '--address=/miss.test/192.0.2.1'],
  'probe.txt',
  'answering every name under miss.test',
);
const missLabel = `${MISS_UPSTREAM}:${missUpstream.port}`;
const fwd = {
  weft: await startWeft(WEFT_FWD, missLabel),
  dnsmasq: await startDnsmasq(
    DNSMASQ_FWD,
    ['--no-hosts', `--server=${MISS_UPSTREAM}#${missUpstream.port}`],
    'probe.txt',
    `forwarding to ${missLabel}`,
  ),
};
const missQps = { weft: [] as number[], dnsmasq: [] as number[] };
const missLost = { weft: 0, dnsmasq: 0 };
for (let r = 0; r < rounds; r++) {
  const order: ['weft' | 'dnsmasq', string][] = [
    ['weft', WEFT_FWD],
    ['dnsmasq', DNSMASQ_FWD],
  ];
  if (r % 2) order.reverse();
  for (const [who, addr] of order) {
    const file = missFile(`r${r}${who}`);
    const m = await perf(addr, fwd[who].port, file, { seconds });
    rmSync(file);
    missQps[who].push(m.qps);
    missLost[who] += m.lost;
    progress(`round ${r + 1}: ${who} forwarding new names: ${round(m.qps)} qps (lost ${m.lost})`);
  }
}
for (const c of children) c.kill('SIGTERM');
await upstream.close();

const weftMax = median(max.weft);
const cpuFigure = (xs: CpuSplit[], part: (c: CpuSplit) => number) => round(median(xs.map(part)), 1);
const dnsmasqMax = median(max.dnsmasq);
const p = (who: Server, k: 'p50_ms' | 'p99_ms', runs = at20k) =>
  runs[who].length ? round(median(runs[who].map((x) => x[k]!)), 3) : null;
const result = {
  qps: round(weftMax),
  dnsmasq_qps: round(dnsmasqMax),
  qps_ratio_vs_dnsmasq: round(weftMax / dnsmasqMax, 2),
  node_floor_qps: round(median(max.floor)),
  node_floor_ratio_vs_dnsmasq: round(median(max.floor) / dnsmasqMax, 2),
  p50_ms_at_20k: p('weft', 'p50_ms'),
  p99_ms_at_20k: p('weft', 'p99_ms'),
  dnsmasq_p50_ms_at_20k: p('dnsmasq', 'p50_ms'),
  dnsmasq_p99_ms_at_20k: p('dnsmasq', 'p99_ms'),
  cpu_us_per_query_at_20k: cpuFigure(cpuAt20k.weft, total),
  dnsmasq_cpu_us_per_query_at_20k: cpuFigure(cpuAt20k.dnsmasq, total),
  user_us_per_query_at_20k: cpuFigure(cpuAt20k.weft, (c) => c.user),
  dnsmasq_user_us_per_query_at_20k: cpuFigure(cpuAt20k.dnsmasq, (c) => c.user),
  cpu_us_per_query_at_max: cpuFigure(cpuAtMax.weft, total),
  dnsmasq_cpu_us_per_query_at_max: cpuFigure(cpuAtMax.dnsmasq, total),
  user_us_per_query_at_max: cpuFigure(cpuAtMax.weft, (c) => c.user),
  dnsmasq_user_us_per_query_at_max: cpuFigure(cpuAtMax.dnsmasq, (c) => c.user),
  node_floor_p99_ms_at_20k: p('floor', 'p99_ms'),
  p50_ms_at_20k_own_core: p('weft', 'p50_ms', at20kOwnCore),
  p99_ms_at_20k_own_core: p('weft', 'p99_ms', at20kOwnCore),
  dnsmasq_p50_ms_at_20k_own_core: p('dnsmasq', 'p50_ms', at20kOwnCore),
  dnsmasq_p99_ms_at_20k_own_core: p('dnsmasq', 'p99_ms', at20kOwnCore),
  node_floor_p99_ms_at_20k_own_core: p('floor', 'p99_ms', at20kOwnCore),
  node_floor_cpu_us_per_query_at_20k: cpuFigure(cpuAt20k.floor, total),
  node_floor_user_us_per_query_at_20k: cpuFigure(cpuAt20k.floor, (c) => c.user),
  node_floor_cpu_us_per_query_at_max: cpuFigure(cpuAtMax.floor, total),
  node_floor_user_us_per_query_at_max: cpuFigure(cpuAtMax.floor, (c) => c.user),
  wrong_answers: sum(checks.weft, 'wrong'),
  answers_checked: sum(checks.weft, 'checked'),
  answers_unanswered: sum(checks.weft, 'unanswered'),
  dnsmasq_wrong_answers: sum(checks.dnsmasq, 'wrong'),
  weft_worker_processes: weftWorkers,
  cached_forward_qps: round(median(cached)),
  forward_miss_qps: round(median(missQps.weft)),
  dnsmasq_forward_miss_qps: round(median(missQps.dnsmasq)),
  forward_miss_ratio_vs_dnsmasq: round(median(missQps.weft) / median(missQps.dnsmasq), 2),
  forward_miss_lost: missLost.weft,
  dnsmasq_forward_miss_lost: missLost.dnsmasq,
  rounds,
  seconds_per_run: seconds,
  load_average_at_start: round(load0, 1),
  load_avg_1m: round(loadavg()[0], 1),
  smoke: SMOKE,
  absent: [] as string[],
};

/** The table's rows for the servers' CPU a query at one load: in all, its user part, and Node's floor. */
function cpuRows(at: 'max' | '20k', note: string): [string, string, string, string][] {
  const fig = (k: keyof typeof result) => result[k];
  return [
    [
      `server CPU a query at ${at}`,
      `${fig(`cpu_us_per_query_at_${at}`)} µs`,
      `${fig(`dnsmasq_cpu_us_per_query_at_${at}`)} µs`,
      note,
    ],
    [
      '  of it user (rest kernel)',
      `${fig(`user_us_per_query_at_${at}`)} µs`,
      `${fig(`dnsmasq_user_us_per_query_at_${at}`)} µs`,
      '',
    ],
    [
      "  Node's floor",
      `${fig(`node_floor_cpu_us_per_query_at_${at}`)} µs, user ${fig(`node_floor_user_us_per_query_at_${at}`)}`,
      '',
      '',
    ],
  ];
}

/** The 20k figures with server and dnsperf each on a CPU of its own, or why they are missing. */
function ownCoreRows(): [string, string, string, string][] {
  if ('absent' in split) return [['20k, server on a CPU of its own', '-', '-', `not run: ${split.absent}`]];
  const ms = (x: number | null) => `${x} ms`;
  return [
    [
      '20k, server on a CPU of its own: p50',
      ms(result.p50_ms_at_20k_own_core),
      ms(result.dnsmasq_p50_ms_at_20k_own_core),
      `dnsperf on CPU ${split.generator}, the server on CPU ${split.server}`,
    ],
    ['  p99', ms(result.p99_ms_at_20k_own_core), ms(result.dnsmasq_p99_ms_at_20k_own_core), ''],
    ["  Node's floor, p99", ms(result.node_floor_p99_ms_at_20k_own_core), '', ''],
  ];
}

const rows: [string, string, string, string][] = [
  ['', 'weft', 'dnsmasq', 'weft/dnsmasq'],
  ['max qps (median)', String(result.qps), String(result.dnsmasq_qps), `${result.qps_ratio_vs_dnsmasq}  (aim >= 1.0)`],
  ['  each run', max.weft.map((x) => round(x)).join(' '), max.dnsmasq.map((x) => round(x)).join(' '), ''],
  [
    "Node's floor: max qps",
    String(result.node_floor_qps),
    '',
    `${result.node_floor_ratio_vs_dnsmasq}  (answers with the query's bytes: the most a Node server reaches here)`,
  ],
  ['p50 at 20k qps', `${result.p50_ms_at_20k} ms`, `${result.dnsmasq_p50_ms_at_20k} ms`, ''],
  ['p99 at 20k qps', `${result.p99_ms_at_20k} ms`, `${result.dnsmasq_p99_ms_at_20k} ms`, '(aim: weft <= dnsmasq)'],
  ["  Node's floor", `${result.node_floor_p99_ms_at_20k} ms`, '', ''],
  ...ownCoreRows(),
  ...cpuRows('max', 'weft: agent + workers'),
  ...cpuRows('20k', ''),
  [
    'answers checked under load',
    `${result.answers_checked}, ${result.wrong_answers} wrong`,
    `${sum(checks.dnsmasq, 'checked')}, ${result.dnsmasq_wrong_answers} wrong`,
    `weft unanswered ${result.answers_unanswered}; weft workers ${weftWorkers}`,
  ],
  ['forwarded, cache hits', `${result.cached_forward_qps} qps`, '', `upstream asked ${upstreamDuring}x during`],
  [
    'forwarded, new names (max qps)',
    `${result.forward_miss_qps} qps`,
    `${result.dnsmasq_forward_miss_qps} qps`,
    `${result.forward_miss_ratio_vs_dnsmasq}  (lost ${result.forward_miss_lost} / ${result.dnsmasq_forward_miss_lost})`,
  ],
];
console.log(
  `DNS: ${SERVICES} service names x ${PER} endpoints, dnsperf -q 100, ${seconds} s runs, median of ${rounds}; load average ${result.load_average_at_start} at start`,
);
const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows)
  console.log(`  ${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}  ${r[3]}`.trimEnd());
console.log('');
console.log(JSON.stringify(result));
process.exit(0);

// `npm run bench -- lb`: weft's load balancer against a direct connection and HAProxy, in
// network namespaces (root, ip, nft, wrk, curl, haproxy).
//   Paths, each in namespaces of its own (a client and two backends on a bridge; fresh
//   namespaces per path, so PAWS/TIME_WAIT of one path cannot reject another's SYNs):
//     direct    wrk -> one backend
//     nft       wrk -> weft's nftables VIP (the LB programs the client's namespace)
//     nftLab    curl -> one backend, from the nft lab's own client past weft's rules (bulk
//               only: wrk there would meet the VIP path's TIME_WAIT), each transfer paired
//               with the VIP transfer of the same turn (below)
//     nftRoutedLab  the same in the nftRouted lab, through its router
//     routed    wrk -> one backend, through a router namespace (as a container's traffic
//               passes through its node)
//     nftRouted wrk -> weft's nftables VIP programmed in that router (DNAT at prerouting)
//     proxy     wrk -> weft's userspace proxy (a process in the client's namespace)
//     haproxy   wrk -> HAProxy, mode tcp, the same two backends (a process in the client's namespace)
//   Figures: requests/s of short HTTP requests with keep-alive off (wrk, Connection: close:
//   the new-connection rate), and bulk throughput of BENCH_LB_BULK_MB (1,000) MB responses
//   (curl), BENCH_LB_BULK_REPS (4) per path per round, the paths taking turns. Backends: a
//   minimal HTTP responder (Node, one process each). BENCH_LB_ROUNDS (7) rounds, paths
//   interleaved within each round; medians. One stream's rate here moves by a third from one
//   transfer to the next on the same path. A 100 MB transfer lasted ~70 ms, a few of the CPU
//   clock's 10 ms ticks, and runs with one of them per path per round put the nft path
//   anywhere from 0.57 to 1.18 x direct (3 to 7 rounds).
//   What a VIP costs a client on the node. Two labs built alike differ by more than the VIP
//   costs: per transfer pair, two direct labs differed by a median of 0.91. So the bench also
//   pairs each VIP transfer with a direct one from the same client to the same backend in the
//   same turn (nft_bulk_ratio_vs_direct_same_lab, the median of those ratios, with its
//   quartiles; the same for the routed VIP). In three runs of 5-7 rounds: 0.948, 0.955 and
//   0.939 per pair (quartiles ~0.86-1.1), while the same runs put the VIP at 0.891, 0.89 and
//   0.855 of the direct lab's transfer, and the nft lab's own direct transfers at 0.90-0.96 of
//   it. That gap is the labs, not weft's rules: in one lab, with the rules (DNAT, masquerade, a
//   ct state rule) loaded and removed in turn, 14 pairs of direct transfers gave 1.051
//   (quartiles 0.89-1.16) with against without. The routed VIP, DNATed at prerouting in the
//   router, kept its path's rate (0.987 per pair).
//   Earlier measurements, against a lab of its own: masquerade's share is within the noise
//   (a third lab whose VIP was routed, not local, so not masqueraded: per transfer pair 1.035 x
//   weft's VIP, quartiles 0.86-1.14); DNAT at output is what remains. Offload is not the
//   cost: the client took ~16,900 packets per GB either way (GSO packets cross the veths,
//   bridge and NAT whole). In such a transfer netfilter's functions take 5.5 % of the
//   machine's busy CPU, against 2 % direct (perf; the bridge's br_netfilter). For new
//   connections, what grew most beside them was rerouting each packet after NAT (route
//   lookups, dst entries made and freed).
//   Programming: 1,000 VIPs x 10 backends from an empty table (LbDriver.start to
//   resolved, nft and the addresses in place), and store update of one backend -> the
//   transaction committed (median and p90 of BENCH_LB_UPDATES, 15).
//   BENCH_LB_ONLY=programming measures only that (no paths, no wrk or haproxy): for a host
//   too loaded for the throughput rows. BENCH_LB_ONLY=proxy measures only the proxy and
//   HAProxy paths (no programming): alternate runs of it to compare proxy changes.
//   BENCH_LB_PROXY_NODE_OPTIONS: NODE_OPTIONS of the proxy's process and its acceptors only
//   (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`: each acceptor writes its profile when it exits).
// --smoke: 1 round of 1 s, 20 VIPs x 2 backends, 1 update. A path whose tool is missing
// (wrk, curl, haproxy) is left out and named in `absent`; without root, ip and nft the
// whole bench is (its figures null).
// Progress on stderr; the table on stdout; the last line is one JSON object.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LocalStore } from '../crdt-store/local-store.js';
import { DEFAULTS, LbDriver } from '../lb/index.js';
import { run } from '../base/exec.js';
import { envNumber as num, kernelUsable, missingCommands, printAbsent, SMOKE } from './_env.js';
import { treeCpuMs } from './proc-cpu.js';

const rounds = num('BENCH_LB_ROUNDS', 7, 1);
const BULK_MB = num('BENCH_LB_BULK_MB', 1000, 100);
const BULK_REPS = num('BENCH_LB_BULK_REPS', 4, 1);
const seconds = num('BENCH_LB_SECONDS', 4, 1);
const VIPS = SMOKE ? 20 : 1000;
const PER_VIP = SMOKE ? 2 : 10;
const UPDATES = SMOKE ? 1 : num('BENCH_LB_UPDATES', 15, 1);
const ONLY_PROGRAMMING = process.env.BENCH_LB_ONLY === 'programming';
const ONLY_PROXY = process.env.BENCH_LB_ONLY === 'proxy';
if (![undefined, '', 'programming', 'proxy'].includes(process.env.BENCH_LB_ONLY))
  throw new Error(`BENCH_LB_ONLY=${process.env.BENCH_LB_ONLY}: expected programming or proxy`);
const proxyNodeOptions = process.env.BENCH_LB_PROXY_NODE_OPTIONS;
const absent = missingCommands(['wrk', 'curl', 'haproxy']);
const has = (cmd: string) => !absent.includes(cmd);
const conns = num('BENCH_LB_CONNECTIONS', 32);
/** The proxy's acceptor processes; 0 (allowed here, unlike envNumber's figures) runs it in one process. */
const proxyWorkers = Number(process.env.BENCH_LB_PROXY_WORKERS ?? DEFAULTS.proxyWorkers);
if (!Number.isInteger(proxyWorkers) || proxyWorkers < 0)
  throw new Error(`BENCH_LB_PROXY_WORKERS=${process.env.BENCH_LB_PROXY_WORKERS}: expected 0 or more`);
const progress = (l: string) => console.error(`  ${l}`);
const tag = `wlb${process.pid}`;
const namespaces: string[] = [];
const procs: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'weft-lb-bench-'));

async function teardown(): Promise<void> {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  for (const ns of namespaces.splice(0).reverse()) await run(['ip', 'netns', 'del', ns]).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}
process.on('SIGINT', () => void teardown().then(() => process.exit(130)));

async function addNs(ns: string): Promise<void> {
  await run(['ip', 'netns', 'add', ns]);
  namespaces.push(ns);
  await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
}

interface Lab {
  client: string;
  backends: string[];
  /** Where a VIP is programmed: the client's own namespace, or the router a routed client is behind. */
  node: string;
}

/**
 * A hub with a bridge and backends at 10.77.0.11, .12. The client is at 10.77.0.1; or,
 * routed, at 10.78.0.2 behind a router namespace that holds 10.77.0.1, as a container is
 * behind its node: its VIP traffic is DNATed on the way through (prerouting), not as it
 * leaves a local socket (output).
 */
async function lab(name: string, routed = false): Promise<Lab> {
  const hub = `${tag}${name}hub`;
  await addNs(hub);
  await run(['ip', '-n', hub, '-batch', '-'], { input: 'link add br0 type bridge\nlink set br0 up\n' });
  const host = async (last: number): Promise<string> => {
    const ns = `${tag}${name}h${last}`;
    await addNs(ns);
    await run(['ip', '-n', hub, '-batch', '-'], {
      input: `link add p${last} type veth peer name eth0 netns ${ns}\nlink set p${last} master br0 up\n`,
    });
    await run(['ip', '-n', ns, '-batch', '-'], { input: `addr add 10.77.0.${last}/24 dev eth0\nlink set eth0 up\n` });
    await tuneTcp(ns);
    return ns;
  };
  const first = await host(1);
  const backends = [await host(11), await host(12)];
  if (!routed) return { client: first, backends, node: first };
  const client = `${tag}${name}c`;
  await addNs(client);
  await run(['ip', '-n', first, '-batch', '-'], {
    input: `link add r0 type veth peer name eth0 netns ${client}\naddr add 10.78.0.1/24 dev r0\nlink set r0 up\n`,
  });
  await run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: first });
  await run(['ip', '-n', client, '-batch', '-'], {
    input: 'addr add 10.78.0.2/24 dev eth0\nlink set eth0 up\nroute add default via 10.78.0.1\n',
  });
  await tuneTcp(client);
  for (const b of backends) await run(['ip', '-n', b, 'route', 'add', '10.78.0.0/24', 'via', '10.77.0.1']);
  return { client, backends, node: first };
}

const tuneTcp = (ns: string) =>
  run(['sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=10000 65000'], { netns: ns });

const BACKEND = `
import net from 'node:net';
const body = 'hello\\n';
const resp = Buffer.from('HTTP/1.1 200 OK\\r\\nContent-Length: ' + body.length + '\\r\\nConnection: close\\r\\n\\r\\n' + body);
const big = Buffer.alloc(1 << 20, 120);
const MB = Number(process.env.BULK_MB);
net.createServer({ noDelay: true }, (c) => {
  c.on('error', () => {});
  let buf = '';
  c.on('data', (d) => {
    if (buf === null) return;
    buf += d;
    if (!buf.includes('\\r\\n\\r\\n')) return;
    const bulk = buf.startsWith('GET /bulk');
    buf = null;
    if (!bulk) return c.end(resp);
    c.write('HTTP/1.1 200 OK\\r\\nContent-Length: ' + MB * 1048576 + '\\r\\nConnection: close\\r\\n\\r\\n');
    let n = 0;
    const pump = () => { while (n < MB) { n++; if (!c.write(big)) return c.once('drain', pump); } c.end(); };
    pump();
  });
}).listen({ port: 80, backlog: 4096 }, () => console.log('ready'));
`;

function startIn(
  ns: string,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
  procs.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv[0]} in ${ns} not ready: ${err}`)), 15_000);
    createInterface({ input: proc.stdout! }).once('line', (line) => (clearTimeout(timer), resolve({ proc, line })));
    proc.once('exit', (code) => reject(new Error(`${argv[0]} in ${ns} exited (${code}): ${err}`)));
  });
}

async function backends(l: Lab): Promise<void> {
  await Promise.all(
    l.backends.map((ns) =>
      startIn(ns, [process.execPath, '--input-type=module', '-e', BACKEND], {
        ...process.env,
        BULK_MB: String(BULK_MB),
      }),
    ),
  );
}

async function wrkRps(ns: string, url: string): Promise<{ rps: number; requests: number }> {
  const out = await run(['wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '-H', 'Connection: close', url], {
    netns: ns,
    timeoutMs: (seconds + 30) * 1000,
  });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const n = /(\d+) requests in/.exec(out);
  const errs = /Socket errors: (.*)/.exec(out);
  if (errs) progress(`  wrk ${url}: socket errors ${errs[1]}`);
  if (!m || !n) throw new Error(`wrk printed no rate: ${out}`);
  return { rps: Number(m[1]), requests: Number(n[1]) };
}

async function bulk(ns: string, url: string): Promise<number> {
  const out = await run(['curl', '-s', '-o', '/dev/null', '-w', '%{speed_download} %{size_download}', url], {
    netns: ns,
    timeoutMs: 60_000,
  });
  const [speed, size] = out.trim().split(' ').map(Number);
  if (size !== BULK_MB * 1048576) throw new Error(`bulk transfer through ${url} got ${size} bytes`);
  return speed;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** The nearest-rank 90th percentile. */
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(xs.length * 0.9) - 1)];

const endpoint = (addr: string, port: number, vipPort: number) => ({
  service: 'web',
  addrs: [addr],
  ports: {},
  health: 'none',
  vips: [{ vip: 'web', port: vipPort, proto: 'tcp', targetPort: port }],
  source: 'api',
});

type Labs = {
  direct: Lab | undefined;
  nft: Lab | undefined;
  /** The nft lab itself, to a backend's address: no lab of its own. */
  nftLab: Lab | undefined;
  /** The nftRouted lab, the same way. */
  nftRoutedLab: Lab | undefined;
  routed: Lab | undefined;
  nftRouted: Lab | undefined;
  proxy: Lab;
  haproxy: Lab | undefined;
};
type Path = keyof Labs;
/** The process (tree) doing the proxying on a path, whose CPU time is measured: proxy and haproxy only. */
type Pids = Partial<Record<Path, number>>;

/** One lab per path, each with its backends; the VIP programmed by weft's nft datapath, its userspace proxy, and HAProxy when installed. */
async function startPaths(): Promise<{ labs: Labs; urls: Record<Path, string>; lbs: LbDriver[]; pids: Pids }> {
  console.error('namespaces and backends ...');
  const labs = {
    direct: ONLY_PROXY ? undefined : await lab('d'),
    nft: ONLY_PROXY ? undefined : await lab('n'),
    nftLab: undefined as Lab | undefined,
    nftRoutedLab: undefined as Lab | undefined,
    routed: ONLY_PROXY ? undefined : await lab('r', true),
    nftRouted: ONLY_PROXY ? undefined : await lab('v', true),
    proxy: await lab('p'),
    haproxy: has('haproxy') ? await lab('h') : undefined,
  };
  for (const l of Object.values(labs)) if (l) await backends(l);
  labs.nftLab = labs.nft;
  labs.nftRoutedLab = labs.nftRouted;

  const urls: Record<keyof typeof labs, string> = {
    direct: 'http://10.77.0.11:80',
    nft: '',
    nftLab: 'http://10.77.0.11:80',
    routed: 'http://10.77.0.11:80',
    nftRouted: '',
    nftRoutedLab: 'http://10.77.0.11:80',
    proxy: '',
    haproxy: 'http://127.0.0.1:8080',
  };

  const lbs: LbDriver[] = [];
  for (const p of ['nft', 'nftRouted'] as const) {
    const at = labs[p];
    if (!at) continue;
    const store = new LocalStore({ name: 'bench', clock: () => Date.now() });
    store.put('svc/web/bench/a', endpoint('10.77.0.11', 80, 80));
    store.put('svc/web/bench/b', endpoint('10.77.0.12', 80, 80));
    const nft = await LbDriver.start({ source: store, datapath: 'nft', netns: at.node });
    cleanups.push(() => nft.cleanup());
    urls[p] = `http://${nft.vips.get('web')}:80`;
    lbs.push(nft);
  }

  const proxy = await startIn(
    labs.proxy.client,
    [
      process.execPath,
      fileURLToPath(new URL('./lb-proxy.js', import.meta.url)),
      JSON.stringify({
        port: 80,
        workers: proxyWorkers,
        backends: [
          ['10.77.0.11', 80],
          ['10.77.0.12', 80],
        ],
      }),
    ],
    proxyNodeOptions === undefined ? process.env : { ...process.env, NODE_OPTIONS: proxyNodeOptions },
  );
  const listen = (JSON.parse(proxy.line) as { listen: string }).listen;
  urls.proxy = `http://${listen}:80`;

  const pids: Pids = { proxy: proxy.proc.pid };
  if (labs.haproxy) pids.haproxy = await startHaproxy(labs.haproxy.client);
  return { labs, urls, lbs, pids };
}

/** HAProxy in the lab's client namespace, round robin over both backends. */
async function startHaproxy(client: string): Promise<number | undefined> {
  const cfg = join(tmp, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 8000',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend fe',
      '  bind 127.0.0.1:8080',
      '  default_backend be',
      'backend be',
      '  balance roundrobin',
      '  server b1 10.77.0.11:80',
      '  server b2 10.77.0.12:80',
      '',
    ].join('\n'),
  );
  const hap = spawn('ip', ['netns', 'exec', client, 'haproxy', '-f', cfg, '-db'], { stdio: 'ignore' });
  procs.push(hap);
  await new Promise((r) => setTimeout(r, 500));
  return hap.pid;
}

type Series = Record<string, number[]>;
const series = (): Series => ({
  direct: [],
  nft: [],
  nftLab: [],
  routed: [],
  nftRouted: [],
  nftRoutedLab: [],
  proxy: [],
  haproxy: [],
});
/** Paths measured by bulk transfers only. */
const BULK_ONLY: readonly Path[] = ['nftLab', 'nftRoutedLab'];
/** Rates per path, and the CPU time the proxying process (tree) spent: ms per 1,000 connections and per GB. */
interface Measured {
  rps: Series;
  bw: Series;
  cpuPerKConn: Series;
  cpuPerGb: Series;
}

/** Rounds of wrk and bulk downloads over every path, with the proxies' CPU time per unit of work. */
async function measurePaths(
  labs: Labs,
  urls: Record<Path, string>,
  order: readonly Path[],
  pids: Pids,
): Promise<Measured> {
  const m: Measured = { rps: series(), bw: series(), cpuPerKConn: series(), cpuPerGb: series() };
  const cpu = (p: Path) => (pids[p] === undefined ? NaN : treeCpuMs(pids[p]));
  const cpuNote = (p: Path, x: number[], unit: string) =>
    pids[p] === undefined ? '' : ` (CPU ${x.at(-1)?.toFixed(0) ?? '-'} ms/${unit})`;
  const connections = async (p: Path) => {
    const c0 = cpu(p);
    const w = await wrkRps(labs[p]!.client, `${urls[p]}/`);
    m.rps[p].push(w.rps);
    if (pids[p] !== undefined) m.cpuPerKConn[p].push(((cpu(p) - c0) * 1000) / w.requests);
    progress(`${p}: ${w.rps.toFixed(0)} req/s${cpuNote(p, m.cpuPerKConn[p], '1k conns')}`);
  };
  const transfer = async (p: Path) => {
    const c0 = cpu(p);
    const rate = await bulk(labs[p]!.client, `${urls[p]}/bulk`);
    m.bw[p].push(rate);
    if (pids[p] !== undefined) m.cpuPerGb[p].push(((cpu(p) - c0) * 1e9) / (BULK_MB * 1048576));
    progress(`${p}: ${(rate / 1e6).toFixed(0)} MB/s${cpuNote(p, m.cpuPerGb[p], 'GB')}`);
  };
  for (let r = 0; r < rounds; r++) {
    console.error(`round ${r + 1}/${rounds} ...`);
    // Rotate the order each round, so no path always runs first (or right after another).
    const o = order.map((_, i) => order[(i + r) % order.length]);
    if (has('wrk')) for (const p of o) if (!BULK_ONLY.includes(p)) await connections(p);
    // The paths take turns transfer by transfer, so a slow spell of the machine falls on all.
    if (has('curl')) for (let k = 0; k < BULK_REPS; k++) for (const p of o) await transfer(p);
  }
  return m;
}

/** Programs VIPS x PER_VIP from empty in a namespace of its own, then times single backend updates until their rule is live. */
async function measureProgramming(): Promise<{ programMs: number; updates: number[]; putMs: number[] }> {
  console.error(`programming ${VIPS} VIPs x ${PER_VIP} backends ...`);
  const pns = `${tag}prog`;
  await addNs(pns);
  const big = new LocalStore({ name: 'bench', clock: () => Date.now() });
  big.batch(() => {
    for (let v = 0; v < VIPS; v++) {
      for (let b = 0; b < PER_VIP; b++)
        big.put(`svc/s${v}/bench/${b}`, {
          ...endpoint(`10.${b + 1}.${v >> 8}.${v & 255}`, 8080, 80),
          service: `s${v}`,
          vips: [{ vip: `vip-${v}`, port: 80, proto: 'tcp', targetPort: 8080 }],
        });
    }
  });
  const t0 = performance.now();
  const lbBig = await LbDriver.start({ source: big, datapath: 'nft', netns: pns });
  const programMs = performance.now() - t0;
  cleanups.push(() => lbBig.cleanup());
  const rules = await run(['nft', 'list', 'map', 'inet', 'weft', 'vips'], { netns: pns });
  const elements = (rules.match(/goto v-/g) ?? []).length;
  const addrs = (await run(['ip', '-n', pns, '-o', '-4', 'addr', 'show', 'dev', 'weft-vip0']))
    .trim()
    .split('\n').length;
  if (elements !== VIPS || addrs !== VIPS)
    throw new Error(`programmed ${elements} map elements and ${addrs} addresses, expected ${VIPS} each`);
  progress(`programmed in ${programMs.toFixed(0)} ms (first pass ${lbBig.status().lastReconcile?.durationMs} ms)`);

  const updates: number[] = [];
  const putMs: number[] = [];
  const target = VIPS / 2;
  for (let i = 0; i < UPDATES; i++) {
    const passes = lbBig.passes;
    const port = 9000 + i;
    const u0 = performance.now();
    big.put(`svc/s${target}/bench/1`, {
      ...endpoint('10.4.1.244', port, 80),
      service: `s${target}`,
      vips: [{ vip: `vip-${target}`, port: 80, proto: 'tcp', targetPort: port }],
    });
    putMs.push(performance.now() - u0);
    // A cheap counter: status() builds 1,000 VIPs' status, which polled at every turn of
    // the loop took the CPU from the pass being timed. Polled every 1 ms, not at every
    // turn (setImmediate): spinning kept a core busy that the nft process needs.
    while (lbBig.passes === passes) await new Promise((r) => setTimeout(r, 1));
    const ms = performance.now() - u0;
    if (!(await run(['nft', 'list', 'table', 'inet', 'weft'], { netns: pns })).includes(`10.4.1.244 . ${port}`))
      throw new Error('the updated backend is not in the table');
    updates.push(ms);
    await new Promise((r) => setTimeout(r, 100));
  }
  progress(
    `update to live: ${updates.map((u) => u.toFixed(0)).join(', ')} ms (of which the store's put: ${putMs.map((u) => u.toFixed(0)).join(', ')} ms)`,
  );

  return { programMs, updates, putMs };
}

const medians = (xs: Series): Record<string, number> =>
  Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, v.length ? median(v) : NaN]));
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? +(a / b).toFixed(3) : null);
/** The quartiles of a[i] / b[i], transfers of the same turn. */
function pairedQuartiles(a: number[], b: number[]): [number, number, number] | null {
  const r = a.slice(0, b.length).map((x, i) => x / b[i]!);
  if (r.length === 0 || !r.every(Number.isFinite)) return null;
  const s = [...r].sort((x, y) => x - y);
  const at = (q: number) => +s[Math.round(q * (s.length - 1))]!.toFixed(3);
  return [at(0.25), +median(r).toFixed(3), at(0.75)];
}

/** The figures of the JSON line. */
function figures(load: number, m: Measured, programMs: number, updates: number[]) {
  const [R, B, C, G] = [m.rps, m.bw, m.cpuPerKConn, m.cpuPerGb].map(medians);
  const sameLab = pairedQuartiles(m.bw.nft, m.bw.nftLab);
  const routedSameLab = pairedQuartiles(m.bw.nftRouted, m.bw.nftRoutedLab);
  return {
    nft_rps_ratio_vs_direct: ratio(R.nft, R.direct),
    nft_bulk_ratio_vs_direct: ratio(B.nft, B.direct),
    // Each VIP transfer against the direct one from the same client in the same turn.
    nft_bulk_ratio_vs_direct_same_lab: sameLab?.[1] ?? null,
    nft_bulk_ratio_vs_direct_same_lab_quartiles: sameLab && [sameLab[0], sameLab[2]],
    // A container's VIP traffic: DNATed as it passes through the node, against the same route.
    nft_routed_rps_ratio_vs_direct: ratio(R.nftRouted, R.routed),
    nft_routed_bulk_ratio_vs_direct: ratio(B.nftRouted, B.routed),
    nft_routed_bulk_ratio_vs_direct_same_lab: routedSameLab?.[1] ?? null,
    nft_routed_bulk_ratio_vs_direct_same_lab_quartiles: routedSameLab && [routedSameLab[0], routedSameLab[2]],
    proxy_rps_ratio_vs_haproxy: ratio(R.proxy, R.haproxy),
    proxy_bulk_ratio_vs_haproxy: ratio(B.proxy, B.haproxy),
    // CPU time per unit of work: what the proxies cost, whatever else the host was doing.
    proxy_cpu_per_conn_ratio_vs_haproxy: ratio(C.proxy, C.haproxy),
    proxy_cpu_per_byte_ratio_vs_haproxy: ratio(G.proxy, G.haproxy),
    proxy_workers: proxyWorkers,
    program_1000x10_ms: SMOKE ? null : Math.round(programMs),
    update_to_live_ms: +median(updates).toFixed(1),
    update_to_live_p90_ms: +p90(updates).toFixed(1),
    load_avg_1m: +load.toFixed(2),
    ...(SMOKE ? { smoke: true, program_ms: Math.round(programMs), vips: VIPS, backends_per_vip: PER_VIP } : {}),
    absent,
  };
}

const paired = (median: number | null, quartiles: number[] | null) =>
  `      same lab, paired: bulk x${median} (quartiles ${quartiles?.join('-') ?? '-'})   (each VIP transfer against a direct one from its own client)`;

/** The table and the final JSON line. */
function report(o: {
  load: number;
  order: readonly Path[];
  m: Measured;
  programMs: number;
  updates: number[];
  putMs: number[];
}): void {
  const { load, order, m, programMs, updates, putMs } = o;
  const [R, B, C, G] = [m.rps, m.bw, m.cpuPerKConn, m.cpuPerGb].map(medians);
  const res = figures(load, m, programMs, updates);
  console.log(
    `L4 load balancing, ${rounds} rounds x ${seconds} s, wrk -t1 -c${conns} Connection: close; medians; load average ${load.toFixed(1)} at start; proxy workers ${proxyWorkers}`,
  );
  const cols = ['req/s', 'bulk MB/s', 'CPU ms/1k conn', 'CPU ms/GB'];
  console.log(`  ${'path'.padEnd(12)} ${cols.map((c) => c.padStart(15)).join(' ')}`);
  const cell = (x: number, scale = 1) => (Number.isFinite(x) ? (x / scale).toFixed(0) : '-').padStart(15);
  for (const p of order) console.log(`  ${p.padEnd(12)} ${cell(R[p])} ${cell(B[p], 1e6)} ${cell(C[p])} ${cell(G[p])}`);
  if (absent.length) console.log(`  not measured (missing ${absent.join(', ')}): null in the JSON line`);
  console.log('');
  if (!ONLY_PROXY)
    console.log(
      [
        `  nft vs direct:      req/s x${res.nft_rps_ratio_vs_direct}, bulk x${res.nft_bulk_ratio_vs_direct}   (aim >= 0.9 both; a client on the node)`,
        paired(res.nft_bulk_ratio_vs_direct_same_lab, res.nft_bulk_ratio_vs_direct_same_lab_quartiles),
        `    routed:           req/s x${res.nft_routed_rps_ratio_vs_direct}, bulk x${res.nft_routed_bulk_ratio_vs_direct}   (a client behind the node, as a container)`,
        paired(res.nft_routed_bulk_ratio_vs_direct_same_lab, res.nft_routed_bulk_ratio_vs_direct_same_lab_quartiles),
      ].join('\n'),
    );
  console.log(
    `  proxy vs haproxy:   req/s x${res.proxy_rps_ratio_vs_haproxy}, bulk x${res.proxy_bulk_ratio_vs_haproxy}   (aim >= 0.8 both); CPU per connection x${res.proxy_cpu_per_conn_ratio_vs_haproxy}, per byte x${res.proxy_cpu_per_byte_ratio_vs_haproxy}`,
  );
  if (!ONLY_PROXY) {
    console.log(
      `  program ${VIPS} VIPs x ${PER_VIP} backends from empty: ${Math.round(programMs)} ms   (aim <= 1,000 at 1,000 x 10)`,
    );
    console.log(
      `  store update of one backend -> rule live: ${res.update_to_live_ms} ms median of ${UPDATES}, p90 ${res.update_to_live_p90_ms} ms   (aim <= 100)`,
    );
    console.log(
      `    of which the store's own put (Automerge, 10,000 keys): ${median(putMs).toFixed(1)} ms; the LB's part: ${(median(updates) - median(putMs)).toFixed(1)} ms`,
    );
  }
  console.log(JSON.stringify(res));
}

async function main(): Promise<void> {
  const load = loadavg()[0];
  let order: Path[] = [];
  let m: Measured = { rps: series(), bw: series(), cpuPerKConn: series(), cpuPerGb: series() };
  if (!ONLY_PROGRAMMING) {
    const { labs, urls, lbs, pids } = await startPaths();
    order = (['direct', 'nft', 'nftLab', 'routed', 'nftRouted', 'nftRoutedLab', 'proxy', 'haproxy'] as const).filter(
      (p) => labs[p],
    );
    m = await measurePaths(labs, urls, order, pids);
    for (const lb of lbs) await lb.cleanup();
    cleanups.length = 0;
  }
  const { programMs, updates, putMs } = ONLY_PROXY
    ? { programMs: NaN, updates: [NaN], putMs: [NaN] }
    : await measureProgramming();
  report({ load, order, m, programMs, updates, putMs });
}

if (!kernelUsable()) {
  printAbsent(['root, ip and nft', ...absent], {
    nft_rps_ratio_vs_direct: null,
    program_1000x10_ms: null,
    update_to_live_ms: null,
  });
  rmSync(tmp, { recursive: true, force: true });
  process.exit(SMOKE ? 0 : 1);
}
try {
  await main();
} finally {
  await teardown();
}

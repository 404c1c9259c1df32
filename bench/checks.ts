// `npm run bench -- checks`: health checks on real agents.
//
//   check_to_dns_ms   an HTTP check's target starts failing (interval 1s, fall 1) until the
//                     endpoint has left the DNS answers of another agent: the wait for the
//                     next probe, the probe, the record write, replication and the zone.
//                     Aim <= interval + 500 ms.
//   checks_per_node   how many checks (half HTTP, half TCP, at 1 s) one agent runs within
//                     5 % of one core: the agent's CPU from /proc/<pid>/stat over a window,
//                     at steps of more checks, against real local servers.
//                     Aim >= 500.
//
// BENCH_ROUNDS (5), BENCH_WINDOW_MS (10000), BENCH_STEPS (comma list, 250,500,1000).
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { loadavg } from 'node:os';
import { resolvesA, startAgent, type AgentProcess, FAST_GOSSIP_FLAGS as FAST } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { SMOKE, envNumber } from './_env.js';
import { cpuMs } from './proc-cpu.js';

const ROUNDS = envNumber('BENCH_ROUNDS', 5, 1);
const WINDOW_MS = envNumber('BENCH_WINDOW_MS', 10_000, 1_000);
const STEPS = (process.env.BENCH_STEPS ?? (SMOKE ? '20' : '250,500,1000')).split(',').map(Number);
const CPU_BUDGET = 5; // % of one core

const cleanups: (() => void | Promise<void>)[] = [];
const td = { teardown: (fn: () => void | Promise<void>) => void cleanups.push(fn) };
async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanup().then(() => process.exit(130)));

async function listen<T extends Server | TcpServer>(server: T): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  td.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

/** POST /v1/services; a 408 (the agent's request timeout, on a loaded machine) is tried again. */
async function register(a: AgentProcess, body: unknown): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(`${a.ready.api}/v1/services`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    if (r.status < 300) return;
    if (r.status !== 408 || attempt >= 5) throw new Error(`register: ${r.status} ${await r.text()}`);
  }
}

async function checkToDns(): Promise<number[]> {
  let healthy = true;
  const port = await listen(createServer((_q, s) => (s.writeHead(healthy ? 200 : 503), s.end())));
  const a = await startAgent(td, ['--node', 'bench-a', '--bind', '127.0.10.1', ...FAST]);
  const b = await startAgent(td, ['--node', 'bench-b', '--bind', '127.0.10.2', '--join', a.ready.gossip!, ...FAST]);
  await register(a, {
    service: 'web',
    id: 'w1',
    addrs: ['127.0.0.1'],
    checks: [{ http: `:${port}/`, interval: '1s', timeout: '500ms', rise: 1, fall: 1 }],
  });
  await register(a, { service: 'web', id: 'w2', addrs: ['127.0.0.3'] });
  const answer = async () => (await resolvesA(b, 'web.svc.weft.internal')).join(',');
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await eventually('w1 served at B', async () => (await answer()) === '127.0.0.1,127.0.0.3', 30_000, 20);
    // It came back right after a probe: fail at a random point of the interval, as a real failure would.
    await new Promise((r) => setTimeout(r, Math.random() * 1000));
    healthy = false;
    times.push(await eventually("w1 out of B's DNS", async () => (await answer()) === '127.0.0.3', 30_000, 10));
    healthy = true;
  }
  a.proc.kill('SIGKILL');
  b.proc.kill('SIGKILL');
  return times;
}

async function metric(a: AgentProcess, re: RegExp): Promise<number> {
  const text = await (await fetch(`${a.ready.api}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(re)) sum += Number(m[1]);
  return sum;
}

/** Waits (up to 2 min) until all n checks pass; the number passing then. */
async function allPassing(a: AgentProcess, n: number): Promise<number> {
  const deadline = performance.now() + 120_000;
  let passing = -1;
  while (performance.now() < deadline) {
    passing = await metric(a, /weft_checks\{status="passing"\} (\d+)/g);
    if (passing === n) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (passing !== n)
    console.error(
      `${n} checks: only ${passing} passing after 2 min (${await metric(a, /weft_checks\{status="critical"\} (\d+)/g)} critical)`,
    );
  return passing;
}

interface Step {
  checks: number;
  /** Checks passing when the window started (all of them, unless the agent could not keep up). */
  passing: number;
  cpuPct: number;
  probesPerS: number;
  /** The machine's 1-minute load average at the end of the window: it is shared and noisy. */
  load: number;
}

async function checksPerNode(): Promise<Step[]> {
  // Eight HTTP and eight TCP targets, so the probes' connections spread over ports.
  const http = await Promise.all(Array.from({ length: 8 }, () => listen(createServer((_q, s) => s.end('ok')))));
  const tcp = await Promise.all(Array.from({ length: 8 }, () => listen(createTcpServer((s) => s.destroy()))));
  const a = await startAgent(td, ['--node', 'bench-c', '--bind', '127.0.10.3']);
  const pid = a.proc.pid!;
  const steps: Step[] = [];
  let registered = 0;
  for (const n of [0, ...STEPS]) {
    const ids = Array.from({ length: n - registered }, (_, i) => registered + i);
    for (let i = 0; i < ids.length; i += 16) {
      await Promise.all(
        ids.slice(i, i + 16).map((k) =>
          register(a, {
            service: 'load',
            id: `c${k}`,
            addrs: ['127.0.0.1'],
            checks: [k % 2 ? { tcp: `:${tcp[k % 8]}` } : { http: `:${http[k % 8]}/` }].map((c) => ({
              ...c,
              interval: '1s',
              timeout: '900ms',
            })),
          }),
        ),
      );
    }
    registered = n;
    const passing = await allPassing(a, n);
    await new Promise((r) => setTimeout(r, Math.min(WINDOW_MS, 2_000))); // settle: the writes of the transitions are done
    const runs0 = await metric(a, /weft_check_runs_total\{[^}]*\} (\d+)/g);
    const c0 = cpuMs(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const c1 = cpuMs(pid);
    const t1 = performance.now();
    const runs1 = await metric(a, /weft_check_runs_total\{[^}]*\} (\d+)/g);
    steps.push({
      checks: n,
      passing,
      cpuPct: ((c1 - c0) / (t1 - t0)) * 100,
      probesPerS: ((runs1 - runs0) * 1000) / (t1 - t0),
      load: loadavg()[0]!,
    });
    if (steps.at(-1)!.cpuPct > CPU_BUDGET * 2) break; // far over: more only takes longer
  }
  return steps;
}

const round = (x: number) => Math.round(x * 10) / 10;
try {
  const dns = await checkToDns();
  const sorted = [...dns].sort((x, y) => x - y);
  console.log(`check_to_dns_ms, ${ROUNDS} rounds (interval 1s, fall 1): ${dns.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(
    `  median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (aim <= 1500 ms)\n`,
  );
  const steps = await checksPerNode();
  console.log(`checks_per_node: agent CPU over ${WINDOW_MS / 1000} s with N checks at 1 s (half http, half tcp)`);
  console.log('checks   passing   agent CPU % of a core   probes/s   load 1m');
  for (const s of steps)
    console.log(
      `${String(s.checks).padStart(6)}   ${String(s.passing).padStart(7)}   ${s.cpuPct.toFixed(2).padStart(20)}   ${s.probesPerS.toFixed(0).padStart(8)}   ${s.load.toFixed(1).padStart(7)}`,
    );
  const idle = steps[0]!.cpuPct;
  const within = steps
    .filter((s) => s.checks > 0 && s.passing === s.checks && s.cpuPct <= CPU_BUDGET)
    .map((s) => s.checks);
  const top = steps.at(-1)!;
  const perCheck = top.checks > 0 ? (top.cpuPct - idle) / top.checks : NaN;
  const estimate = perCheck > 0 ? Math.floor((CPU_BUDGET - idle) / perCheck) : null;
  console.log(
    `\nwithin ${CPU_BUDGET} % of a core: ${within.length ? Math.max(...within) : 0} checks measured; ${estimate ?? '?'} by the cost per check at ${top.checks} (idle agent ${idle.toFixed(2)} %) (aim >= 500)`,
  );
  console.log(
    JSON.stringify({
      check_to_dns_ms: round(sorted[Math.floor(sorted.length / 2)]!),
      check_to_dns_max_ms: round(sorted.at(-1)!),
      checks_per_node: within.length ? Math.max(...within) : 0,
      checks_per_node_est: estimate,
      cpu_pct_by_checks: Object.fromEntries(steps.map((s) => [s.checks, round(s.cpuPct)])),
      load_avg_1m: round(loadavg()[0]!),
      smoke: SMOKE,
    }),
  );
} finally {
  await cleanup();
}

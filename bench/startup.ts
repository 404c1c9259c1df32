// `npm run bench -- startup`: time (and CPU) from process start to ready, and idle RSS after 10 s,
// for `weft agent` (every component at its default but the overlay, which needs a bridge;
// run with the V8 flags of the `weft` command) and for the floor: a bare node process that
// opens an HTTP server. Runs of the two alternate. Then where the time goes: the module load
// cost of each part (bench/startup-modules.ts, in a fresh process), and one more start at
// debug level whose log says when each component had started.
//
// As root, every process runs in a network namespace of the bench's own: an agent at its
// defaults programs the LB's nft table and VIP interface, which it leaves on purpose when it
// stops (so VIP traffic survives a restart), and the host's own would be overwritten.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { HERMETIC_PORT_FLAGS } from '../test/helpers/agent-process.js';
import { AGENT_NODE_FLAGS, agentEnv } from '../src/node-flags.js';
import { VERSION } from '../src/version.js';
import { envNumber as num } from './_env.js';
import { residentMb } from './proc-memory.js';
import { cpuMs } from './proc-cpu.js';
import { inNetns } from '../lb/nft.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const MODULES = fileURLToPath(new URL('./startup-modules.js', import.meta.url));
const RUNS = num('BENCH_RUNS', 10, 1);
const IDLE_MS = num('BENCH_IDLE_MS', 10_000, 500);
const MODULE_RUNS = num('BENCH_MODULE_RUNS', 3, 1);

const FLOOR = `require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', () => console.log('ready'))`;

interface Subject {
  name: string;
  args: string[];
  /** The agent's environment (its malloc tuning, as the package's wrapper and npm start set it); the floor's is the bench's. */
  env?: NodeJS.ProcessEnv;
  isReady: (line: string) => boolean;
}

const AGENT_ARGS = ['agent', '--log-format', 'json', ...HERMETIC_PORT_FLAGS, '--bind-port', '0'];
const isAgentReady = (l: string) => l.includes('weft agent ready');
const bundle = buildBundle();

const subjects: Subject[] = [
  {
    name: 'weft agent (dist/)',
    args: [...AGENT_NODE_FLAGS, CLI, ...AGENT_ARGS],
    env: agentEnv(),
    isReady: isAgentReady,
  },
  { name: 'floor (node -e http server)', args: ['-e', FLOOR], isReady: (l) => l.trim() === 'ready' },
  ...(bundle
    ? [
        {
          name: 'weft agent (bundle, as packaged)',
          args: [...AGENT_NODE_FLAGS, bundle, ...AGENT_ARGS],
          env: agentEnv(),
          isReady: isAgentReady,
        },
      ]
    : []),
];

/**
 * The bundle the package ships (scripts/bundle.mjs: the launcher, the CommonJS bundle and its
 * code cache, made by this node with the agent's flags), in build/bench-startup with the
 * package.json it reads its version from; undefined (and said) when it cannot be built.
 */
function buildBundle(): string | undefined {
  const dir = fileURLToPath(new URL('../../build/bench-startup/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'weft', version: VERSION, type: 'module' }));
  const out = join(dir, 'dist');
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../scripts/bundle.mjs', import.meta.url)), out], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    console.log(`bundle: not built, so not timed (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)})`);
    return undefined;
  }
  return join(out, 'weft.cjs');
}

/** Starts the subject; resolves with ms to ready and the process, still running. */
interface Started {
  ms: number;
  /** CPU the process used from start to ready (user + system, all its threads). */
  cpuMs: number;
  pid: number;
  /** Wall clock at spawn, and the lines up to ready. */
  spawnedAt: number;
  lines: string[];
  kill: () => Promise<void>;
}

/**
 * The bench's own network namespace (root only), deleted on exit. Every subject, the floor
 * too, enters it through nsenter (lb/nft.ts's inNetns: the network namespace alone, not
 * `ip netns exec`'s mount namespace and /sys remount), which execs: the pid is node's.
 */
const netns = process.getuid?.() === 0 ? makeNetns(`wt${process.pid}start`) : undefined;

function makeNetns(ns: string): string {
  execFileSync('ip', ['netns', 'add', ns]);
  process.on('exit', () => spawnSync('ip', ['netns', 'del', ns]));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

function startOnce(s: Subject, extra: string[] = []): Promise<Started> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const spawnedAt = Date.now();
    const argv = [process.execPath, ...s.args, ...extra];
    const stdio: ['ignore', 'pipe', 'inherit'] = ['ignore', 'pipe', 'inherit'];
    const opts = { env: s.env, stdio };
    const [cmd, ...rest] = inNetns(netns, argv);
    const p = spawn(cmd!, rest, opts);
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d;
      const lines = buf.split('\n');
      if (lines.some(s.isReady)) {
        const ms = performance.now() - t0;
        const cpu = cpuMs(p.pid!);
        p.stdout.off('data', onData);
        p.stdout.resume();
        const kill = () => new Promise<void>((r) => (p.once('exit', () => r()), p.kill('SIGTERM')));
        resolve({ ms, cpuMs: cpu, pid: p.pid!, spawnedAt, lines, kill });
      }
    };
    p.stdout.on('data', onData);
    p.once('exit', (code) => reject(new Error(`${s.name} exited (${code}) before ready`)));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs of the two subjects alternate, so both see the same background load on a noisy machine. */
async function measureAll(list: Subject[]): Promise<{ name: string; readyMs: number; cpuMs: number; rssMb: number }[]> {
  const times = list.map(() => [] as number[]);
  const cpu = list.map(() => [] as number[]);
  for (const s of list) await (await startOnce(s)).kill(); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    for (const [j, s] of list.entries()) {
      const r = await startOnce(s);
      times[j]!.push(r.ms);
      cpu[j]!.push(r.cpuMs);
      await r.kill();
    }
  }
  const idle = await Promise.all(list.map((s) => startOnce(s)));
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const rss = idle.map((p) => residentMb(p.pid!).rss);
  await Promise.all(idle.map((p) => p.kill()));
  return list.map((s, j) => ({ name: s.name, readyMs: median(times[j]!), cpuMs: median(cpu[j]!), rssMb: rss[j]! }));
}

const results = await measureAll(subjects);
const [weft, floor, bundled] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]?];
const load1 = loadavg()[0]!;

console.log(`startup, median of ${RUNS}; RSS after ${IDLE_MS / 1000}s idle; load average ${load1.toFixed(2)}\n`);
console.log('subject                           ready ms   CPU to ready ms   idle RSS MB');
for (const r of results)
  console.log(
    `${r.name.padEnd(32)}  ${r.readyMs.toFixed(1).padStart(8)}   ${r.cpuMs.toFixed(0).padStart(15)}   ${r.rssMb.toFixed(1).padStart(11)}`,
  );
// The headline is what a host runs: the package's bundle; dist/ is `npm start`'s.
const host = bundled ?? weft;
console.log(
  `\n${bundled ? 'bundle (as packaged)' : 'dist/ (no bundle)'} / floor: ready ${(host.readyMs / floor.readyMs).toFixed(2)}x, CPU ${(host.cpuMs / floor.cpuMs).toFixed(2)}x (aim <= 3x); RSS ${host.rssMb.toFixed(1)} MB (aim <= 70 MB)`,
);
console.log(
  `dist/ / floor: ready ${(weft.readyMs / floor.readyMs).toFixed(2)}x, CPU ${(weft.cpuMs / floor.cpuMs).toFixed(2)}x`,
);
const modules = moduleCosts();
console.log(`\nmodule load, by part, in the order the agent needs them (median of ${MODULE_RUNS} fresh processes)`);
console.log(`${'part'.padEnd(46)}  ${'ms'.padStart(7)}  ${'RSS MB'.padStart(7)}`);
for (const m of modules)
  console.log(`${m.step.padEnd(46)}  ${m.ms.toFixed(1).padStart(7)}  ${m.rss_mb.toFixed(1).padStart(7)}`);
const phases = await startPhases(bundled ? subjects[2]! : subjects[0]!);
console.log('\none start at debug level: time to each point, and what it took');
console.log(`${'point'.padEnd(46)}  ${'at ms'.padStart(7)}  ${'took'.padStart(7)}`);
for (const p of phases)
  console.log(`${p.point.padEnd(46)}  ${p.at.toFixed(0).padStart(7)}  ${p.took.toFixed(0).padStart(7)}`);
console.log(
  JSON.stringify({
    ready_ms: round(host.readyMs),
    rss_mb: round(host.rssMb),
    floor_ready_ms: round(floor.readyMs),
    floor_rss_mb: round(floor.rssMb),
    ready_ratio_vs_floor: round(host.readyMs / floor.readyMs),
    ready_cpu_ms: host.cpuMs,
    floor_ready_cpu_ms: floor.cpuMs,
    ready_cpu_ratio_vs_floor: round(host.cpuMs / floor.cpuMs),
    packaged: bundled !== undefined,
    dist_ready_ms: round(weft.readyMs),
    dist_rss_mb: round(weft.rssMb),
    dist_ready_ratio_vs_floor: round(weft.readyMs / floor.readyMs),
    dist_ready_cpu_ms: weft.cpuMs,
    modules_ms: round(modules.reduce((a, m) => a + m.ms, 0)),
    load_avg_1m: round(load1),
  }),
);

/** Each part's median load cost over MODULE_RUNS fresh processes. */
function moduleCosts(): { step: string; ms: number; rss_mb: number }[] {
  const runs: { step: string; ms: number; rss_mb: number }[][] = [];
  for (let i = 0; i < MODULE_RUNS; i++)
    runs.push(JSON.parse(execFileSync(process.execPath, [...AGENT_NODE_FLAGS, MODULES], { encoding: 'utf8' })));
  return runs[0]!.map((m, j) => ({
    step: m.step,
    ms: median(runs.map((r) => r[j]!.ms)),
    rss_mb: median(runs.map((r) => r[j]!.rss_mb)),
  }));
}

/** From one start of the headline subject at debug level: spawn to "starting components" (modules, config, assembly), then each component. */
async function startPhases(subject: Subject): Promise<{ point: string; at: number; took: number }[]> {
  const r = await startOnce(subject, ['--log-level', 'debug']);
  await r.kill();
  const points: { point: string; at: number; took: number }[] = [];
  let prev = r.spawnedAt;
  for (const text of r.lines) {
    let l: { time?: string | number; msg?: string };
    try {
      l = JSON.parse(text) as typeof l;
    } catch {
      continue;
    }
    const m =
      l.msg === 'starting components' ? ['modules, config, assembly'] : /^weft\/(\S+) started$/.exec(l.msg ?? '');
    const point = m
      ? m.length > 1
        ? `component ${m[1]}`
        : m[0]!
      : l.msg?.startsWith('weft agent ready')
        ? 'ready line'
        : undefined;
    if (!point || l.time === undefined) continue;
    const at = new Date(l.time).getTime();
    points.push({ point, at: at - r.spawnedAt, took: at - prev });
    prev = at;
  }
  return points;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

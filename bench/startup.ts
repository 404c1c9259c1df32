// `npm run bench -- startup`: time from process start to ready, and idle RSS after 10 s,
// for `weft agent` and for the floor: a bare node process that opens an HTTP server.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HERMETIC_PORT_FLAGS } from '../test/helpers/agent-process.js';
import { envNumber as num } from './_env.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const RUNS = num('BENCH_RUNS', 10, 1);
const IDLE_MS = num('BENCH_IDLE_MS', 10_000, 500);

const FLOOR = `require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', () => console.log('ready'))`;

interface Subject {
  name: string;
  args: string[];
  isReady: (line: string) => boolean;
}

const subjects: Subject[] = [
  {
    name: 'weft agent',
    args: [CLI, 'agent', '--log-format', 'json', ...HERMETIC_PORT_FLAGS, '--bind-port', '0'],
    isReady: (l) => l.includes('weft agent ready'),
  },
  { name: 'floor (node -e http server)', args: ['-e', FLOOR], isReady: (l) => l.trim() === 'ready' },
];

/** Starts the subject; resolves with ms to ready and the process, still running. */
function startOnce(s: Subject): Promise<{ ms: number; pid: number; kill: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, s.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d;
      const lines = buf.split('\n');
      if (lines.some(s.isReady)) {
        const ms = performance.now() - t0;
        p.stdout.off('data', onData);
        p.stdout.resume();
        resolve({ ms, pid: p.pid!, kill: () => new Promise((r) => (p.once('exit', () => r()), p.kill('SIGTERM'))) });
      }
    };
    p.stdout.on('data', onData);
    p.once('exit', (code) => reject(new Error(`${s.name} exited (${code}) before ready`)));
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs of the two subjects alternate, so both see the same background load on a noisy machine. */
async function measureAll(list: Subject[]): Promise<{ name: string; readyMs: number; rssMb: number }[]> {
  const times = list.map(() => [] as number[]);
  for (const s of list) await (await startOnce(s)).kill(); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    for (const [j, s] of list.entries()) {
      const r = await startOnce(s);
      times[j]!.push(r.ms);
      await r.kill();
    }
  }
  const idle = await Promise.all(list.map(startOnce));
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const rss = idle.map((p) => rssMb(p.pid));
  await Promise.all(idle.map((p) => p.kill()));
  return list.map((s, j) => ({ name: s.name, readyMs: median(times[j]!), rssMb: rss[j]! }));
}

const results = await measureAll(subjects);
const [weft, floor] = results as [(typeof results)[0], (typeof results)[0]];

console.log(`startup, median of ${RUNS}; RSS after ${IDLE_MS / 1000}s idle\n`);
console.log('subject                         ready ms   idle RSS MB');
for (const r of results)
  console.log(`${r.name.padEnd(30)}  ${r.readyMs.toFixed(1).padStart(8)}   ${r.rssMb.toFixed(1).padStart(11)}`);
console.log(
  `\nweft / floor: ready ${(weft.readyMs / floor.readyMs).toFixed(2)}x (aim <= 3x), RSS ${weft.rssMb.toFixed(1)} MB (aim < 100 MB)`,
);
console.log(
  JSON.stringify({
    ready_ms: round(weft.readyMs),
    rss_mb: round(weft.rssMb),
    floor_ready_ms: round(floor.readyMs),
    floor_rss_mb: round(floor.rssMb),
  }),
);

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

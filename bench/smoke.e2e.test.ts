// Benches cannot rot: every bench runs in its --smoke mode (tiny sizes, seconds) and must
// exit 0 with one JSON object on its last line. A bench whose peer is missing (dnsperf,
// wrk, haproxy, iperf3, root) still runs and names it in the JSON's `absent`; under
// WEFT_REQUIRE_SYSTEM=1 a missing peer that CI installs (root, ip, nft, serf) fails.
// The benches are the ones `npm run bench` lists (scripts/bench.mjs).
// Runs the build in dist/ (npm test's pretest builds it). Sequential: 2 cores.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requireSystem } from '../test/helpers/system.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = readdirSync(new URL('.', import.meta.url)).filter(
  (f) => f.endsWith('.ts') && !f.includes('.test.') && !f.startsWith('_'),
);
const listed = files.filter((f) => !f.includes('-')).map((f) => f.slice(0, -3));
const benches = listed;
/**
 * Extra smoke flags. bench hostile runs two of its areas here: the others' attacks run through
 * the same functions in their own tests (membership/hostile.e2e, crdt-store/hostile.e2e,
 * src/api-hostile.e2e, src/identity.e2e), and all of them would take two minutes more.
 */
const SMOKE_ARGS: Record<string, string[]> = { hostile: ['--only', 'dns,vip'] };
/** Peers CI installs (.ci/run): missing them under WEFT_REQUIRE_SYSTEM=1 is a failure. */
const ciInstalls = /root|\bip\b|nft|serf/;
/** Generous: a smoke run takes seconds, but the machine is shared. */
const PER_BENCH_MS = 240_000;
// Every bench in sequence: more than tap's default 300 s per file on a loaded machine.
t.setTimeout(900_000);

function runBench(name: string): Promise<{ code: number | string; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(
      process.execPath,
      ['--expose-gc', `dist/bench/${name}.js`, '--smoke', ...(SMOKE_ARGS[name] ?? [])],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), PER_BENCH_MS);
    p.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? sig ?? -1, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

t.test('every bench is found', async (t) => {
  for (const b of [
    'startup',
    'store',
    'dns',
    'lb',
    'overlay',
    'props',
    'membership',
    'hostile',
    'identity',
    'tests',
    'hosts',
    'idle',
    'scale',
  ])
    t.ok(benches.includes(b), b);
});

for (const name of benches) {
  t.test(`bench ${name} --smoke: exit 0, a JSON object on the last line`, async (t) => {
    t.ok(existsSync(`${root}dist/bench/${name}.js`), `dist/bench/${name}.js is built (npx tsc -p tsconfig.json)`);
    const r = await runBench(name);
    const last = r.stdout.trimEnd().split('\n').at(-1) ?? '';
    t.equal(r.code, 0, `exit code (stderr tail: ${r.stderr.slice(-600)})`);
    let json: unknown;
    try {
      json = JSON.parse(last);
    } catch {
      json = undefined;
    }
    t.ok(
      json !== null && typeof json === 'object' && !Array.isArray(json),
      `last line is a JSON object: ${last.slice(0, 200)}`,
    );
    const absent = (json as { absent?: unknown } | undefined)?.absent;
    if (Array.isArray(absent) && absent.length) {
      t.comment(`${name}: peers absent: ${absent.join(', ')}`);
      if (requireSystem())
        t.notOk(
          absent.some((a) => ciInstalls.test(String(a))),
          `WEFT_REQUIRE_SYSTEM=1: ${absent.join(', ')} should be here`,
        );
    }
    t.comment(`${name} --smoke took ${(r.ms / 1000).toFixed(1)} s`);
  });
}

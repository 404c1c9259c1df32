// `npm run bench -- scale`: how the cost per node grows with the cluster's size (issue 17).
//   - SWIM in the simulator at BENCH_SCALE_SWIM nodes (1000,3000,10000), 60 simulated s each;
//   - the full stack (membership, store, DNS zone, LB planning) in the simulator at
//     BENCH_SCALE_FULL nodes (100,300,1000); the stores share read-only documents
//     (crdt-store/doc-pool.ts), so forming costs each node's own work, not N Automerge
//     copies; memory is still ~6.4 KB per pair of nodes, N² (BENCH_SCALE_VIEWS_EVERY=k:
//     DNS zone and LB index on every k-th node, for 1,000 nodes in under 8 GB);
//   - real agents (membership + store) on loopback at BENCH_SCALE_REAL (10,30,50).
// Per node: CPU, memory, bytes per second and the time to detect a crash. Each simulated
// size runs in a process of its own (bench/scale-sim.ts), one after another.
// `--smoke`: tiny sizes, seconds. The last line is one JSON object.
import { spawnSync } from 'node:child_process';
import { loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { SMOKE } from './_env.js';
import type { FullRow, SwimRow } from './scale-sim.js';
import { runReal, type RealRow } from './scale-real.js';

const simJs = fileURLToPath(new URL('./scale-sim.js', import.meta.url));
const log = (l: string) => console.error(`  ${l}`);

function sizes(name: string, dflt: string, smoke: string): number[] {
  const v = process.env[name] || (SMOKE ? smoke : dflt);
  const ns = v.split(',').map(Number);
  if (ns.some((n) => !Number.isInteger(n) || n < 2)) throw new Error(`${name}=${v}: expected sizes like 10,30,50`);
  return ns;
}

const SWIM = sizes('BENCH_SCALE_SWIM', '1000,3000,10000', '30,60');
const SWIM_S = SMOKE ? 10 : 60;
const FULL = sizes('BENCH_SCALE_FULL', '100,300,1000', '8,16');
const REAL = sizes('BENCH_SCALE_REAL', '10,30,50', '3');
const IDLE_S = SMOKE ? 2 : 20;
/** Per simulated size; a size that does not fit is reported, not waited on for ever. */
const CHILD_TIMEOUT_MS = Number(process.env.BENCH_SCALE_TIMEOUT_S ?? 1800) * 1000;

/** A size that failed, or (`skipped`) was not run because it would not fit in memory. */
type Failed = { kind: string; nodes: number; error: string; skipped?: boolean };

function simRow(kind: 'swim' | 'full', n: number): SwimRow | FullRow | Failed {
  const args = ['--expose-gc', '--max-old-space-size=16384', simJs, kind, String(n)];
  if (kind === 'swim') args.push(String(SWIM_S));
  else args.push(String(SMOKE ? 2 : 10));
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  const last = r.stdout?.trim().split('\n').at(-1) ?? '';
  if (r.status === 0 && last.startsWith('{')) return JSON.parse(last) as SwimRow | FullRow;
  const why = r.error?.message ?? r.signal ?? `exit ${r.status}`;
  return { kind, nodes: n, error: `${why}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
}

const isFailed = (r: object): r is Failed => 'error' in r;

/** Growth of a per-node figure from the smallest size to the largest, against ln(N)'s. */
function growth<T extends { nodes?: number; agents?: number }>(
  rows: T[],
  f: (r: T) => number | null,
): { growth: number | null; log_growth: number | null } {
  const ok = rows.filter((r) => f(r) !== null && f(r)! > 0);
  if (ok.length < 2) return { growth: null, log_growth: null };
  const [a, b] = [ok[0]!, ok.at(-1)!];
  const size = (r: T) => r.nodes ?? r.agents ?? 0;
  const g = f(b)! / f(a)!;
  return { growth: +g.toFixed(2), log_growth: +(Math.log(size(b)) / Math.log(size(a))).toFixed(2) };
}

function table(title: string, rows: object[], cols: string[]): void {
  console.log(`\n${title}`);
  const cells = rows.map((r) => cols.map((c) => String((r as Record<string, unknown>)[c] ?? '-')));
  const w = cols.map((c, i) => Math.max(c.length, ...cells.map((x) => x[i]!.length)));
  console.log(cols.map((c, i) => c.padStart(w[i]!)).join('  '));
  for (const x of cells) console.log(x.map((v, i) => v.padStart(w[i]!)).join('  '));
}

function growthLine(what: string, g: { growth: number | null; log_growth: number | null }): string {
  if (g.growth === null || g.log_growth === null) return `${what}: n/a`;
  const verdict = g.growth <= g.log_growth ? 'within log N' : 'faster than log N';
  return `${what}: x${g.growth} (log N grows x${g.log_growth}) ${verdict}`;
}

/**
 * Every member's record on every node: memory grows as N² in the simulator. A size whose
 * heap, projected from the last size that ran, would not fit in BENCH_SCALE_MAX_GB (default:
 * half the machine's memory) is reported as not run, with the projection, instead of
 * swapping the shared machine to death.
 */
const MAX_HEAP_MB = Number(process.env.BENCH_SCALE_MAX_GB ?? totalmem() / 2e9) * 1000;

/**
 * Likewise for CPU: a size projected past BENCH_SCALE_MAX_CPU_S (default 1800) is not run.
 * Forming is N² node-record pairs, and GC over the growing heap adds to it: the full rows
 * measured x19.5 CPU from 300 to 1,000 nodes (N² says x11), so they project as N^2.5.
 */
const MAX_CPU_S = Number(process.env.BENCH_SCALE_MAX_CPU_S ?? 1800);

/**
 * Why size `n` would not fit, projected from the last size that ran; undefined if it fits.
 * The heap after a full collection (with the typed arrays beside it) is mostly the records
 * themselves (SWIM: ~40 B a member record at 3,000 and 10,000 nodes, in columns), so the
 * projection (N²) is a floor: the process also needs room for garbage between collections.
 */
function wontFit(prev: SwimRow | FullRow | undefined, n: number): string | undefined {
  if (!prev) return undefined;
  const k = (n / prev.nodes) ** 2;
  const cpuExp = prev.kind === 'full' ? 2.5 : 2;
  const kCpu = (n / prev.nodes) ** cpuExp;
  const perRecord = Math.round((prev.heap_mb * 1e6) / prev.nodes ** 2);
  const from = `from ${prev.nodes} nodes, ${perRecord} B a record`;
  if (prev.heap_mb * k > MAX_HEAP_MB)
    return `not run: projected heap ${((prev.heap_mb * k) / 1000).toFixed(1)} GB (${from}, N²) > ${(MAX_HEAP_MB / 1000).toFixed(1)} GB`;
  if (prev.cpu_s * kCpu > MAX_CPU_S)
    return `not run: projected ${Math.round(prev.cpu_s * kCpu)} s CPU (${from}, N^${cpuExp}) > ${MAX_CPU_S} s`;
  return undefined;
}

function simSeries(kind: 'swim' | 'full', ns: number[]): (SwimRow | FullRow | Failed)[] {
  const rows: (SwimRow | FullRow | Failed)[] = [];
  let prev: SwimRow | FullRow | undefined;
  for (const n of ns) {
    const error = wontFit(prev, n);
    if (error) {
      rows.push({ kind, nodes: n, error, skipped: true });
      continue;
    }
    log(`${kind} ${n} nodes ...`);
    const r = simRow(kind, n);
    rows.push(r);
    if (!isFailed(r)) prev = r;
  }
  return rows;
}

function printTables(swim: SwimRow[], full: FullRow[], real: RealRow[], failed: Failed[]): void {
  table('SWIM, simulated (lan preset)', swim, [
    'nodes',
    'form_wall_s',
    'wall_s',
    'cpu_s',
    'events',
    'cpu_ms_per_node_s',
    'heap_kb_per_node',
    'rss_peak_mb',
    'bytes_per_node_s',
    'msgs_per_node_s',
    'detect_s',
  ]);
  table('Full stack, simulated (membership, store in memory, DNS zone, LB index)', full, [
    'nodes',
    'form_wall_s',
    'form_cpu_s',
    'form_sim_s',
    'idle_cpu_ms_per_node_s',
    'heap_kb_per_node',
    'bytes_per_node_s',
    'lb_plan_ms',
    'detect_s',
    'views_nodes',
  ]);
  table('Real agents (membership + store), loopback', real, [
    'agents',
    'form_s',
    'idle_cpu_pct',
    'rss_mb',
    'bytes_per_node_s',
    'detect_s',
  ]);
  for (const f of failed) console.log(`${f.kind} ${f.nodes}: ${f.error}`);
}

function growths(swim: SwimRow[], full: FullRow[], real: RealRow[]) {
  const g = {
    swim_cpu: growth(swim, (r) => r.cpu_ms_per_node_s),
    swim_bytes: growth(swim, (r) => r.bytes_per_node_s),
    swim_memory: growth(swim, (r) => r.heap_kb_per_node),
    swim_detect: growth(swim, (r) => r.detect_s),
    full_cpu: growth(full, (r) => r.idle_cpu_ms_per_node_s),
    full_bytes: growth(full, (r) => r.bytes_per_node_s),
    full_memory: growth(full, (r) => r.heap_kb_per_node),
    real_cpu: growth(real, (r) => r.idle_cpu_pct),
    real_bytes: growth(real, (r) => r.bytes_per_node_s),
    real_rss: growth(real, (r) => r.rss_mb),
    real_detect: growth(real, (r) => r.detect_s),
  };
  console.log('\nPer-node cost, smallest to largest size:');
  for (const [k, v] of Object.entries(g)) console.log(`  ${growthLine(k, v)}`);
  return g;
}

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  const swim = simSeries('swim', SWIM);
  const full = simSeries('full', FULL);
  const real: RealRow[] = [];
  for (const n of REAL) real.push(await runReal(n, IDLE_S, log));
  const swimOk = swim.filter((r): r is SwimRow => !isFailed(r));
  const fullOk = full.filter((r): r is FullRow => !isFailed(r));
  const failed = [...swim, ...full].filter(isFailed);
  printTables(swimOk, fullOk, real, failed);
  const g = growths(swimOk, fullOk, real);
  console.log(`load_avg_1m at start: ${load.toFixed(2)}`);
  const at = <T extends { nodes: number }>(rows: T[], n: number) => rows.find((r) => r.nodes === n);
  const realAt = (n: number) => real.find((r) => r.agents === n)?.idle_cpu_pct;
  const c10 = realAt(10);
  const c50 = realAt(50);
  console.log(
    JSON.stringify({
      swim_10000_wall_s: at(swimOk, 10000)?.wall_s ?? null,
      full_1000_form_wall_s: at(fullOk, 1000)?.form_wall_s ?? null,
      cpu_per_node_growth_10_to_50: c10 && c50 ? +(c50 / c10).toFixed(2) : null,
      load_avg_1m: +load.toFixed(2),
      growth: g,
      swim,
      full,
      real,
      ...(SMOKE ? { smoke: true } : {}),
    }),
  );
  if (failed.some((f) => !f.skipped) && !SMOKE) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// `npm run bench -- membership`: the membership row of the README's bench table ("Tests and
// benchmarks"):
//   1. Simulated, N = BENCH_NODES (1000) nodes, lan preset, BENCH_TRIALS (20) trials
//      (bench/membership-sim.ts).
//   2. Real, side by side with serf, one run per cell of BENCH_REAL_CELLS (default
//      "20:agent,50:membership": 20 full weft agents, then 50 membership-only weft nodes,
//      each beside as many serf agents on loopback; bench/membership-real.ts). In each,
//      BENCH_REAL_TRIALS (2) kill -9 trials for each count in BENCH_KILLS ("1,2") of agents
//      killed at once. Idle traffic (BENCH_IDLE_S, 30 s) is measured in the first cell only.
//      Skipped, with real_* null, when serf is not installed.
// BENCH_SKIP_SIM=1 / BENCH_SKIP_REAL=1 run one half. --smoke: 20 simulated nodes, 1 trial,
// 3 real agents of each, 1 trial of 1 kill, 2 s idle, no nft counters; serf missing is
// reported in `absent`. Progress goes to stderr; stdout has the tables, with the load
// average at each kill, and its last line is one JSON object (ratios are weft / serf,
// lower is better): real_detect_ratio_vs_serf_<agents>x<killed> per cell, real_false_deaths
// (weft, every cell). BENCH_MEMBERSHIP_TRACE=FILE keeps weft's member events, event-loop
// stalls and refutations (membership-only nodes) and ends with a report of each false death
// (bench/membership-trace.ts; `node dist/bench/membership-trace.js FILE` reads it again).
import { spawnSync } from 'node:child_process';
import { runMembershipSim, type MembershipSimResult } from './membership-sim.js';
import { realTable, runRealComparison, serfInstalled, type RealResult } from './membership-real.js';
import { envFlag as flag, envNumber as num, SMOKE } from './_env.js';
import { traceReport } from './membership-trace.js';
import { idleForMembershipBench } from './idle-cluster.js';

const env = process.env;

const started = performance.now();
const progress = (l: string) => console.error(`  ${l}`);

let sim: MembershipSimResult | null = null;
const nodes = num('BENCH_NODES', 1000, 20);
const simTrials = num('BENCH_TRIALS', 20, 1);
if (flag('BENCH_SKIP_SIM')) {
  console.log('simulated: skipped (BENCH_SKIP_SIM=1)\n');
} else {
  console.error(`simulated: ${nodes} nodes, ${simTrials} trials, lan preset ...`);
  sim = await runMembershipSim({
    nodes,
    trials: simTrials,
    log: progress,
    ...(SMOKE ? { idleSeconds: 5, lifeguardSeconds: 5 } : {}),
  });
  const rows: [string, string, string][] = [
    ['crash -> dead at 100 % of members, p50', `${sim.dead_p50_s} s`, ''],
    ['crash -> dead at 100 % of members, p99', `${sim.dead_p99_s} s`, 'aim <= 15 s'],
    ['join -> alive at 100 % of members, p50', `${sim.join_p50_s} s`, ''],
    ['join -> alive at 100 % of members, p99', `${sim.join_p99_s} s`, 'aim <= 3 s'],
    ['false deaths (5 % loss, 1 member paused)', String(sim.false_deaths), 'aim 0'],
    ['bytes per member per s (steady state)', String(sim.bytes_per_member_s), ''],
    ['messages per member per s', String(sim.msgs_per_member_s), ''],
    ['wall time', `${sim.wall_s} s`, ''],
  ];
  console.log(`simulated: ${nodes} nodes, lan preset, ${simTrials} trials (crash and join)`);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [k, v, aim] of rows) console.log(`  ${k.padEnd(w0)}  ${v.padStart(w1)}  ${aim}`.trimEnd());
  console.log('');
}

/** One real comparison: agents of each, and whether weft runs as the whole agent or membership alone. */
interface Cell {
  agents: number;
  weftMode: 'agent' | 'membership';
}

/**
 * BENCH_REAL_CELLS, e.g. "20:agent,50:membership" (the default): 20 full weft agents
 * next to 20 serf agents, then 50 membership-only weft nodes next to 50 serf agents (50
 * full agents and 50 serf agents do not fit on a 2-core machine beside other work).
 */
function realCells(): Cell[] {
  const spec = env.BENCH_REAL_CELLS ?? (SMOKE ? '3:agent' : '20:agent,50:membership');
  return spec.split(',').map((c) => {
    const [n, mode = 'agent'] = c.trim().split(':');
    if (!/^\d+$/.test(n) || (mode !== 'agent' && mode !== 'membership'))
      throw new Error(`BENCH_REAL_CELLS: ${c}: expected AGENTS:agent or AGENTS:membership`);
    return { agents: Number(n), weftMode: mode };
  });
}

const reals: { cell: Cell; result: RealResult }[] = [];
const realTrials = num('BENCH_REAL_TRIALS', 2, 1);
const kills = (env.BENCH_KILLS ?? (SMOKE ? '1' : '1,2')).split(',').map(Number);
const absent: string[] = [];
if (flag('BENCH_SKIP_REAL')) {
  console.log('real vs serf: skipped (BENCH_SKIP_REAL=1)');
} else if (!serfInstalled()) {
  absent.push('serf');
  console.log('real vs serf: skipped, serf is not installed (apt-get install serf); real_* are null');
} else {
  for (const [i, cell] of realCells().entries()) {
    console.error(
      `real: ${cell.agents} weft (${cell.weftMode}) + ${cell.agents} serf agents on loopback, ${realTrials} trials killing each of ${kills.join(', ')} at once ...`,
    );
    const smoke = SMOKE ? { settleSeconds: 1, steadySeconds: 1, nft: false } : {};
    // Idle traffic is measured in the first cell only: it needs every agent a minute old.
    const result = await runRealComparison({
      agents: cell.agents,
      trials: realTrials,
      kills,
      weftMode: cell.weftMode,
      skipIdle: i > 0,
      idleSeconds: env.BENCH_IDLE_S || SMOKE ? num('BENCH_IDLE_S', 30, 2) : undefined,
      log: progress,
      ...smoke,
    });
    reals.push({ cell, result });
    console.log(
      `real, side by side with serf ${serfVersion()} (lan profile on both; weft on ${env.BENCH_WEFT_NET ?? '127.0.10'}.x, serf on ${env.BENCH_SERF_NET ?? '127.0.11'}.x)`,
    );
    for (const l of realTable(result)) console.log(`  ${l}`);
    if (i > 0) console.log('  (no idle window in this run: its idle rows mean nothing)');
    console.log('');
  }
}
const real = reals[0]?.result ?? null;
/** real_detect_ratio_vs_serf_<agents>x<killed>, for every cell and kill size run. */
const cellRatios: Record<string, number | null> = {};
for (const { cell, result } of reals)
  for (const k of kills)
    cellRatios[`real_detect_ratio_vs_serf_${cell.agents}x${k}`] = result.detect_ratio_by_kill[k] ?? null;
const cellLoads: Record<string, number[]> = {};
for (const { cell, result } of reals) cellLoads[`real_load1_${cell.agents}`] = result.weft.trials.map((t) => t.load1);

// BENCH_MEMBERSHIP_TRACE=FILE: what weft's own logs say about each false death (issue 17).
const trace = env.BENCH_MEMBERSHIP_TRACE && reals.length ? traceReport(env.BENCH_MEMBERSHIP_TRACE) : undefined;
if (trace) console.log(`trace ${env.BENCH_MEMBERSHIP_TRACE}:\n${trace.lines.map((l) => `  ${l}`).join('\n')}\n`);
console.log(`total wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(
  JSON.stringify({
    sim_dead_p99_s: sim?.dead_p99_s ?? null,
    sim_join_p99_s: sim?.join_p99_s ?? null,
    sim_false_deaths: sim?.false_deaths ?? null,
    sim_bytes_per_member_s: sim?.bytes_per_member_s ?? null,
    ...cellRatios,
    real_false_deaths: reals.length ? reals.reduce((a, r) => a + r.result.weft.false_deaths, 0) : null,
    real_false_deaths_forming: reals.length ? reals.reduce((a, r) => a + r.result.weft.false_deaths_forming, 0) : null,
    real_serf_false_deaths_all: reals.length ? reals.reduce((a, r) => a + r.result.serf.false_deaths, 0) : null,
    real_cells: reals.map((r) => `${r.cell.agents}:${r.cell.weftMode}`),
    ...cellLoads,
    real_detect_ratio_vs_serf: real?.detect_ratio ?? null,
    real_bytes_ratio_vs_serf: real?.bytes_ratio ?? null,
    sim_nodes: sim ? nodes : null,
    sim_trials: sim ? simTrials : null,
    sim_dead_p50_s: sim?.dead_p50_s ?? null,
    sim_join_p50_s: sim?.join_p50_s ?? null,
    sim_msgs_per_member_s: sim?.msgs_per_member_s ?? null,
    sim_wall_s: sim?.wall_s ?? null,
    real_agents: real ? real.weft.agents : null,
    real_trials: real ? realTrials : null,
    real_weft_detect_p50_s: real?.weft.detect_p50_s ?? null,
    real_serf_detect_p50_s: real?.serf.detect_p50_s ?? null,
    real_weft_detect_s: real ? real.weft.trials.map((t) => t.all_dead_s) : null,
    real_serf_detect_s: real ? real.serf.trials.map((t) => t.all_dead_s) : null,
    real_weft_first_suspect_p50_s: real?.weft.first_suspect_p50_s ?? null,
    real_serf_first_suspect_p50_s: real?.serf.first_suspect_p50_s ?? null,
    real_weft_poll_detect_p50_s: real?.weft.poll_detect_p50_s ?? null,
    real_weft_bytes_per_agent_s: real?.weft.idle_bytes_per_agent_s ?? null,
    real_serf_bytes_per_agent_s: real?.serf.idle_bytes_per_agent_s ?? null,
    real_wire_bytes_ratio_vs_serf: real?.wire_bytes_ratio ?? null,
    real_weft_false_deaths: real?.weft.false_deaths ?? null,
    real_serf_false_deaths: real?.serf.false_deaths ?? null,
    ...trace?.figures,
    real_bytes_method: real
      ? real.weft.idle_wire_bytes_per_agent_s === null
        ? 'counters (weft /metrics, serf statsd)'
        : 'counters (weft /metrics, serf statsd); nft cross-check'
      : null,
    real_wall_s: real?.wall_s ?? null,
    ...(await idleForMembershipBench(SMOKE)),
    smoke: SMOKE,
    absent,
  }),
);

function serfVersion(): string {
  const r = spawnSync(env.BENCH_SERF_BIN ?? 'serf', ['version'], { encoding: 'utf8' });
  return (
    (r.stdout ?? '')
      .split('\n')[0]
      .replace(/^Serf\s*/i, '')
      .trim() || '(unknown version)'
  );
}

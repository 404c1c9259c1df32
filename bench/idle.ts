// `npm run bench -- idle`: the idle cost of a member of a 30-agent cluster (membership and
// the store), weft beside serf in the same run (bench/idle-cluster.ts says how). Knobs:
// BENCH_IDLE_AGENTS (30), BENCH_IDLE_SETTLE_S (40: past serf's first push/pull), BENCH_IDLE_S
// (60) in BENCH_IDLE_WINDOWS (4) windows, BENCH_SERF_BIN. --smoke: 3 agents, 2 s. Without serf
// the smoke run says so in `absent`; a full run fails. The last line is one JSON object:
// idle_cpu_ratio_vs_serf (aim <= 1), idle_rss_mb (aim <= 60), real_bytes_ratio_vs_serf, and
// the figures behind them.
import { serfInstalled } from './membership-real.js';
import { idleFigures, idleOptions, idleTable, runIdleComparison } from './idle-cluster.js';
import { printAbsent, SMOKE } from './_env.js';
import { loadavg } from 'node:os';

const serfBin = process.env.BENCH_SERF_BIN ?? 'serf';
if (!serfInstalled(serfBin)) {
  if (!SMOKE) {
    console.error('bench idle: serf is not installed (apt-get install serf); it is the peer every figure is against');
    process.exit(1);
  }
  printAbsent(['serf'], { ...idleFigures(null), real_bytes_ratio_vs_serf: null, load_avg_1m: loadavg()[0] });
} else {
  const r = await runIdleComparison(idleOptions(serfBin));
  console.log(`idle: ${r.agents} weft agents (membership + store) beside ${r.agents} serf agents, ${r.seconds} s\n`);
  for (const l of idleTable(r)) console.log(`  ${l}`);
  const bytesRatio = r.serf.bytes_per_agent_s ? r.weft.bytes_per_agent_s / r.serf.bytes_per_agent_s : null;
  console.log(
    JSON.stringify({
      ...idleFigures(r),
      real_bytes_ratio_vs_serf: bytesRatio === null ? null : Math.round(bytesRatio * 1000) / 1000,
      agents: r.agents,
      idle_s: r.seconds,
      load_avg_1m: Math.max(...r.load1),
      smoke: SMOKE,
      absent: [],
    }),
  );
}

// `npm run bench -- props`: how fast the simulator and the property suite run.
//   1. Simulated node-seconds per wall second: BENCH_PROPS_NODES (1,000) nodes of SWIM for
//      60 s of virtual time; and full nodes (membership + store + DNS zone) at
//      BENCH_PROPS_FULL_NODES (100), each with a node and an endpoint record: first the
//      time until every store holds every document (each of N nodes adopts N Automerge
//      documents: N^2 in one process, which is what bounds N here), then 60 s steady.
//   2. Property runs in 60 s: the whole suite (`npm run props`) at its default run counts,
//      its total runs scaled to 60 s of wall time.
// --smoke: 50 and 10 nodes, 5 s virtual, and not the suite (`npm test` runs it anyway).
import { spawnSync } from 'node:child_process';
import { MembershipCluster } from '../props/sim/membership-cluster.js';
import { StoreCluster } from '../props/sim/store-cluster.js';
import { Zone } from '../dns/zone.js';
import { endpointKey, nodeKey } from '../records/schema.js';
import { envNumber as num, SMOKE } from './_env.js';

const VIRTUAL_MS = SMOKE ? 5_000 : 60_000;

function swimOnly(nodes: number): { wall_s: number; rate: number } {
  const c = new MembershipCluster({ nodes, seed: 1 });
  const t0 = performance.now();
  c.run(VIRTUAL_MS);
  const wall = (performance.now() - t0) / 1000;
  return { wall_s: +wall.toFixed(2), rate: Math.round((nodes * VIRTUAL_MS) / 1000 / wall) };
}

function fullNodes(nodes: number): { wall_s: number; rate: number; setup_s: number; form_virtual_s: number } {
  const t0 = performance.now();
  const c = new StoreCluster({ nodes, seed: 1, onStart: (_name, store) => new Zone({}).attach(store) });
  for (const n of c.names()) {
    c.write(n, nodeKey(n), { addr: '192.168.0.1' });
    c.write(n, endpointKey('web', n, 'c1'), {
      service: 'web',
      addrs: ['10.0.0.1'],
      ports: {},
      health: 'none',
      vips: [],
      source: 'docker',
    });
  }
  const formed = c.runUntilTrue(
    () => c.storesAgree() && c.upNodes().every((x) => c.store(x).stats().docs >= nodes),
    600_000,
    250,
  );
  const setup = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  c.run(VIRTUAL_MS);
  const wall = (performance.now() - t1) / 1000;
  return {
    wall_s: +wall.toFixed(2),
    rate: Math.round((nodes * VIRTUAL_MS) / 1000 / wall),
    setup_s: +setup.toFixed(2),
    form_virtual_s: +((formed ?? NaN) / 1000).toFixed(1),
  };
}

const n = num('BENCH_PROPS_NODES', 1000, 50);
const nFull = num('BENCH_PROPS_FULL_NODES', 100, 10);
console.error(`swim only: ${n} nodes x ${VIRTUAL_MS / 1000} s ...`);
const swim = swimOnly(n);
console.error(`full nodes: ${nFull} x ${VIRTUAL_MS / 1000} s ...`);
const full = fullNodes(nFull);

console.error(SMOKE ? 'the property suite: not in smoke mode' : 'the property suite ...');
const t0 = performance.now();
const r = SMOKE
  ? { stdout: '' }
  : spawnSync(process.execPath, ['scripts/props.mjs', '--quiet'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
const suiteS = (performance.now() - t0) / 1000;
const rows = r.stdout.split('\n').filter((l) => /\s(ok|FAILED)\s*$/.test(l));
const runs = rows.reduce((s, l) => s + (Number(l.split(/\s{2,}/)[1]) || 0), 0);
const failed = rows.filter((l) => /FAILED\s*$/.test(l)).length;
// The table's armed column (scripts/props.mjs): share of runs whose safety check was armed.
const armed = Object.fromEntries(
  rows
    .map((l) => l.split(/\s{2,}/))
    .filter((c) => /%$/.test(c[5] ?? ''))
    .map((c) => [c[0], Number(c[5]!.replace(/\s*%$/, '')) / 100]),
);
const armedMin = Object.keys(armed).length ? Math.min(...Object.values(armed)) : null;

console.log('simulator speed (virtual node-seconds per wall second)');
console.log(
  `  SWIM only, ${n} nodes x ${VIRTUAL_MS / 1000} s            ${swim.rate.toLocaleString('en')} /s  (${swim.wall_s} s wall)   aim >= 1,000`,
);
console.log(
  `  membership + store + DNS zone, ${nFull} x ${VIRTUAL_MS / 1000} s steady  ${full.rate.toLocaleString('en')} /s  (${full.wall_s} s wall)`,
);
console.log(
  `    forming: every store holds all ${nFull * nFull} documents after ${full.form_virtual_s} s virtual, ${full.setup_s} s wall`,
);
console.log('');
console.log('property suite (npm run props, default run counts)');
console.log(
  `  ${rows.length} properties, ${runs} runs in ${suiteS.toFixed(1)} s wall: ${Math.round((runs * 60) / suiteS)} runs per 60 s${failed ? `; ${failed} FAILED` : ''}`,
);
for (const [p, a] of Object.entries(armed))
  console.log(`  armed in ${Math.round(a * 100)} % of runs: ${p}   (aim >= 50 %)`);
console.log(
  JSON.stringify({
    sim_node_seconds_per_s: swim.rate,
    full_node_seconds_per_s: full.rate,
    full_form_wall_s: full.setup_s,
    runs_in_60s: SMOKE ? null : Math.round((runs * 60) / suiteS),
    sim_nodes: n,
    full_nodes: nFull,
    props: rows.length,
    props_failed: failed,
    suite_wall_s: SMOKE ? null : +suiteS.toFixed(1),
    armed_min: armedMin,
    armed,
    smoke: SMOKE,
  }),
);

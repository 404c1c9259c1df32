// `npm run bench -- hostile [--smoke] [--only gossip,store,dns,api,vip]`: one run of the
// whole attack suite behind the rules of README "Security", each attack against real agents on loopback
// or in namespaces of its own (bench/hostile/<area>.ts). Prints one row per attack and, last,
// one JSON object: attacks, held, crashes, forged_accepted, and every area's figures
// (rss_growth_mb_stream_flood, rss_growth_mb_stalled_watchers, poison_success,
// dns_amplification, api_fd_exhaustion, ...). Attacks that need root or the kernel are
// reported as skipped (with the reason) when this machine cannot run them.
import { parseArgs } from 'node:util';
import type { AttackResult } from './hostile/result.js';

type Area = 'gossip' | 'store' | 'dns' | 'api' | 'vip' | 'identity';

const AREAS: Record<Area, () => Promise<(o: { smoke: boolean }) => Promise<AttackResult[]>>> = {
  gossip: async () => (await import('./hostile/gossip.js')).runGossipAttacks,
  store: async () => (await import('./hostile/store.js')).runStoreAttacks,
  dns: async () => (await import('./hostile/dns.js')).runDnsAttacks,
  api: async () => (await import('./hostile/api.js')).runApiAttacks,
  vip: async () => (await import('./hostile/vip.js')).runVipAttacks,
  identity: async () => (await import('./hostile/identity.js')).runIdentityAttacks,
};

const { values } = parseArgs({ options: { smoke: { type: 'boolean' }, only: { type: 'string' } } });
const smoke = values.smoke === true;
const only = values.only ? (values.only.split(',') as Area[]) : (Object.keys(AREAS) as Area[]);
const unknown = only.filter((a) => !(a in AREAS));
if (unknown.length) {
  console.error(`bench hostile: unknown area ${unknown.join(', ')}; areas: ${Object.keys(AREAS).join(', ')}`);
  process.exit(2);
}

const results: (AttackResult & { area: Area })[] = [];
const figures: Record<string, number> = {};
for (const area of only) {
  const started = Date.now();
  console.error(`  ${area}: attacking...`);
  let got: AttackResult[];
  try {
    got = await (await AREAS[area]())({ smoke });
  } catch (e) {
    // An attack harness that fails is a result too: it did not show that the agent held.
    got = [{ name: `${area}: harness failed`, held: false, detail: e instanceof Error ? e.message : String(e) }];
  }
  console.error(`  ${area}: ${got.length} attacks in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const r of got) {
    results.push({ ...r, area });
    for (const [k, v] of Object.entries(r.figures ?? {})) figures[k] = k in figures ? Math.max(figures[k]!, v) : v;
  }
}

const skipped = results.filter((r) => r.detail?.startsWith('skipped'));
const tried = results.filter((r) => !skipped.includes(r));
const sum = (k: 'crashes' | 'forged_accepted') => tried.reduce((s, r) => s + (r[k] ?? 0), 0);
const width = Math.max(...results.map((r) => r.name.length), 6);
console.log(`${'area'.padEnd(7)} ${'attack'.padEnd(width)}  result  detail`);
for (const r of results) {
  const verdict = skipped.includes(r) ? 'skip' : r.held ? 'held' : 'HARMED';
  console.log(`${r.area.padEnd(7)} ${r.name.padEnd(width)}  ${verdict.padEnd(6)}  ${r.detail ?? ''}`);
}
const summary = {
  bench: 'hostile',
  smoke,
  attacks: tried.length,
  held: tried.filter((r) => r.held).length,
  skipped: skipped.length,
  crashes: sum('crashes'),
  forged_accepted: sum('forged_accepted'),
  ...figures,
};
console.log(JSON.stringify(summary));
process.exitCode = summary.held === summary.attacks ? 0 : 1;

// Part of `npm run bench -- startup`: the module load cost of each part of the agent, in the
// order the agent needs them. Run in a fresh process; each step imports one part and reports
// the milliseconds and RSS it added (what an earlier step loaded is not counted again, so
// shared dependencies count where they are first needed). Prints one JSON array.
const STEPS: [string, string][] = [
  ['command line, config (yaml)', '../src/commands/agent.js'],
  ['log (pino)', '../src/log.js'],
  ['metrics (prom-client)', '../src/metrics.js'],
  ['supervision (nact)', '../supervisors/index.js'],
  ['membership', '../src/components/membership-child.js'],
  ['store (Automerge)', '../src/components/store-child.js'],
  ['lb', '../src/components/lb-child.js'],
  ['dns', '../src/components/dns-child.js'],
  ['registrar (dockerode once a socket exists)', '../src/components/registrar-child.js'],
  ['service files, checks', '../src/components/service-files-child.js'],
  ['api, ui, agent assembly, daemon', '../src/daemon.js'],
];

const rss = () => process.memoryUsage.rss() / 1048576;
const out: { step: string; ms: number; rss_mb: number }[] = [];
for (const [step, path] of STEPS) {
  const r0 = rss();
  const t0 = performance.now();
  await import(path);
  out.push({ step, ms: performance.now() - t0, rss_mb: rss() - r0 });
}
console.log(JSON.stringify(out));

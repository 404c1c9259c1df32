#!/usr/bin/env node
// `npm run props -- [--seed N] [--path P] [--runs N] [--nodes N] [files]`: the cluster
// property suite (props/**/*.test.ts) with a summary table: property, runs, nodes,
// simulated time, wall time, result. A failing property prints its seed and shrunk fault
// schedule; replay it exactly with the same --seed and the --path fast-check printed.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seed: { type: 'string' },
    path: { type: 'string' },
    runs: { type: 'string' },
    nodes: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  allowPositionals: true,
});
const env = { ...process.env };
if (values.seed) env.PROPS_SEED = values.seed;
if (values.path) env.PROPS_PATH = values.path;
if (values.runs) env.PROPS_RUNS = values.runs;
if (values.nodes) env.PROPS_NODES = values.nodes;
const files = positionals.length ? positionals : ['props/'];

const tap = spawn(
  process.execPath,
  ['node_modules/tap/dist/esm/run.mjs', '--reporter=tap', '--disable-coverage', '--timeout=3600', ...files],
  { stdio: ['ignore', 'pipe', 'inherit'], env },
);
const rows = [];
const failed = [];
createInterface({ input: tap.stdout }).on('line', (line) => {
  if (!values.quiet) process.stdout.write(line + '\n');
  const prop = /# PROP (\{.*\})$/.exec(line);
  if (prop) rows.push(JSON.parse(prop[1]));
  const fail = /^ {4}not ok \d+ - (.*?)( # time=.*)?$/.exec(line);
  if (fail) failed.push(fail[1]);
});

tap.on('close', (code) => {
  const fmt = (ms) => (ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`);
  // armed: share of runs whose safety check could have failed (see props/report.ts); '-' when every run is.
  const armed = (r) => (r.armed === undefined ? '-' : `${Math.round(r.armed * 100)} %`);
  const table = [
    ['property', 'runs', 'nodes', 'simulated', 'wall', 'armed', 'seed', 'result'],
    ...rows.map((r) => [
      r.property,
      String(r.runs),
      String(r.nodes),
      fmt(r.simulatedMs),
      fmt(r.wallMs),
      armed(r),
      String(r.seed),
      'ok',
    ]),
    ...failed.map((f) => [f, '-', '-', '-', '-', '-', env.PROPS_SEED ?? '(see above)', 'FAILED']),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  console.log('\n' + table.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n'));
  console.log(`\n${rows.length} properties held, ${failed.length} failed`);
  process.exit(code === 0 && failed.length === 0 ? 0 : 1);
});

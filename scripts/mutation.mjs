#!/usr/bin/env node
// `npm run mutation -- [folder[:part]...]`: runs Stryker on each folder or part (every folder
// without an argument) and prints, per folder, one JSON line with its score. Not part of `npm test` or
// CI: a folder takes minutes to an hour. Stryker's own report is in reports/mutation/.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { FOLDERS, target, targetNames } from './mutation-folders.mjs';

const asked = process.argv.slice(2);
const unknown = asked.filter((f) => !target(f));
if (unknown.length) {
  console.error(`unknown folder ${unknown.join(', ')}: use one of ${targetNames().join(', ')}`);
  process.exit(2);
}
const stryker = 'node_modules/@stryker-mutator/core/bin/stryker.js';

let failed = false;
for (const t of (asked.length ? asked : Object.keys(FOLDERS)).map(target)) {
  const run = spawnSync(process.execPath, [stryker, 'run', 'stryker.config.mjs'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, WEFT_MUTATION_FOLDER: t.name },
  });
  if (run.status !== 0) {
    console.log(JSON.stringify({ folder: t.name, error: `stryker exited with ${run.status ?? run.signal}` }));
    failed = true;
    continue;
  }
  console.log(JSON.stringify({ folder: t.name, ...score(`reports/mutation/${t.slug}.json`) }));
}
process.exit(failed ? 1 : 0);

/** Counts of a Stryker JSON report; score as Stryker's: (killed + timeout) / every mutant that counts. */
function score(path) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  const n = { files: 0, mutants: 0, killed: 0, survived: 0, timeout: 0, no_coverage: 0, ignored: 0, errors: 0 };
  const key = {
    Killed: 'killed',
    Survived: 'survived',
    Timeout: 'timeout',
    NoCoverage: 'no_coverage',
    Ignored: 'ignored',
    CompileError: 'errors',
    RuntimeError: 'errors',
  };
  for (const file of Object.values(report.files)) {
    n.files++;
    for (const m of file.mutants) {
      n.mutants++;
      n[key[m.status] ?? 'errors']++;
    }
  }
  const counted = n.killed + n.timeout + n.survived + n.no_coverage;
  return { ...n, score: counted ? Math.round(((n.killed + n.timeout) / counted) * 1000) / 1000 : null };
}

#!/usr/bin/env node
// Runs the tap suite and ends with the plain `N passed, N failed, N skipped` line CI reads.
// Counts each test file's top-level subtests (tap's own summary counts files and assertions).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const tap = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', '--reporter=tap', ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
});

let passed = 0;
let failed = 0;
let skipped = 0;
let fileFailures = 0;
const failures = [];
const depth1 = /^ {4}(not )?ok \d+ - (.*)$/;
const depth0 = /^(not )?ok \d+ - (.*)$/;
createInterface({ input: tap.stdout }).on('line', (line) => {
  process.stdout.write(line + '\n');
  const m = depth1.exec(line);
  if (m) {
    if (/# SKIP/i.test(m[2])) skipped++;
    else if (m[1]) { failed++; failures.push(m[2]); }
    else passed++;
    return;
  }
  const f = depth0.exec(line);
  // A file that failed without any failing subtest (a crash at load time, a timeout) still counts.
  if (f && f[1]) fileFailures++;
});

tap.on('close', (code) => {
  if (fileFailures > 0 && failed === 0) failed = fileFailures;
  if (failures.length) console.log('\nfailed:\n' + failures.map((f) => '  - ' + f).join('\n'));
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});

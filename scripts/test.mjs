#!/usr/bin/env node
// Runs the tap suite and ends with the plain `N passed, N failed, N skipped` line CI reads.
// Counts each test file's top-level subtests (tap's own summary counts files and assertions).
//
// `--tier unit|system|e2e` runs one tier; the tier of a file is its name (README, "Tests"):
//   *.system.test.ts  needs root, the kernel or Docker (namespaces, nft, a private dockerd);
//   *.e2e.test.ts     starts real agents (processes of dist/, so build first);
//   *.test.ts         unit: no root, no agent, seconds; props/ is not in it (npm run props).
// Without --tier (npm test) every file runs. Under WEFT_REQUIRE_SYSTEM=1 (CI) a skipped test
// is a failure: everything CI installs must run.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { createInterface } from 'node:readline';

const TIERS = {
  system: (f) => f.endsWith('.system.test.ts'),
  e2e: (f) => f.endsWith('.e2e.test.ts'),
  unit: (f) => !f.endsWith('.system.test.ts') && !f.endsWith('.e2e.test.ts') && !f.startsWith('props/'),
};

const args = process.argv.slice(2);
const at = args.indexOf('--tier');
let files = [];
if (at >= 0) {
  const tier = args[at + 1];
  if (!TIERS[tier]) {
    console.error(`--tier takes one of ${Object.keys(TIERS).join(', ')}`);
    process.exit(2);
  }
  args.splice(at, 2);
  files = testFiles().filter(TIERS[tier]);
  console.log(`# tier ${tier}: ${files.length} files`);
}
// A folder stands for its test files: given one, tap runs every file in it, fixtures and
// workers too (lb/proxy-worker.ts then "fails" with its usage exit).
// Any spelling of it (./lb, lb/, an absolute path); one without test files is an error, not
// an empty list (tap given no file runs them all).
for (let i = args.length - 1; i >= 0; i--) {
  if (args[i].startsWith('-') || !isFolder(args[i])) continue;
  const dir = relative('.', args[i]);
  const inside = testFiles().filter((f) => dir === '' || f.startsWith(`${dir}${sep}`));
  if (inside.length === 0) {
    console.error(`no test files in ${args[i]}`);
    process.exit(2);
  }
  args.splice(i, 1, ...inside);
}
const requireSystem = process.env.WEFT_REQUIRE_SYSTEM === '1';

// What a killed earlier run left (namespaces, dockerd directories and bridges, agents): its
// ledger names it (test/helpers/leftovers.ts, built by the pretest step; run, not imported:
// scripts/ imports nothing of weft).
const sweep = spawnSync(process.execPath, ['dist/test/helpers/leftovers.js', 'sweep'], { encoding: 'utf8' });
if (sweep.stdout) process.stdout.write(sweep.stdout);
if (sweep.status !== 0)
  console.log(
    `# no sweep of an earlier run's leftovers: ${(sweep.stderr || sweep.error?.message || '').split('\n')[0]}`,
  );

const tap = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', '--reporter=tap', ...args, ...files], {
  stdio: ['ignore', 'pipe', 'inherit'],
});

let passed = 0;
let failed = 0;
let skipped = 0;
let fileFailures = 0;
const failures = [];
const skips = [];
const depth1 = /^ {4}(not )?ok \d+ - (.*)$/;
const depth0 = /^(not )?ok \d+ - (.*)$/;
const fileHeader = /^# Subtest: (.*)$/;
// The lines of the top-level subtest under way: when it fails, the summary names the
// assertions that failed in it and where, since CI may show only the end of the output.
let file = '';
let inSubtest = [];
createInterface({ input: tap.stdout }).on('line', (line) => {
  process.stdout.write(line + '\n');
  const header = fileHeader.exec(line);
  if (header) file = header[1];
  const m = depth1.exec(line);
  if (m) {
    if (/# SKIP/i.test(m[2])) {
      skipped++;
      skips.push(m[2]);
    } else if (m[1]) {
      failed++;
      failures.push([`${file}: ${m[2]}`, ...failedAssertions(inSubtest)].join('\n'));
    } else passed++;
    inSubtest = [];
    return;
  }
  inSubtest.push(line);
  const f = depth0.exec(line);
  // A file that failed without any failing subtest (a crash at load time, a timeout) still counts.
  if (f && f[1]) fileFailures++;
  // A whole file skipped (t.plan(0, why)) is a skip too.
  else if (f && /# SKIP/i.test(f[2])) {
    skipped++;
    skips.push(f[2]);
  }
});

tap.on('close', (code) => {
  if (fileFailures > 0 && failed === 0) failed = fileFailures;
  if (failures.length) console.log('\nfailed:\n' + failures.map((f) => '  - ' + f).join('\n'));
  const skipFails = requireSystem && skipped > 0;
  if (skipFails)
    console.log(
      '\nskipped with WEFT_REQUIRE_SYSTEM=1 (every prerequisite should be here):\n' +
        skips.map((s) => '  - ' + s).join('\n'),
    );
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(code === 0 && failed === 0 && !skipFails ? 0 : 1);
});

/**
 * The failed assertions among a subtest's TAP lines, each as `✗ name (file:line)` and the
 * first lines of its diff; at most 24 lines in all.
 */
function failedAssertions(lines) {
  const out = [];
  for (let i = 0; i < lines.length && out.length < 24; i++) {
    const fail = /^( {8,})not ok \d+ - (.*)$/.exec(lines[i]);
    if (!fail) continue;
    const yaml = [];
    for (let j = i + 1; j < lines.length && !/^\s+\.\.\.$/.test(lines[j]); j++) yaml.push(lines[j]);
    const at = (key) => yaml.find((l) => l.trimStart().startsWith(`${key}: `))?.split(': ')[1];
    const where = at('fileName') ? ` (${at('fileName')}:${at('lineNumber')})` : '';
    out.push(`      ✗ ${fail[2]}${where}`);
    const diff = yaml.findIndex((l) => /^\s+diff: \|/.test(l));
    if (diff < 0) continue;
    // The diff's lines are those indented deeper than its key; the next key ends it.
    const indent = yaml[diff].search(/\S/);
    const body = yaml.slice(diff + 1);
    const end = body.findIndex((l) => l.search(/\S/) <= indent);
    out.push(...body.slice(0, Math.min(end < 0 ? body.length : end, 8)).map((l) => `        ${l.trim()}`));
  }
  return out.slice(0, 24);
}

/** Every test file tap's config would take (package.json "tap": **\/*.test.ts, not node_modules or dist). */
function testFiles() {
  return readdirSync('.', { recursive: true })
    .filter((f) => f.endsWith('.test.ts') && !/^(node_modules|dist)\//.test(f) && !f.startsWith('.'))
    .sort();
}

function isFolder(path) {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

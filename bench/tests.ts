// `npm run bench -- tests [--smoke]`: the regression set of mutants (test/mutants/; README
// "Tests and benchmarks"). Each
// mutant is a deliberate bug the suite once missed, kept as a patch with the test that must
// kill it (test/mutants/mutants.json). On a scratch copy of HEAD (git archive into a temp
// dir, node_modules linked; the real tree is never touched) each killing test first runs
// unmutated and must pass, then runs with its mutant applied and must fail.
// Prints one row per mutant; the last line is one JSON object: mutants, mutants_killed,
// baseline_failures, and per mutant whether it was killed. --smoke: the first mutant only.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMOKE } from './_env.js';

interface Mutant {
  name: string;
  patch: string;
  bug: string;
  test: string;
  /** Its test is a system test (root, nft): left out, and named in `absent`, without root. */
  system?: boolean;
}

const repo = fileURLToPath(new URL('../..', import.meta.url)); // dist/bench -> the repository
const manifest = JSON.parse(readFileSync(join(repo, 'test/mutants/mutants.json'), 'utf8')) as { mutants: Mutant[] };
const root = process.getuid?.() === 0;
const runnable = manifest.mutants.filter((m) => root || !m.system);
const absent = runnable.length < manifest.mutants.length ? ['root (system mutants)'] : [];
const mutants = SMOKE ? runnable.slice(0, 1) : runnable;

const scratch = mkdtempSync(join(tmpdir(), 'weft-mutants-'));
const cleanup = () => rmSync(scratch, { recursive: true, force: true });
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

execFileSync('sh', ['-c', `git -C "${repo}" archive HEAD | tar -x -C "${scratch}"`]);
symlinkSync(realpathSync(join(repo, 'node_modules')), join(scratch, 'node_modules'));

/** Runs one test file in the scratch copy; true when it passed. */
function passes(test: string): { ok: boolean; ms: number; tail: string } {
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    ['node_modules/tap/dist/esm/run.mjs', '--reporter=terse', '--disable-coverage', test],
    { cwd: scratch, encoding: 'utf8', env: { ...process.env, PROPS_SEED: process.env.PROPS_SEED ?? '18' } },
  );
  return {
    ok: r.status === 0,
    ms: performance.now() - t0,
    tail: (r.stdout + r.stderr).trim().split('\n').slice(-3).join(' | '),
  };
}

const patch = (m: Mutant, reverse: boolean) =>
  spawnSync('git', ['apply', ...(reverse ? ['-R'] : []), join(repo, 'test/mutants', m.patch)], {
    cwd: scratch,
    encoding: 'utf8',
  });

const rows: { name: string; baseline: boolean; applied: boolean; killed: boolean; seconds: number }[] = [];
for (const m of mutants) {
  console.error(`${m.name}: ${m.bug}`);
  const base = passes(m.test);
  if (!base.ok) console.error(`  baseline: ${m.test} fails unmutated: ${base.tail}`);
  const applied = patch(m, false);
  if (applied.status !== 0) {
    console.error(`  the patch no longer applies: ${applied.stderr.trim()}`);
    rows.push({ name: m.name, baseline: base.ok, applied: false, killed: false, seconds: 0 });
    continue;
  }
  const mutated = passes(m.test);
  patch(m, true);
  console.error(`  ${mutated.ok ? 'SURVIVED' : 'killed'} by ${m.test} in ${(mutated.ms / 1000).toFixed(1)} s`);
  rows.push({
    name: m.name,
    baseline: base.ok,
    applied: true,
    killed: base.ok && !mutated.ok,
    seconds: +(mutated.ms / 1000).toFixed(1),
  });
}

const killed = rows.filter((r) => r.killed).length;
console.log(
  `regression mutants (test/mutants/), each against its test on a scratch copy of HEAD${SMOKE ? ' (smoke: the first only)' : ''}`,
);
for (const r of rows)
  console.log(
    `  ${r.killed ? 'killed  ' : 'SURVIVED'}  ${r.name.padEnd(26)} ${!r.applied ? 'patch does not apply' : !r.baseline ? 'test fails unmutated' : `${r.seconds} s`}`,
  );
console.log(`  ${killed} of ${rows.length} killed`);
console.log(
  JSON.stringify({
    mutants: rows.length,
    mutants_killed: killed,
    baseline_failures: rows.filter((r) => !r.baseline).length,
    smoke: SMOKE,
    absent,
    killed: Object.fromEntries(rows.map((r) => [r.name, r.killed])),
  }),
);
process.exitCode = killed === rows.length ? 0 : 1;

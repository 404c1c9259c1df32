// Stryker for `npm run mutation -- <folder>` (scripts/mutation.mjs sets WEFT_MUTATION_FOLDER;
// the folder table is scripts/mutation-folders.mjs). Each test file runs as tap would run it alone
// (node on the .ts file) on the mutated .ts in Stryker's sandbox, never dist/; the .ts is
// transpiled on load by scripts/mutation-ts-hooks.mjs.
import { target, targetNames } from './scripts/mutation-folders.mjs';

const spec = target(process.env.WEFT_MUTATION_FOLDER ?? '');
if (!spec) throw new Error(`WEFT_MUTATION_FOLDER: one of ${targetNames().join(', ')}`);
// Re-checking survivors against new test files only (a few minutes, where the whole set is an
// hour): WEFT_MUTATION_TESTS=a.test.ts,b.test.ts with `--mutate <file:lines>`; its own report.
const tests = process.env.WEFT_MUTATION_TESTS?.split(',') ?? spec.tests;
const slug = process.env.WEFT_MUTATION_TESTS ? `${spec.slug}-recheck` : spec.slug;

export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  tap: {
    testFiles: tests,
    // Not tap's ts-node loader: it transpiles every source again in every process, about
    // half of each run's CPU. This one transpiles the instrumented sources once (its header says why).
    nodeArgs: ['--import=./scripts/mutation-ts-hooks.mjs'],
    forceBail: true,
  },
  mutate: spec.mutate,
  // The tap runner records coverage per test file, so each mutant runs only the files that reach it.
  coverageAnalysis: 'perTest',
  // Two cores shared with others: at most two workers; WEFT_MUTATION_CONCURRENCY=1 leaves one free.
  concurrency: Number(process.env.WEFT_MUTATION_CONCURRENCY ?? 2),
  // A loaded machine makes a slow run look like an infinite loop; give it room.
  timeoutMS: 15000,
  timeoutFactor: 2,
  incremental: true,
  incrementalFile: `reports/mutation/${slug}.incremental.json`,
  reporters: ['json', 'clear-text', 'progress'],
  jsonReporter: { fileName: `reports/mutation/${slug}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  ignorePatterns: ['dist', 'reports', '.tap', '.stryker-tmp', '*.log'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};

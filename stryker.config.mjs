// Stryker for `npm run mutation -- <folder>` (scripts/mutation.mjs sets WEFT_MUTATION_FOLDER;
// the folder table is scripts/mutation-folders.mjs). Tests run as tap runs them: node with
// tap's TypeScript loader on the mutated .ts in Stryker's sandbox, never dist/.
import { FOLDERS } from './scripts/mutation-folders.mjs';

const folder = process.env.WEFT_MUTATION_FOLDER ?? '';
const spec = FOLDERS[folder];
if (!spec) throw new Error(`WEFT_MUTATION_FOLDER: one of ${Object.keys(FOLDERS).join(', ')}`);
const slug = folder.replaceAll('/', '-');

export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  tap: {
    testFiles: spec.tests,
    // tap's own TS loader (ts-node, transpile only: scripts/mutation.mjs sets TS_NODE_TRANSPILE_ONLY).
    nodeArgs: ['--import=@tapjs/typescript/import'],
    forceBail: true,
  },
  mutate: spec.mutate,
  // The tap runner records coverage per test file, so each mutant runs only the files that reach it.
  coverageAnalysis: 'perTest',
  // Two cores shared with others: one worker.
  concurrency: 1,
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

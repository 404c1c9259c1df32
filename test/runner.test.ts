// `npm test`'s runner (scripts/test.mjs): CI reads only the end of its output, so the summary
// must name each failed assertion, where it is, and how it differed, not only its subtest.
import t from 'tap';
import { spawnSync } from 'node:child_process';

t.test('the summary names the failed assertions, their lines and their diffs', async (t) => {
  const run = spawnSync(process.execPath, ['scripts/test.mjs', 'test/fixtures/runner-fails.ts'], {
    encoding: 'utf8',
  });
  t.equal(run.status, 1, 'a failure exits 1');
  const summary = run.stdout.slice(run.stdout.lastIndexOf('\nfailed:\n'));
  t.match(summary, /^ {2}- test\/fixtures\/runner-fails\.ts: a subtest that fails/m, 'the file and the subtest');
  t.match(summary, /✗ one is two \(test\/fixtures\/runner-fails\.ts:12\)/, 'the failed assertion and its line');
  t.match(summary, /^ +-2\n +\+1$/m, 'its diff');
  t.match(
    summary,
    /✗ not within 20000ms: every survivor marks n5 dead: 127\.0\.1\.1:1: n1=alive\/0 n5=suspect\/0 \(test\/fixtures\/runner-fails\.ts:14\)/,
    'a thrown error and its message',
  );
  t.match(
    summary,
    /✗ nothing was deleted \(test\/fixtures\/runner-fails\.ts:13\)\n(?: {8}.*\n){3} {8}Object \{\n {8}- {2}"deleted": true,\n {8}\+ {2}"deleted": false,\n {8}\}\n {6}✗/,
    'a diff that comes first in its block, and nothing of the block after it',
  );
  t.notMatch(summary, /a subtest that passes|✗ first/, 'nothing that passed');
  t.match(run.stdout.trimEnd().split('\n').at(-1), /^1 passed, 1 failed, 0 skipped$/, 'the last line CI reads');
});

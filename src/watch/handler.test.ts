// A handler is a real /bin/sh: its input on stdin, its environment, its exit status, and at
// the timeout the kill of everything it started (its process group), not just the shell.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { eventually } from '../../test/helpers/eventually.js';
import { runHandler } from './handler.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('stdin, environment and exit status', async (t) => {
  const ok = await runHandler({ cmd: 'cat; echo "$WEFT_X"', input: { a: 1 }, env: { WEFT_X: 'x' }, timeoutMs: 10_000 });
  t.same(ok, { ok: true, failure: undefined, stdout: '{"a":1}\nx\n', stderr: '' });
  const bad = await runHandler({ cmd: 'echo oops >&2; exit 3', input: {}, env: {}, timeoutMs: 10_000 });
  t.match(bad, { ok: false, failure: 'exit 3', stderr: 'oops\n' });
});

t.test('a timeout kills the whole process group', async (t) => {
  const dir = t.testdir();
  const t0 = Date.now();
  const r = await runHandler({ cmd: `sleep 60 & echo $! > ${dir}/pid; wait`, input: {}, env: {}, timeoutMs: 300 });
  // Killing the shell alone would leave the sleep holding the output open: the run would last 60 s.
  t.ok(Date.now() - t0 < 20_000, 'the run ends soon after its timeout');
  t.match(r, { ok: false, failure: /^timed out after 0.3s \(its process group was killed\)/ });
  const pid = Number(readFileSync(`${dir}/pid`, 'utf8'));
  await eventually('the grandchild is gone', () => !alive(pid), 5_000);
  t.pass('the sleep it left behind is gone too');
});

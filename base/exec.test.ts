// The one exec helper: exit statuses, stderr in the error, stdin, timeouts and output caps.
import t from 'tap';
import { CommandError, exec, run } from './exec.js';

t.test('run resolves with stdout and feeds stdin', async (t) => {
  t.equal(await run(['cat'], { input: 'hello\n' }), 'hello\n');
});

t.test('run rejects with the first lines of stderr and the code', async (t) => {
  const err = await run(['sh', '-c', 'echo one >&2; echo two >&2; exit 3']).catch((e: unknown) => e);
  t.type(err, CommandError);
  t.equal((err as CommandError).code, 3);
  t.match((err as CommandError).message, /failed \(3\): one \| two/);
});

t.test('exec hands back a non-zero status with its output', async (t) => {
  t.same(await exec(['sh', '-c', 'echo out; echo err >&2; exit 2']), { stdout: 'out\n', stderr: 'err\n', code: 2 });
});

t.test('a missing program, a timeout and too much output reject', async (t) => {
  await t.rejects(exec(['/nonexistent/weft-no-such-tool']), /weft-no-such-tool: spawn/);
  await t.rejects(exec(['sleep', '10'], { timeoutMs: 100 }), /was killed \(SIGTERM\)/);
  await t.rejects(exec(['head', '-c', '100000', '/dev/zero'], { maxOutputBytes: 1000 }), /more than 1000 bytes/);
});

t.test('a missing program leaves no timer behind (the process can exit)', async (t) => {
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  await t.rejects(exec(['/nonexistent/weft-no-such-tool'], { timeoutMs: 60_000 }));
  t.equal(timers(), before);
});

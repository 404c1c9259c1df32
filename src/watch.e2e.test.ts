// `weft watch kv --exec`: real agents on loopback, a real handler (/bin/sh) appending its
// stdin to a file. Each change is handled exactly once, coalesced, across an agent restart
// (with a change made elsewhere while it was down), and a handler over its timeout is killed
// with everything it started.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { CLI, startAgent, type AgentProcess, type Teardown } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

const FAST = [
  '--probe-interval',
  '500ms',
  '--probe-timeout',
  '250ms',
  '--gossip-interval',
  '100ms',
  '--lb-datapath',
  'off',
];

interface Batch {
  run: number;
  initial: boolean;
  changes: { op: string; key: string; value?: unknown }[];
}

const batches = (file: string): Batch[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Batch)
    : [];

const put = (a: AgentProcess, key: string, value: unknown) =>
  fetch(`${a.ready.api}/v1/kv/${key}`, {
    method: 'PUT',
    body: JSON.stringify(value),
    headers: { 'content-type': 'application/json' },
  }).then((r) => r.json());
const del = (a: AgentProcess, key: string) =>
  fetch(`${a.ready.api}/v1/kv/${key}`, { method: 'DELETE' }).then((r) => r.json());

function startWatch(t: Teardown, api: string, args: string[]) {
  const p = spawn(process.execPath, [CLI, 'watch', ...args], {
    env: { ...process.env, WEFT_API: api },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void p.kill('SIGKILL'));
  const out = { stderr: '' };
  p.stderr.on('data', (d) => (out.stderr += d));
  return out;
}

/** Every change handled, as "op key value", in order. */
const handled = (file: string) =>
  batches(file).flatMap((b) => b.changes.map((c) => `${c.op} ${c.key} ${JSON.stringify(c.value ?? null)}`));

t.test('each kv change runs the handler exactly once: coalesced, and across an agent restart', async (t) => {
  const dir = t.testdir();
  const t0 = Date.now();
  const mark = (what: string) => t.comment(`${what} at ${Date.now() - t0}ms`);
  const out = `${dir}/handled.jsonl`;
  const host = '127.0.9.31';
  const b = await startAgent(t, ['--node', 'wb', '--bind', '127.0.9.32', '--data-dir', `${dir}/b`, ...FAST]);
  const args = ['--node', 'wa', '--bind', host, '--data-dir', `${dir}/a`, '--join', b.ready.gossip!, ...FAST];
  const a = await startAgent(t, args);
  const watch = startWatch(t, a.ready.api!, ['kv', 'app/', '--exec', `cat >> ${out}`, '--quiet', '300ms']);
  mark("await eventually('the first ru");
  await eventually('the first run (the state as found, empty)', () => batches(out).length === 1, 20_000);
  t.match(batches(out)[0], { run: 1, initial: true, changes: [] });

  mark('// A burst within');
  // A burst within the quiet period: fewer runs than writes, each key once.
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k, i) => put(a, `app/${k}`, i)));
  await eventually('the burst is handled', () => handled(out).length === 5, 20_000);
  t.ok(batches(out).length - 1 < 5, `5 writes in one burst took ${batches(out).length - 1} run(s)`);
  await put(a, 'app/a', 'new');
  await put(a, 'app/a', 'new'); // an equal rewrite: no change
  await put(a, 'other/x', 1); // outside the prefix
  await eventually('app/a handled', () => handled(out).includes('put app/a "new"'), 20_000);

  mark('// The agent goes away');
  // The agent goes away; meanwhile the key changes at another node; it comes back on the same address and data.
  a.proc.kill('SIGTERM');
  await a.exited;
  await put(b, 'app/c', 'while-away');
  await del(b, 'app/d');
  const apiPort = new URL(a.ready.api!).port;
  mark('const a2 =');
  const a2 = await startAgent(t, [...args, '--api-port', apiPort]);
  t.equal(a2.ready.api, a.ready.api, 'the agent is back at the same API address');
  await eventually(
    'the changes made while it was away are handled',
    () => handled(out).includes('put app/c "while-away"') && handled(out).includes('delete app/d null'),
    30_000,
  );
  mark("await put(a2, 'app/f'");
  await put(a2, 'app/f', 6);
  await eventually('a change after the restart is handled', () => handled(out).includes('put app/f 6'), 20_000);

  mark('t.same(\n    handled');
  t.same(
    handled(out).sort(),
    [
      'put app/a 0',
      'put app/b 1',
      'put app/c 2',
      'put app/d 3',
      'put app/e 4',
      'put app/a "new"',
      'put app/c "while-away"',
      'delete app/d null',
      'put app/f 6',
    ].sort(),
    'every change exactly once: nothing handled before the restart is handled again',
  );
  t.same(
    batches(out).map((x) => x.run),
    batches(out).map((_, i) => i + 1),
    'runs one after another, numbered',
  );
  t.notMatch(watch.stderr, /failed/, watch.stderr);
});

t.test('a handler over its timeout is killed with its process group, and the next run still comes', async (t) => {
  const dir = t.testdir();
  const a = await startAgent(t, ['--node', 'wt', '--bind', '127.0.9.33', ...FAST]);
  // The handler leaves a grandchild (sleep) behind and waits on it: killing the shell alone would not do.
  const cmd = `cat > /dev/null; echo "$WEFT_WATCH_RUN" >> ${dir}/runs; sleep 60 & echo $! >> ${dir}/pids; wait`;
  const watch = startWatch(t, a.ready.api!, ['kv', 'k/', '--exec', cmd, '--timeout', '500ms', '--quiet', '100ms']);
  await eventually(
    'the first run timed out',
    () => /run 1 of the handler failed \(timed out after 0.5s/.test(watch.stderr),
    20_000,
  );
  const pid = Number(readFileSync(`${dir}/pids`, 'utf8').split('\n')[0]);
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };
  await eventually('the grandchild is gone too', () => !alive(pid), 10_000);
  t.pass('the sleep the handler left behind was killed with it');
  await put(a, 'k/1', 1);
  await eventually(
    'the next change still runs the handler',
    () => readFileSync(`${dir}/runs`, 'utf8').split('\n').includes('2'),
    20_000,
  );
});

t.test('watch refuses bad flags and kinds with exit 2', async (t) => {
  const { runCli } = await import('../test/helpers/agent-process.js');
  const bad = await runCli(['watch', 'nodes']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /unknown kind "nodes"; watch one of kv, service, members, vip, event/);
  const dur = await runCli(['watch', 'kv', '--quiet', '5']);
  t.equal(dur.code, 2);
  t.match(dur.stderr, /--quiet takes a duration/);
  const help = await runCli(['watch', '--help']);
  t.match(help.stdout, /exactly one run/);
});

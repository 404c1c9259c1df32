// Cluster operations from the CLI (issue 15): weft join, monitor, reload and leave, against
// two real agents on loopback.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t from 'tap';
import { CLI, runCli, startAgent, type AgentProcess } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { LEFT_EXIT_CODE } from './daemon-routes.js';

const AGENT = ['--bind', '127.0.0.1', '--dns-listen', '', '--lb-datapath', 'off'];

async function members(a: AgentProcess): Promise<Record<string, string>> {
  const body = (await (await fetch(`${a.ready.api}/v1/members`)).json()) as {
    members: { name: string; state: string }[];
  };
  return Object.fromEntries(body.members.map((m) => [m.name, m.state]));
}

t.test('join, monitor, reload and leave', async (t) => {
  const a = await startAgent(t, [...AGENT, '--node', 'ops-a']);
  const b = await startAgent(t, [...AGENT, '--node', 'ops-b']);

  t.test('weft join', async (t) => {
    const none = await runCli(['join', '--api', b.ready.api!]);
    t.equal(none.code, 2, 'no address: a usage error');
    const r = await runCli(['join', '--api', b.ready.api!, a.ready.gossip!]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /joined: 1 of 1/);
    await eventually(
      'both see both',
      async () => (await members(a))['ops-b'] === 'alive' && (await members(b))['ops-a'] === 'alive',
      20_000,
    );
  });

  t.test('weft monitor streams the log; weft reload reloads and says what it applied', async (t) => {
    const mon = spawn(process.execPath, [CLI, 'monitor', '--json', '--api', a.ready.api!], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => void mon.kill());
    const seen: Record<string, unknown>[] = [];
    createInterface({ input: mon.stdout }).on('line', (l) => seen.push(JSON.parse(l) as Record<string, unknown>));
    // The stream is open once a line written after the subscription reaches it.
    await eventually(
      'the monitor sees a reload',
      async () => {
        const r = await runCli(['reload', '--api', a.ready.api!]);
        t.equal(r.code, 0, r.stderr);
        t.match(r.stdout, /^applied: nothing changed/);
        return seen.some((l) => typeof l.msg === 'string' && l.msg.startsWith('SIGHUP: config reloaded'));
      },
      20_000,
      500,
    );
    t.ok(
      seen.every((l) => (l.level as number) >= 30),
      'info and above only',
    );
    const bad = await runCli(['monitor', '--level', 'loud', '--api', a.ready.api!]);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /level "loud": one of/);
  });

  t.test('weft leave: a graceful leave, then the agent exits 10', async (t) => {
    const r = await runCli(['leave', '--api', b.ready.api!]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /left the cluster/);
    t.equal(await b.exited, LEFT_EXIT_CODE);
    await eventually('a sees b as left, not failed', async () => (await members(a))['ops-b'] === 'left', 20_000);
  });
});

t.test('weft force-leave: a failed node becomes left everywhere and its records go', async (t) => {
  const fast = [...AGENT, '--preset', 'local'];
  const a = await startAgent(t, [...fast, '--node', 'fl-a']);
  const b = await startAgent(t, [...fast, '--node', 'fl-b', '--join', a.ready.gossip!]);
  const c = await startAgent(t, [...fast, '--node', 'fl-c', '--join', a.ready.gossip!]);
  const reg = await fetch(`${c.ready.api}/v1/services`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'doomed', addrs: ['127.0.0.1'] }),
  });
  t.equal(reg.status, 201);
  const holds = async (x: AgentProcess) =>
    ((await (await fetch(`${x.ready.api}/v1/store?prefix=svc/doomed/&view=all`)).json()) as { entries: unknown[] })
      .entries.length > 0;
  await eventually("a and b hold c's record", async () => (await holds(a)) && (await holds(b)), 20_000);

  const alive = await runCli(['force-leave', '--api', a.ready.api!, 'fl-b']);
  t.equal(alive.code, 1, 'an alive member is refused');
  t.match(alive.stderr, /fl-b is alive: it would refute/);

  c.proc.kill('SIGKILL');
  await eventually(
    'a and b see c dead',
    async () => (await members(a))['fl-c'] === 'dead' && (await members(b))['fl-c'] === 'dead',
    30_000,
  );
  t.ok(await holds(b), "a dead node's records are kept (for reapAfter) until told otherwise");
  const r = await runCli(['force-leave', '--api', a.ready.api!, 'fl-c']);
  t.equal(r.code, 0, r.stderr);
  await eventually(
    'left on a and b, its records gone',
    async () =>
      (await members(a))['fl-c'] === 'left' &&
      (await members(b))['fl-c'] === 'left' &&
      !(await holds(a)) &&
      !(await holds(b)),
    20_000,
  );
});

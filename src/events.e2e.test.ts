// User events across 5 real agents on loopback (membership and store only): an event fired at
// one node runs every node's handler exactly once; an oversized event is refused with a clear
// error; `weft watch event` runs its handler per event; member-join handlers run.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { CLI, runCli, startAgent, type AgentProcess } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

const LIGHT = [
  '--probe-interval',
  '500ms',
  '--probe-timeout',
  '250ms',
  '--gossip-interval',
  '100ms',
  '--lb-datapath',
  'off',
  '--dns-listen',
  '',
];
const NET = '127.0.9';

const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

t.test("a user event runs every node's handler exactly once; oversized events are refused", async (t) => {
  const dir = t.testdir();
  const handlers = (i: number) =>
    JSON.stringify([
      { on: 'user:deploy', exec: `cat >> ${dir}/n${i}.deploy` },
      { on: 'user', exec: `echo "$WEFT_EVENT_NAME $WEFT_EVENT_ORIGIN" >> ${dir}/n${i}.all` },
      ...(i === 1 ? [{ on: 'member-join', exec: `cat >> ${dir}/n1.joins` }] : []),
    ]);
  const start = (i: number, seed?: string) =>
    startAgent(
      t,
      [
        '--node',
        `ev${i}`,
        '--bind',
        `${NET}.${40 + i}`,
        '--event-handlers',
        handlers(i),
        ...LIGHT,
        ...(seed ? ['--join', seed] : []),
      ],
      {},
      90_000,
    );
  const agents: AgentProcess[] = [await start(1)];
  agents.push(...(await Promise.all([2, 3, 4, 5].map((i) => start(i, agents[0]!.ready.gossip)))));
  await eventually(
    'all 5 see 5 alive members',
    async () => {
      const views = await Promise.all(
        agents.map(
          async (a) =>
            ((await (await fetch(`${a.ready.api}/v1/members`)).json()) as { members: { state: string }[] }).members,
        ),
      );
      return views.every((v) => v.filter((m) => m.state === 'alive').length === 5);
    },
    30_000,
  );

  // A watch of events at ev5, through the CLI.
  const watched = `${dir}/watch.out`;
  const w = spawn(process.execPath, [CLI, 'watch', 'event', 'deploy', '--exec', `cat >> ${watched}`], {
    env: { ...process.env, WEFT_API: agents[4]!.ready.api },
    stdio: 'ignore',
  });
  t.teardown(() => void w.kill('SIGKILL'));
  await eventually(
    'the event watch is open',
    async () => /weft_api_watches 1/.test(await (await fetch(`${agents[4]!.ready.api}/metrics`)).text()),
    20_000,
  );

  const fired = await runCli(['event', 'deploy', '{"version":"1.2"}'], { WEFT_API: agents[1]!.ready.api! });
  t.equal(fired.code, 0, fired.stderr);
  t.match(fired.stderr, /fired deploy \(lamport \d+\)/);
  const second = await fetch(`${agents[3]!.ready.api}/v1/event/restart`, {
    method: 'POST',
    body: JSON.stringify({ payload: 'web' }),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(second.status, 200);

  await eventually(
    'every node ran its handlers',
    () =>
      [1, 2, 3, 4, 5].every(
        (i) =>
          lines(`${dir}/n${i}.deploy`).length >= 1 &&
          existsSync(`${dir}/n${i}.all`) &&
          readFileSync(`${dir}/n${i}.all`, 'utf8').split('\n').filter(Boolean).length >= 2,
      ),
    20_000,
  );
  await eventually('the watch ran its handler', () => lines(watched).length >= 1, 20_000);
  // Time for any duplicate to arrive: relays keep going for a few gossip rounds.
  await new Promise((r) => setTimeout(r, 2_000));
  for (const i of [1, 2, 3, 4, 5]) {
    t.match(
      lines(`${dir}/n${i}.deploy`),
      [{ event: 'user', name: 'deploy', origin: 'ev2', payload: '{"version":"1.2"}' }],
      `ev${i}: deploy handled once`,
    );
    t.same(
      readFileSync(`${dir}/n${i}.all`, 'utf8').split('\n').filter(Boolean).sort(),
      ['deploy ev2', 'restart ev4'],
      `ev${i}: each event once`,
    );
  }
  t.match(
    lines(watched),
    [{ kind: 'event', name: 'deploy', origin: 'ev2' }],
    'weft watch event: once, and only the events named deploy',
  );
  t.ok(
    lines(`${dir}/n1.joins`).some((j) => (j.member as { name: string }).name === 'ev5'),
    'member-join handlers ran',
  );

  const big = await runCli(['event', 'deploy', 'x'.repeat(600)], { WEFT_API: agents[0]!.ready.api! });
  t.equal(big.code, 2);
  t.match(big.stderr, /name and payload are 606 bytes; at most 512/);
  const bigApi = await fetch(`${agents[0]!.ready.api}/v1/event/deploy`, {
    method: 'POST',
    body: JSON.stringify({ payload: 'x'.repeat(600) }),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(bigApi.status, 413);
  t.match(await bigApi.json(), { error: /606 bytes; at most 512 \(put larger data in weft kv/ });
});

t.test('a bad events.handlers entry is a config error naming it', async (t) => {
  // hermetic: a config error; the agent exits before it listens
  const r = await runCli([
    'agent',
    '--node',
    'evx',
    '--bind',
    `${NET}.49`,
    '--event-handlers',
    '[{"on":"member-join","exec":"true"},{"on":"member-joined","exec":"x"}]',
  ]);
  t.equal(r.code, 2);
  t.match(
    r.stderr,
    /events\.handlers.*handler 2 \(\{"on":"member-joined","exec":"x"\}\): on "member-joined" is not one of member-join/,
  );
});

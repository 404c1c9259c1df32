// The store in the daemon: 5 `weft agent` processes on loopback, each with a data
// directory, written and read through /v1/kv and `weft kv`. Real UDP, TCP and fsync.
import t from 'tap';
import {
  apiCall as api,
  runCli,
  startAgent,
  STEADY_GOSSIP_FLAGS as FAST,
  type AgentProcess,
} from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

const NET = '127.0.5';

const valueAt = async (a: AgentProcess, key: string) => {
  const r = await api(a, 'GET', `/v1/kv/${encodeURIComponent(key)}`);
  return r.status === 200 ? r.body.value : undefined;
};

t.test('5 agents: writes replicate, survive kill -9, reach a late joiner; watches and errors', async (t) => {
  const dirs = (i: number) => `${t.testdirName}-n${i}`;
  t.testdir(); // tap removes the test dir; the per-node dirs sit beside it
  t.teardown(async () => {
    const { rmSync } = await import('node:fs');
    for (let i = 1; i <= 6; i++) rmSync(dirs(i), { recursive: true, force: true });
  });
  const start = (i: number, seed?: string) =>
    startAgent(t, [
      '--node',
      `kv${i}`,
      '--bind',
      `${NET}.${i}`,
      '--bind-port',
      '0',
      '--data-dir',
      dirs(i),
      ...FAST,
      ...(seed ? ['--join', seed] : []),
    ]);

  const agents: AgentProcess[] = [await start(1)];
  const seed = agents[0]!.ready.gossip!;
  agents.push(...(await Promise.all([2, 3, 4, 5].map((i) => start(i, seed)))));
  await eventually(
    'all 5 see 5 store peers',
    async () => {
      const views = await Promise.all(agents.map((a) => api(a, 'GET', '/v1/store?prefix=node/')));
      return views.every((v) => (v.body.entries as unknown[]).length === 5);
    },
    20_000,
  );

  // A watch at kv5 started before the writes: the current entries first, then each change once.
  const events: Record<string, unknown>[] = [];
  const watchAbort = new AbortController();
  t.teardown(() => watchAbort.abort());
  const watchRes = await fetch(`${agents[4]!.ready.api}/v1/kv?watch=true&prefix=w/`, { signal: watchAbort.signal });
  void (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of watchRes.body as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
          buf = buf.slice(nl + 1);
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })();

  const t0 = Date.now();
  t.match((await api(agents[0]!, 'PUT', '/v1/kv/w/a', { n: 1 })).body, {
    key: 'w/a',
    value: { n: 1 },
    changed: true,
    index: Number,
  });
  const ms = await eventually(
    'w/a visible at all 5',
    async () => (await Promise.all(agents.map((a) => valueAt(a, 'w/a')))).every((v) => JSON.stringify(v) === '{"n":1}'),
    10_000,
    20,
  );
  t.pass(`a write at kv1 was visible at all 5 within ${Date.now() - t0} ms (${ms} ms of polling)`);

  // Rewriting the same value changes nothing and fires no event; a delete fires one.
  t.equal((await api(agents[1]!, 'PUT', '/v1/kv/w/a', { n: 1 })).body.changed, false, 'an equal write is not a change');
  await api(agents[2]!, 'PUT', '/v1/kv/w/b', 'x');
  // At every agent, the deleting one included: a delete where the write has not arrived yet deletes nothing.
  await eventually(
    'w/b at all 5',
    async () => (await Promise.all(agents.map((a) => valueAt(a, 'w/b')))).every((v) => v === 'x'),
    10_000,
    20,
  );
  t.same((await api(agents[3]!, 'DELETE', '/v1/kv/w/b')).body, { key: 'w/b', deleted: true });
  await eventually('w/b gone at kv5', async () => (await valueAt(agents[4]!, 'w/b')) === undefined, 10_000, 20);
  await eventually('watch saw 3 events', () => events.length >= 3, 5_000, 20);
  await new Promise((r) => setTimeout(r, 300));
  t.same(
    events.map((e) => `${e.op} ${e.key} ${JSON.stringify(e.value ?? null)}`),
    ['put w/a {"n":1}', 'put w/b "x"', 'delete w/b null'],
    'the watch delivered each change exactly once, nothing for the equal write',
  );

  // Bad input is refused with a reason and stores nothing.
  const bad = await fetch(`${agents[0]!.ready.api}/v1/kv/w/c`, {
    method: 'PUT',
    body: '{not json',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(bad.status, 400, 'a body that is not JSON is refused');
  t.equal((await api(agents[0]!, 'PUT', '/v1/kv/w/c')).status, 400, 'an empty body is refused');
  t.equal((await api(agents[0]!, 'GET', '/v1/kv/w/c')).status, 404);
  t.equal((await api(agents[0]!, 'PUT', `/v1/kv/${'k'.repeat(600)}`, 1)).status, 400, 'an over-long key is refused');

  // 20 durable writes at kv3 through the CLI and the API, then kill -9 and a restart on the same data dir.
  const env = { WEFT_API: agents[2]!.ready.api! };
  const put = await runCli(['kv', 'put', '--durable', 'd/0', '{"i":0}'], env);
  t.equal(put.code, 0, put.stderr);
  for (let i = 1; i < 20; i++) t.equal((await api(agents[2]!, 'PUT', `/v1/kv/d/${i}?durable=true`, { i })).status, 200);
  agents[2]!.proc.kill('SIGKILL');
  await agents[2]!.exited;
  agents[2] = await start(3, seed);
  const back = await Promise.all(Array.from({ length: 20 }, (_, i) => valueAt(agents[2]!, `d/${i}`)));
  t.same(
    back,
    Array.from({ length: 20 }, (_, i) => ({ i })),
    'all 20 durable writes are back at kv3 right after its restart',
  );
  const get = await runCli(['kv', 'get', 'd/7'], { WEFT_API: agents[2]!.ready.api! });
  t.equal(get.stdout.trim().replace(/\s+/g, ''), '{"i":7}', 'weft kv get prints the value');
  const ls = await runCli(['kv', 'ls', 'd/1'], { WEFT_API: agents[2]!.ready.api! });
  t.equal(ls.stdout.trim().split('\n').length, 1 + 11, 'weft kv ls lists d/1 and d/10..d/19');

  // A node that joins late catches up through repair.
  const late = await start(6, seed);
  agents.push(late);
  const lateMs = await eventually(
    'the late node holds every key',
    async () => {
      const r = await api(late, 'GET', '/v1/kv');
      return (r.body.entries as unknown[]).length === 21;
    },
    20_000,
    50,
  );
  t.pass(`the late node caught up (21 keys) in ${lateMs} ms`);

  // Another process on a data directory in use is refused with a clear reason.
  const clash = await runCli([
    'agent',
    '--node',
    'kv1b',
    '--bind',
    `${NET}.9`,
    '--bind-port',
    '0',
    '--store-port',
    '0',
    '--api-port',
    '0',
    '--dns-listen',
    '127.0.0.1:0',
    '--data-dir',
    dirs(1),
    '--log-format',
    'json',
  ]);
  t.equal(clash.code, 1, 'an agent on a data directory in use exits 1');
  t.match(clash.stdout + clash.stderr, /data directory .* is in use by process \d+/);
});

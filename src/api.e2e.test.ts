// The API's bounds must not hurt its ordinary clients: a watcher that reads slowly gets every
// line in order, the configured Host names work, and the watch cap answers 503 in words.
import t from 'tap';
import { connect } from 'node:net';
import { httpRequest } from '../bench/hostile/api.js';
import { startAgent } from '../test/helpers/agent-process.js';

t.test('a slow but reading watcher gets all of a 3 MB prefix in order and is not cut', async (t) => {
  const a = await startAgent(t, ['--node', 'slow-reader', '--bind-port', '0']);
  const keys = 200;
  const value = 'v'.repeat(16 * 1024);
  let failed = 0;
  for (let i = 0; i < keys; i++) {
    const r = await httpRequest(`${a.ready.api}/v1/kv/big/${String(i).padStart(3, '0')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(value),
    });
    if (r.status !== 200) failed++;
  }
  t.equal(failed, 0, `${keys} puts of 16 KB`);
  const port = Number(new URL(a.ready.api!).port);
  const lines = await new Promise<string[]>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    t.teardown(() => s.destroy());
    let text = '';
    // About 1 MB/s: a client on a slow link, well under what the agent can send.
    s.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      s.pause();
      setTimeout(() => s.resume(), Math.ceil(d.length / 1024));
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      // Only whole lines: the last piece may be a line the next packet completes.
      const got = body
        .split('\n')
        .slice(0, -1)
        .filter((l) => l.startsWith('{'));
      if (got.length >= keys || body.includes('"error"')) resolve(got);
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed after ${text.length} bytes`)));
    s.write(`GET /v1/kv?watch=true&prefix=big/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  });
  t.equal(lines.length, keys, 'every entry arrived');
  t.notOk(
    lines.some((l) => l.includes('"error"')),
    'no cut-off line',
  );
  const order = lines.map((l) => (JSON.parse(l) as { key: string }).key);
  t.same(order, [...order].sort(), 'in key order');
});

t.test('api.allowedHosts and the node name are Host names; api.maxWatches answers 503', async (t) => {
  const a = await startAgent(t, [
    '--node',
    'hosts-node',
    '--bind-port',
    '0',
    '--api-allowed-hosts',
    'weft.example',
    '--api-max-watches',
    '2',
  ]);
  const port = new URL(a.ready.api!).port;
  for (const host of [`weft.example:${port}`, `hosts-node:${port}`, `localhost:${port}`]) {
    t.equal((await httpRequest(`${a.ready.api}/v1/kv`, { headers: { host } })).status, 200, host);
  }
  t.equal(
    (await httpRequest(`${a.ready.api}/v1/kv`, { headers: { host: `other.example:${port}` } })).status,
    403,
    'any other name',
  );
  const watches = [1, 2].map(() => fetch(`${a.ready.api}/v1/kv?watch=true`, { signal: AbortSignal.timeout(20_000) }));
  const open = await Promise.all(watches);
  t.teardown(() => open.forEach((r) => void r.body?.cancel().catch(() => {})));
  t.same(
    open.map((r) => r.status),
    [200, 200],
  );
  const third = await httpRequest(`${a.ready.api}/v1/kv?watch=true`);
  t.equal(third.status, 503, 'the third watch is refused');
  t.match(third.body, /too many watch streams .*api\.maxWatches/);
});

t.test('api.maxConnections bounds the connections of many clients together, and counts the rest', async (t) => {
  const a = await startAgent(t, [
    '--node',
    'conn-cap',
    '--bind-port',
    '0',
    '--api-max-connections',
    '40',
    '--api-max-connections-per-client',
    '30',
  ]);
  const port = Number(new URL(a.ready.api!).port);
  const sockets = ['127.0.2.1', '127.0.2.2', '127.0.2.3'].flatMap((src) =>
    Array.from({ length: 30 }, () => {
      const s = connect({ host: '127.0.0.1', port, localAddress: src });
      s.on('error', () => {});
      return s;
    }),
  );
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 1_000));
  const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  t.ok(open <= 40, `${open} of 90 connections kept open`);
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 300));
  const metrics = (await httpRequest(`${a.ready.api}/metrics`)).body;
  const dropped = Number(/weft_api_refused_total\{reason="connections_total"\} (\d+)/.exec(metrics)?.[1]);
  t.ok(dropped >= 50, `${dropped} counted as over api.maxConnections`);
});

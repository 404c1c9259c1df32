// The HTTP probe's keep-alive connections (http-probe.ts) against real local servers: reused
// when the server keeps them, and a dead or closing server is still seen.
import t from 'tap';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { httpProbe, KeepAlivePool } from './http-probe.js';
import { parseResponse } from './http-response.js';
import type { CheckDef } from '../records/checks.js';

const def = (port: number, extra: Partial<CheckDef> = {}): CheckDef => ({
  name: 'http',
  kind: 'http',
  target: `:${port}/healthz`,
  intervalMs: 1000,
  timeoutMs: 2000,
  rise: 1,
  fall: 1,
  ...extra,
});

async function serve(t: { teardown(fn: () => unknown): void }, server: Server | TcpServer): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** An HTTP server that counts its connections and keeps them alive. */
async function counting(t: { teardown(fn: () => unknown): void }) {
  const conns: Socket[] = [];
  const server = createServer((_q, s) => s.end('ok'));
  server.on('connection', (c) => conns.push(c));
  return { server, conns, port: await serve(t, server) };
}

t.test('a keep-alive server: one connection for many probes', async (t) => {
  const { conns, port } = await counting(t);
  const pool = new KeepAlivePool();
  t.teardown(() => pool.close());
  for (let i = 0; i < 5; i++) t.match(await httpProbe(def(port), '127.0.0.1', pool), { status: 'passing' });
  t.equal(conns.length, 1, 'the connection was reused');
  t.equal(pool.size(), 1);
});

t.test('a closed idle connection is retried fresh; a dead server is critical', async (t) => {
  const { server, conns, port } = await counting(t);
  const pool = new KeepAlivePool();
  t.teardown(() => pool.close());
  t.match(await httpProbe(def(port), '127.0.0.1', pool), { status: 'passing' });
  // The server drops its side without the client having seen it yet.
  for (const c of conns) c.resetAndDestroy();
  t.match(await httpProbe(def(port), '127.0.0.1', pool), { status: 'passing' }, 'retried on a new connection');
  t.equal(conns.length, 2);
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  const dead = await httpProbe(def(port), '127.0.0.1', pool);
  t.match(dead, { status: 'critical', output: /ECONNREFUSED|closed without an answer/ });
});

t.test('a reused connection that fails before answering is retried once, then counts', async (t) => {
  // Answers the first request on each connection, then closes at the next one's arrival.
  let conns = 0;
  const port = await serve(
    t,
    createTcpServer((s) => {
      conns++;
      let n = 0;
      s.on('data', () => {
        if (n++ === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else s.destroy();
      });
      s.on('error', () => undefined);
    }),
  );
  const pool = new KeepAlivePool();
  t.teardown(() => pool.close());
  t.match(await httpProbe(def(port), '127.0.0.1', pool), { status: 'passing' });
  t.match(await httpProbe(def(port), '127.0.0.1', pool), { status: 'passing' }, 'the fresh retry answered');
  t.equal(conns, 2);
});

t.test('chunked bodies are read and matched; Connection: close is not kept', async (t) => {
  const port = await serve(
    t,
    createServer((q, s) => {
      if (q.url === '/close') s.setHeader('connection', 'close');
      s.write('all ');
      s.end('good');
    }),
  );
  const pool = new KeepAlivePool();
  t.teardown(() => pool.close());
  t.match(await httpProbe(def(port, { body: 'all good' }), '127.0.0.1', pool), {
    status: 'passing',
    output: 'HTTP 200: all good',
  });
  t.equal(pool.size(), 1, 'chunked and complete: kept');
  t.match(await httpProbe(def(port, { target: `:${port}/close` }), '127.0.0.1', new KeepAlivePool()), {
    status: 'passing',
  });
  const p2 = new KeepAlivePool();
  await httpProbe(def(port, { target: `:${port}/close` }), '127.0.0.1', p2);
  t.equal(p2.size(), 0);
});

t.test('parseResponse: partial, bad, framing', async (t) => {
  const b = (s: string) => Buffer.from(s, 'latin1');
  t.equal(parseResponse(b('HTTP/1.1 2'), 4096, false), undefined);
  t.equal(parseResponse(b('SSH-2.0-OpenSSH\r\n'), 4096, false), 'bad');
  t.equal(parseResponse(b('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab'), 4096, false), undefined);
  t.same(parseResponse(b('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab'), 4096, false), {
    code: 200,
    body: 'ab',
    complete: true,
    keepAlive: true,
  });
  t.match(parseResponse(b('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nab'), 4096, false), { keepAlive: false });
  t.match(parseResponse(b('HTTP/1.1 200 OK\r\n\r\nabc'), 4096, true), {
    body: 'abc',
    complete: true,
    keepAlive: false,
  });
  t.equal(parseResponse(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n'), 4096, false), undefined);
  t.match(parseResponse(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n'), 4096, false), {
    body: 'ab',
    keepAlive: true,
  });
  t.equal(parseResponse(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'), 4096, false), 'bad');
  t.match(parseResponse(b('HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n' + 'x'.repeat(10)), 10, false), {
    complete: true,
    keepAlive: false,
  });
});

// The userspace proxy's TCP relay, on handles (proxy-handles.ts) and on net.Socket
// streams (the fallback): the behaviours both must have, each run on both. Real sockets
// on loopback; UserspaceProxy in this process.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import t from 'tap';
import { eventually } from '../test/helpers/eventually.js';
import { available, bufferPool } from './proxy-handles.js';
import { tcpBackend } from './proxy.fixture.js';
import { UserspaceProxy, type ProxyOptions } from './proxy.js';

type Teardown = { teardown(fn: () => unknown): void };
const RELAYS = ['handles', 'streams'] as const;

async function proxyTo(
  t: Teardown,
  backends: (number | { addr: string; port: number })[],
  opts: ProxyOptions,
): Promise<{ proxy: UserspaceProxy; port: number }> {
  // A free port for the listener (bound, then closed).
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const proxy = new UserspaceProxy(opts);
  t.teardown(() => proxy.stop());
  const r = await proxy.apply([
    {
      key: 'web:80/tcp',
      proto: 'tcp',
      listen: { addr: '127.0.0.1', port },
      backends: backends.map((p) => (typeof p === 'number' ? { addr: '127.0.0.1', port: p } : p)),
    },
  ]);
  if (r.failed.length) throw new Error(r.failed.join('; '));
  return { proxy, port };
}

/**
 * A backend that never answers a SYN: a process of its own listens with a backlog of 1
 * and then blocks its event loop, and we fill its accept queue; later SYNs are dropped.
 */
async function blackhole(t: Teardown): Promise<number> {
  const code = `
    const net = require('node:net');
    const s = net.createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      console.log(s.address().port);
      setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0), 20);
    });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: net.Socket[] = [];
  t.teardown(() => {
    child.kill('SIGKILL');
    for (const f of fillers) f.destroy();
  });
  const port = Number(await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r)));
  await new Promise((r) => setTimeout(r, 100));
  // Fill the accept queue: connects complete until it is full, then hang.
  for (;;) {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('error', () => {});
    fillers.push(c);
    const ok = await new Promise<boolean>((r) => {
      const timer = setTimeout(() => r(false), 300);
      c.once('connect', () => (clearTimeout(timer), r(true)));
    });
    if (!ok) break;
    if (fillers.length > 20) throw new Error('the blackhole kept accepting');
  }
  return port;
}

/** Connects, waits for the first line; its text, or 'error'/'timeout'. */
function firstLine(port: number, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v: string) => (clearTimeout(timer), c.destroy(), resolve(v));
    const timer = setTimeout(() => done('timeout'), ms);
    c.on('data', (d) => ((buf += d), buf.includes('\n') && done(buf.split('\n')[0])));
    c.on('error', () => done('error'));
    c.on('close', () => done('error'));
  });
}

t.test('the handle bindings are there on this node (else every connection takes the fallback)', async (t) => {
  t.ok(available);
  t.equal(new UserspaceProxy().relay, 'handles', 'the default relay');
  t.equal(new UserspaceProxy({ relay: 'streams' }).relay, 'streams');
});

for (const relay of RELAYS) {
  t.test(`${relay}: half-close: the client's FIN reaches the backend, whose answer still comes back`, async (t) => {
    // The backend answers only once it has read the client's FIN (as a request terminated by EOF).
    const server = net.createServer({ allowHalfOpen: true }, (c) => {
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('end', () => c.end(`got ${got.length} bytes: ${got.trim()}\n`));
      c.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => server.close());
    const { proxy, port } = await proxyTo(t, [(server.address() as net.AddressInfo).port], { relay });
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      let buf = '';
      c.on('data', (d) => (buf += d));
      c.on('end', () => resolve(buf));
      c.on('error', reject);
      c.end('request\n'); // our FIN right after the bytes
    });
    t.equal(answer, 'got 8 bytes: request\n', 'the answer written after the FIN arrived in full, then the FIN');
    await eventually('closed', () => proxy.activeConnections === 0, 2000, 5);
    t.equal(proxy.stats.bytesFromClients, 8);
    t.equal(proxy.stats.bytesToClients, 21);
  });

  t.test(
    `${relay}: a backend that never answers the SYN is given up after connectTimeoutMs and ejected; the client is served by another`,
    async (t) => {
      const hole = await blackhole(t);
      const good = await tcpBackend(t, 'good');
      const { proxy, port } = await proxyTo(t, [hole, good.port], { relay, connectTimeoutMs: 300, ejectMs: 60_000 });
      const t0 = performance.now();
      t.equal(await firstLine(port), 'good', 'served after the timeout, by the other backend');
      const ms = performance.now() - t0;
      t.ok(ms >= 290 && ms < 1500, `about the connect timeout later: ${ms.toFixed(0)} ms`);
      t.equal(proxy.stats.connectFailures, 1);
      t.equal(proxy.stats.ejections, 1);
      t.equal(await firstLine(port, 250), 'good', 'the next connection skips the ejected backend at once');
      await eventually('closed', () => proxy.activeConnections === 0, 2000, 5);
    },
  );

  t.test(
    `${relay}: what a client sends while the connect is under way (several reads, more than a read buffer) arrives in order`,
    async (t) => {
      const hole = await blackhole(t);
      // The backend answers with the length and hash of everything up to "END\n".
      const server = net.createServer((c) => {
        const parts: Buffer[] = [];
        c.on('error', () => {});
        c.on('data', (d: Buffer) => {
          parts.push(d);
          const all = Buffer.concat(parts);
          if (all.subarray(-4).toString() === 'END\n')
            c.end(`${all.length} ${createHash('sha256').update(all).digest('hex')}\n`);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      t.teardown(() => server.close());
      const good = (server.address() as net.AddressInfo).port;
      const { proxy, port } = await proxyTo(t, [hole, good], { relay, connectTimeoutMs: 300, ejectMs: 60_000 });
      const chunks = [Buffer.from('one\n'), Buffer.from('two\n'), randomBytes(100_000), Buffer.from('END\n')];
      const all = Buffer.concat(chunks);
      const answer = await new Promise<string>((resolve, reject) => {
        const c = net.connect({ host: '127.0.0.1', port });
        let buf = '';
        c.on('data', (d) => (buf += d));
        c.on('end', () => resolve(buf));
        c.on('error', reject);
        c.once('connect', async () => {
          for (const ch of chunks) {
            c.write(ch);
            await new Promise((r) => setTimeout(r, 30)); // separate reads on the proxy's side
          }
        });
      });
      t.equal(answer, `${all.length} ${createHash('sha256').update(all).digest('hex')}\n`, 'every byte, in order');
      t.equal(proxy.stats.connectFailures, 1, 'the bytes were sent during the first, failed attempt');
      await eventually('closed', () => proxy.activeConnections === 0, 2000, 5);
    },
  );

  t.test(`${relay}: an IPv6 backend (::1) behind an IPv4 listener`, async (t) => {
    const server = net.createServer((c) => {
      c.on('error', () => {});
      c.end(`from ${c.localAddress}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '::1', r));
    t.teardown(() => server.close());
    const six = { addr: '::1', port: (server.address() as net.AddressInfo).port };
    const { proxy, port } = await proxyTo(t, [six], { relay });
    t.equal(await firstLine(port), 'from ::1');
    t.equal(proxy.stats.connectFailures, 0);
  });

  t.test(`${relay}: a client that resets while the connect is under way is no verdict on the backend`, async (t) => {
    const hole = await blackhole(t);
    const { proxy, port } = await proxyTo(t, [hole], { relay, connectTimeoutMs: 300 });
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('error', () => {});
    await new Promise((r) => c.once('connect', r));
    await eventually('connect under way', () => proxy.activeConnections === 1, 2000, 5);
    c.resetAndDestroy();
    await eventually('the attempt ended', () => proxy.activeConnections === 0, 2000, 5);
    await new Promise((r) => setTimeout(r, 600)); // past the connect timeout
    t.equal(proxy.stats.connectFailures, 0, 'not counted as a failed connect');
    t.equal(proxy.stats.ejections, 0, 'the backend was not ejected');
  });

  t.test(`${relay}: concurrent slow downloads stay intact while short connections come and go`, async (t) => {
    // Read buffers are reused across connections (handles): one handed back while a write
    // still held it would put another connection's bytes into this stream.
    const blobs = [randomBytes(4 << 20), randomBytes(4 << 20), randomBytes(4 << 20)];
    let next = 0;
    const server = net.createServer((c) => {
      c.on('error', () => {});
      c.on('data', (d) => {
        const line = String(d).trim();
        if (line === 'bulk') c.end(blobs[next++ % blobs.length]);
        else c.end(`${line} `.repeat(500)); // its own bytes: a reused buffer would show
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => server.close());
    const { proxy, port } = await proxyTo(t, [(server.address() as net.AddressInfo).port], { relay });
    const download = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const c = net.connect({ host: '127.0.0.1', port });
        const hash = createHash('sha256');
        let n = 0;
        c.on('data', (d: Buffer) => {
          hash.update(d);
          n += d.length;
          if (n % 5 === 0 || d.length > 16_000) {
            c.pause();
            setTimeout(() => c.resume(), n % 3);
          }
        });
        c.on('end', () => resolve(hash.digest('hex')));
        c.on('error', reject);
        c.write('bulk\n');
      });
    const short = async (k: number): Promise<void> => {
      for (let i = 0; i < 40; i++) {
        const id = `${k}-${i}-${Math.random().toString(36).slice(2)}`;
        const r = await new Promise<string>((resolve) => {
          const c = net.connect({ host: '127.0.0.1', port });
          let buf = '';
          c.on('data', (d) => (buf += d));
          c.on('close', () => resolve(buf));
          c.on('error', () => {});
          c.write(`${id}\n`);
        });
        if (r !== `${id} `.repeat(500)) throw new Error(`short connection got ${JSON.stringify(r.slice(0, 40))}`);
      }
    };
    const shorts = Array.from({ length: 6 }, (_, k) => short(k));
    const [hashes] = await Promise.all([Promise.all(blobs.map(download)), ...shorts]);
    const want = blobs.map((b) => createHash('sha256').update(b).digest('hex'));
    t.same([...hashes].sort(), [...want].sort(), 'every download has exactly its bytes');
    await eventually('closed', () => proxy.activeConnections === 0, 2000, 5);
    if (relay === 'handles') t.ok(bufferPool.size > 0, 'buffers were handed back for reuse');
  });

  t.test(`${relay}: past maxConnections open, a new client is closed at accept and counted`, async (t) => {
    const backend = await tcpBackend(t, 'b');
    const { proxy, port } = await proxyTo(t, [backend.port], { relay, maxConnections: 2 });
    const open: net.Socket[] = [];
    t.teardown(() => open.forEach((c) => c.destroy()));
    const connect = (): Promise<{ c: net.Socket; line: string }> =>
      new Promise((resolve) => {
        const c = net.connect({ host: '127.0.0.1', port });
        open.push(c);
        c.on('error', () => {});
        c.once('data', (d) => resolve({ c, line: String(d).trim() }));
        c.once('close', () => resolve({ c, line: 'closed' }));
      });
    const [a, b] = [await connect(), await connect()];
    t.same([a.line, b.line], ['b', 'b'], 'two idle connections are held open');
    t.equal((await connect()).line, 'closed', 'the third is closed before it reaches a backend');
    t.equal(proxy.stats.refused, 1, 'and counted');
    a.c.destroy();
    await eventually('a slot free', () => proxy.activeConnections === 1, 2000, 5);
    t.equal((await connect()).line, 'b', 'once one closes, a new client is served');
    t.equal(proxy.stats.refused, 1);
  });

  t.test(`${relay}: a backend that resets mid-stream closes the client; stop() closes what is open`, async (t) => {
    const server = net.createServer((c) => {
      c.on('error', () => {});
      c.write('hello\n');
      c.on('data', () => c.resetAndDestroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => server.close());
    const { proxy, port } = await proxyTo(t, [(server.address() as net.AddressInfo).port], { relay });
    const closed = (c: net.Socket) => new Promise<void>((r) => c.once('close', () => r()));
    const a = net.connect({ host: '127.0.0.1', port });
    a.on('error', () => {});
    await new Promise((r) => a.once('data', r));
    const aClosed = closed(a);
    a.write('boom\n');
    await aClosed;
    t.pass('the client saw the backend go');
    const b = net.connect({ host: '127.0.0.1', port });
    b.on('error', () => {});
    await new Promise((r) => b.once('data', r));
    const bClosed = closed(b);
    proxy.stop();
    await bClosed;
    t.pass('stop() closed an open connection');
    await eventually('nothing open', () => proxy.activeConnections === 0, 2000, 5);
  });
}

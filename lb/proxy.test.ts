// The userspace datapath on loopback, without root: real sockets, a real LocalStore.
import dgram from 'node:dgram';
import net from 'node:net';
import t from 'tap';
import { Registry } from 'prom-client';
import { LocalStore } from '../crdt-store/local-store.js';
import { endpoint } from '../test/helpers/dns.js';
import { eventually } from '../test/helpers/eventually.js';
import { tcpBackend } from './proxy.fixture.js';
import { LbDriver, type LbOptions } from './driver.js';

type Teardown = { teardown(fn: () => unknown): void };

async function udpBackend(t: Teardown, name: string): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.on('message', (_m, r) => s.send(name, r.port, r.address));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  t.teardown(() => s.close());
  return s.address().port;
}

/** A port with nothing listening (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function hello(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host, port });
    let buf = '';
    const done = (v: string) => (clearTimeout(timer), c.destroy(), resolve(v));
    const timer = setTimeout(() => done('timeout'), 3000);
    c.on('data', (d) => ((buf += d), buf.includes('\n') && done(buf.split('\n')[0])));
    c.on('error', () => done('error'));
    c.on('close', () => done('error'));
  });
}

async function counts(host: string, port: number, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => hello(host, port)));
    for (const b of batch) out[b] = (out[b] ?? 0) + 1;
  }
  return out;
}

/** A connection kept open: ask() sends a line and resolves with the reply. */
async function held(
  host: string,
  port: number,
): Promise<{ name: string; ask: () => Promise<string>; close: () => void }> {
  const c = net.connect({ host, port });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  c.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  c.on('error', () => {});
  c.on('close', () => waiters.splice(0).forEach((w) => w('closed')));
  const next = () => new Promise<string>((r) => (lines.length ? r(lines.shift()!) : waiters.push(r)));
  const name = await next();
  return {
    name,
    ask: () => {
      c.write('ping\n');
      return next();
    },
    close: () => c.destroy(),
  };
}

const bind = (port: number, targetPort: number, proto: 'tcp' | 'udp' = 'tcp') => [
  { vip: 'web', port, proto, targetPort },
];

/** The proxy in this process (proxyWorkers 0): exact spreads and counters; proxy-pool.test.ts covers workers. */
async function start(t: Teardown, store: LocalStore, extra: Partial<LbOptions> = {}): Promise<LbDriver> {
  const lb = await LbDriver.start({ source: store, datapath: 'userspace', debounceMs: 5, proxyWorkers: 0, ...extra });
  t.teardown(() => lb.stop());
  return lb;
}

const VIP_PORT = 20000 + (process.pid % 20000);

t.test('spread, removal and draining over TCP; listen address answered for DNS', async (t) => {
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const names = ['a', 'b', 'c'];
  for (const n of names)
    store.put(
      `svc/web/n1/${n}`,
      endpoint('web', ['127.0.0.1'], { vips: bind(VIP_PORT, (await tcpBackend(t, n)).port) }),
    );
  const registry = new Registry();
  const lb = await start(t, store, { registry });
  const listen = lb.dnsVips.get('web')!;
  t.match(listen, /^127\.(1[2-9][0-9]|2[0-5][0-9])\./, 'a loopback address in 127.128.0.0/9');
  t.match(lb.vips.get('web'), /^198\.1[89]\./, 'the cluster-wide VIP address is still reported');
  t.match(lb.status().vips, [{ key: `web:${VIP_PORT}/tcp`, listen: `${listen}:${VIP_PORT}` }]);

  const c = await counts(listen, VIP_PORT, 300);
  t.same(c, { a: 100, b: 100, c: 100 }, 'round-robin: an even spread');

  const kept = await held(listen, VIP_PORT);
  t.equal(await kept.ask(), `${kept.name} ping`);
  const passes = lb.status().passes;
  store.delete(`svc/web/n1/${kept.name}`);
  await eventually('a pass', () => lb.status().passes > passes, 2000, 5);
  const after = await counts(listen, VIP_PORT, 60);
  t.same(
    Object.keys(after).sort(),
    names.filter((n) => n !== kept.name),
    `new connections avoid the removed backend: ${JSON.stringify(after)}`,
  );
  t.equal(await kept.ask(), `${kept.name} ping`, 'draining: the established connection still works');
  kept.close();

  const metrics = await registry.metrics();
  t.match(metrics, /weft_lb_proxy_connections_total\{proto="tcp"\} 36[0-9]/);
  t.match(metrics, /weft_lb_vips 1/);
  t.match(metrics, /weft_lb_reconcile_duration_seconds_count [1-9]/);
});

t.test('least-connections prefers the idle backend', async (t) => {
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  for (const n of ['a', 'b'])
    store.put(
      `svc/web/n1/${n}`,
      endpoint('web', ['127.0.0.1'], { vips: bind(VIP_PORT + 1, (await tcpBackend(t, n)).port) }),
    );
  const lb = await start(t, store, { policy: 'least-connections' });
  const listen = lb.dnsVips.get('web')!;
  const first = await held(listen, VIP_PORT + 1);
  const second = await held(listen, VIP_PORT + 1);
  t.not(second.name, first.name, 'the second connection goes to the backend without one');
  second.close();
  await eventually(
    'the proxy saw the close',
    () => (lb.datapath as import('./proxy.js').UserspaceProxy).activeConnections === 1,
    2000,
    5,
  );
  // Round-robin alone would alternate; least-connections keeps choosing the idle one.
  const next = [await hello(listen, VIP_PORT + 1)];
  await eventually(
    'closed',
    () => (lb.datapath as import('./proxy.js').UserspaceProxy).activeConnections === 1,
    2000,
    5,
  );
  next.push(await hello(listen, VIP_PORT + 1));
  t.same(next, [second.name, second.name], 'while one backend is busy, short connections keep going to the other');
  first.close();
});

t.test('passive checks eject a backend that refuses; fail-open when all are ejected', async (t) => {
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const dead = await closedPort();
  const good = await tcpBackend(t, 'good');
  store.put('svc/web/n1/dead', endpoint('web', ['127.0.0.1'], { vips: bind(VIP_PORT + 2, dead) }));
  store.put('svc/web/n1/good', endpoint('web', ['127.0.0.1'], { vips: bind(VIP_PORT + 2, good.port) }));
  const lb = await start(t, store, { proxy: { ejectMs: 10_000 } });
  const listen = lb.dnsVips.get('web')!;
  const stats = (lb.datapath as import('./proxy.js').UserspaceProxy).stats;
  t.same(
    await counts(listen, VIP_PORT + 2, 40),
    { good: 40 },
    'every connection served: the failed connect is retried on the other backend',
  );
  t.equal(stats.connectFailures, 1, 'the refusing backend was tried once, then ejected');
  t.equal(stats.ejections, 1);

  // Now the good one goes away too: both ejected, and the proxy still tries (fail-open).
  good.server.close();
  t.equal(await hello(listen, VIP_PORT + 2), 'error', 'nothing answers');
  t.equal(stats.ejections, 3, '"good" ejected; then, all ejected, "dead" tried anyway (fail-open) and ejected again');
  const revived = await tcpBackend(t, 'revived', dead);
  t.equal(revived.port, dead);
  t.equal(await hello(listen, VIP_PORT + 2), 'revived', 'fail-open: an ejected backend that works again is used');
  t.ok(stats.failOpen > 0, 'counted as fail-open');
});

t.test('UDP: sessions spread, replies come back, removal applies to new sessions', async (t) => {
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  for (const n of ['a', 'b'])
    store.put(
      `svc/dns/n1/${n}`,
      endpoint('dns', ['127.0.0.1'], { vips: bind(VIP_PORT + 3, await udpBackend(t, n), 'udp') }),
    );
  const lb = await start(t, store);
  const listen = lb.dnsVips.get('web')!;
  // Each client keeps its socket until the test ends: a closed one's port can be handed to
  // the next client, which then joins the first one's session (CI saw 11 / 9 once).
  const clients: dgram.Socket[] = [];
  t.teardown(() => clients.forEach((s) => s.close()));
  const ask = () =>
    new Promise<string>((resolve) => {
      const s = dgram.createSocket('udp4');
      clients.push(s);
      const timer = setTimeout(() => resolve('timeout'), 2000);
      s.on('message', (m) => (clearTimeout(timer), resolve(String(m))));
      s.send('x', VIP_PORT + 3, listen);
    });
  const got: Record<string, number> = {};
  for (let i = 0; i < 20; i++) {
    const r = await ask();
    got[r] = (got[r] ?? 0) + 1;
  }
  t.same(got, { a: 10, b: 10 });
  const passes = lb.status().passes;
  store.delete('svc/dns/n1/a');
  await eventually('a pass', () => lb.status().passes > passes, 2000, 5);
  const after = await Promise.all(Array.from({ length: 6 }, ask));
  t.same(after, Array(6).fill('b'));
});

t.test('a port that cannot be listened on is reported, not fatal', async (t) => {
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const b = await tcpBackend(t, 'a');
  store.put('svc/web/n1/a', endpoint('web', ['127.0.0.1'], { vips: bind(VIP_PORT + 4, b.port) }));
  const lb1 = await start(t, store);
  const lb2 = await start(t, store); // same listen address and port: taken
  t.match(lb2.status().vips, [{ error: /EADDRINUSE/ }]);
  t.equal(lb2.status().lastReconcile?.ok, true, 'the pass itself went through');
  t.equal(await hello(lb1.dnsVips.get('web')!, VIP_PORT + 4), 'a');
  t.equal((await lb2.registry.getSingleMetricAsString('weft_lb_rule_apply_failures_total')).includes(' 1'), true);
});

t.test(
  'bulk bytes arrive intact and in order through a slow reader (the one read buffer per connection)',
  async (t) => {
    const { createHash, randomBytes } = await import('node:crypto');
    const data = randomBytes(8 << 20);
    const server = net.createServer((c) => {
      c.on('error', () => {});
      c.end(data);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => server.close());
    const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
    const port = (server.address() as net.AddressInfo).port;
    store.put('svc/web/n1/a', endpoint('web', ['127.0.0.1'], { vips: bind(VIP_PORT + 5, port) }));
    const lb = await start(t, store);
    const hash = createHash('sha256');
    let got = 0;
    await new Promise<void>((resolve, reject) => {
      const c = net.connect({ host: lb.dnsVips.get('web')!, port: VIP_PORT + 5 });
      c.on('data', (d: Buffer) => {
        hash.update(d);
        got += d.length;
        // Stall now and then, so the proxy's writes to us queue and its reads must wait.
        if (got % 7 === 0 || d.length > 32_000) {
          c.pause();
          setTimeout(() => c.resume(), 2);
        }
      });
      c.on('end', resolve);
      c.on('error', reject);
    });
    t.equal(got, data.length, 'every byte');
    t.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'), 'the same bytes in the same order');
  },
);

// The userspace proxy on cluster workers (proxy-pool.ts): real worker processes, real
// sockets on loopback. Exact spreads and passive checks are proxy.test.ts's (in-process).
import net from 'node:net';
import t from 'tap';
import { freePort } from '../test/helpers/free-port.js';
import { eventually } from '../test/helpers/eventually.js';
import { tcpBackend } from './proxy.fixture.js';
import { ProxyPool } from './proxy-pool.js';
import type { ProxyVip } from './proxy.js';
import { pidAlive as alive } from '../test/helpers/leftovers.js';
import { Registry } from 'prom-client';
import { LocalStore } from '../crdt-store/local-store.js';
import { endpoint } from '../test/helpers/dns.js';
import { LbDriver } from './driver.js';

type Teardown = { teardown(fn: () => unknown): void };

/** Connects, reads the first line, closes: the backend's name, or 'error'. */
function hello(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host, port });
    let buf = '';
    const done = (v: string) => (clearTimeout(timer), c.destroy(), resolve(v));
    const timer = setTimeout(() => done('timeout'), 10_000);
    c.on('data', (d) => ((buf += d), buf.includes('\n') && done(buf.split('\n')[0])));
    c.on('error', () => done('error'));
    c.on('close', () => done('error'));
  });
}

async function pool(t: Teardown, workers = 2): Promise<{ p: ProxyPool; vip: ProxyVip; port: number }> {
  const port = await freePort();
  const backends = [
    { addr: '127.0.0.1', port: (await tcpBackend(t, 'a')).port },
    { addr: '127.0.0.1', port: (await tcpBackend(t, 'b')).port },
  ];
  const vip: ProxyVip = { key: 'web', proto: 'tcp', listen: { addr: '127.0.0.1', port }, backends };
  const p = new ProxyPool({ workers, statsMs: 50 });
  t.teardown(() => p.stop());
  return { p, vip, port };
}

t.test('workers start with the first VIP, serve it, and stop with the pool', async (t) => {
  const { p, vip, port } = await pool(t);
  t.same(await p.apply([]), { changed: false, failed: [] });
  t.equal(p.pids.length, 0, 'no VIP, no worker');
  const r = await p.apply([vip]);
  t.same(r, { changed: true, failed: [] });
  t.equal(p.pids.length, 2, 'two workers');
  const got = await Promise.all(Array.from({ length: 20 }, () => hello(port)));
  t.same([...new Set(got)].sort(), ['a', 'b'], `both backends served: ${got.join(',')}`);
  const pids = p.pids;
  await p.stop();
  t.same(pids.filter(alive), [], 'no worker outlives the pool');
});

t.test('counters are summed across workers, and kept when a worker dies', async (t) => {
  const { p, vip, port } = await pool(t);
  await p.apply([vip]);
  for (let i = 0; i < 4; i++) await Promise.all(Array.from({ length: 10 }, () => hello(port)));
  await eventually('40 connections and their bytes counted', () => p.stats.bytesToClients === 80, 20_000, 20);
  t.equal(p.stats.tcpConnections, 40);
  process.kill(p.pids[0], 'SIGKILL');
  await eventually('the dead worker replaced', () => p.pids.length === 2 && p.restarts === 1, 20_000, 20);
  t.equal(p.stats.tcpConnections, 40, "the dead worker's connections still counted");
  await Promise.all(Array.from({ length: 10 }, () => hello(port)));
  await eventually('50 and their bytes counted', () => p.stats.bytesToClients === 100, 20_000, 20);
  t.equal(p.stats.tcpConnections, 50, 'summed over the live workers and the dead one');
});

t.test('a worker killed under load is replaced and connections keep flowing', async (t) => {
  const { p, vip, port } = await pool(t);
  await p.apply([vip]);
  let stop = false;
  const results: string[] = [];
  const load = (async () => {
    while (!stop) results.push(...(await Promise.all(Array.from({ length: 5 }, () => hello(port)))));
  })();
  await eventually('load flowing', () => results.length >= 20, 20_000, 20);
  const [victim] = p.pids;
  process.kill(victim, 'SIGKILL');
  await eventually('replaced', () => p.pids.length === 2 && !p.pids.includes(victim), 20_000, 20);
  const mark = results.length;
  await eventually('more served after the kill', () => results.length >= mark + 40, 20_000, 20);
  stop = true;
  await load;
  const after = results.slice(mark);
  t.same(
    after.filter((r) => r !== 'a' && r !== 'b'),
    [],
    'every connection after the replacement was served',
  );
});

t.test('a backend leaving drains: held connections run on, new ones avoid it', async (t) => {
  const { p, vip, port } = await pool(t);
  await p.apply([vip]);
  const c = net.connect({ host: '127.0.0.1', port });
  c.on('error', () => {});
  t.teardown(() => c.destroy());
  const first = await new Promise<string>((r) => c.once('data', (d) => r(String(d).trim())));
  const stay = vip.backends.find((_b, i) => ['a', 'b'][i] !== first)!;
  await p.apply([{ ...vip, backends: [stay] }]);
  const got = await Promise.all(Array.from({ length: 10 }, () => hello(port)));
  t.same([...new Set(got)], [first === 'a' ? 'b' : 'a'], 'new connections go to the backend that stayed');
  c.write('ping\n');
  const reply = await new Promise<string>((r) => c.once('data', (d) => r(String(d).trim())));
  t.equal(reply, `${first} ping`, 'the held connection still works');
});

t.test('hostile clients: half-open and reset connections never crash a worker', async (t) => {
  const { p, vip, port } = await pool(t);
  await p.apply([vip]);
  const pids = p.pids;
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 50; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    sockets.push(s);
    if (i % 2) s.once('connect', () => s.resetAndDestroy());
    else s.once('connect', () => s.end()); // half-open: our side closed, theirs still open
  }
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  await eventually('all dealt with', () => sockets.every((s) => s.destroyed || s.writableEnded), 20_000, 20);
  t.match(await hello(port), /^[ab]$/, 'still serving');
  t.same(p.pids, pids, 'no worker died');
  t.equal(p.restarts, 0);
});

t.test('a killed worker counts on /metrics (weft_lb_proxy_worker_restarts_total)', async (t) => {
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const backend = await tcpBackend(t, 'a');
  const port = await freePort();
  store.put(
    'svc/web/n1/a',
    endpoint('web', ['127.0.0.1'], { vips: [{ vip: 'web', port, proto: 'tcp', targetPort: backend.port }] }),
  );
  const registry = new Registry();
  const lb = await LbDriver.start({ source: store, datapath: 'userspace', debounceMs: 5, proxyWorkers: 1, registry });
  t.teardown(() => lb.stop());
  const pool = lb.datapath as ProxyPool;
  const restarts = async () => /^weft_lb_proxy_worker_restarts_total (\d+)$/m.exec(await registry.metrics())?.[1];
  await eventually('a worker serves the VIP', async () => (await hello(port, lb.dnsVips.get('web'))) === 'a', 30_000);
  t.equal(await restarts(), '0', 'no restart yet, and the counter is there');
  const [victim] = pool.pids;
  process.kill(victim, 'SIGKILL');
  await eventually('the killed worker counted', async () => (await restarts()) === '1', 30_000);
  t.not(pool.pids[0], victim, 'a new worker');
  await eventually('the new worker serves', async () => (await hello(port, lb.dnsVips.get('web'))) === 'a', 30_000);
});

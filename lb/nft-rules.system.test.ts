// System tests of the nft rules no other test exercised (issue 18's survivors): the
// hairpin masquerade, the input chain's refusal of what is still addressed to a VIP, and
// source affinity. Namespaces (root, nft, ip):
//   router  the node whose table the LB programs (10.77.0.1 on the lab bridge, 10.88.0.1 to
//           its "containers"), forwarding;
//   box     a container of the router, 10.88.0.2 plus 10.88.0.10-17, default route via the
//           router; it runs a backend of the VIP `self` and is the client of every VIP;
//   b11-13  backends of the VIP `web` on the lab bridge (10.77.0.11-13).
import t from 'tap';
import { LocalStore } from '../crdt-store/local-store.js';
import { endpoint } from '../test/helpers/dns.js';
import { NetLab } from '../test/helpers/netns.js';
import { ownLeftover } from '../test/helpers/leftovers.js';
import { skipUnless } from '../test/helpers/system.js';
import { LbDriver } from './driver.js';
import { run } from '../base/exec.js';

const skip = skipUnless({ root: true, commands: ['nft', 'ip'] });
const SOURCES = Array.from({ length: 8 }, (_, i) => `10.88.0.${10 + i}`);

/** n TCP connections from `from` (a local address) to host:port, each reading the backend's first line. */
const CONNECT = `
import net from 'node:net';
const [host, port, n, ...froms] = process.argv.slice(1).filter((a) => a !== '--');
const one = (from) => new Promise((resolve) => {
  const c = net.connect({ host, port: +port, ...(from !== '-' ? { localAddress: from } : {}) });
  let buf = '';
  const done = (v) => { clearTimeout(t); c.destroy(); resolve(v); };
  const t = setTimeout(() => done('timeout'), 3000);
  c.on('data', (d) => { buf += d; const i = buf.indexOf('\\n'); if (i >= 0) done(buf.slice(0, i)); });
  c.on('error', (e) => done(e.code ?? 'error'));
  c.on('close', () => done('closed'));
});
const out = {};
for (const from of froms) { out[from] = {}; for (let i = 0; i < +n; i++) { const v = await one(from); out[from][v] = (out[from][v] ?? 0) + 1; } }
console.log(JSON.stringify(out));
`;

t.test('nft rules: hairpin, refusals on the input chain, source affinity', { skip }, async (t) => {
  const lab = await NetLab.create(t, { tag: 'r', subnet: '10.77.0' });
  const router = await lab.addHost(1);
  const backends = [await lab.addHost(11), await lab.addHost(12), await lab.addHost(13)];
  await Promise.all(backends.map((h, i) => lab.backend(h, `b${11 + i}`, { tcp: 8080 })));
  // The box: a container namespace behind the router.
  const box = `${lab.prefix}box`;
  await run(['ip', 'netns', 'add', box]);
  ownLeftover('netns', box);
  t.teardown(() =>
    run(['ip', 'netns', 'del', box]).then(
      () => undefined,
      () => undefined,
    ),
  );
  await lab.exec(
    router.ns,
    ['ip', '-batch', '-'],
    `link add veth-box type veth peer name eth0 netns ${box}\naddr add 10.88.0.1/24 dev veth-box\nlink set veth-box up\n`,
  );
  await lab.exec(
    box,
    ['ip', '-batch', '-'],
    [
      'link set lo up',
      'addr add 10.88.0.2/24 dev eth0',
      ...SOURCES.map((a) => `addr add ${a}/24 dev eth0`),
      'link set eth0 up',
      'route add default via 10.88.0.1',
      '',
    ].join('\n'),
  );
  await lab.exec(router.ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  for (const b of backends) await lab.exec(b.ns, ['ip', 'route', 'add', '10.88.0.0/24', 'via', router.addr]);
  await lab.backend({ ns: box, addr: '10.88.0.2' }, 'boxed', { tcp: 8080 });
  // A local service of the router on every address: what a refused VIP must never reach.
  await lab.backend(router, 'router-local', { tcp: 9999 });

  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  for (const b of backends)
    store.put(
      `svc/web/n1/${b.addr}`,
      endpoint('web', [b.addr], { vips: [{ vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 }] }),
    );
  store.put(
    'svc/self/n1/box',
    endpoint('self', ['10.88.0.2'], { vips: [{ vip: 'self', port: 80, proto: 'tcp', targetPort: 8080 }] }),
  );
  const lb = await LbDriver.start({ source: store, datapath: 'nft', netns: router.ns, affinity: 'source' });
  t.teardown(() => lb.cleanup());
  const web = lb.vips.get('web')!;
  const self = lb.vips.get('self')!;

  const connect = async (
    ns: string,
    host: string,
    port: number,
    n: number,
    froms: string[],
  ): Promise<Record<string, Record<string, number>>> => {
    const p = lab.node(ns, CONNECT, [host, String(port), String(n), ...froms]);
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    await new Promise((r) => p.once('exit', r));
    return JSON.parse(out.trim() || '{}');
  };

  await t.test('hairpin: the box reaches its own backend through the VIP', async (t) => {
    const r = await connect(box, self, 80, 5, ['-']);
    t.same(
      r['-'],
      { boxed: 5 },
      `5 connections from the box to ${self}:80 answered by the box itself (without the masquerade its own address comes back to it, and the kernel drops it): ${JSON.stringify(r)}`,
    );
  });

  await t.test('input chain: a VIP port that is no VIP is refused, never the local service', async (t) => {
    const fromBox = await connect(box, web, 9999, 3, ['-']);
    t.same(fromBox['-'], { ECONNREFUSED: 3 }, `from a container: ${JSON.stringify(fromBox)}`);
    const local = await connect(router.ns, web, 9999, 3, ['-']);
    t.same(local['-'], { ECONNREFUSED: 3 }, `from the node itself: ${JSON.stringify(local)}`);
  });

  await t.test('source affinity: one client, one backend; clients spread', async (t) => {
    const r = await connect(box, web, 80, 10, SOURCES);
    const picks = SOURCES.map((s) => Object.keys(r[s] ?? {}));
    t.ok(
      picks.every((p) => p.length === 1 && /^b1[123]$/.test(p[0]!)),
      `every source always reaches one backend: ${JSON.stringify(r)}`,
    );
    t.ok(
      new Set(picks.map((p) => p[0])).size >= 2,
      `8 sources spread over more than one backend: ${JSON.stringify(r)}`,
    );
  });
});

// IPv6 VIPs through the nft datapath, in network namespaces (root, nft, ip): one inet table
// serves a dual-stack VIP name (an IPv4 address from lb.vipCidr and an IPv6 one from
// lb.vipCidr6) and its backends of each family; the DNS server answers A and AAAA for the
// name. The LB programs the client namespace (local clients: the output hook), as
// nft.system.test.ts does for IPv4. Addresses: ULA fd00::/8 only, with nodad.
//   client  10.77.0.1, fd00:77::1 (the node)
//   b11-12  backends, 10.77.0.11-12 and fd00:77::11-12
import t from 'tap';
import { LocalStore } from '../crdt-store/local-store.js';
import { DnsServer } from '../dns/server.js';
import { dig, endpoint } from '../test/helpers/dns.js';
import { NetLab, type Host } from '../test/helpers/netns.js';
import { skipUnless } from '../test/helpers/system.js';
import { LbDriver } from './driver.js';

const skip = skipUnless({ root: true, commands: ['nft', 'ip', 'dig'] });
const V6 = (last: number) => `fd00:77::${last}`;

/** One TCP connect from inside `ns`: "connected", or the error's code (ECONNREFUSED: refused by a rule). */
const CONNECT = `
import net from 'node:net';
const [host, port] = process.argv.slice(-2);
const c = net.connect({ host, port: +port });
const done = (v) => { console.log(v); process.exit(0); };
setTimeout(() => done('timeout'), 5000);
c.on('connect', () => done('connected'));
c.on('error', (e) => done(e.code ?? 'error'));
`;

async function connectCode(lab: NetLab, ns: string, host: string, port: number): Promise<string> {
  const p = lab.node(ns, CONNECT, [host, String(port)]);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  await new Promise((r) => p.once('exit', r));
  return out.trim();
}

async function addV6(lab: NetLab, h: Host, last: number): Promise<void> {
  await lab.exec(h.ns, ['ip', 'addr', 'add', `${V6(last)}/64`, 'dev', 'eth0', 'nodad']);
}

t.test('IPv6 and IPv4 VIPs in one inet table', { skip }, async (t) => {
  const lab = await NetLab.create(t, { tag: 'v6' });
  const client = await lab.addHost(1);
  await addV6(lab, client, 1);
  const backends = [await lab.addHost(11), await lab.addHost(12)];
  await Promise.all(backends.map((h, i) => addV6(lab, h, 11 + i)));
  await Promise.all(backends.map((h, i) => lab.backend(h, `b${11 + i}`, { tcp: 8080 })));
  // The table of an agent from before IPv6 VIPs, left in place by its upgrade.
  await lab.exec(client.ns, ['nft', 'add', 'table', 'ip', 'weft']);

  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const binding = [{ vip: 'web', port: 80, proto: 'tcp' as const, targetPort: 8080 }];
  for (const [i, h] of backends.entries())
    store.put(`svc/web/n1/b${11 + i}`, endpoint('web', [h.addr, V6(11 + i)], { vips: binding }));
  // A literal IPv6 VIP whose only endpoint is IPv4: no backend of the other family.
  store.put(
    'svc/v4only/n1/b11',
    endpoint('v4only', [backends[0].addr], {
      vips: [{ vip: 'fd00:5::77', port: 80, proto: 'tcp', targetPort: 8080 }],
    }),
  );
  const opts = { source: store, datapath: 'nft' as const, netns: client.ns, vipCidr6: 'fd00:5::/64' };
  let lb = await LbDriver.start(opts);
  t.teardown(() => lb.cleanup());
  const v4 = lb.vips.get('web')!;
  const v6 = lb.vips.get6('web')!;
  t.match(v4, /^198\.1[89]\./, 'the name has an IPv4 address in lb.vipCidr');
  t.match(v6, /^fd00:5::/, 'and an IPv6 address in lb.vipCidr6');
  const c = await lab.client(client);

  await t.test('upgrade: the ip table of before is gone, one inet table holds both families', async (t) => {
    const tables = await lab.exec(client.ns, ['nft', 'list', 'tables']);
    t.match(tables, /table inet weft/);
    t.notMatch(tables, /table ip weft/, 'the old table does not stay beside the new one');
    // A downgrade and an upgrade again: the inet table is in place and matches, and an old
    // agent's ip table stands beside it. The restarted agent must not keep both.
    await lb.stop();
    await lab.exec(client.ns, ['nft', 'add', 'table', 'ip', 'weft']);
    lb = await LbDriver.start(opts);
    t.notMatch(await lab.exec(client.ns, ['nft', 'list', 'tables']), /table ip weft/, 'removed at restart too');
  });

  await t.test('a client reaches the IPv6 VIP; only IPv6 backends answer it', async (t) => {
    t.same(Object.keys(await c.tcp(v6, 80, 40)).sort(), ['b11', 'b12'], 'both backends over IPv6');
    const table = await lab.exec(client.ns, ['nft', 'list', 'table', 'inet', 'weft']);
    t.match(table, /dnat ip6 to numgen random mod 2 map \{ 0 : fd00:77::11 \. 8080, 1 : fd00:77::12 \. 8080 \}/);
    t.notMatch(table, /fd00:5::77 \. tcp/, 'the IPv6 VIP with only an IPv4 endpoint has no DNAT');
    t.equal(
      await connectCode(lab, client.ns, 'fd00:5::77', 80),
      'ECONNREFUSED',
      'and is refused, not passed to another family',
    );
  });

  await t.test('the IPv4 VIP still works in the same table', async (t) => {
    t.same(Object.keys(await c.tcp(v4, 80, 40)).sort(), ['b11', 'b12']);
  });

  await t.test('IPv6: a port that is no VIP, and an unused address of the range, are refused', async (t) => {
    const local = await lab.backend(client, 'node-local', { tcp: 9999 });
    t.ok(local, 'a local service on every address of the node');
    t.same(await c.tcp(v6, 9999, 3), { error: 3 }, 'the VIP address never reaches the local service');
    // A default route to a router that is not there: without the range's rule a packet to
    // the range would leave (and the connect fail slowly, unreachable); with it, a reset.
    await lab.exec(client.ns, ['ip', '-6', 'route', 'add', 'default', 'via', V6(99)]);
    t.equal(
      await connectCode(lab, client.ns, 'fd00:5::ffff', 80),
      'ECONNREFUSED',
      'an address of lb.vipCidr6 that is no VIP: refused on the node, never routed',
    );
  });

  await t.test('the DNS server answers A and AAAA for the VIP name', async (t) => {
    const dns = await DnsServer.start({
      source: store,
      listen: [{ addr: '127.0.0.1', port: 0 }],
      nodeName: 'n1',
      forward: false,
      vips: lb.dnsVips,
    });
    t.teardown(() => dns.stop());
    const port = dns.addresses[0].port;
    const aaaa = await dig('127.0.0.1', port, ['AAAA', 'web.vip.weft.internal']);
    t.same(
      aaaa.answer.map((r) => r[4]),
      [v6],
      'AAAA',
    );
    const a = await dig('127.0.0.1', port, ['A', 'web.vip.weft.internal']);
    t.same(
      a.answer.map((r) => r[4]),
      [v4],
      'A',
    );
  });

  await t.test('cleanup removes the inet table, and an ip table of before too', async (t) => {
    await lab.exec(client.ns, ['nft', 'add', 'table', 'ip', 'weft']);
    await lb.cleanup();
    t.notMatch(await lab.exec(client.ns, ['nft', 'list', 'tables']), /weft/);
  });
});

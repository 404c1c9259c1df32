// The server over real UDP and TCP sockets on loopback, asked by dig and by Node's resolver.
import t from 'tap';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { Registry } from 'prom-client';
import { DnsServer, DnsStartError } from './server.js';
import { endpointLabel } from './zone.js';
import { dig, endpoint, newStore } from '../test/helpers/dns.js';
import { skipUnless } from '../test/helpers/system.js';

const ADDR = '127.0.5.1';

async function serve(t: { teardown(fn: () => unknown): void }) {
  const s = newStore('n1');
  s.put('node/n1', { addr: '10.0.0.1' });
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1', 'fd00::1'], { ports: { http: { port: 80, proto: 'tcp' } } }));
  s.put('svc/web/n1/b', endpoint('web', ['10.1.0.2'], { ports: { http: { port: 81, proto: 'tcp' } } }));
  for (let i = 0; i < 60; i++) s.put(`svc/big/n1/e${i}`, endpoint('big', [`10.9.0.${i + 1}`]));
  const registry = new Registry();
  const dns = await DnsServer.start({
    source: s,
    listen: [{ addr: ADDR, port: 0 }],
    nodeName: 'n1',
    forward: false,
    registry,
  });
  t.teardown(() => dns.stop());
  return { s, dns, port: dns.addresses[0].port, registry };
}

t.test(
  'dig: every record type and error case, over UDP and TCP',
  { skip: skipUnless({ commands: ['dig'] }) },
  async (t) => {
    const { s, dns, port, registry } = await serve(t);
    const q = (...args: string[]) => dig(ADDR, port, args);

    const a = await q('web.svc.weft.internal', 'A');
    t.equal(a.status, 'NOERROR');
    t.ok(a.flags.includes('aa'), 'authoritative');
    t.same(a.answer.map((r) => r[4]).sort(), ['10.1.0.1', '10.1.0.2']);
    t.equal(a.answer[0][1], '5', 'TTL 5 s');
    t.same(
      (await q('web.svc.weft.internal', 'AAAA')).answer.map((r) => r[4]),
      ['fd00::1'],
    );
    t.same(
      (await q('n1.node.weft.internal', 'A', '+tcp')).answer.map((r) => r[4]),
      ['10.0.0.1'],
      'over TCP',
    );

    const srv = await q('_http._tcp.web.svc.weft.internal', 'SRV');
    t.same(srv.answer.map((r) => r[6]).sort(), ['80', '81']);
    const target = `${endpointLabel('n1', 'a')}.web.svc.weft.internal.`;
    t.ok(srv.answer.some((r) => r[7] === target));
    t.ok(
      srv.additional.some((r) => r[0] === target && r[4] === '10.1.0.1'),
      'SRV targets resolve in the additional section',
    );

    t.same(
      (await q('-x', '10.1.0.1')).answer.map((r) => r[4]),
      [target],
      'PTR of an endpoint',
    );
    t.same(
      (await q('-x', '10.0.0.1')).answer.map((r) => r[4]),
      ['n1.node.weft.internal.'],
      'PTR of a node',
    );
    t.same(
      (await q('-x', 'fd00::1')).answer.map((r) => r[4]),
      [target],
      'PTR of an IPv6 endpoint',
    );
    const soa = await q('weft.internal', 'SOA');
    t.equal(soa.answer[0][3], 'SOA');
    t.equal(soa.answer[0][4], 'n1.node.weft.internal.');
    t.same(
      (await q('weft.internal', 'NS')).answer.map((r) => r[4]),
      ['n1.node.weft.internal.'],
    );

    const nx = await q('nope.svc.weft.internal', 'A');
    t.equal(nx.status, 'NXDOMAIN');
    t.equal(nx.authority[0]?.[3], 'SOA', 'NXDOMAIN carries the SOA');
    t.equal(nx.authority[0]?.[10], '5', 'whose minimum is the negative TTL');
    const nodata = await q('web.svc.weft.internal', 'MX');
    t.equal(nodata.status, 'NOERROR');
    t.equal(nodata.answer.length, 0);
    t.equal(nodata.authority[0]?.[3], 'SOA', 'NODATA carries the SOA');

    const upper = await q('WEB.Svc.Weft.Internal', 'A', '+norec');
    t.ok(
      upper.answer.every((r) => r[0] === 'WEB.Svc.Weft.Internal.'),
      'the answer keeps the query case',
    );
    t.notOk(upper.flags.includes('rd'), '+norec: RD stays clear');

    const any = await q('web.svc.weft.internal', 'ANY');
    t.same(
      any.answer.map((r) => r.slice(3)),
      [['HINFO', '"RFC8482"', '""']],
      'ANY: one HINFO (RFC 8482)',
    );

    const tcNoEdns = await q('big.svc.weft.internal', 'A', '+noedns', '+ignore');
    t.ok(tcNoEdns.flags.includes('tc'), 'no EDNS, 60 records: TC');
    t.ok(
      tcNoEdns.answer.length > 20 && tcNoEdns.answer.length < 60,
      `and the ${tcNoEdns.answer.length} whole records that fit 512 bytes`,
    );
    const fallback = await q('big.svc.weft.internal', 'A', '+noedns');
    t.equal(fallback.answer.length, 60, 'dig retries over TCP and gets them all');
    const bufsize = await q('big.svc.weft.internal', 'A', '+bufsize=1232');
    t.notOk(bufsize.flags.includes('tc'), '+bufsize=1232: fits');
    t.equal(bufsize.answer.length, 60);
    t.equal(bufsize.udp, 1232, 'our OPT says 1232');
    t.ok((await q('big.svc.weft.internal', 'A', '+bufsize=600', '+ignore')).flags.includes('tc'), '+bufsize=600: TC');
    t.equal((await q('big.svc.weft.internal', 'A', '+tcp', '+noedns')).answer.length, 60, '+tcp: whole');

    t.equal((await q('example.com', 'A')).status, 'REFUSED', 'outside the zone with forwarding off');
    t.equal((await q('web.svc.weft.internal', 'A', '-c', 'CH')).status, 'REFUSED', 'class CH');
    t.equal((await q('weft.internal', 'AXFR')).status, 'none', 'AXFR gets NOTIMP (dig prints a failed transfer)');
    t.equal((await q('web.svc.weft.internal', 'A', '+edns=1', '+noednsnegotiation')).status, 'BADVERS');

    s.delete('svc/web/n1/a');
    t.same(
      (await q('web.svc.weft.internal', 'A')).answer.map((r) => r[4]),
      ['10.1.0.2'],
      'a store change shows at once',
    );

    const metrics = await registry.metrics();
    t.match(metrics, /weft_dns_queries_total\{qtype="A",rcode="NOERROR"\} \d+/);
    t.match(metrics, /weft_dns_queries_total\{qtype="A",rcode="NXDOMAIN"\} 1/);
    t.match(metrics, /weft_dns_query_duration_seconds_count\{source="zone"\} \d+/);
    t.match(metrics, /weft_dns_zone_names \d+/);
    t.match(metrics, /weft_dns_malformed_packets_total\{reason="short"\} 0/);
    t.ok(dns.stats.count('SRV', 'NOERROR') >= 1);
  },
);

t.test("Node's resolver (c-ares) against the server", async (t) => {
  const { port } = await serve(t);
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`${ADDR}:${port}`]);
  t.same((await r.resolve4('web.svc.weft.internal')).sort(), ['10.1.0.1', '10.1.0.2']);
  t.same(await r.resolve6('web.svc.weft.internal'), ['fd00::1']);
  const srv = await r.resolveSrv('_http._tcp.web.svc.weft.internal');
  t.same(srv.map((x) => x.port).sort(), [80, 81]);
  t.same(await r.reverse('10.0.0.1'), ['n1.node.weft.internal']);
  t.match(await r.resolveSoa('weft.internal'), { nsname: 'n1.node.weft.internal', minttl: 5 });
  await t.rejects(r.resolve4('nope.weft.internal'), { code: 'ENOTFOUND' });
  await t.rejects(r.resolveMx('web.svc.weft.internal'), { code: 'ENODATA' });
  t.equal((await r.resolve4('big.svc.weft.internal')).length, 60, 'c-ares falls back to TCP on TC');
});

t.test('several listen addresses; start errors are one short sentence', async (t) => {
  const s = newStore();
  const dns = await DnsServer.start({
    source: s,
    listen: [
      { addr: '127.0.5.2', port: 0 },
      { addr: '127.0.5.3', port: 0 },
    ],
    forward: false,
  });
  t.teardown(() => dns.stop());
  t.equal(dns.addresses.length, 2);
  t.same(
    dns.addresses.map((a) => a.addr),
    ['127.0.5.2', '127.0.5.3'],
  );

  const taken = dns.addresses[0];
  const err = await DnsServer.start({ source: s, listen: [taken], forward: false }).catch((e: unknown) => e);
  t.type(err, DnsStartError);
  t.equal(
    (err as Error).message,
    `DNS address 127.0.5.2:${taken.port} is in use (another DNS server?); choose another DNS listen address or port`,
  );
  t.notMatch((err as Error).message, /\n/, 'one line, no stack');

  if (process.getuid?.() !== 0) {
    const denied = await DnsServer.start({
      source: s,
      listen: [{ addr: '127.0.5.4', port: 53 }],
      forward: false,
    }).catch((e: unknown) => e);
    t.match((denied as Error).message, /needs root or CAP_NET_BIND_SERVICE/);
  }
  await t.rejects(DnsServer.start({ source: s, listen: [{ addr: 'localhost', port: 0 }] }), /not an IP address/);
  await t.rejects(DnsServer.start({ source: s, upstreams: ['dns.google'] }), /not an IP address/);
  await t.rejects(DnsServer.start({ source: s, listen: [{ addr: '192.0.2.77', port: 0 }], forward: false }), {
    message: 'DNS address 192.0.2.77 is not an address of this host',
  });
});

t.test('hostile packets over UDP and TCP: counted, and the server keeps answering', async (t) => {
  const { dns, port } = await serve(t);
  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const answers: Buffer[] = [];
  sock.on('message', (m) => answers.push(m));
  const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, port, ADDR, () => r()));
  await send(Buffer.alloc(0));
  await send(Buffer.from([1, 2, 3]));
  const reflected = Buffer.from('abcdabcdabcd');
  reflected[2] = 0x80;
  await send(reflected);
  const loop = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  await send(loop);
  const net = await import('node:net');
  await new Promise<void>((resolve) => {
    const c = net.connect(port, ADDR, () => c.end(Buffer.from([0, 0, 0xff, 0xff, 1, 2])));
    c.on('error', () => {});
    c.on('close', () => resolve());
  });
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`${ADDR}:${port}`]);
  t.same(await r.resolve4('n1.node.weft.internal'), ['10.0.0.1'], 'still answering');
  t.equal(dns.stats.malformed.short, 2);
  t.equal(dns.stats.malformed.response, 1);
  t.equal(dns.stats.malformed.compressed_question, 1);
  t.equal(dns.stats.malformed.bad_tcp_frame, 1);
  t.equal(answers.length, 1, 'only the parseable header got an answer (FORMERR)');
});

// The pieces behind who may recurse and how fast anyone is answered: address parsing and
// network sets (netset.ts), the recursion ACL with Docker bridges (client-acl.ts), and the
// response-rate limiter (rrl.ts). Sans-IO: the clock and the interface list are handed in.
import t from 'tap';
import type { NetworkInterfaceInfo } from 'node:os';
import dnsPacket from 'dns-packet';
import { NetSet, clientAddress, ipv4Number, ipv6Groups, parseNet } from './netset.js';
import { RecursionAcl, checkRecursionAllow } from './client-acl.js';
import { ResponseRateLimiter, RRL_DROP, RRL_SEND, RRL_SLIP, slipResponse } from './rrl.js';
import { decode } from '../test/helpers/dns.js';
import { costGrowth } from '../test/helpers/cost.js';
import { DEFAULTS } from './defaults.js';

t.test('addresses: IPv4, IPv6 (compressed, zoned, v4 tail), v4-mapped; garbage is no address', async (t) => {
  t.equal(ipv4Number('10.1.2.3'), 0x0a010203);
  t.equal(ipv4Number('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.1.2', '10.1.2.256', '1.2.3.4.5', '1..2.3', 'a.b.c.d', '', '1.2.3.4 '])
    t.equal(ipv4Number(bad), -1, bad);
  const g = new Uint16Array(8);
  t.ok(ipv6Groups('2001:db8::1', g));
  t.same([...g], [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
  t.ok(ipv6Groups('fe80::1%eth0', g));
  t.same([...g], [0xfe80, 0, 0, 0, 0, 0, 0, 1]);
  t.ok(ipv6Groups('::', g));
  t.same([...g], [0, 0, 0, 0, 0, 0, 0, 0]);
  t.ok(ipv6Groups('1:2:3:4:5:6:7:8', g));
  t.same([...g], [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', ':1', '1:', '12345::', 'g::1', '1:2:3:4:5:6:7'])
    t.notOk(ipv6Groups(bad, g), bad);
  t.equal(clientAddress('::ffff:192.168.1.2'), 0xc0a80102, 'v4-mapped is IPv4');
  t.equal(clientAddress('::1'), -1);
  t.equal(clientAddress('nonsense'), -2);
});

t.test('network sets: v4 and v6 prefixes, host bits ignored, mapped addresses match v4 networks', async (t) => {
  const set = new NetSet(['127.0.0.0/8', '172.17.0.1/16', 'fd00:1:2::/48', '0.0.0.0/32'].map((c) => parseNet(c)!));
  for (const a of ['127.0.0.1', '127.255.0.9', '172.17.3.4', '::ffff:172.17.0.5', 'fd00:1:2:ffff::1', '0.0.0.0'])
    t.ok(set.has(a), a);
  for (const a of ['128.0.0.1', '172.18.0.1', 'fd00:1:3::1', '::1', '10.0.0.1', 'x']) t.notOk(set.has(a), a);
  t.ok(new NetSet([parseNet('::/0')!]).has('2001:db8::1'), '::/0 holds every v6 address');
  t.ok(new NetSet([parseNet('0.0.0.0/0')!]).has('8.8.8.8'), '0/0 holds every v4 address');
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '::/129', 'docker/8', '10.0.0.0/x'])
    t.equal(parseNet(bad), undefined, bad);
});

t.test(
  'recursion ACL: loopback and Docker bridges by default, the overlay only when it runs, a new bridge found at its first query',
  async (t) => {
    const info = (cidr: string): NetworkInterfaceInfo => ({
      address: cidr.split('/')[0],
      netmask: '',
      family: 'IPv4',
      mac: '',
      internal: false,
      cidr,
    });
    let ifs: Record<string, NetworkInterfaceInfo[]> = {
      lo: [{ ...info('127.0.0.1/8'), internal: true }],
      eth0: [info('192.168.1.10/24')],
      docker0: [
        info('172.17.0.1/16'),
        { ...info('fe80::42:acff:fe11:1/64'), family: 'IPv6', scopeid: 3 } as NetworkInterfaceInfo,
      ],
    };
    let reads = 0;
    const acl = new RecursionAcl({ interfaces: () => (reads++, ifs), refreshMs: 10_000 });
    t.ok(acl.allows('127.0.0.1', 0));
    t.ok(acl.allows('::1', 0));
    t.ok(acl.allows('172.17.0.2', 0), 'a container on docker0');
    t.notOk(acl.allows('192.168.1.20', 0), "a host on the node's LAN is not a client of its resolver");
    t.notOk(acl.allows('10.42.1.5', 0), 'no overlay configured');
    t.notOk(acl.allows('fe80::1234', 0), "a bridge's link-local range is every link's: not allowed");
    ifs = { ...ifs, 'br-0123456789ab': [info('172.20.0.1/16')] };
    const before = reads;
    t.notOk(acl.allows('172.20.0.2', 5_000), 'within refreshMs of the last read, the interfaces are not read again');
    t.equal(reads, before);
    t.ok(acl.allows('172.20.0.2', 20_000), 'then an unknown client makes it read them: the new bridge is allowed');
    t.same(
      acl.describe(),
      ['127.0.0.0/8', '::1/128', '10.42.0.0/16'].slice(0, 2).concat(['172.17.0.1/16', '172.20.0.1/16']),
    );
    ifs = { lo: ifs.lo };
    acl.refresh(30_000);
    t.notOk(acl.allows('172.17.0.2', 30_001), 'a removed bridge is no longer allowed after the periodic refresh');

    const withOverlay = new RecursionAcl({ overlayCidr: '10.42.0.0/16', interfaces: () => ({}) });
    t.ok(withOverlay.allows('10.42.1.5', 0), 'the overlay CIDR when the overlay runs');
    const strict = new RecursionAcl({ allow: ['10.1.0.0/16'], overlayCidr: '10.42.0.0/16', interfaces: () => ifs });
    t.notOk(strict.allows('127.0.0.1', 0), 'an explicit list is all there is');
    t.ok(strict.allows('10.1.2.3', 0));
    t.equal(checkRecursionAllow(['docker', 'overlay', '::/0']), undefined);
    t.match(checkRecursionAllow(['dockers']), /"dockers" is neither a CIDR/);
    t.throws(() => new RecursionAcl({ allow: ['10.0.0.0/40'], interfaces: () => ({}) }), /recursion allow-list/);
  },
);

t.test(
  'rate limiter: a bucket per /24 and /56, slip every 2nd over the limit, refill, exemptions, bounded table',
  async (t) => {
    const rrl = new ResponseRateLimiter({
      ratePerS: 10,
      burst: 5,
      slip: 2,
      maxClients: 3,
      exempt: new NetSet([parseNet('127.0.0.0/8')!]),
    });
    const verdicts = Array.from({ length: 9 }, () => rrl.check('192.0.2.7', 0));
    t.same(
      verdicts,
      [RRL_SEND, RRL_SEND, RRL_SEND, RRL_SEND, RRL_SEND, RRL_DROP, RRL_SLIP, RRL_DROP, RRL_SLIP],
      'the burst, then every 2nd slips',
    );
    t.equal(rrl.check('192.0.2.200', 0), RRL_DROP, 'the same /24 shares the bucket');
    t.equal(rrl.check('192.0.3.1', 0), RRL_SEND, 'another /24 has its own');
    t.equal(rrl.check('192.0.2.7', 100), RRL_SEND, '100 ms later at 10/s: one more');
    t.equal(rrl.check('192.0.2.7', 100), RRL_SLIP);
    for (let i = 0; i < 100; i++) t.equal(rrl.check('127.0.0.1', 0), RRL_SEND, 'loopback is exempt');
    t.equal(rrl.check('2001:db8:0:1::1', 0), RRL_SEND);
    for (let i = 0; i < 4; i++) rrl.check('2001:db8:0:ff::9', 0);
    t.not(rrl.check('2001:db8:0:ff::9', 0), RRL_SEND, 'the same /56 shares the bucket');
    t.equal(rrl.check('2001:db8:0:100::9', 0), RRL_SEND, 'the next /56 does not');
    t.equal(rrl.clients, 3, 'the table is bounded: the oldest network went');
    t.equal(rrl.check('192.0.2.7', 100), RRL_SEND, 'a forgotten network starts afresh');
    t.ok(rrl.dropped > 0 && rrl.slipped > 0);
    const off = new ResponseRateLimiter({ ratePerS: 0 });
    t.equal(off.check('192.0.2.7', 0), RRL_SEND, 'rate 0: off');

    const noSlip = new ResponseRateLimiter({ ratePerS: 1, slip: 0 });
    noSlip.check('192.0.2.1', 0);
    t.same([noSlip.check('192.0.2.1', 0), noSlip.check('192.0.2.1', 0)], [RRL_DROP, RRL_DROP], 'slip 0 drops all');
  },
);

t.test(
  'rate limiter: a spoofed flood from new /24s costs the same per query at 16,384 networks as at 64',
  async (t) => {
    const addr = (i: number) => `${10 + ((i >>> 16) & 127)}.${(i >>> 8) & 255}.${i & 255}.1`;
    const g = costGrowth(
      { small: 64, large: DEFAULTS.rateLimitMaxClients },
      (maxClients) => new ResponseRateLimiter({ ratePerS: 10, maxClients }),
      // Fill calls have negative numbers: their networks come from the top of the space.
      (rrl, i) => rrl.check(addr(i < 0 ? 0x7fffff + i : i), 0),
    );
    t.ok(
      g.ratio < 6,
      `ns per query: ${g.small.toFixed(0)} at 64, ${g.large.toFixed(0)} at 16,384 (x${g.ratio.toFixed(1)})`,
    );
    const rrl = new ResponseRateLimiter({ ratePerS: 10, maxClients: 3 });
    for (const a of ['192.0.2.1', '192.0.3.1', '192.0.4.1']) rrl.check(a, 0);
    rrl.check('192.0.2.1', 2000); // active again after a second: the newest now
    rrl.check('192.0.5.1', 2000);
    rrl.check('192.0.6.1', 2000);
    for (let i = 0; i < 20; i++) rrl.check('192.0.2.1', 2000);
    t.not(
      rrl.check('192.0.2.1', 2000),
      RRL_SEND,
      'the active network kept its spent bucket while two quieter ones went',
    );
  },
);

t.test('slip answer: the header and question, TC set, no records; never bigger than the response', async (t) => {
  const resp = dnsPacket.encode({
    type: 'response',
    id: 9,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'Big.Example' }],
    answers: Array.from({ length: 20 }, (_, i) => ({ type: 'A' as const, name: 'big.example', data: `10.0.0.${i}` })),
  });
  const slip = slipResponse(resp);
  const d = decode(slip);
  t.equal(d.id, 9);
  t.ok(d.flag_tc);
  t.same(d.questions, [{ name: 'Big.Example', type: 'A', class: 'IN' }]);
  t.same(d.answers, []);
  t.equal(slip.length, 12 + 13 + 4);
  t.equal(slipResponse(Buffer.alloc(5)).length, 5, 'a runt stays a runt');
});

// ------------------------------------------------------------ over real sockets on loopback (no root)

t.test('the server: recursion only for allowed clients, weft names for all, UDP rate-limited, TCP not', async (t) => {
  const { DnsServer } = await import('./server.js');
  const { TestUpstream } = await import('./upstream.fixture.js');
  const { newStore, query } = await import('../test/helpers/dns.js');
  const dgram = await import('node:dgram');
  const net = await import('node:net');
  const logged: string[] = [];
  const log = {
    debug() {},
    info: (_: object, m: string) => void logged.push(m),
    warn: (_: object, m: string) => void logged.push(m),
    error() {},
  };
  const up = await TestUpstream.start('127.0.6.30', (q) => ({
    answers: [{ type: 'A', name: q.name, ttl: 60, data: '192.0.2.1' }],
  }));
  t.teardown(() => up.close());
  const store = newStore('n1');
  store.put('node/n1', { addr: '10.0.0.1' });
  // Only 127.0.6.31 may recurse; the rate limit exempts nobody.
  const dns = await DnsServer.start({
    source: store,
    nodeName: 'n1',
    listen: [{ addr: '127.0.6.32', port: 0 }],
    upstreams: [up.label],
    recursionAllow: ['127.0.6.31/32'],
    rateLimit: { ratePerS: 20, exempt: [] },
    log,
  });
  t.teardown(() => dns.stop());
  const port = dns.addresses[0].port;
  const client = async (from: string) => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, from, () => r()));
    t.teardown(() => s.close());
    const replies: ReturnType<typeof decode>[] = [];
    s.on('message', (m) => replies.push(decode(m)));
    return { s, replies, ask: (name: string, id = 1) => s.send(query(name, 'A', { id }), port, '127.0.6.32') };
  };
  const settle = () => new Promise((r) => setTimeout(r, 200));
  const allowed = await client('127.0.6.31');
  const other = await client('127.0.6.33');
  allowed.ask('www.example.test');
  other.ask('www.example.test');
  other.ask('n1.node.weft.internal', 2);
  await settle();
  t.same(
    allowed.replies.map((r) => [r.rcode, r.answers.length]),
    [['NOERROR', 1]],
    'the allowed client recurses',
  );
  t.same(
    other.replies.map((r) => [r.id, r.rcode, r.answers.length]).sort(),
    [
      [1, 'REFUSED', 0],
      [2, 'NOERROR', 1],
    ],
    'another gets REFUSED outside the zone, answers inside',
  );
  t.equal(up.asked.length, 1, 'only the allowed query went upstream');
  t.equal(dns.stats.recursionRefused, 1);

  const flood = await client('127.0.6.34');
  for (let i = 0; i < 100; i++) flood.ask('n1.node.weft.internal', i);
  await settle();
  const full = flood.replies.filter((r) => !r.flag_tc).length;
  const slips = flood.replies.filter((r) => r.flag_tc).length;
  t.ok(full >= 20 && full <= 25, `100 queries at once, rate 20/s: ${full} answers`);
  t.ok(slips >= 35 && slips <= 41, `every 2nd over the limit slips (${slips})`);
  t.match(await dns.registry.metrics(), /weft_dns_rate_limited_total\{action="drop"\} [1-9]/);
  dns.reportHostile();
  const summaries = () => logged.filter((m) => m.startsWith('DNS:'));
  t.match(summaries(), [/recursion refused/, /rate/], 'one summary line each, not one per packet');
  dns.reportHostile();
  t.equal(summaries().length, 2, 'nothing new, nothing said');

  // Over TCP the same client is neither limited nor capped (a TCP peer's address is not forged).
  const sock = net.connect({ host: '127.0.6.32', port, localAddress: '127.0.6.34' });
  t.teardown(() => sock.destroy());
  let got = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
  const q = query('n1.node.weft.internal', 'A');
  for (let i = 0; i < 50; i++) sock.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]));
  await settle();
  let n = 0;
  for (let at = 0; at + 2 <= got.length; at += 2 + got.readUInt16BE(at)) n++;
  t.equal(n, 50, 'all 50 answered over TCP');
});

t.test('IPv6 clients: ::1 recurses by default; another v6 client is refused and limited per /56', async (t) => {
  const { DnsServer } = await import('./server.js');
  const { TestUpstream } = await import('./upstream.fixture.js');
  const { newStore, query } = await import('../test/helpers/dns.js');
  const dgram = await import('node:dgram');
  const up = await TestUpstream.start('127.0.6.60', (q) => ({
    answers: [{ type: 'A', name: q.name, ttl: 60, data: '192.0.2.1' }],
  }));
  t.teardown(() => up.close());
  const dns = await DnsServer.start({ source: newStore(), listen: [{ addr: '::1', port: 0 }], upstreams: [up.label] });
  t.teardown(() => dns.stop());
  const s = dgram.createSocket('udp6');
  await new Promise<void>((r) => s.bind(0, '::1', () => r()));
  t.teardown(() => s.close());
  const reply = new Promise<Buffer>((r) => s.once('message', r));
  s.send(query('v6.example.test', 'A'), dns.addresses[0].port, '::1');
  t.equal(decode(await reply).rcode, 'NOERROR', '::1 recurses');
  const acl = dns.acl;
  t.notOk(acl.allows('2001:db8::5', 0), 'another v6 address may not');
  t.ok(acl.allows('::ffff:127.0.0.1', 0), 'v4-mapped loopback is loopback');
});

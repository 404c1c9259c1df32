import t from 'tap';
import dnsPacket from 'dns-packet';
import { Responder } from './answer.js';
import { Zone, endpointLabel } from './zone.js';
import { DnsStats } from './stats.js';
import { decode, endpoint, newStore, query, type Rec } from '../test/helpers/dns.js';

function setup(ttlS = 5) {
  const s = newStore('n1');
  s.put('node/n1', { addr: '10.0.0.1' });
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1', 'fd00::1'], { ports: { http: { port: 80, proto: 'tcp' } } }));
  s.put('svc/web/n1/b', endpoint('web', ['10.1.0.2'], { ports: { http: { port: 81, proto: 'tcp' } } }));
  s.put('svc/web/n1/c', endpoint('web', ['10.1.0.3'], { ports: { http: { port: 82, proto: 'tcp' } } }));
  const zone = new Zone({ nodeName: 'n1', ttlS });
  zone.attach(s);
  const stats = new DnsStats();
  const r = new Responder(zone, stats);
  const ask = (bytes: Buffer, tcp = false) => r.handle(bytes, tcp);
  return { s, zone, stats, r, ask };
}

const data = (as: Rec[] | undefined) => (as ?? []).map((a) => a.data);

t.test('A, AAAA, SRV (targets resolve in the additional section), PTR, SOA, NS', async (t) => {
  const { ask } = setup();
  const a = decode(ask(query('web.svc.weft.internal', 'A')));
  t.equal(a.rcode, 'NOERROR');
  t.ok(a.flag_aa, 'authoritative');
  t.same(data(a.answers).sort(), ['10.1.0.1', '10.1.0.2', '10.1.0.3']);
  t.ok(a.answers!.every((x) => x.ttl === 5 && x.name === 'web.svc.weft.internal'));
  t.same(data(decode(ask(query('web.svc.weft.internal', 'AAAA'))).answers), ['fd00::1']);
  t.same(data(decode(ask(query('n1.node.weft.internal', 'A'))).answers), ['10.0.0.1']);

  const srv = decode(ask(query('_http._tcp.web.svc.weft.internal', 'SRV')));
  const targets = srv.answers!.map((x) => x.data as { port: number; target: string });
  t.same(targets.map((x) => x.port).sort(), [80, 81, 82]);
  const epA = `${endpointLabel('n1', 'a')}.web.svc.weft.internal`;
  t.ok(targets.some((x) => x.target === epA));
  const extra = srv.additionals!.filter((x) => x.type !== 'OPT');
  t.same(
    extra
      .filter((x) => x.name === epA)
      .map((x) => x.data)
      .sort(),
    ['10.1.0.1', 'fd00::1'],
    'every target has its addresses in the additional section',
  );
  t.same(data(decode(ask(query(epA, 'A'))).answers), ['10.1.0.1'], 'and resolves on its own');

  t.same(data(decode(ask(query('1.0.1.10.in-addr.arpa', 'PTR'))).answers), [epA]);
  t.same(data(decode(ask(query('1.0.0.10.in-addr.arpa', 'PTR'))).answers), ['n1.node.weft.internal']);
  const soa = decode(ask(query('weft.internal', 'SOA')));
  t.match(soa.answers, [
    { type: 'SOA', data: { mname: 'n1.node.weft.internal', rname: 'hostmaster.weft.internal', minimum: 5 } },
  ]);
  const ns = decode(ask(query('weft.internal', 'NS')));
  t.same(data(ns.answers), ['n1.node.weft.internal']);
  t.same(data(ns.additionals!.filter((x) => x.type === 'A')), ['10.0.0.1'], 'the NS address comes along');
});

t.test('NXDOMAIN and NODATA both carry the SOA, whose minimum is the negative TTL', async (t) => {
  const { ask } = setup(7);
  const nx = decode(ask(query('nope.svc.weft.internal', 'A')));
  t.equal(nx.rcode, 'NXDOMAIN');
  t.ok(nx.flag_aa);
  t.equal(nx.answers!.length, 0);
  t.match(nx.authorities, [{ type: 'SOA', name: 'weft.internal', ttl: 7, data: { minimum: 7 } }]);
  for (const [name, type] of [
    ['web.svc.weft.internal', 'MX'],
    ['web.svc.weft.internal', 'TXT'],
    ['n1.node.weft.internal', 'AAAA'],
    ['svc.weft.internal', 'A'],
    ['weft.internal', 'A'],
  ] as const) {
    const nodata = decode(ask(query(name, type)));
    t.equal(nodata.rcode, 'NOERROR', `${name} ${type}: the name exists`);
    t.equal(nodata.answers!.length, 0);
    t.match(
      nodata.authorities,
      [{ type: 'SOA', name: 'weft.internal', data: { minimum: 7 } }],
      `${name} ${type}: SOA in authority`,
    );
  }
  t.equal(
    decode(ask(query('deeper.web.svc.weft.internal', 'A'))).rcode,
    'NXDOMAIN',
    'below an existing name: NXDOMAIN',
  );
  t.equal(decode(ask(query('x.weft.internal', 'A'))).rcode, 'NXDOMAIN');
  t.equal(decode(ask(query('api.vip.weft.internal', 'A'))).rcode, 'NXDOMAIN', 'no VIP source: VIP names do not exist');
});

t.test("matching ignores case and the answer keeps the query's", async (t) => {
  const { ask } = setup();
  const a = decode(ask(query('WeB.SvC.Weft.INTERNAL', 'A')));
  t.equal(a.rcode, 'NOERROR');
  t.equal(a.answers!.length, 3);
  t.ok(
    a.answers!.every((x) => x.name === 'WeB.SvC.Weft.INTERNAL'),
    'owner names spelled as asked',
  );
  t.equal(a.questions![0].name, 'WeB.SvC.Weft.INTERNAL');
  const nx = decode(ask(query('NoPe.Weft.Internal', 'A')));
  t.equal(nx.rcode, 'NXDOMAIN');
  t.equal(nx.authorities![0].name, 'Weft.Internal', 'the SOA owner points into the question');
});

t.test('ANY gets one HINFO "RFC8482" (RFC 8482), not everything', async (t) => {
  const { ask } = setup();
  const any = decode(ask(query('web.svc.weft.internal', 'ANY')));
  t.equal(any.rcode, 'NOERROR');
  t.match(any.answers, [{ type: 'HINFO', data: { cpu: 'RFC8482', os: '' } }]);
  t.equal(any.answers!.length, 1);
  t.equal(decode(ask(query('nope.weft.internal', 'ANY'))).rcode, 'NXDOMAIN');
});

t.test('answers rotate', async (t) => {
  const { ask } = setup();
  const firsts = new Set<string>();
  for (let i = 0; i < 6; i++) firsts.add(String(decode(ask(query('web.svc.weft.internal', 'A'))).answers![0].data));
  t.same([...firsts].sort(), ['10.1.0.1', '10.1.0.2', '10.1.0.3'], 'each address comes first in turn');
});

t.test('EDNS: payload size honoured, 512 without EDNS, TC when it does not fit, whole over TCP', async (t) => {
  const { s, ask, zone } = setup();
  for (let i = 0; i < 60; i++) s.put(`svc/big/n1/e${i}`, endpoint('big', [`10.9.0.${i + 1}`]));
  t.equal(zone.get('\x03big\x03svc\x04weft\x08internal\x00')!.records, 60);

  const noEdns = decode(ask(query('big.svc.weft.internal', 'A', { edns: false })));
  t.ok(noEdns.flag_tc, 'no EDNS: 60 A records do not fit 512 bytes');
  // 12 header + 27 question, then 16 bytes per A record: 29 whole ones fit 512.
  t.equal(
    noEdns.answers!.length,
    29,
    'as many whole records as fit, for clients that never retry over TCP (musl < 1.2.4)',
  );
  t.equal(noEdns.additionals!.length, 0, 'and no OPT without EDNS');

  const small = ask(query('big.svc.weft.internal', 'A', { edns: 1232 }))!;
  const d = decode(small);
  t.notOk(d.flag_tc, '60 A records fit in 1232');
  t.equal(d.answers!.length, 60);
  t.match(d.additionals, [{ type: 'OPT', udpPayloadSize: 1232 }], 'our OPT says what we send');

  t.ok(decode(ask(query('big.svc.weft.internal', 'A', { edns: 600 }))).flag_tc, 'a client offering 600 bytes gets TC');
  t.ok(
    decode(ask(query('big.svc.weft.internal', 'A', { edns: 100 }))).flag_tc,
    'a client offering under 512 is held to 512',
  );
  const offered = decode(ask(query('web.svc.weft.internal', 'A', { edns: 100 })));
  t.notOk(offered.flag_tc, 'a small answer fits whatever was offered');

  const srv = ask(query('big.svc.weft.internal', 'A', { edns: 65000 }))!;
  t.ok(srv.length <= 1232, 'a client offering 65000 still gets at most our maximum');

  const tcp = decode(ask(query('big.svc.weft.internal', 'A', { edns: false }), true));
  t.notOk(tcp.flag_tc);
  t.equal(tcp.answers!.length, 60, 'TCP carries the whole answer');

  // Every size a client may offer gets a well-formed answer of whole records, never over the size.
  for (let size = 512; size <= 1232; size += 7) {
    const b = ask(query('big.svc.weft.internal', 'A', { edns: size }))!;
    const d = decode(b);
    if (
      b.length > size ||
      d.answers.length !== Math.min(60, Math.floor((size - 39 - 11) / 16)) ||
      d.flag_tc !== d.answers.length < 60
    ) {
      t.fail(`EDNS ${size}: ${b.length} bytes, ${d.answers.length} records, tc ${d.flag_tc}`);
      break;
    }
  }

  const doBit = decode(ask(query('web.svc.weft.internal', 'A', { dnssecOk: true })));
  t.match(doBit.additionals, [{ type: 'OPT', flag_do: true }], 'DO is copied back (RFC 3225)');
});

t.test('errors: NOTIMP, FORMERR, REFUSED, BADVERS; responses are dropped', async (t) => {
  const { ask, stats } = setup();
  const notify = query('weft.internal', 'SOA');
  notify[2] |= 4 << 3; // opcode NOTIFY
  const n = decode(ask(notify));
  t.equal(n.rcode, 'NOTIMP');
  t.equal(n.id, 4242);

  const two = dnsPacket.encode({
    type: 'query',
    id: 7,
    questions: [
      { type: 'A', name: 'a.weft.internal' },
      { type: 'A', name: 'b.weft.internal' },
    ],
  });
  t.equal(decode(ask(two)).rcode, 'FORMERR', 'qdcount 2');
  const zero = dnsPacket.encode({ type: 'query', id: 7, questions: [] });
  const z = decode(ask(zero));
  t.equal(z.rcode, 'FORMERR', 'qdcount 0');
  t.equal(z.id, 7);

  t.equal(decode(ask(query('x.example', 'A'))).rcode, 'REFUSED', 'outside the zone without a forwarder');
  t.equal(decode(ask(query('web.svc.weft.internal', 'A', { class: 'CH' }))).rcode, 'REFUSED', 'class CH');
  t.equal(decode(ask(query('weft.internal', 252))).rcode, 'NOTIMP', 'AXFR');
  t.equal(decode(ask(query('weft.internal', 251))).rcode, 'NOTIMP', 'IXFR');
  t.equal(decode(ask(query('weft.internal', 41))).rcode, 'FORMERR', 'qtype OPT');

  const v1 = query('web.svc.weft.internal', 'A');
  v1[v1.length - 5] = 1; // EDNS version 1 (OPT: name, type, class, ext rcode, version, flags, rdlen)
  const bad = ask(v1)!;
  const bv = decode(bad);
  t.equal(bv.answers!.length, 0);
  const opt = bv.additionals!.find((x) => x.type === 'OPT') as { extendedRcode: number } | undefined;
  t.equal(((opt?.extendedRcode ?? 0) << 4) | (bad[3] & 0xf), 16, 'BADVERS (16) in the extended rcode');

  const resp = query('web.svc.weft.internal', 'A');
  resp[2] |= 0x80;
  t.equal(ask(resp), undefined, 'a response is never answered');
  t.equal(ask(Buffer.alloc(5)), undefined, 'nor a runt');
  t.equal(stats.malformed.response, 1);
  t.equal(stats.malformed.short, 1);
  t.equal(stats.malformed.qdcount, 2);
  t.equal(stats.count('A', 'REFUSED'), 2);
});

t.test('answers follow the store: a change is visible on the next query', async (t) => {
  const { s, ask } = setup();
  t.equal(decode(ask(query('web.svc.weft.internal', 'A'))).answers!.length, 3);
  s.put('svc/web/n1/d', endpoint('web', ['10.1.0.4']));
  t.equal(decode(ask(query('web.svc.weft.internal', 'A'))).answers!.length, 4);
  for (const id of ['a', 'b', 'c', 'd']) s.delete(`svc/web/n1/${id}`);
  t.equal(decode(ask(query('web.svc.weft.internal', 'A'))).rcode, 'NXDOMAIN');
});

t.test('truncation keeps whole records: SRV answers first, additional addresses dropped without TC', async (t) => {
  const { s, ask } = setup();
  const n = 12;
  for (let i = 0; i < n; i++)
    s.put(
      `svc/wide/n1/e${i}`,
      endpoint('wide', [`10.8.0.${i + 1}`, `fd00::8:${i + 1}`], { ports: { http: { port: 8000 + i, proto: 'tcp' } } }),
    );
  const full = decode(ask(query('_http._tcp.wide.svc.weft.internal', 'SRV'), true));
  t.equal(full.answers.length, n);
  t.equal(full.additionals.filter((x) => x.type !== 'OPT').length, 2 * n, "TCP: every target's two addresses");
  let answersOnly = 0;
  for (let size = 512; size <= 1232; size += 8) {
    const b = ask(query('_http._tcp.wide.svc.weft.internal', 'SRV', { edns: size }))!;
    const d = decode(b);
    const extra = d.additionals.filter((x) => x.type !== 'OPT');
    if (
      b.length > size ||
      d.flag_tc !== d.answers.length < n ||
      (d.answers.length < n && extra.length > 0) ||
      d.additionals.at(-1)?.type !== 'OPT'
    ) {
      t.fail(`EDNS ${size}: ${b.length} bytes, ${d.answers.length} SRV, ${extra.length} addresses, tc ${d.flag_tc}`);
      break;
    }
    if (d.answers.length === n && extra.length < 2 * n) answersOnly++;
  }
  t.ok(answersOnly > 0, `${answersOnly} sizes carry every SRV and only part of the addresses, without TC (RFC 2181 9)`);
  const plain = decode(ask(query('_http._tcp.wide.svc.weft.internal', 'SRV', { edns: false })));
  t.ok(plain.flag_tc && plain.answers.length > 0, `no EDNS: ${plain.answers.length} whole SRV records and TC`);
});

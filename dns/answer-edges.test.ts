// Edges of the responder (issue 18, Stryker survivors in dns/answer.ts): header bits copied or
// not, the UDP size a client gets (offer, our maximum, the server's cap, TCP), negative answers
// cut to fit, errors without a question, what a forwarded query carries, and the counters.
import t from 'tap';
import { Responder, wholeRecords } from './answer.js';
import { Forwarder, type ClientQuery } from './forwarder.js';
import { parseUpstream } from './resolv-conf.js';
import { DnsStats } from './stats.js';
import { Zone } from './zone.js';
import { decode, endpoint, newStore, query, type QueryOpts } from '../test/helpers/dns.js';

/** A real forwarder (its upstream queries stay in its outbox) that keeps what the responder handed it. */
class SeenForwarder extends Forwarder<number> {
  readonly seen: ClientQuery<number>[] = [];
  constructor(stats: DnsStats) {
    super({ upstreams: [parseUpstream('127.0.0.1:1')] }, stats);
  }
  override query(now: number, cq: ClientQuery<number>) {
    this.seen.push(cq);
    return super.query(now, cq);
  }
}

function zone(records = 3): Zone {
  const s = newStore('n1');
  s.put('node/n1', { addr: '10.0.0.1' });
  for (let i = 0; i < records; i++) s.put(`svc/web/n1/e${i}`, endpoint('web', [`10.1.0.${i + 1}`]));
  const z = new Zone({ nodeName: 'n1' });
  z.attach(s);
  return z;
}

const WEB = 'web.svc.weft.internal';
const ask = (r: Responder<number>, name: string, type: Parameters<typeof query>[1], o: QueryOpts = {}, cap = 0) =>
  r.handle(query(name, type, o), false, cap);
const optOf = (b: Buffer | undefined) => decode(b).additionals.find((x) => x.type === 'OPT');

t.test('wholeRecords counts the records that end within the room', async (t) => {
  const ends = Uint32Array.from([10, 20, 30]);
  t.same(
    [0, 9, 10, 11, 19, 20, 29, 30, 31, 1000].map((room) => wholeRecords(ends, room)),
    [0, 0, 1, 1, 1, 2, 2, 3, 3, 3],
  );
  t.equal(wholeRecords(new Uint32Array(0), 100), 0);
  t.equal(wholeRecords(Uint32Array.from([5, 6, 7, 8, 9, 10, 11, 12]), 8), 4);
});

t.test('the header: QR, the query opcode, RD and CD copied, AD and others not, RA only when forwarding', async (t) => {
  const r = new Responder<number>(zone());
  const q = query(WEB, 'A', { rd: false });
  q[3] |= 0x10 | 0x20; // CD and AD
  const out = r.handle(q, false)!;
  t.equal(out.readUInt16BE(2), 0x8000 | 0x0400 | 0x0010, 'QR, AA, CD; no RD (not asked), no AD, no RA');
  t.same([out.readUInt16BE(0), out.readUInt16BE(4)], [4242, 1], 'id and one question');
  const rd = r.handle(query(WEB, 'A'), false)!;
  t.equal(rd.readUInt16BE(2), 0x8000 | 0x0400 | 0x0100, 'RD copied');

  const notify = query(WEB, 'SOA');
  notify[2] = (notify[2] & ~0x78) | (4 << 3);
  const n = r.handle(notify, false)!;
  t.equal((n[2] >> 3) & 0xf, 4, 'the opcode comes back');
  t.equal(n[3] & 0xf, 4, 'NOTIMP');

  const fwd = new Responder<number>(zone(), new DnsStats(), new SeenForwarder(new DnsStats()));
  t.equal(fwd.handle(query(WEB, 'A'), false)!.readUInt16BE(2) & 0x0080, 0x0080, 'with a forwarder: RA');
  const elsewhere = new Responder<number>(zone(), new DnsStats(), undefined, { forwardsElsewhere: true });
  t.equal(elsewhere.handle(query(WEB, 'A'), false)!.readUInt16BE(2) & 0x0080, 0x0080, 'forwarding elsewhere: RA');
  t.equal(r.handle(query('nope.weft.internal', 'A'), false)!.readUInt16BE(2) & 0x0080, 0, 'neither: no RA');
});

t.test('our EDNS payload size: the option, held between 512 and 65535', async (t) => {
  for (const [given, want] of [
    [undefined, 1232],
    [4096, 4096],
    [100, 512],
    [512, 512],
    [65535, 65535],
    [70000, 65535],
  ] as const) {
    const r = new Responder<number>(zone(), new DnsStats(), undefined, { maxUdpPayload: given });
    t.match(optOf(ask(r, WEB, 'A')), { udpPayloadSize: want }, `maxUdpPayload ${given}: ${want}`);
  }
  // 100 A records: 12 + 27 + 16 * 100 + 11 bytes.
  const big = new Responder<number>(zone(100), new DnsStats(), undefined, { maxUdpPayload: 4096 });
  t.notOk(decode(ask(big, WEB, 'A', { edns: 4096 })).flag_tc, 'a client offering 4096 gets all of it');
  t.equal(ask(big, WEB, 'A', { edns: 1650 })!.length, 1650, '1650 bytes is exactly all');
  t.notOk(decode(ask(big, WEB, 'A', { edns: 1650 })).flag_tc, 'so a client offering 1650 gets it whole');
  t.ok(decode(ask(big, WEB, 'A', { edns: 1649 })).flag_tc, 'and one offering 1649 does not');
});

t.test("the server's UDP cap wins over the client's offer; TCP ignores it", async (t) => {
  const r = new Responder<number>(zone(20));
  const full = ask(r, WEB, 'A')!;
  t.equal(full.length, 12 + 27 + 16 * 20 + 11);
  t.equal(decode(full).answers.length, 20);
  const capped = ask(r, WEB, 'A', {}, 200);
  t.ok(capped!.length <= 200, 'at most the cap');
  t.equal(decode(capped).answers.length, Math.floor((200 - 39 - 11) / 16));
  t.ok(decode(capped).flag_tc);
  t.equal(decode(ask(r, WEB, 'A', {}, 2000)).answers.length, 20, 'a cap above the offer changes nothing');
  t.equal(decode(ask(r, WEB, 'A', { edns: false }, 300)).answers.length, Math.floor((300 - 39) / 16));
  const tcp = decode(r.handle(query(WEB, 'A'), true, 100));
  t.same([tcp.answers.length, tcp.flag_tc], [20, false], 'TCP: the whole answer');
});

t.test('a negative answer cut to fit: TC, no SOA, counts that match', async (t) => {
  const r = new Responder<number>(zone());
  for (const [name, rcode] of [
    ['nope.weft.internal', 'NXDOMAIN'],
    [WEB, 'NOERROR'],
  ] as const) {
    const type = rcode === 'NOERROR' ? 'TXT' : 'A';
    const whole = decode(ask(r, name, type));
    t.equal(whole.authorities.length, 1, `${name}: the SOA when it fits`);
    t.notOk(whole.flag_tc);
    const cut = ask(r, name, type, {}, 80)!;
    const d = decode(cut);
    t.same(
      [d.rcode, d.flag_tc, d.flag_aa, d.answers.length, d.authorities.length],
      [rcode, true, true, 0, 0],
      `${name}: TC and no SOA under an 80-byte cap`,
    );
    t.equal(cut.length, 12 + name.length + 2 + 4 + 11, 'header, question and OPT only');
    t.match(d.additionals, [{ type: 'OPT' }]);
    const plain = decode(ask(r, name, type, { edns: false }, 60));
    t.same([plain.flag_tc, plain.authorities.length, plain.additionals.length], [true, 0, 0], 'without EDNS too');
  }
  const nx = decode(ask(r, 'Deep.Nope.Weft.Internal', 'A'));
  t.match(nx.authorities, [{ name: 'Weft.Internal', type: 'SOA', ttl: 5 }], 'the SOA owner points at the domain');
  t.match(optOf(ask(r, 'nope.weft.internal', 'A', { dnssecOk: true })), { flag_do: true, extendedRcode: 0 });
});

t.test('errors: no question, EDNS on errors, and which qtypes are not implemented', async (t) => {
  const stats = new DnsStats();
  const r = new Responder<number>(zone(), stats);
  const none = Buffer.from([0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const out = r.handle(none, false)!;
  t.same([...out], [0, 9, 0x81, 1, 0, 0, 0, 0, 0, 0, 0, 0], 'FORMERR: the header alone, no question counted');
  t.equal(stats.malformed.qdcount, 1);

  const refused = ask(r, 'x.example', 'A', { dnssecOk: true })!;
  const d = decode(refused);
  t.same([d.rcode, d.questions[0].name, d.answers.length], ['REFUSED', 'x.example', 0]);
  t.match(d.additionals, [{ type: 'OPT', udpPayloadSize: 1232, flag_do: true }], 'OPT on an error too');
  t.equal(refused.readUInt16BE(10), 1);
  t.equal(decode(ask(r, 'x.example', 'A', { edns: false })).additionals.length, 0);

  for (const qtype of [253, 254]) t.equal(decode(ask(r, WEB, qtype)).rcode, 'NOTIMP', `qtype ${qtype}`);
  t.equal(decode(ask(r, 'nope.weft.internal', 'A', { class: 'CH' })).rcode, 'REFUSED', 'no such name, class CH');
  t.equal(decode(ask(r, WEB, 'A', { class: 'ANY' })).rcode, 'REFUSED', 'class ANY');
  t.equal(decode(ask(r, '1.0.0.10.in-addr.arpa', 'PTR', { class: 'CH' })).rcode, 'REFUSED');

  const v1 = query(WEB, 'A');
  v1[v1.length - 5] = 1;
  t.equal(r.handle(v1, false)![3] & 0xf, 0, 'BADVERS: 16 leaves 0 in the header');
  t.same(decode(ask(r, WEB, 'A', { edns: false })).answers.length, 3, 'the next query without EDNS is answered');
  t.same(decode(ask(r, WEB, 'A')).answers.length, 3, 'and one with version 0');
});

t.test('reverse names: ours answered, a missing type is NODATA without our SOA, others refused', async (t) => {
  const r = new Responder<number>(zone());
  const ptr = decode(ask(r, '1.0.0.10.in-addr.arpa', 'PTR'));
  t.same([ptr.rcode, ptr.flag_aa, ptr.answers.length], ['NOERROR', true, 1]);
  const nodata = decode(ask(r, '1.0.0.10.in-addr.arpa', 'A'));
  t.same([nodata.rcode, nodata.answers.length, nodata.authorities.length], ['NOERROR', 0, 0]);
  t.equal(decode(ask(r, '9.9.9.10.in-addr.arpa', 'PTR')).rcode, 'REFUSED', 'not ours and nowhere to forward');
});

t.test('forwarding: what the forwarder is handed, and the ways out of it', async (t) => {
  const stats = new DnsStats();
  const fwd = new SeenForwarder(stats);
  const r = new Responder<number>(zone(), stats, fwd, { maxUdpPayload: 1400 });
  const hand = (o: QueryOpts, tcp = false, cap = 0) => {
    t.equal(r.handle(query('Out.Example', 'AAAA', o), tcp, cap), undefined);
    t.ok(r.wantsForward);
    t.equal(r.lastSource, 'upstream');
    t.equal(r.forward(7, tcp, 99), undefined, 'asked upstream: no answer yet');
    t.notOk(r.wantsForward);
    return fwd.seen.at(-1)!;
  };
  const first = hand({ edns: 1000, dnssecOk: true });
  t.match(first, { id: 4242, qtype: 28, qclass: 1, edns: true, udpSize: 1000, dnssecOk: true, client: 99, at: 7 });
  t.equal(first.key, '\x03out\x07example\x00', 'lowercased key');
  t.equal(first.question.toString('latin1'), '\x03Out\x07Example\x00\x00\x1c\x00\x01', 'the question as asked');
  t.equal(first.flags & 0x0100, 0x0100);
  t.match(hand({ edns: false }), { edns: false, udpSize: 512, dnssecOk: false }, 'no EDNS: 512, and no DO');
  t.match(hand({ edns: 100 }), { udpSize: 512 }, 'an offer under 512');
  t.match(hand({ edns: 9000 }), { udpSize: 1400 }, 'an offer over our maximum');
  t.match(hand({ edns: 1000 }, false, 700), { udpSize: 700 }, "the server's cap");
  t.match(hand({ edns: 1000 }, false, 5000), { udpSize: 1000 }, 'a cap above the offer');
  t.match(hand({ edns: 1000 }, true, 700), { udpSize: 65535 }, 'TCP');

  r.handle(query('x.example', 'A'), false);
  const refused = decode(r.refuseForward());
  t.same([refused.rcode, refused.id, refused.questions[0].name], ['REFUSED', 4242, 'x.example']);
  t.notOk(r.wantsForward, 'refused: nothing left to forward');
  r.handle(query('x.example', 'A'), false);
  r.dropForward();
  t.notOk(r.wantsForward, 'dropped');
  r.handle(query('x.example', 'A'), false);
  t.ok(r.wantsForward);
  r.handle(query(WEB, 'A'), false);
  t.notOk(r.wantsForward, 'the next query starts afresh');
  t.equal(r.lastSource, 'zone');
});

t.test(
  "forwarded answers: an immediate one is an error's, a cached one the cache's, and both are counted",
  async (t) => {
    const stats = new DnsStats();
    const fwd = new SeenForwarder(stats);
    const r = new Responder<number>(zone(), stats, fwd);
    t.equal(r.handle(query('out.example', 'AAAA', { rd: false }), false), undefined);
    t.equal(decode(r.forward(1, false, 1)).rcode, 'REFUSED', 'no RD: refused by the forwarder at once');
    t.equal(r.lastSource, 'error');
    t.equal(stats.count('AAAA', 'REFUSED'), 1);

    r.handle(query('out.example', 'AAAA'), false);
    t.equal(r.forward(2, false, 2), undefined);
    const sent = fwd.outbox.find((o) => o.kind === 'send')!;
    t.ok(sent && sent.kind === 'send');
    if (sent.kind !== 'send') return;
    // The upstream's answer: its question as sent, then one AAAA record (60 s).
    const qEnd = sent.bytes.length - 11;
    const reply = Buffer.concat([
      sent.bytes.subarray(0, qEnd),
      Buffer.from([0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0xfd, ...Array(14).fill(0), 1]),
    ]);
    reply.writeUInt16BE(0x8180, 2);
    reply.writeUInt16BE(1, 6);
    reply.writeUInt16BE(0, 10);
    fwd.response(3, sent.upstream, false, reply, sent.id);
    t.equal(stats.count('AAAA', 'NOERROR'), 1, 'the waiting client was answered (the forwarder counts that one)');

    r.handle(query('out.example', 'AAAA'), false);
    const cached = decode(r.forward(4, false, 3));
    t.same([cached.rcode, cached.answers[0]?.data], ['NOERROR', 'fd00::1']);
    t.equal(r.lastSource, 'cache');
    t.equal(stats.count('AAAA', 'NOERROR'), 2, 'the cached answer is counted by the responder');
  },
);

t.test('forwarding elsewhere: outside names are left to the caller', async (t) => {
  const r = new Responder<number>(zone(), new DnsStats(), undefined, { forwardsElsewhere: true });
  t.equal(r.handle(query('x.example', 'A'), false), undefined);
  t.ok(r.wantsForward);
  t.equal(decode(r.refuseForward()).rcode, 'REFUSED');
});

t.test('answers and their sources are counted by type and rcode', async (t) => {
  const stats = new DnsStats();
  const r = new Responder<number>(zone(), stats);
  ask(r, WEB, 'A');
  ask(r, WEB, 'A');
  t.equal(r.lastSource, 'zone');
  ask(r, 'nope.weft.internal', 'AAAA');
  t.equal(r.lastSource, 'zone');
  ask(r, 'x.example', 'SRV');
  t.equal(r.lastSource, 'error');
  r.handle(Buffer.from([0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), false);
  t.same([stats.count('A', 'NOERROR'), stats.count('AAAA', 'NXDOMAIN'), stats.count('SRV', 'REFUSED')], [2, 1, 1]);
  t.equal(stats.count('other', 'FORMERR'), 1, 'no question: counted under other');
  r.handle(Buffer.alloc(3), false);
  t.equal(r.lastSource, 'error', 'a runt is an error too');
});

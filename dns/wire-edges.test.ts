// Edges of the hand-written wire code (issue 18, Stryker survivors in dns/wire.ts): name length
// limits to the byte, which bytes fold case, label boundaries, the parser's view of EDNS and
// of each malformed shape, address bytes, and the writer's compression and growth.
import t from 'tap';
import {
  MAX_NAME_WIRE,
  Parse,
  Query,
  Writer,
  ipv6Bytes,
  isSubdomainKey,
  labelsOf,
  nameHash,
  nameOfKey,
  parseQuery,
  queryKey,
  reverseName,
  sameName,
  skipName,
  wireKey,
} from './wire.js';

/** A query message: header (id 0x1234, RD, the counts given) then raw question and record bytes. */
function msg(body: number[], counts: { qd?: number; an?: number; ns?: number; ar?: number } = {}): Buffer {
  const { qd = 1, an = 0, ns = 0, ar = 0 } = counts;
  return Buffer.from([0x12, 0x34, 0x01, 0x00, 0, qd, 0, an, 0, ns, 0, ar, ...body]);
}
/** A name in wire form from its labels (any bytes). */
const wire = (...labels: string[]): number[] => [...labels.flatMap((l) => [l.length, ...Buffer.from(l, 'latin1')]), 0];
const A_IN = [0, 1, 0, 1];
/** An OPT record: root name, type 41, payload size, ext rcode, version, flags, rdlen 0. */
const opt = (size: number, version = 0, flagsHi = 0, name: number[] = [0]) => [
  ...name,
  0,
  41,
  size >> 8,
  size & 0xff,
  0,
  version,
  flagsHi,
  0,
  0,
  0,
];
const parse = (m: Buffer) => {
  const q = new Query();
  return { r: parseQuery(m, q), q };
};

t.test('labelsOf: 63-byte labels and 255-byte names are the limits, exactly', async (t) => {
  const l63 = 'a'.repeat(63);
  t.same(labelsOf(`${l63}.b`), [l63, 'b']);
  t.throws(() => labelsOf(`${l63}a.b`), /over-long label/);
  t.throws(() => labelsOf('a..b'), /empty/);
  // 3 labels of 63 and one of 61: 4 * 64 - 2 + 1 root = 255 bytes on the wire.
  const max = [l63, l63, l63, 'c'.repeat(61)].join('.');
  t.equal(wireKey(max).length, MAX_NAME_WIRE);
  t.equal(labelsOf(max).length, 4, 'a 255-byte name is a name');
  t.throws(() => labelsOf(max + 'c'), /longer than 255/, 'a 256-byte one is not');
  t.same(labelsOf('Web.SVC.'), ['web', 'svc'], 'lowercased, trailing dot optional');
  t.same(labelsOf('.'), []);
  t.same(labelsOf(''), []);
});

t.test('wire keys and back; a key of the root is "."', async (t) => {
  t.equal(wireKey('Ab.c.'), '\x02ab\x01c\x00');
  t.equal(wireKey('.'), '\x00');
  t.equal(nameOfKey('\x02ab\x01c\x00'), 'ab.c.');
  t.equal(nameOfKey('\x00'), '.');
  t.equal(nameOfKey(''), '.');
  t.equal(nameOfKey('\x01a\x00junk'), 'a.', 'the root byte ends the name');
});

t.test('isSubdomainKey respects label boundaries', async (t) => {
  const zone = wireKey('weft.internal');
  t.ok(isSubdomainKey(zone, zone), 'the apex itself');
  t.ok(isSubdomainKey(wireKey('a.b.weft.internal'), zone));
  t.notOk(isSubdomainKey(wireKey('internal'), zone), 'shorter');
  t.notOk(isSubdomainKey(wireKey('aweft.internal'), zone));
  // One label whose bytes end like the zone's key: the suffix matches, but not on a label boundary.
  const inside = '\x10x\x04weft\x08internal\x00';
  t.ok(inside.endsWith(zone));
  t.notOk(isSubdomainKey(inside, zone), 'the suffix must start a label');
});

t.test('only ASCII letters fold case, at both ends of the range', async (t) => {
  const key = Buffer.from(wireKey('az.weft'), 'latin1');
  t.ok(sameName(Buffer.from('\x02AZ\x04WEFT\x00', 'latin1'), 0, key), 'A and Z fold');
  t.ok(sameName(Buffer.from('\x02aZ\x04wEfT\x00', 'latin1'), 0, key));
  // '@' (0x40) and '[' (0x5b) sit just outside A-Z; folding them would give '`' and '{'.
  t.notOk(sameName(Buffer.from('\x01@\x00', 'latin1'), 0, Buffer.from('\x01`\x00', 'latin1')));
  t.notOk(sameName(Buffer.from('\x01[\x00', 'latin1'), 0, Buffer.from('\x01{\x00', 'latin1')));
  t.notOk(sameName(Buffer.from('\x02ay\x00', 'latin1'), 0, Buffer.from('\x02az\x00', 'latin1')));

  for (const [asked, want] of [
    ['\x02AZ', '\x02az'],
    ['\x01@', '\x01@'],
    ['\x01[', '\x01['],
  ]) {
    const q = new Query();
    const m = msg([...Buffer.from(asked + '\x00', 'latin1'), ...A_IN]);
    t.equal(parseQuery(m, q), Parse.Ok);
    t.equal(queryKey(m, q), want + '\x00', `key of ${JSON.stringify(asked)}`);
    t.equal(q.hash, nameHash(Buffer.from(want + '\x00', 'latin1')), `hash of ${JSON.stringify(asked)}`);
  }
});

t.test('the parser: header fields, EDNS fields, and the 255-byte name limit', async (t) => {
  const { r, q } = parse(msg([...wire('a', 'b'), 0, 28, 0, 3, ...opt(4000, 2, 0x80)], { ar: 1 }));
  t.equal(r, Parse.Ok);
  t.same(
    { id: q.id, rd: q.rd, cd: q.cd, opcode: q.opcode, qtype: q.qtype, qclass: q.qclass, nameLen: q.nameLen },
    { id: 0x1234, rd: true, cd: false, opcode: 0, qtype: 28, qclass: 3, nameLen: 5 },
  );
  t.same(
    { edns: q.edns, udpSize: q.udpSize, ednsVersion: q.ednsVersion, dnssecOk: q.dnssecOk, qEnd: q.qEnd },
    {
      edns: true,
      udpSize: 4000,
      ednsVersion: 2,
      dnssecOk: true,
      qEnd: 12 + 5 + 4,
    },
  );
  const cd = msg([...wire('a'), ...A_IN]);
  cd[3] = 0x10;
  cd[2] = 5 << 3; // opcode 5, RD clear
  const p = parse(cd);
  t.same(
    { rd: p.q.rd, cd: p.q.cd, opcode: p.q.opcode, edns: p.q.edns },
    { rd: false, cd: true, opcode: 5, edns: false },
  );
  t.notOk(parse(msg([...wire('a'), ...A_IN, ...opt(512, 0, 0x7f)], { ar: 1 })).q.dnssecOk, 'DO is the top bit only');

  const reused = new Query();
  parseQuery(msg([...wire('a'), ...A_IN, ...opt(4000, 1, 0x80)], { ar: 1 }), reused);
  parseQuery(msg([...wire('a'), ...A_IN]), reused);
  t.same(
    [reused.edns, reused.udpSize, reused.ednsVersion, reused.dnssecOk],
    [false, 0, 0, false],
    "a reused Query keeps nothing of the last query's EDNS",
  );

  const l63 = 'a'.repeat(63);
  // 63+63+63+61 with their length bytes and the root: 255 bytes, the most a name may have.
  const longest = wire(l63, l63, l63, 'c'.repeat(61));
  t.equal(longest.length, MAX_NAME_WIRE);
  const ok = parse(msg([...longest, ...A_IN]));
  t.equal(ok.r, Parse.Ok, 'a 255-byte name parses');
  t.equal(ok.q.nameLen, 255);
  const over = parse(msg([...wire(l63, l63, l63, 'c'.repeat(62)), ...A_IN]));
  t.same([over.r, over.q.bad], [Parse.FormErr, 'bad_name'], 'a 256-byte name does not');
});

t.test('the parser names each malformed shape', async (t) => {
  const q = [...wire('a'), ...A_IN];
  const cases: [string, Buffer, string][] = [
    ['qdcount 0', msg([], { qd: 0 }), 'qdcount'],
    ['label type 01', msg([0x41, 0x61, 0, ...A_IN]), 'bad_name'],
    ['label type 10', msg([0x81, 0x61, 0, ...A_IN]), 'bad_name'],
    ['pointer in the question', msg([0xc0, 0x0c, ...A_IN]), 'compressed_question'],
    ['name runs off the end', msg([5, 0x61]), 'truncated'],
    ['no root byte', msg([1, 0x61]), 'truncated'],
    ['type and class cut', msg([...wire('a'), 0, 1, 0]), 'truncated'],
    ['record name cut', msg([...q, 1], { an: 1 }), 'truncated'],
    ['record fixed part cut', msg([...q, 0, 0, 1, 0, 1, 0, 0, 0, 0], { an: 1 }), 'truncated'],
    ['rdata cut', msg([...q, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3], { an: 1 }), 'truncated'],
    ['forward pointer in a record', msg([...q, 0xc0, 0x30, ...A_IN, 0, 0, 0, 0, 0, 0], { an: 1 }), 'bad_rr'],
    ['label type 01 in a record', msg([...q, 0x40, ...A_IN, 0, 0, 0, 0, 0, 0], { an: 1 }), 'bad_rr'],
    ['OPT in the answer section', msg([...q, ...opt(1232)], { an: 1 }), 'bad_opt'],
    ['OPT in the authority section', msg([...q, ...opt(1232)], { ns: 1 }), 'bad_opt'],
    ['OPT with a name', msg([...q, ...opt(1232, 0, 0, wire('x'))], { ar: 1 }), 'bad_opt'],
    ['OPT named by a pointer', msg([...q, ...opt(1232, 0, 0, [0xc0, 0x0e])], { ar: 1 }), 'bad_opt'],
    ['two OPTs', msg([...q, ...opt(1232), ...opt(1232)], { ar: 2 }), 'multiple_opt'],
  ];
  for (const [what, m, bad] of cases) {
    const p = parse(m);
    t.same([p.r, p.q.bad], [Parse.FormErr, bad], what);
  }
  const pointer = parse(msg([...q, 0xc0, 0x0c, ...A_IN, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4], { an: 1 }));
  t.same([pointer.r, pointer.q.bad], [Parse.Ok, undefined], 'a record named by a pointer back to the question');
  const trailing = parse(msg([...q, 9, 9, 9]));
  t.equal(trailing.r, Parse.Ok, 'trailing bytes are tolerated');
  const runt = parse(Buffer.alloc(11));
  t.same([runt.r, runt.q.bad], [Parse.Drop, 'short']);
  t.equal(parse(Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1])).r, Parse.Ok, '12 bytes is a header');
});

t.test('skipName: lengths, pointers and the 255-byte bound', async (t) => {
  const b = Buffer.from([...wire('ab'), 0xc0, 0x00, 0xc0, 0x06, 0xc0, 0x0b, 0xc0]);
  t.equal(skipName(b, 0), 4);
  t.equal(skipName(b, 4), 6, 'a pointer back ends the name');
  t.equal(skipName(b, 6), -1, 'a pointer at itself is malformed');
  t.equal(skipName(b, 8), -1, 'so is one forward');
  t.equal(skipName(b, 10), -2, 'a pointer cut in half: the message ended');
  t.equal(skipName(b, 11), -2);
  t.equal(skipName(Buffer.from([...wire('ab'), 0xc0, 0]), 4), 6, 'a pointer that ends the message');
  // 63+63+63+62 label bytes with their lengths: 256 bytes before the root, one too many.
  const over = Buffer.from(wire('x'.repeat(63), 'x'.repeat(63), 'x'.repeat(63), 'x'.repeat(62)));
  t.equal(skipName(over, 0), -1);
  // 4 labels of 63: 256 bytes before the root.
  const long = Buffer.from(wire(...Array(4).fill('x'.repeat(63))));
  t.equal(skipName(long, 0), -1);
  const most = Buffer.from(wire('x'.repeat(63), 'x'.repeat(63), 'x'.repeat(63), 'x'.repeat(61)));
  t.equal(skipName(most, 0), 255, 'a 255-byte name is skipped whole');
  t.equal(skipName(Buffer.from([0x80, 0]), 0), -1, 'label type 10');
});

t.test('IPv6 address bytes and reverse names', async (t) => {
  const hex = (a: string) => Buffer.from(ipv6Bytes(a)).toString('hex');
  t.equal(hex('fd00::1'), 'fd000000000000000000000000000001');
  t.equal(hex('::1'), '00000000000000000000000000000001');
  t.equal(hex('1::'), '00010000000000000000000000000000');
  t.equal(hex('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
  t.equal(hex('fe80::1%eth0'), 'fe800000000000000000000000000001', 'a zone id is not part of the address');
  t.equal(hex('::ffff:10.1.2.3'), '00000000000000000000ffff0a010203', 'an embedded IPv4 is the last 4 bytes');
  t.equal(hex('64:ff9b::192.0.2.1'), '0064ff9b0000000000000000c0000201');
  t.equal(reverseName('10.1.2.3', 4), '3.2.1.10.in-addr.arpa.');
  t.equal(reverseName('::ffff:10.1.2.3', 6), `3.0.2.0.1.0.a.0.f.f.f.f.${'0.'.repeat(20)}ip6.arpa.`);
});

t.test('the writer: names compress against the question and earlier names, and it grows', async (t) => {
  const w = new Writer(30, 'Web.Svc.Weft');
  w.name('svc.weft');
  t.same([...w.done()], [0xc0, 12 + 4], 'a suffix of the question is a pointer into it');
  w.name('x.other');
  const at = 30 + 2;
  t.same([...w.done().subarray(2)], [1, 0x78, 5, ...Buffer.from('other'), 0]);
  w.name('y.x.other');
  t.same([...w.done().subarray(11)], [1, 0x79, 0xc0, at], 'a later name points at an earlier one');
  w.name('srv.x.other', false);
  t.same([...w.done().subarray(15, 20)], [3, 0x73, 0x72, 0x76, 1], 'not compressed: written whole');
  t.equal(w.done().length, 15 + 4 + 2 + 6 + 1);
  w.name('x.other');
  t.same([...w.done().subarray(-2)], [0xc0, at], 'an uncompressed name does not move where its suffixes point');

  const big = new Writer(0);
  for (let i = 0; i < 300; i++) big.u32(0x01020304);
  big.u16(0xabcd);
  big.bytes([7, 8]);
  const out = big.done();
  t.equal(out.length, 1204, 'past the first 512 bytes');
  t.equal(out.readUInt32BE(1196), 0x01020304);
  t.same([...out.subarray(1200)], [0xab, 0xcd, 7, 8]);
  const one = new Writer(0);
  one.bytes(Buffer.alloc(700, 1));
  one.u8(9);
  t.same([one.done().length, one.done()[700]], [701, 9], 'a single write bigger than twice the buffer');

  const far = new Writer(0x3ff0);
  far.name('aaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  far.name('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  far.name('aaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  const f = far.done();
  t.same([...f.subarray(40, 42)], [0xc0 | 0x3f, 0xf5], 'a name still within pointer range is pointed at');
  t.same([...f.subarray(42, 44)], [0xc0 | 0x3f, 0xf0]);

  const past = new Writer(0x4000);
  past.name('a.b');
  past.name('a.b');
  t.same([...past.done()], [...wire('a', 'b'), ...wire('a', 'b')], 'past pointer range: nothing to point at');

  const rr = new Writer(0);
  const len = rr.rrHead('a', 1, 300);
  rr.bytes([10, 0, 0, 1]);
  rr.rdEnd(len);
  t.same([...rr.done()], [1, 0x61, 0, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 10, 0, 0, 1]);
});

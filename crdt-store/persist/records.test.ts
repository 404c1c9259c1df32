// The record framing on its own, case by case: each reason reading stops, and when bad
// bytes count as a torn tail (nothing good after them) rather than damage.
import t from 'tap';
import { crc32 } from 'node:zlib';
import { HEADER_BYTES, MAX_RECORD_BYTES, fileHeader, frameRecord, scanRecords } from './records.js';

const MAGIC = 'TESTLOG1';
const header = Buffer.from(fileHeader(MAGIC));
const rec = (text: string) => Buffer.from(frameRecord(Buffer.from(text)));
const file = (...parts: Uint8Array[]) => Buffer.concat([header, ...parts]);
const texts = (r: { records: Uint8Array[] }) => r.records.map((p) => Buffer.from(p).toString());
/** A frame header claiming `len` bytes with checksum `crc`. */
const frame = (len: number, crc: number) => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(len, 0);
  b.writeUInt32LE(crc, 4);
  return b;
};

t.test('fileHeader and frameRecord lay bytes out as documented', async (t) => {
  t.equal(HEADER_BYTES, 8);
  t.same([...header], [...Buffer.from(MAGIC, 'latin1')]);
  t.throws(() => fileHeader('SHORT'), RangeError);
  t.throws(() => fileHeader('TOOLONGMAGIC'), RangeError);
  const r = rec('hello');
  t.equal(r.length, 8 + 5);
  t.equal(r.readUInt32LE(0), 5);
  t.equal(r.readUInt32LE(4), crc32(Buffer.from('hello')));
  t.equal(r.subarray(8).toString(), 'hello');
  t.equal(MAX_RECORD_BYTES, 256 * 1024 * 1024);
});

t.test('a whole file: every record, in order, all bytes good', async (t) => {
  const bytes = file(rec('a'), rec('bb'), rec('ccc'));
  const r = scanRecords(bytes, MAGIC);
  t.same(texts(r), ['a', 'bb', 'ccc']);
  t.equal(r.goodBytes, bytes.length);
  t.equal(r.stop, undefined);
  const headerOnly = scanRecords(header, MAGIC);
  t.same(headerOnly, { records: [], goodBytes: HEADER_BYTES, stop: undefined });
});

t.test('a view into a larger buffer is read at its own offset', async (t) => {
  const inner = file(rec('x'));
  const outer = Buffer.concat([Buffer.from('garbage!'), inner, Buffer.from('tail')]);
  const r = scanRecords(outer.subarray(8, 8 + inner.length), MAGIC);
  t.same(texts(r), ['x']);
  t.equal(r.stop, undefined);
});

t.test('empty and short files', async (t) => {
  t.same(
    scanRecords(new Uint8Array(0), MAGIC),
    { records: [], goodBytes: 0, stop: undefined },
    'empty: nothing, no problem',
  );
  t.same(scanRecords(header.subarray(0, 7), MAGIC), {
    records: [],
    goodBytes: 0,
    stop: { offset: 0, reason: 'file shorter than its header', tornTail: true },
  });
  t.same(scanRecords(Buffer.from('OTHERLOG'), MAGIC), {
    records: [],
    goodBytes: 0,
    stop: { offset: 0, reason: 'not a TESTLOG1 file (bad header)', tornTail: false },
  });
});

t.test('each reason to stop, at the offset of the first bad record', async (t) => {
  const good = rec('good');
  const at = HEADER_BYTES + good.length;
  const cases: [string, Buffer, string][] = [
    ['cut in a frame header', file(good, rec('next').subarray(0, 7)), 'file ends inside a record header'],
    ['cut in a payload', file(good, rec('next').subarray(0, 10)), 'file ends inside a record'],
    [
      'a length no record has',
      file(good, frame(MAX_RECORD_BYTES + 1, 0)),
      `record length ${MAX_RECORD_BYTES + 1} is impossible`,
    ],
    ['the largest length, past the end', file(good, frame(MAX_RECORD_BYTES, 0)), 'file ends inside a record'],
    ['a bad checksum', file(good, frame(4, 1), Buffer.from('next')), 'checksum mismatch'],
    ['an empty record', file(good, frame(0, crc32(Buffer.alloc(0)))), 'empty record'],
  ];
  for (const [what, bytes, reason] of cases) {
    const r = scanRecords(bytes, MAGIC);
    t.same(texts(r), ['good'], `${what}: the records before it`);
    t.equal(r.goodBytes, at, `${what}: good bytes end before it`);
    t.same(r.stop, { offset: at, reason, tornTail: true }, `${what}: nothing good after it`);
  }
});

t.test('bad bytes followed by a good record are damage, not a torn tail', async (t) => {
  const good = rec('good');
  for (const [what, bad] of [
    ['a flipped checksum', Buffer.concat([frame(4, 1), Buffer.from('next')])],
    ['garbage', Buffer.from('\x01\x02\x03\x04\x05\x06\x07\x08\x09')],
    ['zeros', Buffer.alloc(16)],
  ] as const) {
    const r = scanRecords(file(good, bad, rec('later')), MAGIC);
    t.same(texts(r), ['good'], what);
    t.equal(r.stop?.tornTail, false, `${what}: a good record follows`);
    const tail = scanRecords(file(good, bad), MAGIC);
    t.equal(tail.stop?.tornTail, true, `${what}: at the end, a torn tail`);
  }
});

t.test('a later record found at any offset, including one byte past the bad one', async (t) => {
  // The bad frame is followed directly by a good record: the search starts at offset + 1
  // and walks byte by byte, so it finds the good one 8 bytes on.
  const bad = frame(MAX_RECORD_BYTES + 1, 0);
  const r = scanRecords(file(bad, rec('z')), MAGIC);
  t.same(r.records, []);
  t.equal(r.stop?.tornTail, false);
  // A record that would end exactly at the end of the file counts; one byte short does not.
  const later = rec('end');
  const exact = scanRecords(file(Buffer.from([0xff]), later), MAGIC);
  t.equal(exact.stop?.tornTail, false);
  const short = scanRecords(file(Buffer.from([0xff]), later.subarray(0, later.length - 1)), MAGIC);
  t.equal(short.stop?.tornTail, true);
});

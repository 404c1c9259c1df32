// The search for a good record after bad bytes has a budget (64 MiB of checksummed bytes):
// within it, bad bytes with nothing good after them are a torn tail; past it, the search
// gives up and calls them damage, which keeps a copy and reports loudly rather than
// dropping good records quietly.
import t from 'tap';
import { fileHeader, scanRecords } from './records.js';

const MAGIC = 'TESTLOG1';
const SIZE = 8 * 1024 * 1024 + 1000;

/**
 * A file whose first record has an impossible length, then `candidates` places that each
 * look like the frame of a record running to the very end of the file (about 8 MiB to
 * checksum each, none of them right), and 0xff everywhere else (lengths too large to try).
 */
function badTail(candidates: number): Buffer {
  const buf = Buffer.alloc(SIZE, 0xff);
  Buffer.from(fileHeader(MAGIC)).copy(buf, 0);
  for (let i = 0; i < candidates; i++) {
    const p = 32 + 16 * i;
    buf.writeUInt32LE(SIZE - p - 8, p);
  }
  return buf;
}

t.test('bad bytes checked in full within the budget: nothing good after them, a torn tail', async (t) => {
  const r = scanRecords(badTail(7), MAGIC); // 7 x 8 MiB = 56 MiB of checksums
  t.equal(r.stop?.offset, 8);
  t.match(r.stop?.reason, /record length \d+ is impossible/);
  t.equal(r.stop?.tornTail, true);
});

t.test('past the budget the search stops and calls the bytes damage', async (t) => {
  const r = scanRecords(badTail(9), MAGIC); // 9 x 8 MiB = 72 MiB: more than the search may spend
  t.equal(r.stop?.offset, 8);
  t.equal(r.stop?.tornTail, false);
});

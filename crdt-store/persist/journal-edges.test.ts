// The journal at its edges, on the real files: what start-up keeps from records that are
// checksummed but do not read as records, which epoch of a document wins on replay, the
// own epoch that survives a compaction without the own document, exactly when the log
// is compacted and written, and what each kind of damage says. (journal.test.ts covers
// the same through a whole store; this file drives the Journal itself, byte for byte.)
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { FsStoreFiles } from './files.js';
import { Journal, LOG_FILE, SNAPSHOT_FILE, StoreFileError } from './journal.js';
import { HEADER_BYTES, fileHeader, frameRecord } from './records.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const rec = (v: unknown) => Buffer.from(frameRecord(packr.pack(v)));
const bytes = (...b: number[]) => new Uint8Array(b);
const OWN = 'n/n1';

/** A Journal over `dir` (name n1), closed by the test's teardown unless closed before. */
function journalOf(t: Test, dir: string, opts: Record<string, number> = {}) {
  const files = new FsStoreFiles(dir);
  const j = new Journal(files, { name: 'n1', ...opts });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    j.close();
  };
  t.teardown(close);
  return { j, files, close };
}

/** Reopens `dir` and returns what start-up found. */
function reopen(t: Test, dir: string) {
  const { j, close } = journalOf(t, dir);
  const out = { docs: j.loaded.docs, maxEpoch: j.loaded.maxEpoch, problems: j.problems };
  close();
  return out;
}

const plain = (docs: { docId: string; epoch: number; chunks: Uint8Array[] }[]) =>
  docs.map((d) => ({ docId: d.docId, epoch: d.epoch, chunks: d.chunks.map((c) => [...c]) }));

t.test('replay: a newer epoch replaces a document, an older one is skipped, a drop forgets it', async (t) => {
  const dir = t.testdir();
  const { j, close } = journalOf(t, dir);
  j.chunk('n/b', 5, bytes(1));
  j.chunk('n/b', 4, bytes(2)); // an older epoch, written late (a slow repair): not part of epoch 5
  j.chunk('n/b', 5, bytes(3));
  j.chunk('s/3', 1, bytes(4));
  j.chunk('n/c', 2, bytes(5));
  j.drop('n/c');
  j.chunk('n/c', 1, bytes(6)); // after a drop any epoch starts afresh
  j.chunk('n/d', 1, bytes(7));
  j.chunk('n/d', 2, bytes(8)); // a new epoch: the old one's chunks are gone
  j.chunk(OWN, 7, bytes(9));
  j.chunk(OWN, 3, bytes(10));
  j.chunk('n/b', 99, new Uint8Array(0)); // nothing to write: no record at all
  close();
  const back = reopen(t, dir);
  t.same(back.problems, []);
  t.same(plain(back.docs), [
    { docId: 'n/b', epoch: 5, chunks: [[1], [3]] },
    { docId: 's/3', epoch: 1, chunks: [[4]] },
    { docId: 'n/c', epoch: 1, chunks: [[6]] },
    { docId: 'n/d', epoch: 2, chunks: [[8]] },
    { docId: OWN, epoch: 7, chunks: [[9]] },
  ]);
  t.equal(back.maxEpoch, 7, "only the own document's epochs count, the highest of them");
});

t.test('the own epoch survives compactions that no longer hold the own document', async (t) => {
  const dir = t.testdir();
  let { j, close } = journalOf(t, dir);
  j.chunk(OWN, 50, bytes(1));
  j.chunk('n/other', 70, bytes(2)); // another node's epoch never bounds ours
  j.drop(OWN);
  j.compact([]);
  close();
  let back = reopen(t, dir);
  t.same(back.problems, [], 'a snapshot of nothing reads back whole (its end record counts 0 documents)');
  t.same(back.docs, []);
  t.equal(back.maxEpoch, 50, 'the epoch of a chunk appended before the compaction');

  ({ j, close } = journalOf(t, dir));
  j.compact([]); // the epoch read back at start is kept by the next compaction too
  close();
  t.equal(reopen(t, dir).maxEpoch, 50);

  const dir2 = t.testdir();
  ({ j, close } = journalOf(t, dir2));
  j.compact([
    { docId: OWN, epoch: 60, bytes: bytes(1) },
    { docId: 'n/x', epoch: 80, bytes: bytes(2) },
  ]);
  j.compact([{ docId: 'n/x', epoch: 80, bytes: bytes(2) }]);
  close();
  back = reopen(t, dir2);
  t.equal(back.maxEpoch, 60, 'the epoch of the own document in an earlier snapshot');
  t.same(plain(back.docs), [{ docId: 'n/x', epoch: 80, chunks: [[2]] }]);
});

t.test('records with zero epochs and counts are records, not damage', async (t) => {
  const dir = t.testdir();
  writeFileSync(
    join(dir, LOG_FILE),
    Buffer.concat([
      fileHeader('WEFTLOG1'),
      rec([1, OWN, 0, bytes(1)]),
      rec([3, 0]),
      rec([9, 0]),
      rec([2, 'n/zz']),
      rec([1, 's/15', 2, bytes(2)]),
    ]),
  );
  const back = reopen(t, dir);
  t.same(back.problems, []);
  t.same(plain(back.docs), [
    { docId: OWN, epoch: 0, chunks: [[1]] },
    { docId: 's/15', epoch: 2, chunks: [[2]] },
  ]);
});

t.test('a checksummed record that does not read as one is damage: the log is cut before it', async (t) => {
  const good = rec([1, 'n/b', 1, bytes(1)]);
  const after = rec([2, 'n/b']);
  const cases: [string, Buffer][] = [
    ['not MessagePack', Buffer.from(frameRecord(Buffer.from([0x93, 0x01])))],
    ['not an array', rec({ t: 1 })],
    ['a number', rec(1)],
    ['an unknown type', rec([7, 'n/b'])],
    ['a chunk of three fields', rec([1, 'n/b', 1])],
    ['a chunk of five fields', rec([1, 'n/b', 1, bytes(1), 0])],
    ['a chunk of a bad document id', rec([1, 'x/b', 1, bytes(1)])],
    ['a chunk of a negative epoch', rec([1, 'n/b', -1, bytes(1)])],
    ['a chunk of a fractional epoch', rec([1, 'n/b', 1.5, bytes(1)])],
    ['a chunk of an epoch past 2^53', rec([1, 'n/b', 2 ** 53, bytes(1)])],
    ['a chunk of a text epoch', rec([1, 'n/b', '1', bytes(1)])],
    ['a chunk of text, not bytes', rec([1, 'n/b', 1, 'abc'])],
    ['a drop of one field', rec([2])],
    ['a drop of three fields', rec([2, 'n/b', 0])],
    ['a drop of a bad document id', rec([2, 's/99'])],
    ['a meta of one field', rec([3])],
    ['a meta of three fields', rec([3, 1, 2])],
    ['a meta of a negative epoch', rec([3, -1])],
    ['an end of one field', rec([9])],
    ['an end of three fields', rec([9, 1, 2])],
    ['an end of a negative count', rec([9, -1])],
  ];
  for (const [what, bad] of cases) {
    const dir = t.testdir();
    const log = join(dir, LOG_FILE);
    const original = Buffer.concat([fileHeader('WEFTLOG1'), good, bad, after]);
    writeFileSync(log, original);
    const { j, close } = journalOf(t, dir);
    const at = HEADER_BYTES + good.length;
    t.equal(j.problems.length, 1, `${what}: one problem`);
    const p = j.problems[0];
    t.ok(p instanceof StoreFileError, what);
    t.match(p, { kind: 'corrupt', offset: at, reason: 'a record that does not decode', keptRecords: 1 }, what);
    t.same(plain(j.loaded.docs), [{ docId: 'n/b', epoch: 1, chunks: [[1]] }], `${what}: the record before it kept`);
    t.same(readFileSync(p.copy!), original, `${what}: the whole file copied aside`);
    t.equal(statSync(log).size, at, `${what}: the log cut after the last good record`);
    close();
  }
});

t.test('the messages a person reads, whole', async (t) => {
  const dir = t.testdir();
  const log = join(dir, LOG_FILE);
  writeFileSync(log, Buffer.concat([fileHeader('WEFTLOG1'), rec([3, 1]), rec([3, 2]), rec([5])]));
  let { j, close } = journalOf(t, dir);
  const p = j.problems[0];
  t.equal(p.name, 'StoreFileError');
  t.equal(
    p.message,
    `crdt-store: ${log} is damaged at byte 30 (a record that does not decode); kept the 2 good records before it, ` +
      `copied the whole file to ${join(dir, `${LOG_FILE}.corrupt-1`)}; the rest of the state will come back from peers`,
  );
  t.equal(p.file, log);
  close();

  const dir2 = t.testdir();
  const log2 = join(dir2, LOG_FILE);
  writeFileSync(log2, Buffer.concat([fileHeader('WEFTLOG1'), rec([3, 1]), Buffer.from([9, 0, 0])]));
  ({ j, close } = journalOf(t, dir2));
  t.equal(
    j.problems[0].message,
    `crdt-store: ${log2} ends in an interrupted write at byte 19 (file ends inside a record header); kept the 1 records before it and cut the rest`,
  );
  t.equal(j.problems[0].copy, undefined, 'a torn tail is not copied');
  t.equal(statSync(log2).size, 19);
  close();
});

t.test('a snapshot that stops short is damage, never a torn tail; its good records still count', async (t) => {
  const chunk = rec([1, 'n/b', 3, bytes(1)]);
  const whole = Buffer.concat([fileHeader('WEFTSNP1'), rec([3, 4]), chunk]);
  for (const [what, content, reason] of [
    ['ends at a record boundary, before its end record', whole, 'the snapshot ends before its end record'],
    ['ends inside a record', Buffer.concat([whole, rec([9, 1]).subarray(0, 5)]), 'file ends inside a record header'],
  ] as const) {
    const dir = t.testdir();
    writeFileSync(join(dir, SNAPSHOT_FILE), content);
    const { j, close } = journalOf(t, dir);
    t.equal(j.problems.length, 1, what);
    t.match(j.problems[0], { kind: 'corrupt', offset: whole.length, reason, keptRecords: 2 }, what);
    t.ok(j.problems[0].copy && existsSync(j.problems[0].copy), `${what}: copied aside`);
    t.same(plain(j.loaded.docs), [{ docId: 'n/b', epoch: 3, chunks: [[1]] }], what);
    t.equal(j.loaded.maxEpoch, 4, `${what}: its meta record read`);
    t.equal(j.stats().snapshotBytes, whole.length, `${what}: the good part counts as the snapshot's size`);
    close();
  }
});

t.test('compaction: exactly at the threshold it waits, one byte past it compacts', async (t) => {
  // The log is compared with max(minLogBytes, compactRatio x snapshot), pending appends included.
  const logAfterOneChunk = (dir: string, n: number, opts: Record<string, number>) => {
    const { j, close } = journalOf(t, dir, { flushBytes: 1 << 20, ...opts });
    j.chunk('n/b', 1, new Uint8Array(n));
    return { j, close, log: j.stats().logBytes };
  };
  const probe = logAfterOneChunk(t.testdir(), 100, {});
  probe.close();
  for (const [minLogBytes, compacts] of [
    [probe.log, false],
    [probe.log - 1, true],
  ] as const) {
    const { j, close, log } = logAfterOneChunk(t.testdir(), 100, { minLogBytes, compactRatio: 0 });
    t.equal(log, probe.log);
    let asked = 0;
    j.maybeCompact(() => {
      asked++;
      return [];
    });
    t.equal(j.stats().compactions, compacts ? 1 : 0, `log ${log} against minLogBytes ${minLogBytes}`);
    t.equal(asked, compacts ? 1 : 0, 'the snapshot is taken only to compact');
    close();
  }

  // Against the snapshot: a snapshot of one 100-byte chunk, then a log of one 122-byte
  // chunk is the same size (the snapshot adds a meta and an end record, 22 bytes).
  for (const [n, compacts] of [
    [122, false],
    [123, true],
  ] as const) {
    const { j, close } = journalOf(t, t.testdir(), { minLogBytes: 0, compactRatio: 1, flushBytes: 1 << 20 });
    j.compact([{ docId: 'n/b', epoch: 1, bytes: new Uint8Array(100) }]);
    j.chunk('n/b', 1, new Uint8Array(n));
    const s = j.stats();
    t.equal(s.logBytes - s.snapshotBytes, compacts ? 1 : 0, 'the sizes are as designed');
    j.maybeCompact(() => []);
    t.equal(j.stats().compactions, compacts ? 2 : 1, `log ${s.logBytes} against snapshot ${s.snapshotBytes}`);
    close();
  }
});

t.test('damage found at start forces one compaction, however small the log', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, LOG_FILE), Buffer.concat([fileHeader('WEFTLOG1'), rec([1, 'n/b', 1, bytes(1)]), rec([5])]));
  const { j, close } = journalOf(t, dir);
  t.equal(j.problems.length, 1);
  j.maybeCompact(() => [{ docId: 'n/b', epoch: 1, bytes: bytes(1) }]);
  t.equal(j.stats().compactions, 1, 'rewritten at once');
  j.maybeCompact(() => []);
  t.equal(j.stats().compactions, 1, 'and only once');
  close();
  const back = reopen(t, dir);
  t.same(back.problems, []);
  t.same(plain(back.docs), [{ docId: 'n/b', epoch: 1, chunks: [[1]] }]);
});

t.test(
  'appends: buffered until flushBytes wait, written by close, dropped by a compaction that holds them',
  async (t) => {
    const probeDir = t.testdir();
    const probe = journalOf(t, probeDir, { flushBytes: 1 << 20 });
    probe.j.chunk('n/b', 1, bytes(1, 2, 3));
    const recordBytes = probe.j.stats().logBytes - HEADER_BYTES;
    t.equal(probe.files.read(LOG_FILE)!.length, HEADER_BYTES, 'buffered: not in the file yet');
    probe.close();
    t.equal(statSync(join(probeDir, LOG_FILE)).size, HEADER_BYTES + recordBytes, 'close writes what was buffered');

    for (const [flushBytes, written] of [
      [recordBytes, true],
      [recordBytes + 1, false],
    ] as const) {
      const { j, files, close } = journalOf(t, t.testdir(), { flushBytes });
      j.chunk('n/b', 1, bytes(1, 2, 3));
      t.equal(
        files.read(LOG_FILE)!.length,
        written ? HEADER_BYTES + recordBytes : HEADER_BYTES,
        `flushBytes ${flushBytes}: ${written ? 'written at once' : 'still buffered'}`,
      );
      close();
    }

    const dir = t.testdir();
    const { j, files, close } = journalOf(t, dir, { flushBytes: 1 << 20 });
    j.chunk('n/b', 1, bytes(1));
    j.compact([{ docId: 'n/b', epoch: 1, bytes: bytes(1) }]);
    t.equal(j.stats().logBytes, HEADER_BYTES, 'the compaction holds what was buffered: the log is empty');
    j.sync();
    t.equal(files.read(LOG_FILE)!.length, HEADER_BYTES, 'and nothing buffered is written after it');
    t.same(j.stats(), { logBytes: HEADER_BYTES, snapshotBytes: j.stats().snapshotBytes, compactions: 1, syncs: 1 });
    close();
    t.same(plain(reopen(t, dir).docs), [{ docId: 'n/b', epoch: 1, chunks: [[1]] }]);
  },
);

t.test('sync on a log that start-up found whole and never wrote to', async (t) => {
  const dir = t.testdir();
  let { j, close } = journalOf(t, dir);
  j.chunk('n/b', 1, bytes(1));
  close();
  ({ j, close } = journalOf(t, dir));
  t.doesNotThrow(() => j.sync(), 'nothing open to fsync: nothing to do');
  t.equal(j.stats().syncs, 1);
  close();
});

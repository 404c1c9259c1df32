// The data directory's files at their edges: a compaction and a cut torn tail under a disk
// that loses every unsynced byte at a power cut, damaged files copied aside without
// overwriting an earlier copy and without widening who can read them, and a file that
// exists but cannot be read.
import t, { type Test } from 'tap';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { FsStoreFiles } from './files.js';
import { Journal, LOG_FILE, SNAPSHOT_FILE } from './journal.js';
import { openStore } from './open.js';
import { PowerLossDisk } from './power-loss.fixture.js';

const clock = () => 1_000_000;
const modeOf = (path: string) => statSync(path).mode & 0o777;

function openPlain(t: Test, dir: string) {
  const s = openStore(dir, { name: 'n1', clock });
  t.teardown(() => s.close());
  return s;
}

t.test('a power cut after compactions keeps every durable write', async (t) => {
  const dir = t.testdir();
  const disk = new PowerLossDisk(dir);
  const files = new FsStoreFiles(dir, disk);
  // Compact on every write: the snapshot is replaced (rename) and the log cut again and again.
  const s = openStore(files, { name: 'n1', clock, journal: { minLogBytes: 1, compactRatio: 0 } });
  for (let i = 0; i < 4; i++) s.store.put(`kv/durable/${i}`, { i }, { shared: true, durable: true });
  t.ok(s.journal.stats().compactions >= 4, `${s.journal.stats().compactions} compactions`);
  files.close();
  disk.powerCut();

  const after = openPlain(t, dir);
  t.same(after.problems, [], 'nothing torn, nothing damaged');
  for (let i = 0; i < 4; i++) t.same(after.store.get(`kv/durable/${i}`)?.value, { i }, `kv/durable/${i}`);
});

t.test('a torn tail once cut stays cut after a power cut', async (t) => {
  const dir = t.testdir();
  const disk = new PowerLossDisk(dir);
  const files = new FsStoreFiles(dir, disk);
  const s = openStore(files, { name: 'n1', clock });
  s.store.put('kv/1', 1, { shared: true, durable: true });
  s.close();
  // Half a record at the end of the log, made durable (the crash tore an append that had reached the disk).
  const log = join(dir, LOG_FILE);
  const fd = disk.openSync(log, 'a');
  fs.writeSync(fd, Buffer.from([100, 0, 0, 0, 1, 2, 3, 4, 5]));
  disk.fsyncSync(fd);
  disk.closeSync(fd);
  const whole = statSync(log).size;

  // Start-up alone (no write, no sync, no compaction after it) cuts the tail.
  const files2 = new FsStoreFiles(dir, disk);
  const j = new Journal(files2, { name: 'n1' });
  t.match(j.problems, [{ kind: 'torn-tail', offset: whole - 9 }]);
  files2.close();
  disk.powerCut();

  const files3 = new FsStoreFiles(dir);
  const again = new Journal(files3, { name: 'n1' });
  t.teardown(() => again.close());
  t.same(again.problems, [], 'the cut was durable: the same tail is not found again');
  t.equal(statSync(log).size, whole - 9);
});

t.test('damage found twice: a second copy beside the first, private even if the file was not', async (t) => {
  const dir = t.testdir();
  const log = join(dir, LOG_FILE);
  const damage = () => {
    const s = openStore(dir, { name: 'n1', clock });
    s.store.put('kv/x', 1, { shared: true, durable: true });
    s.close();
    // A record that is whole but fails its checksum, then a good one: damage, not a tail.
    const bytes = readFileSync(log);
    const bad = Buffer.from(bytes.subarray(8));
    bad[8] ^= 0xff;
    const content = Buffer.concat([bytes, bad, bytes.subarray(8)]);
    writeFileSync(log, content);
    return content;
  };
  const first = damage();
  chmodSync(log, 0o644); // left readable by all (an older version, a hand-made copy)
  const a = openStore(dir, { name: 'n1', clock });
  t.equal(a.problems.length, 1);
  t.equal(a.problems[0].copy, join(dir, `${LOG_FILE}.corrupt-1`));
  a.close();
  t.equal(modeOf(join(dir, `${LOG_FILE}.corrupt-1`)), 0o600, 'the copy of a file readable by all is private');

  const second = damage();
  const b = openStore(dir, { name: 'n1', clock });
  t.equal(b.problems[0].copy, join(dir, `${LOG_FILE}.corrupt-2`), 'the next free name');
  b.close();
  t.same(readFileSync(join(dir, `${LOG_FILE}.corrupt-1`)), first, 'the first copy is kept as it was');
  t.same(readFileSync(join(dir, `${LOG_FILE}.corrupt-2`)), second);
  t.same(
    readdirSync(dir)
      .filter((f) => f.includes('corrupt'))
      .sort(),
    [`${LOG_FILE}.corrupt-1`, `${LOG_FILE}.corrupt-2`],
  );
});

t.test('a data file that exists but cannot be read stops start-up with the reason', async (t) => {
  for (const file of [SNAPSHOT_FILE, LOG_FILE]) {
    const dir = t.testdir();
    mkdirSync(join(dir, file)); // not a file at all
    t.throws(() => openStore(dir, { name: 'n1', clock }), { code: 'EISDIR' }, `${file} is a directory`);
  }
});

t.test('appends reach the file whole however the kernel splits the write', async (t) => {
  // A DiskIo whose write takes at most 3 bytes at a time, as a write interrupted by a signal can.
  const dir = t.testdir();
  const io = {
    ...fs,
    writeSync: ((fd: number, buf: Uint8Array, off: number, len: number) =>
      fs.writeSync(fd, buf, off, Math.min(3, len))) as typeof fs.writeSync,
  };
  const files = new FsStoreFiles(dir, io);
  const s = openStore(files, { name: 'n1', clock, journal: { minLogBytes: 1, compactRatio: 0 } });
  s.store.put('kv/a', 'short writes', { shared: true, durable: true });
  s.store.put('kv/b', 'x'.repeat(50), { shared: true, durable: true });
  s.close();
  const after = openPlain(t, dir);
  t.same(after.problems, []);
  t.equal(after.store.get('kv/a')?.value, 'short writes');
  t.equal(after.store.get('kv/b')?.value, 'x'.repeat(50));
});

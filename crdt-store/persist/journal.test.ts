import t from 'tap';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from './open.js';
import { LOG_FILE, SNAPSHOT_FILE, StoreFileError } from './journal.js';
import { ownDocId } from '../names.js';

let now = 10_000;
const clock = () => now;
const open = (dir: string, name = 'n1', journal = {}) => openStore(dir, { name, clock, journal });

t.test('state survives a restart; the own epoch keeps rising', async (t) => {
  const dir = t.testdir();
  const a = open(dir);
  a.store.put('own/1', { x: 1 });
  a.store.put('shared/1', 'S', { shared: true });
  a.store.delete('own/1');
  a.store.put('own/2', [1, 2, 3]);
  // A replica of another node's document is kept too.
  const other = openStore(join(dir, 'elsewhere'), { name: 'n2', clock });
  other.store.put('n2/k', 'v');
  const d = other.store.doc(ownDocId('n2'))!;
  a.store.applyRemote(d.id, d.epoch, [d.save()]);
  other.close();
  const epoch1 = a.store.ownEpoch;
  a.close();

  const b = open(dir);
  t.same(b.problems, []);
  t.same(
    b.store.entries('', { view: 'all' }).map((r) => [r.key, r.value, r.owner]),
    [
      ['n2/k', 'v', 'n2'],
      ['own/2', [1, 2, 3], 'n1'],
      ['shared/1', 'S', '*'],
    ],
  );
  t.ok(b.store.ownEpoch > epoch1, `epoch ${b.store.ownEpoch} > ${epoch1} although the clock stood still`);
  const epoch2 = b.store.ownEpoch;
  b.close();
  now -= 5_000; // even with the clock going back
  const c = open(dir);
  t.ok(c.store.ownEpoch > epoch2);
  c.close();
  now += 5_000;
});

t.test('the log is compacted into the snapshot and stays bounded', async (t) => {
  const dir = t.testdir();
  const a = open(dir, 'n1', { minLogBytes: 64 * 1024 });
  let maxDisk = 0;
  for (let i = 0; i < 3000; i++) {
    a.store.put(`k/${i % 50}`, { i, pad: 'x'.repeat(100) });
    a.journal.flush();
    const s = a.journal.stats();
    maxDisk = Math.max(maxDisk, s.logBytes + s.snapshotBytes);
  }
  const stats = a.journal.stats();
  t.ok(stats.compactions >= 2, `${stats.compactions} compactions`);
  t.ok(maxDisk < 512 * 1024, `disk stayed under 512 KiB (max ${maxDisk})`);
  a.close();
  t.notOk(existsSync(join(dir, `${SNAPSHOT_FILE}.tmp`)), 'no temporary file left');
  const b = open(dir);
  t.same(b.problems, []);
  t.equal(b.store.keys('', { view: 'all' }).length, 50);
  t.same(b.store.get('k/49')?.value, { i: 2999, pad: 'x'.repeat(100) });
  b.close();
});

t.test('a torn tail is cut at the last good record, quietly but reported', async (t) => {
  const dir = t.testdir();
  const a = open(dir);
  a.store.put('k/1', 1, { durable: true });
  a.store.put('k/2', 2, { durable: true });
  a.close();
  const log = join(dir, LOG_FILE);
  const whole = statSync(log).size;
  // Half of one more record: a length saying 100 bytes and 10 of them.
  appendFileSync(log, Buffer.concat([Buffer.from([100, 0, 0, 0, 1, 2, 3, 4]), Buffer.alloc(10, 7)]));
  const b = open(dir);
  t.equal(b.problems.length, 1);
  t.equal(b.problems[0].kind, 'torn-tail');
  t.match(b.problems[0].message, new RegExp(`${log} ends in an interrupted write at byte ${whole}`));
  t.same(b.store.keys('', { view: 'all' }), ['k/1', 'k/2']);
  b.store.put('k/3', 3, { durable: true });
  b.close();
  t.same(
    readdirSync(dir).filter((f) => f.includes('corrupt')),
    [],
    'a torn tail is not quarantined',
  );
  const c = open(dir);
  t.same(c.problems, []);
  t.same(c.store.keys('', { view: 'all' }), ['k/1', 'k/2', 'k/3']);
  c.close();
});

t.test('damage inside the log: clear error naming the file, good records kept, file copied aside', async (t) => {
  const dir = t.testdir();
  const a = open(dir);
  for (let i = 0; i < 5; i++) a.store.put(`k/${i}`, i, { durable: true });
  a.close();
  const log = join(dir, LOG_FILE);
  const bytes = readFileSync(log);
  // Flip a byte in the middle of the file: later records are whole, so this is no torn tail.
  const at = Math.floor(bytes.length * 0.6);
  bytes[at] ^= 0xff;
  writeFileSync(log, bytes);
  const b = open(dir);
  t.equal(b.problems.length, 1);
  const p = b.problems[0];
  t.ok(p instanceof StoreFileError);
  t.equal(p.kind, 'corrupt');
  t.equal(p.file, log);
  t.match(p.message, `${log} is damaged at byte`);
  t.ok(p.copy && existsSync(p.copy), 'the damaged file was copied aside');
  t.same(readFileSync(p.copy!), bytes);
  const kept = b.store.keys('', { view: 'all' });
  t.ok(kept.length >= 1 && kept.length < 5, `kept the records before the damage: ${kept}`);
  t.same(kept, ['k/0', 'k/1', 'k/2', 'k/3', 'k/4'].slice(0, kept.length), 'a prefix');
  b.close();
  const c = open(dir);
  t.same(c.problems, [], 'the damage was rewritten away');
  t.same(c.store.keys('', { view: 'all' }), kept);
  c.close();
});

t.test('a damaged snapshot: reported, the log still replays', async (t) => {
  const dir = t.testdir();
  const a = open(dir, 'n1', { minLogBytes: 1 });
  a.store.put('in-snapshot', 1);
  a.journal.compact([...a.store.documents()].map((d) => ({ docId: d.id, epoch: d.epoch, bytes: d.save() })));
  a.close();
  const snap = join(dir, SNAPSHOT_FILE);
  writeFileSync(snap, Buffer.from('garbage!garbage!'));
  const b = open(dir);
  t.equal(b.problems.length, 1);
  t.equal(b.problems[0].kind, 'corrupt');
  t.match(b.problems[0].message, `${snap} is damaged at byte 0 (not a WEFTSNP1 file (bad header))`);
  b.close();
});

t.test('files that are not ours at all', async (t) => {
  const dir = t.testdir({ [LOG_FILE]: 'hello, I am a text file\n', [SNAPSHOT_FILE]: '' });
  const a = open(dir);
  t.equal(a.problems.length, 2);
  t.match(a.problems[0].message, /store\.snapshot is damaged at byte 0 \(the snapshot ends before its end record\)/);
  t.match(a.problems[1].message, /store\.log is damaged at byte 0 \(not a WEFTLOG1 file/);
  a.store.put('k', 1, { durable: true });
  a.close();
  const b = open(dir);
  t.same(b.problems, []);
  t.same(b.store.keys(), ['k']);
  b.close();
});

// Durability against power loss, not just kill -9: a killed process leaves its writes in the
// page cache, so only a disk that drops unsynced bytes can tell an fsync from its absence.
import t from 'tap';
import { FsStoreFiles } from './files.js';
import { openStore } from './open.js';
import { PowerLossDisk } from './power-loss.fixture.js';

const clock = () => 1_000_000;

t.test('durable writes survive a power cut; the disk model does lose what was never synced', async (t) => {
  const dir = t.testdir();
  const disk = new PowerLossDisk(dir);
  const files = new FsStoreFiles(dir, disk);
  const s = openStore(files, { name: 'n1', clock, journal: { flushBytes: 1 } });
  for (let i = 0; i < 5; i++) s.store.put(`kv/durable/${i}`, { i }, { shared: true, durable: true });
  // Written to the file at once (flushBytes 1) but never fsynced: a power cut may take it.
  s.store.put('kv/volatile', 'maybe', { shared: true });
  files.close(); // the process dies with the power: nothing more reaches the disk
  disk.powerCut();
  t.ok(disk.lostBytes > 0, `the cut threw away ${disk.lostBytes} unsynced bytes`);

  const after = openStore(dir, { name: 'n1', clock });
  t.teardown(() => after.close());
  for (let i = 0; i < 5; i++) t.same(after.store.get(`kv/durable/${i}`)?.value, { i }, `kv/durable/${i}`);
  t.equal(after.store.get('kv/volatile'), undefined, 'the unsynced write is gone');
});

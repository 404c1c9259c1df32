import t from 'tap';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from './dir-lock.js';
import { openStore } from './open.js';

if (process.argv[2] === 'child') {
  try {
    lockDataDir(process.argv[3]!);
    console.log('locked');
  } catch (e) {
    console.log(`${(e as Error).name}: ${(e as Error).message}`);
  }
  process.exit(0);
}

t.test('a second opener of a data directory is refused while the first runs', async (t) => {
  const dir = t.testdir();
  const first = openStore(dir, { name: 'a', clock: () => Date.now() });
  t.teardown(() => first.close());
  // Another process (the lock is per process, so the case that matters is two agents).
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'child', dir], { encoding: 'utf8' });
  t.match(child.stdout, /DataDirInUseError: data directory .* is in use by process \d+/, child.stderr);
  first.close();
  t.notOk(existsSync(join(dir, LOCK_FILE)), 'close releases the lock');
  const again = openStore(dir, { name: 'a', clock: () => Date.now() });
  again.close();
});

t.test('a lock left by a process that is gone is taken over', async (t) => {
  const dir = t.testdir();
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  writeFileSync(join(dir, LOCK_FILE), gone.stdout);
  const release = lockDataDir(dir);
  release();
  t.notOk(existsSync(join(dir, LOCK_FILE)));
});

t.test('a lock held by a live process names it', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`);
  t.throws(() => lockDataDir(dir), DataDirInUseError);
});

// The data-directory lock within one process. dir-lock.test.ts races real processes; this
// one needs no child node, so it also runs under mutation testing (a child would inherit
// Stryker's hook): flock refuses a second open file description even in the same process.
import t from 'tap';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from './dir-lock.js';

t.test('a second lock is refused, naming the holder, until the first is released', async (t) => {
  const dir = t.testdir();
  const release = lockDataDir(dir);
  t.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`, 'the holder writes its pid');
  const refused = (() => {
    try {
      lockDataDir(dir);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(refused instanceof DataDirInUseError);
  t.match(refused, {
    name: 'DataDirInUseError',
    dir,
    pid: process.pid,
    message: `data directory ${dir} is in use by process ${process.pid}; stop that agent or give this one another data directory`,
  });
  release();
  t.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), '', 'release empties the pid');
  release(); // a second release is a no-op, not a throw on a closed descriptor
  const again = lockDataDir(dir);
  t.equal(
    readFileSync(join(dir, LOCK_FILE), 'utf8'),
    `${process.pid}\n`,
    'a stale pid is overwritten, not appended to',
  );
  again();
});

t.test('a refusal with no readable pid says another process', async (t) => {
  const dir = t.testdir();
  const release = lockDataDir(dir);
  t.teardown(release);
  for (const content of ['', 'not a pid\n', '0\n', '-5\n']) {
    writeFileSync(join(dir, LOCK_FILE), content);
    t.throws(() => lockDataDir(dir), {
      name: 'DataDirInUseError',
      pid: undefined,
      message: /is in use by another process;/,
    });
  }
});

t.test('without the flock program: a clear error, and no lock file descriptor left open', async (t) => {
  const dir = t.testdir();
  const path = process.env.PATH;
  process.env.PATH = t.testdir({});
  t.teardown(() => {
    process.env.PATH = path;
  });
  t.throws(() => lockDataDir(dir), {
    message: `cannot lock data directory ${dir}: the flock program is missing (ENOENT); install util-linux`,
  });
  process.env.PATH = path;
  lockDataDir(dir)();
  t.equal(statSync(join(dir, LOCK_FILE)).mode & 0o777, 0o600);
});

t.test('a flock that fails otherwise: its own words', async (t) => {
  const dir = t.testdir();
  const bin = t.testdir({ flock: '#!/bin/sh\necho "flock: bad descriptor" >&2\nexit 64\n' });
  chmodSync(join(bin, 'flock'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = bin;
  t.teardown(() => {
    process.env.PATH = path;
  });
  t.throws(() => lockDataDir(dir), { message: `cannot lock data directory ${dir}: flock: bad descriptor` });
  writeFileSync(join(bin, 'flock'), '#!/bin/sh\nexit 3\n');
  t.throws(() => lockDataDir(dir), { message: `cannot lock data directory ${dir}: flock exited 3` });
});

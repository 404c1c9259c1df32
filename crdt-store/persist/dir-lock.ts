// One process per data directory. Two agents appending to one log would interleave
// records and each compact away the other's writes, so the second is refused at start.
//
// The lock is flock(2) on `store.lock`, held for the life of the process: the kernel drops
// it when the process ends however it ends (kill -9, power loss), and two processes racing
// for it cannot both win. A pid file alone could not promise that: two starters that both
// found a stale pid both took it over.
//
// Node has no flock binding, so the `flock` program (util-linux, Essential on Debian) takes
// it for us on our own open file description: it inherits the descriptor as fd 3, locks it
// and exits, and the lock stays with the description, which only this process holds open
// (libuv opens files close-on-exec, so later children do not inherit it). The file is never
// removed: unlinking a flock file lets a third process lock a new inode while a second
// still waits on the old one.

import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'store.lock';

/** flock's exit status when the lock is held elsewhere (-E). */
const HELD = 75;

export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number | undefined,
  ) {
    super(
      `data directory ${dir} is in use by ${pid ? `process ${pid}` : 'another process'}; stop that agent or give this one another data directory`,
    );
    this.name = 'DataDirInUseError';
  }
}

/** Takes the directory's lock; returns the function that releases it. */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const fd = openSync(path, 'a+', 0o600);
  const locked = spawnSync('flock', ['--nonblock', '--conflict-exit-code', String(HELD), '3'], {
    stdio: ['ignore', 'ignore', 'pipe', fd],
    encoding: 'utf8',
  });
  if (locked.status !== 0) {
    closeSync(fd);
    if (locked.status === HELD) throw new DataDirInUseError(dir, holderOf(path));
    const why = locked.error
      ? `the flock program is missing (${(locked.error as NodeJS.ErrnoException).code}); install util-linux`
      : (locked.stderr || `flock exited ${locked.status}`).trim();
    throw new Error(`cannot lock data directory ${dir}: ${why}`);
  }
  // The pid is only for the message a second starter prints; the lock is the flock.
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    ftruncateSync(fd, 0);
    closeSync(fd); // the last descriptor of the description: the kernel drops the lock
  };
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

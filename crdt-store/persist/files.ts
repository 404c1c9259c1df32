// The files of a data directory, as the journal needs them: read whole, append, fsync,
// replace atomically, truncate, and set a damaged file aside. The interface is small so
// the simulator can give every simulated node a disk that loses unsynced writes on a
// crash (props/sim/store-disk.ts); FsStoreFiles is the real one.
//
// The directory is 0700 and every file 0600: the log holds KV values and records that are
// nobody else's business on a shared host. A directory or file found wider (made by an
// older version, or by hand) is narrowed when opened.

import * as fs from 'node:fs';
import { chmodSync, copyFileSync, existsSync, fchmodSync, fstatSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { lockDataDir } from './dir-lock.js';

export interface StoreFiles {
  /** How to name `file` in a message to a person (the full path). */
  describe(file: string): string;
  /** The whole file, or undefined if it does not exist. */
  read(file: string): Uint8Array | undefined;
  /** Append (not durable until sync). Creates the file. */
  append(file: string, data: Uint8Array): void;
  /** Everything appended to `file` so far is durable when this returns. */
  sync(file: string): void;
  /** Replace `file` with `data` atomically and durably: either all of the old or all of the new survives a crash. */
  replace(file: string, data: Uint8Array): void;
  /** Cut `file` to `length` bytes, durably. */
  truncate(file: string, length: number): void;
  /** Copy `file` aside for a person to look at; returns the copy's description. */
  quarantine(file: string): string;
  close(): void;
}

/**
 * The calls through which bytes reach the disk and become durable. Injected so a test can
 * stand between the journal and the kernel and lose, at a simulated power cut, everything
 * that was never fsynced (crdt-store/persist/power-loss.fixture.ts).
 */
export type DiskIo = Pick<
  typeof fs,
  'openSync' | 'writeSync' | 'fsyncSync' | 'ftruncateSync' | 'renameSync' | 'closeSync'
>;

export class FsStoreFiles implements StoreFiles {
  private readonly fds = new Map<string, number>();
  private readonly unlock: () => void;

  /** Throws DataDirInUseError while another live process has `dir` open. */
  constructor(
    readonly dir: string,
    private readonly io: DiskIo = fs,
  ) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
    if (statSync(dir).mode & 0o077) chmodSync(dir, PRIVATE_DIR);
    this.unlock = lockDataDir(dir);
  }

  describe(file: string): string {
    return join(this.dir, file);
  }

  read(file: string): Uint8Array | undefined {
    try {
      return readFileSync(this.describe(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  append(file: string, data: Uint8Array): void {
    const fd = this.fd(file);
    let off = 0;
    while (off < data.length) off += this.io.writeSync(fd, data, off, data.length - off);
  }

  sync(file: string): void {
    const fd = this.fds.get(file);
    if (fd !== undefined) this.io.fsyncSync(fd);
  }

  replace(file: string, data: Uint8Array): void {
    const tmp = this.describe(`${file}.tmp`);
    const fd = this.openPrivate(tmp, 'w');
    try {
      let off = 0;
      while (off < data.length) off += this.io.writeSync(fd, data, off, data.length - off);
      this.io.fsyncSync(fd);
    } finally {
      this.io.closeSync(fd);
    }
    const open = this.fds.get(file);
    if (open !== undefined) {
      this.io.closeSync(open);
      this.fds.delete(file);
    }
    this.io.renameSync(tmp, this.describe(file));
    this.syncDir();
  }

  truncate(file: string, length: number): void {
    const fd = this.fd(file);
    this.io.ftruncateSync(fd, length);
    this.io.fsyncSync(fd);
  }

  quarantine(file: string): string {
    let n = 1;
    while (existsSync(this.describe(`${file}.corrupt-${n}`))) n++;
    const copy = this.describe(`${file}.corrupt-${n}`);
    copyFileSync(this.describe(file), copy);
    chmodSync(copy, PRIVATE_FILE);
    this.syncDir();
    return copy;
  }

  close(): void {
    for (const fd of this.fds.values()) this.io.closeSync(fd);
    this.fds.clear();
    this.unlock();
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = this.openPrivate(this.describe(file), 'a');
      this.fds.set(file, fd);
      this.syncDir(); // the file's name must survive a crash as well as its bytes
    }
    return fd;
  }

  /** Opens with mode 0600, narrowing a file that already exists with a wider mode. */
  private openPrivate(path: string, flags: string): number {
    const fd = this.io.openSync(path, flags, PRIVATE_FILE);
    if (fstatSync(fd).mode & 0o077) fchmodSync(fd, PRIVATE_FILE);
    return fd;
  }

  /** A rename or a new file is durable only once its directory is. */
  private syncDir(): void {
    const fd = this.io.openSync(this.dir, 'r');
    try {
      this.io.fsyncSync(fd);
    } finally {
      this.io.closeSync(fd);
    }
  }
}

const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

// The files of a data directory, as the journal needs them: read whole, append, fsync,
// replace atomically, truncate, and set a damaged file aside. The interface is small so
// the simulator can give every simulated node a disk that loses unsynced writes on a
// crash (props/sim/store-disk.ts); FsStoreFiles is the real one.

import { closeSync, copyFileSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
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

export class FsStoreFiles implements StoreFiles {
  private readonly fds = new Map<string, number>();
  private readonly unlock: () => void;

  /** Throws DataDirInUseError while another live process has `dir` open. */
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
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
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  }

  sync(file: string): void {
    const fd = this.fds.get(file);
    if (fd !== undefined) fsyncSync(fd);
  }

  replace(file: string, data: Uint8Array): void {
    const tmp = this.describe(`${file}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const open = this.fds.get(file);
    if (open !== undefined) {
      closeSync(open);
      this.fds.delete(file);
    }
    renameSync(tmp, this.describe(file));
    this.syncDir();
  }

  truncate(file: string, length: number): void {
    const fd = this.fd(file);
    ftruncateSync(fd, length);
    fsyncSync(fd);
  }

  quarantine(file: string): string {
    let n = 1;
    while (existsSync(this.describe(`${file}.corrupt-${n}`))) n++;
    const copy = this.describe(`${file}.corrupt-${n}`);
    copyFileSync(this.describe(file), copy);
    this.syncDir();
    return copy;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.unlock();
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = openSync(this.describe(file), 'a');
      this.fds.set(file, fd);
      this.syncDir(); // the file's name must survive a crash as well as its bytes
    }
    return fd;
  }

  /** A rename or a new file is durable only once its directory is. */
  private syncDir(): void {
    const fd = openSync(this.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

// A disk that loses power: DiskIo over the real node:fs that remembers what fsync made
// durable, and on powerCut() puts the directory back to exactly that. The model is a
// filesystem without ordering guarantees (ext4 data=writeback, or any disk cache):
//   - a file's bytes are durable as of its last fsync, per inode;
//   - names (creations, renames) are durable as of the last fsync of the directory;
//   - everything else is gone: unsynced appends, a rename whose directory was not synced.
// Unlike SimDisk (props/sim), this sits below the real FsStoreFiles, so it catches a
// journal that forgets to call fsync at all.
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { DiskIo } from './files.js';

export class PowerLossDisk implements DiskIo {
  private readonly paths = new Map<number, string>();
  /** inode → its bytes as of its last fsync */
  private readonly synced = new Map<number, Buffer>();
  /** name → inode as of the directory's last fsync */
  private durableNames = new Map<string, number>();
  /** Bytes the last power cut threw away: proof that the disk lost something. */
  lostBytes = 0;

  constructor(readonly dir: string) {}

  openSync = ((path: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode | null) => {
    const fd = fs.openSync(path, flags, mode);
    this.paths.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;

  writeSync = fs.writeSync;
  ftruncateSync = fs.ftruncateSync;
  renameSync = fs.renameSync;

  closeSync = (fd: number): void => {
    this.paths.delete(fd);
    fs.closeSync(fd);
  };

  fsyncSync = (fd: number): void => {
    fs.fsyncSync(fd);
    if (this.paths.get(fd) === this.dir) {
      this.durableNames = new Map(
        fs.readdirSync(this.dir).map((name) => [name, fs.statSync(join(this.dir, name)).ino]),
      );
    } else {
      this.synced.set(fs.fstatSync(fd).ino, fs.readFileSync(this.paths.get(fd)!));
    }
  };

  /** The power goes: the directory holds what was durable and nothing else. Close every descriptor first (the process died). */
  powerCut(): void {
    const keep = new Map<string, Buffer>();
    for (const [name, ino] of this.durableNames) keep.set(name, this.synced.get(ino) ?? Buffer.alloc(0));
    this.lostBytes = 0;
    for (const name of fs.readdirSync(this.dir)) {
      const path = join(this.dir, name);
      this.lostBytes += Math.max(0, fs.statSync(path).size - (keep.get(name)?.length ?? 0));
      fs.rmSync(path);
    }
    for (const [name, bytes] of keep) fs.writeFileSync(join(this.dir, name), bytes, { mode: 0o600 });
  }
}

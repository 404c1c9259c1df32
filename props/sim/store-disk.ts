// A simulated disk for one node's store data directory: what a crash keeps. Appended
// bytes sit in a "page cache" until sync; a crash keeps a random prefix of them (a torn
// write, as a real kernel may have flushed part of it), then nothing unsynced remains.
// replace() and truncate() are durable at once, as the real ones (fsync + rename) are.
// The disk belongs to the machine, so it outlives the processes that use it.

import type { Rng } from '../../base/rng.js';
import type { StoreFiles } from '../../crdt-store/persist/files.js';

interface SimFile {
  durable: Uint8Array;
  cached: Uint8Array[];
}

const concat = (parts: Uint8Array[]): Uint8Array => (parts.length === 1 ? parts[0] : Buffer.concat(parts));

export class SimDisk implements StoreFiles {
  private readonly files = new Map<string, SimFile>();
  /** Crashes that tore an append (kept part of what was unsynced). */
  tornWrites = 0;

  constructor(
    readonly host: string,
    private readonly rng: Rng,
  ) {}

  describe(file: string): string {
    return `${this.host}:/data/${file}`;
  }

  read(file: string): Uint8Array | undefined {
    const f = this.files.get(file);
    return f && concat([f.durable, ...f.cached]);
  }

  append(file: string, data: Uint8Array): void {
    this.file(file).cached.push(Uint8Array.from(data));
  }

  sync(file: string): void {
    const f = this.files.get(file);
    if (!f || f.cached.length === 0) return;
    f.durable = concat([f.durable, ...f.cached]);
    f.cached = [];
  }

  replace(file: string, data: Uint8Array): void {
    this.files.set(file, { durable: Uint8Array.from(data), cached: [] });
  }

  truncate(file: string, length: number): void {
    const f = this.file(file);
    f.durable = concat([f.durable, ...f.cached]).slice(0, length);
    f.cached = [];
  }

  quarantine(file: string): string {
    let n = 1;
    while (this.files.has(`${file}.corrupt-${n}`)) n++;
    this.files.set(`${file}.corrupt-${n}`, { durable: this.read(file) ?? new Uint8Array(0), cached: [] });
    return this.describe(`${file}.corrupt-${n}`);
  }

  close(): void {}

  /** The process died: unsynced appends are lost, except a random prefix that reached the platter. */
  crash(): void {
    for (const f of this.files.values()) {
      if (f.cached.length === 0) continue;
      const pending = concat(f.cached);
      const keep = Math.floor(this.rng.next() * (pending.length + 1));
      if (keep > 0 && keep < pending.length) this.tornWrites++;
      f.durable = concat([f.durable, pending.subarray(0, keep)]);
      f.cached = [];
    }
  }

  private file(name: string): SimFile {
    let f = this.files.get(name);
    if (!f) this.files.set(name, (f = { durable: new Uint8Array(0), cached: [] }));
    return f;
  }

  /** Bytes on the platter and in the cache. */
  bytes(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.durable.length + f.cached.reduce((s, c) => s + c.length, 0);
    return n;
  }
}

// The store's state in its data directory: two files.
//   store.snapshot   every document, saved whole; replaced atomically (write, fsync, rename)
//   store.log        what happened since, appended: chunks of document history and drops
// Start-up reads the snapshot, then replays the log over it. Replaying is idempotent (a
// chunk Automerge already has changes nothing, an older epoch's chunk is skipped), so a
// crash between the snapshot's rename and the log's truncation loses nothing.
//
// Durability: appends are buffered in memory and written on flush(); sync() writes and
// fsyncs. An update acknowledged as durable has been through sync(). A crash loses at
// most what was not synced, and may tear the last append: start-up drops a torn tail
// silently except for a notice. Damage anywhere else is reported as a StoreFileError
// naming the file and the offset, the file is copied aside, and the good records before
// the damage are kept (the rest of the state comes back from peers through repair).

import { DEFAULTS } from '../defaults.js';
import { Packr } from 'msgpackr';
import type { DocId } from '../names.js';
import { ownDocId, parseDocId } from '../names.js';
import type { Persistence, PersistedDoc } from '../local-store.js';
import type { StoreFiles } from './files.js';
import { HEADER_BYTES, fileHeader, frameRecord, scanRecords } from './records.js';

export const LOG_FILE = 'store.log';
export const SNAPSHOT_FILE = 'store.snapshot';
const LOG_MAGIC = 'WEFTLOG1';
const SNAPSHOT_MAGIC = 'WEFTSNP1';

const CHUNK = 1;
const DROP = 2;
const META = 3;
const END = 9;

type LogRecord =
  | { t: typeof CHUNK; docId: DocId; epoch: number; bytes: Uint8Array }
  | { t: typeof DROP; docId: DocId }
  | { t: typeof META; maxEpoch: number }
  | { t: typeof END; docs: number };

const packr = new Packr({ useRecords: false, moreTypes: false });

function encodeRecord(r: LogRecord): Uint8Array {
  switch (r.t) {
    case CHUNK:
      return frameRecord(packr.pack([CHUNK, r.docId, r.epoch, r.bytes]));
    case DROP:
      return frameRecord(packr.pack([DROP, r.docId]));
    case META:
      return frameRecord(packr.pack([META, r.maxEpoch]));
    case END:
      return frameRecord(packr.pack([END, r.docs]));
  }
}

const isEpoch = (e: unknown): e is number => typeof e === 'number' && Number.isSafeInteger(e) && e >= 0;

/** A checksummed payload that still does not read as a record is damage too (or a newer format). */
function decodeRecord(payload: Uint8Array): LogRecord | undefined {
  let v: unknown;
  try {
    v = packr.unpack(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  switch (v[0]) {
    case CHUNK:
      return v.length === 4 && parseDocId(v[1]) && isEpoch(v[2]) && v[3] instanceof Uint8Array
        ? { t: CHUNK, docId: v[1], epoch: v[2], bytes: v[3] }
        : undefined;
    case DROP:
      return v.length === 2 && parseDocId(v[1]) ? { t: DROP, docId: v[1] } : undefined;
    case META:
      return v.length === 2 && isEpoch(v[1]) ? { t: META, maxEpoch: v[1] } : undefined;
    case END:
      return v.length === 2 && isEpoch(v[1]) ? { t: END, docs: v[1] } : undefined;
    default:
      return undefined;
  }
}

/** A data file that could not be read whole. */
export class StoreFileError extends Error {
  constructor(
    /** The file, as a path a person can open. */
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
    /** 'torn-tail': an interrupted last append, dropped (normal after a crash). 'corrupt': damage, file copied aside. */
    readonly kind: 'torn-tail' | 'corrupt',
    readonly keptRecords: number,
    readonly copy: string | undefined,
  ) {
    super(
      kind === 'torn-tail'
        ? `crdt-store: ${file} ends in an interrupted write at byte ${offset} (${reason}); kept the ${keptRecords} records before it and cut the rest`
        : `crdt-store: ${file} is damaged at byte ${offset} (${reason}); kept the ${keptRecords} good records before it` +
            (copy ? `, copied the whole file to ${copy}` : '') +
            '; the rest of the state will come back from peers',
    );
    this.name = 'StoreFileError';
  }
}

export interface JournalOptions {
  /** This node's name: only its own document's epochs bound the next epoch. */
  name: string;
  /** Compact when the log exceeds max(minLogBytes, compactRatio x snapshot). Defaults 1 MiB and 2. */
  minLogBytes?: number;
  compactRatio?: number;
  /** Write buffered appends once this many bytes are waiting. Default 256 KiB. */
  flushBytes?: number;
}

export interface JournalStats {
  logBytes: number;
  snapshotBytes: number;
  compactions: number;
  syncs: number;
}

interface DocState {
  epoch: number;
  chunks: Uint8Array[];
}

export class Journal implements Persistence {
  readonly loaded: { docs: PersistedDoc[]; maxEpoch: number };
  /** Everything start-up found wrong with the files; empty when they were whole. */
  readonly problems: StoreFileError[] = [];

  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private logBytes = 0;
  private snapshotBytes = 0;
  private mustCompact = false;
  private readonly minLogBytes: number;
  private readonly compactRatio: number;
  private readonly flushBytes: number;
  private compactions = 0;
  private syncs = 0;
  /** The highest own epoch on record; the snapshot's META keeps it even if the own document's record is lost. */
  private highestEpoch = 0;

  constructor(
    private readonly files: StoreFiles,
    private readonly opts: JournalOptions,
  ) {
    this.minLogBytes = opts.minLogBytes ?? DEFAULTS.minLogBytes;
    this.compactRatio = opts.compactRatio ?? DEFAULTS.compactRatio;
    this.flushBytes = opts.flushBytes ?? DEFAULTS.flushBytes;
    const docs = new Map<DocId, DocState>();
    const own = ownDocId(opts.name);
    let maxEpoch = 0;
    const apply = (r: LogRecord): void => {
      switch (r.t) {
        case CHUNK: {
          const s = docs.get(r.docId);
          if (!s || r.epoch > s.epoch) docs.set(r.docId, { epoch: r.epoch, chunks: [r.bytes] });
          else if (r.epoch === s.epoch) s.chunks.push(r.bytes);
          if (r.docId === own) maxEpoch = Math.max(maxEpoch, r.epoch);
          return;
        }
        case DROP:
          docs.delete(r.docId);
          return;
        case META:
          maxEpoch = Math.max(maxEpoch, r.maxEpoch);
          return;
        case END:
          return;
      }
    };
    this.snapshotBytes = this.readFile(SNAPSHOT_FILE, SNAPSHOT_MAGIC, apply, true);
    this.logBytes = this.readFile(LOG_FILE, LOG_MAGIC, apply, false);
    if (this.logBytes === 0) this.startLog();
    this.loaded = { docs: [...docs].map(([docId, s]) => ({ docId, epoch: s.epoch, chunks: s.chunks })), maxEpoch };
    this.highestEpoch = maxEpoch;
  }

  // ------------------------------------------------------------ Persistence

  chunk(docId: DocId, epoch: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (docId === ownDocId(this.opts.name)) this.highestEpoch = Math.max(this.highestEpoch, epoch);
    this.enqueue(encodeRecord({ t: CHUNK, docId, epoch, bytes }));
  }

  drop(docId: DocId): void {
    this.enqueue(encodeRecord({ t: DROP, docId }));
  }

  sync(): void {
    this.flush();
    this.files.sync(LOG_FILE);
    this.syncs++;
  }

  maybeCompact(snapshot: () => Iterable<{ docId: DocId; epoch: number; bytes: Uint8Array }>): void {
    if (
      !this.mustCompact &&
      this.logBytes + this.pendingBytes <= Math.max(this.minLogBytes, this.compactRatio * this.snapshotBytes)
    )
      return;
    this.compact(snapshot());
  }

  // ------------------------------------------------------------ the rest

  /** Writes buffered appends to the log (not durable until sync). */
  flush(): void {
    if (this.pending.length === 0) return;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.files.append(LOG_FILE, data);
    this.logBytes += data.length;
  }

  /**
   * Replaces the snapshot with `docs` (everything the store holds) and empties the log.
   * The snapshot is durable before the log is cut, so a crash in between replays a log
   * whose every record the snapshot already holds: harmless.
   */
  compact(docs: Iterable<{ docId: DocId; epoch: number; bytes: Uint8Array }>): void {
    const records: Uint8Array[] = [];
    const own = ownDocId(this.opts.name);
    for (const d of docs) {
      records.push(encodeRecord({ t: CHUNK, docId: d.docId, epoch: d.epoch, bytes: d.bytes }));
      if (d.docId === own) this.highestEpoch = Math.max(this.highestEpoch, d.epoch);
    }
    const data = Buffer.concat([
      fileHeader(SNAPSHOT_MAGIC),
      encodeRecord({ t: META, maxEpoch: this.highestEpoch }),
      ...records,
      encodeRecord({ t: END, docs: records.length }),
    ]);
    this.files.replace(SNAPSHOT_FILE, data);
    this.snapshotBytes = data.length;
    this.pending = [];
    this.pendingBytes = 0;
    this.files.truncate(LOG_FILE, 0);
    this.logBytes = 0;
    this.startLog();
    this.files.sync(LOG_FILE);
    this.mustCompact = false;
    this.compactions++;
  }

  stats(): JournalStats {
    return {
      logBytes: this.logBytes + this.pendingBytes,
      snapshotBytes: this.snapshotBytes,
      compactions: this.compactions,
      syncs: this.syncs,
    };
  }

  close(): void {
    this.flush();
    this.files.close();
  }

  // ------------------------------------------------------------ internals

  private enqueue(record: Uint8Array): void {
    this.pending.push(record);
    this.pendingBytes += record.length;
    if (this.pendingBytes >= this.flushBytes) this.flush();
  }

  private startLog(): void {
    this.files.append(LOG_FILE, fileHeader(LOG_MAGIC));
    this.logBytes = HEADER_BYTES;
  }

  /**
   * Applies every good record of `file` and returns the bytes kept. A snapshot must end
   * with its END record; anything short of that is damage (it is only ever renamed into
   * place whole). A damaged log is cut after its last good record so appends can follow.
   */
  private readFile(file: string, magic: string, apply: (r: LogRecord) => void, isSnapshot: boolean): number {
    const bytes = this.files.read(file);
    // An empty log is one created just before a crash; a snapshot is never written empty.
    if (!bytes || (bytes.length === 0 && !isSnapshot)) return 0;
    const scan = scanRecords(bytes, magic);
    let kept = 0;
    let goodBytes = scan.goodBytes;
    let stop = scan.stop;
    let sawEnd = false;
    let offset = HEADER_BYTES;
    for (const payload of scan.records) {
      const r = decodeRecord(payload);
      if (!r) {
        stop = { offset, reason: 'a record that does not decode', tornTail: false };
        goodBytes = offset;
        break;
      }
      if (r.t === END) sawEnd = true;
      apply(r);
      kept++;
      offset += 8 + payload.length;
    }
    if (isSnapshot && !stop && !sawEnd)
      stop = { offset: goodBytes, reason: 'the snapshot ends before its end record', tornTail: false };
    if (!stop) return goodBytes;

    const torn = stop.tornTail && !isSnapshot;
    const copy = torn ? undefined : this.files.quarantine(file);
    this.problems.push(
      new StoreFileError(
        this.files.describe(file),
        stop.offset,
        stop.reason,
        torn ? 'torn-tail' : 'corrupt',
        kept,
        copy,
      ),
    );
    this.mustCompact = true; // rewrite what was kept, so the damage is not read again
    if (isSnapshot) return goodBytes;
    if (goodBytes < HEADER_BYTES) {
      this.files.truncate(file, 0);
      return 0;
    }
    this.files.truncate(file, goodBytes);
    return goodBytes;
  }
}

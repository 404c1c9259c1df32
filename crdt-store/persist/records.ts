// The on-disk framing shared by the log and the snapshot: an 8-byte file header, then
// records of [u32 length][u32 CRC-32 of the payload][payload], little-endian. The CRC
// tells a record that is whole from one a crash tore or a disk rotted, and the length
// lets the reader stop exactly at the last good record.

import { crc32 } from 'node:zlib';

export const HEADER_BYTES = 8;
const FRAME_BYTES = 8;
/** No record is larger: a bad length field is recognised as such, not trusted. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export function fileHeader(magic: string): Uint8Array {
  if (magic.length !== HEADER_BYTES) throw new RangeError('a file magic is 8 ASCII characters');
  return Buffer.from(magic, 'latin1');
}

export function frameRecord(payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  out.set(payload, FRAME_BYTES);
  return out;
}

/** Where and why reading stopped before the end of the file. */
export interface ScanStop {
  offset: number;
  reason: string;
  /**
   * Nothing good follows the bad bytes, so they can be an interrupted final append (a
   * record cut short, half-written, or zeros from a filesystem that extended the file
   * before the data landed) and are dropped as such.
   */
  tornTail: boolean;
}

export interface ScanResult {
  /** Payloads of the good records, in order. */
  records: Uint8Array[];
  /** Bytes up to the end of the last good record (the header included). */
  goodBytes: number;
  /** Undefined when the whole file was read. */
  stop: ScanStop | undefined;
}

/** Reads every good record of a file; never throws. */
export function scanRecords(bytes: Uint8Array, magic: string): ScanResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER_BYTES) {
    return {
      records: [],
      goodBytes: 0,
      stop: buf.length === 0 ? undefined : { offset: 0, reason: 'file shorter than its header', tornTail: true },
    };
  }
  if (buf.toString('latin1', 0, HEADER_BYTES) !== magic) {
    return {
      records: [],
      goodBytes: 0,
      stop: { offset: 0, reason: `not a ${magic.trim()} file (bad header)`, tornTail: false },
    };
  }
  const records: Uint8Array[] = [];
  let off = HEADER_BYTES;
  while (off < buf.length) {
    const stop = (reason: string): ScanResult => ({
      records,
      goodBytes: off,
      stop: { offset: off, reason, tornTail: !goodRecordAfter(buf, off + 1) },
    });
    if (buf.length - off < FRAME_BYTES) return stop('file ends inside a record header');
    const len = buf.readUInt32LE(off);
    const crc = buf.readUInt32LE(off + 4);
    if (len > MAX_RECORD_BYTES) return stop(`record length ${len} is impossible`);
    const end = off + FRAME_BYTES + len;
    if (end > buf.length) return stop('file ends inside a record');
    const payload = buf.subarray(off + FRAME_BYTES, end);
    if (crc32(payload) !== crc) return stop('checksum mismatch');
    if (len === 0) return stop('empty record');
    records.push(payload);
    off = end;
  }
  return { records, goodBytes: off, stop: undefined };
}

/** Checksummed bytes the search below may spend before it assumes the worst. */
const RESYNC_BUDGET_BYTES = 64 * 1024 * 1024;

/**
 * Is there a whole, checksummed record anywhere after `from`? If so the bad bytes before
 * it are damage in the middle of the file, not an interrupted append. When the search
 * runs out of budget it answers yes: calling a torn tail corrupt costs a quarantined copy
 * and a loud report; calling corruption a torn tail would drop good records quietly.
 */
function goodRecordAfter(buf: Buffer, from: number): boolean {
  let budget = RESYNC_BUDGET_BYTES;
  for (let p = from; p + FRAME_BYTES < buf.length; p++) {
    const len = buf.readUInt32LE(p);
    if (len === 0 || p + FRAME_BYTES + len > buf.length) continue;
    budget -= len;
    if (budget < 0) return true;
    if (crc32(buf.subarray(p + FRAME_BYTES, p + FRAME_BYTES + len)) === buf.readUInt32LE(p + 4)) return true;
  }
  return false;
}

// The gossip envelope: how a list of messages becomes the bytes of one UDP packet or
// one TCP frame body, and back.
//
//   0      version (WIRE_VERSION)
//   1      mode: 0 = plain, CRC32 trailer; 1 = AES-256-GCM (before replay protection, accepted
//          only with acceptUnstamped); 2 = AES-256-GCM with the sender's clock
//   2      L, length of the cluster label in bytes
//   3..3+L cluster label (UTF-8), in the clear so a foreign cluster is told apart from a wrong key
//   plain: msgpack body ‖ CRC32 (big-endian) of everything before it
//   gcm:   nonce ‖ ciphertext of the msgpack body ‖ tag; bytes 0..3+L are the additional data,
//          so the label and mode cannot be altered without the tag failing
//   gcm+time: sent-at (8 bytes, ms since the epoch, big-endian double) ‖ nonce ‖ ciphertext ‖ tag;
//          the additional data is bytes 0..3+L+8, so the time is authenticated too and a
//          receiver's ReplayWindow (replay-window.ts) refuses stale and repeated envelopes.
//
// Upgrade note: mode 2 came with issue 12. Older agents reject it as bad_version, and newer
// ones reject mode 1 unless acceptUnstamped is set, so an encrypted cluster is upgraded
// with acceptUnstamped on (replays of the old agents' packets stay possible meanwhile) or
// all at once.
//
// The msgpack body is an array of messages in the positional form of wire-schema.ts.
// Decoding never throws: any input yields messages that passed validate.ts, or a reason
// from a small closed set (a Prometheus label) with an optional loggable detail.

import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { Message, PacketMessage } from './messages.js';
import { NONCE_BYTES, SEAL_OVERHEAD, type Keyring } from './keyring.js';
import type { ReplayWindow } from './replay-window.js';
import { fromWire, toWire } from './wire-schema.js';
import { checkMessage } from './validate.js';
import { DEFAULTS } from './defaults.js';

export const WIRE_VERSION = 1;
export const MAX_LABEL_BYTES = 255;
/** Largest UDP payload IPv4 can carry; anything bigger did not come from a datagram. */
export const MAX_PACKET_BYTES = 65507;

const MODE_PLAIN = 0;
const MODE_GCM = 1;
const MODE_GCM_STAMPED = 2;
const STAMP_BYTES = 8;
const HEADER_FIXED = 3;
const CRC_BYTES = 4;

export const REJECT_REASONS = [
  'too_short', // shorter than its header and trailer
  'too_large', // larger than the packet or frame limit
  'bad_version', // unknown version or mode byte
  'encryption_mismatch', // plain while we require encryption, or encrypted while we have no keyring
  'bad_crc', // plain packet damaged in transit
  'wrong_label', // another cluster's packet
  'decrypt_failed', // no installed key authenticates it (wrong key, or tampered)
  'stale', // authentic, but sent (by its timestamp) outside the allowed clock skew: a replay or a wrong clock
  'replayed', // authentic, but this very packet was already received: a replay
  'malformed', // authentic but not a msgpack list of messages
  'invalid_message', // a message that does not match messages.ts, or is not allowed in this context
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type DecodeResult<M> = { ok: true; msgs: M[] } | { ok: false; reason: RejectReason; detail?: string };

export interface WireOptions {
  /** Cluster label; packets of another label are rejected. Default '' (no label). At most 255 UTF-8 bytes. */
  label?: string;
  /** When set, everything sent is encrypted and only encrypted input is accepted. */
  keyring?: Keyring;
  /** With a keyring: refuses stale and repeated envelopes. Without one, time and nonce go unchecked (tests). */
  replay?: ReplayWindow;
  /** With a keyring: also accept encrypted envelopes without a sender time (mode 1, agents before issue 12). */
  acceptUnstamped?: boolean;
  /** The sender time to stamp; default Date.now. */
  clock?: () => number;
}

// Binary fields come back as Buffer copies (copyBuffers), so a stored meta does not pin the whole
// packet in memory. Records, structured clone and bundled strings are off: the body is plain
// arrays, and anything a peer sends beyond that (maps, dates, sets, extensions) fails validation.
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  bundleStrings: false,
  moreTypes: false,
  copyBuffers: true,
});

const headerCache = new Map<string, Buffer>();

function header(mode: number, label: string): Buffer {
  const key = `${mode}:${label}`;
  let h = headerCache.get(key);
  if (h === undefined) {
    const labelBytes = Buffer.from(label, 'utf8');
    if (labelBytes.length > MAX_LABEL_BYTES) throw new Error(`cluster label must be at most ${MAX_LABEL_BYTES} bytes`);
    h = Buffer.concat([Buffer.from([WIRE_VERSION, mode, labelBytes.length]), labelBytes]);
    if (headerCache.size > 64) headerCache.clear(); // a process uses one or two labels; never grow without bound
    headerCache.set(key, h);
  }
  return h;
}

/** msgpack array header size for `count` elements. */
function arrayHeaderBytes(count: number): number {
  return count < 16 ? 1 : count < 0x10000 ? 3 : 5;
}

/** Bytes a message of this shape takes inside the body. The compound adds packetOverhead() once. */
export function encodedSize(msg: Message): number {
  return packr.pack(toWire(msg)).length;
}

/** Bytes a packet of `count` messages adds on top of the messages' encodedSize(). */
export function packetOverhead(opts: WireOptions, count: number): number {
  const labelBytes = Buffer.byteLength(opts.label ?? '', 'utf8');
  return HEADER_FIXED + labelBytes + (opts.keyring ? STAMP_BYTES + SEAL_OVERHEAD : CRC_BYTES) + arrayHeaderBytes(count);
}

/**
 * Packs messages, in order, into as few packets as a greedy pass allows, each within `budget`
 * bytes. A message that cannot fit even alone is returned in `oversized`: the caller sends it
 * over TCP rather than dropping it (memberlist silently loses payloads over the MTU).
 */
export function splitIntoPackets(
  msgs: readonly PacketMessage[],
  opts: WireOptions,
  budget: number = DEFAULTS.swim.udpPayload,
): { packets: PacketMessage[][]; oversized: PacketMessage[] } {
  const packets: PacketMessage[][] = [];
  const oversized: PacketMessage[] = [];
  let current: PacketMessage[] = [];
  let currentBytes = 0;
  for (const m of msgs) {
    const size = encodedSize(m);
    if (packetOverhead(opts, 1) + size > budget) {
      oversized.push(m);
      continue;
    }
    if (current.length > 0 && packetOverhead(opts, current.length + 1) + currentBytes + size > budget) {
      packets.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(m);
    currentBytes += size;
  }
  if (current.length > 0) packets.push(current);
  return { packets, oversized };
}

function seal(msgs: readonly Message[], opts: WireOptions): Buffer {
  if (msgs.length === 0) throw new Error('cannot encode an empty list of messages');
  // Our own bug, caught here rather than by every receiver silently dropping the packet.
  for (const m of msgs) {
    const problem = checkMessage(m);
    if (problem) throw new Error(`cannot encode an invalid message: ${problem}`);
  }
  return sealBody(packr.pack(msgs.map(toWire)), opts);
}

/**
 * The envelope around an already packed body, with no check of what it holds. For tests
 * and the hostile-input bench, which must be able to send what the encoder refuses to.
 */
export function sealBody(body: Uint8Array, opts: WireOptions): Buffer {
  const label = opts.label ?? '';
  if (opts.keyring) {
    const h = header(MODE_GCM_STAMPED, label);
    const aad = Buffer.allocUnsafe(h.length + STAMP_BYTES);
    h.copy(aad, 0);
    aad.writeDoubleBE((opts.clock ?? Date.now)(), h.length);
    const sealed = opts.keyring.seal(body, aad);
    return Buffer.concat([aad, sealed], aad.length + sealed.length);
  }
  const h = header(MODE_PLAIN, label);
  const out = Buffer.allocUnsafe(h.length + body.length + CRC_BYTES);
  h.copy(out, 0);
  out.set(body, h.length);
  out.writeUInt32BE(crc32(out.subarray(0, out.length - CRC_BYTES)), out.length - CRC_BYTES);
  return out;
}

type Opened = { ok: true; body: Uint8Array } | { ok: false; reason: RejectReason; detail?: string };

function open(buf: Uint8Array, opts: WireOptions, maxBytes: number): Opened {
  if (buf.length > maxBytes) return { ok: false, reason: 'too_large' };
  if (buf.length < HEADER_FIXED) return { ok: false, reason: 'too_short' };
  if (buf[0] !== WIRE_VERSION) return { ok: false, reason: 'bad_version', detail: `version ${buf[0]}` };
  const mode = buf[1];
  if (mode !== MODE_PLAIN && mode !== MODE_GCM && mode !== MODE_GCM_STAMPED)
    return { ok: false, reason: 'bad_version', detail: `mode ${mode}` };
  if ((mode !== MODE_PLAIN) !== (opts.keyring !== undefined)) {
    return {
      ok: false,
      reason: 'encryption_mismatch',
      detail: mode !== MODE_PLAIN ? 'encrypted, no keyring' : 'not encrypted',
    };
  }
  if (mode === MODE_GCM && !opts.acceptUnstamped)
    return { ok: false, reason: 'stale', detail: 'no sender time (an agent from before replay protection)' };
  const headerEnd = HEADER_FIXED + buf[2]!;
  const stampEnd = headerEnd + (mode === MODE_GCM_STAMPED ? STAMP_BYTES : 0);
  const trailer = mode === MODE_PLAIN ? CRC_BYTES : SEAL_OVERHEAD;
  if (buf.length < stampEnd + trailer) return { ok: false, reason: 'too_short' };
  const ours = header(mode, opts.label ?? '');
  const theirs = buf.subarray(0, headerEnd);

  if (mode === MODE_PLAIN) {
    // CRC before label: a damaged packet is reported as damaged, not as foreign.
    const crcAt = buf.length - CRC_BYTES;
    const got = (buf[crcAt]! * 0x1000000 + ((buf[crcAt + 1]! << 16) | (buf[crcAt + 2]! << 8) | buf[crcAt + 3]!)) >>> 0;
    if (crc32(buf.subarray(0, crcAt)) !== got) return { ok: false, reason: 'bad_crc' };
    if (!ours.equals(theirs)) return { ok: false, reason: 'wrong_label' };
    return { ok: true, body: buf.subarray(headerEnd, crcAt) };
  }
  if (!ours.equals(theirs)) return { ok: false, reason: 'wrong_label' };
  const body = opts.keyring!.open(buf.subarray(stampEnd), buf.subarray(0, stampEnd));
  if (body === undefined) return { ok: false, reason: 'decrypt_failed' };
  if (mode === MODE_GCM_STAMPED && opts.replay) {
    // Only now, once authentic: forged envelopes must not fill the replay cache.
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    const verdict = opts.replay.check(
      b.readDoubleBE(headerEnd),
      b.toString('latin1', stampEnd, stampEnd + NONCE_BYTES),
    );
    if (verdict !== 'ok') return { ok: false, reason: verdict };
  }
  return { ok: true, body };
}

/** The authenticated body of an envelope (the inverse of sealBody), or a reason. Never throws. */
export function openBody(buf: Uint8Array, opts: WireOptions, maxBytes = MAX_PACKET_BYTES): Opened {
  try {
    return open(buf, opts, maxBytes);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
}

/** The envelope as stream-hello.ts wants it. */
export function codecEnvelope(opts: WireOptions): { seal(body: Uint8Array): Buffer; open(buf: Uint8Array): Opened } {
  return { seal: (body) => sealBody(body, opts), open: (buf) => openBody(buf, opts) };
}

function parse<M extends Message>(
  buf: Uint8Array,
  opts: WireOptions,
  maxBytes: number,
  streamOnlyAllowed: boolean,
): DecodeResult<M> {
  const opened = open(buf, opts, maxBytes);
  if (!opened.ok) return opened;
  let list: unknown;
  try {
    list = packr.unpack(opened.body);
  } catch {
    // msgpackr's messages can echo input; the reason is enough to count and log.
    return { ok: false, reason: 'malformed', detail: 'not msgpack' };
  }
  if (!Array.isArray(list)) return { ok: false, reason: 'malformed', detail: 'body is not a list' };
  if (list.length === 0) return { ok: false, reason: 'malformed', detail: 'no messages' };
  const msgs: M[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const r = fromWire(list[i]);
    if (!r.ok) return { ok: false, reason: 'invalid_message', detail: r.problem };
    if (!streamOnlyAllowed && r.msg.t === 'push-pull') {
      return { ok: false, reason: 'invalid_message', detail: 'push-pull: stream only' };
    }
    msgs[i] = r.msg as M;
  }
  return { ok: true, msgs };
}

/** Packs wire-form values (wire-schema.ts) unchecked, as a hostile peer could: tests and benches only. */
export function packUnchecked(values: readonly unknown[]): Uint8Array {
  return packr.pack(values);
}

/** Encodes a compound UDP packet. Throws only on a programming error (invalid message, empty list, label too long). */
export function encodePacket(msgs: readonly PacketMessage[], opts: WireOptions): Buffer {
  return seal(msgs, opts);
}

/** Decodes a UDP packet. Never throws. */
export function decodePacket(buf: Uint8Array, opts: WireOptions): DecodeResult<PacketMessage> {
  try {
    return parse<PacketMessage>(buf, opts, MAX_PACKET_BYTES, false);
  } catch {
    // Belt and braces: every known failure returns above; this keeps an unforeseen one from
    // reaching the socket handler, where it would take the process down.
    return { ok: false, reason: 'malformed', detail: 'unexpected decoder failure' };
  }
}

/** Encodes the body of a TCP frame (see framing.ts); unlike a packet it may carry push-pull. */
export function encodeStream(msgs: readonly Message[], opts: WireOptions): Buffer {
  return seal(msgs, opts);
}

/** Decodes the body of a TCP frame. Never throws. `maxBytes` should match the frame limit. */
export function decodeStream(
  buf: Uint8Array,
  opts: WireOptions,
  maxBytes = Number.MAX_SAFE_INTEGER,
): DecodeResult<Message> {
  try {
    return parse<Message>(buf, opts, maxBytes, true);
  } catch {
    return { ok: false, reason: 'malformed', detail: 'unexpected decoder failure' };
  }
}

export function isRejectReason(v: unknown): v is RejectReason {
  return (REJECT_REASONS as readonly unknown[]).includes(v);
}

// The store's envelope on the wire, the same scheme as gossip's (membership/codec.ts):
//
//   0      version (1)
//   1      mode: 0 = plain with a CRC-32 trailer; 1 = AES-256-GCM (membership's Keyring)
//   2      L, length of the cluster label
//   3..3+L cluster label, in the clear (another cluster is told apart from a wrong key)
//   plain: body ‖ CRC-32 (big-endian) of everything before it
//   gcm:   nonce ‖ ciphertext ‖ tag, with bytes 0..3+L as additional data
//
// The body is a replication message (replication/wire.ts). The same keyring as gossip
// can be used, so one key rotation covers both. open() never throws.

import { crc32 } from 'node:zlib';
import { SEAL_OVERHEAD, type Keyring } from '../membership/keyring.js';

const VERSION = 1;
const PLAIN = 0;
const GCM = 1;

export const ENVELOPE_REJECTS = [
  'too_short',
  'bad_version',
  'wrong_label',
  'encryption_mismatch',
  'bad_crc',
  'decrypt_failed',
] as const;
export type EnvelopeReject = (typeof ENVELOPE_REJECTS)[number];

export interface EnvelopeOptions {
  label: string;
  keyring?: Keyring;
}

export class Envelope {
  private readonly header: Buffer;

  constructor(private readonly opts: EnvelopeOptions) {
    const label = Buffer.from(opts.label, 'utf8');
    if (label.length > 255) throw new RangeError('the cluster label is over 255 bytes');
    this.header = Buffer.concat([Buffer.from([VERSION, opts.keyring ? GCM : PLAIN, label.length]), label]);
  }

  /** Bytes the envelope adds to a body. */
  get overhead(): number {
    return this.header.length + (this.opts.keyring ? SEAL_OVERHEAD : 4);
  }

  seal(body: Uint8Array): Buffer {
    if (this.opts.keyring) return Buffer.concat([this.header, this.opts.keyring.seal(body, this.header)]);
    const out = Buffer.allocUnsafe(this.header.length + body.length + 4);
    this.header.copy(out, 0);
    out.set(body, this.header.length);
    out.writeUInt32BE(crc32(out.subarray(0, this.header.length + body.length)), this.header.length + body.length);
    return out;
  }

  open(buf: Uint8Array): { ok: true; body: Uint8Array } | { ok: false; reason: EnvelopeReject } {
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (b.length < 3 || b.length < 3 + b[2]) return { ok: false, reason: 'too_short' };
    if (b[0] !== VERSION || (b[1] !== PLAIN && b[1] !== GCM)) return { ok: false, reason: 'bad_version' };
    const headerLen = 3 + b[2];
    if (!b.subarray(3, headerLen).equals(this.header.subarray(3))) return { ok: false, reason: 'wrong_label' };
    if ((b[1] === GCM) !== (this.opts.keyring !== undefined)) return { ok: false, reason: 'encryption_mismatch' };
    if (this.opts.keyring) {
      const body = this.opts.keyring.open(b.subarray(headerLen), b.subarray(0, headerLen));
      return body ? { ok: true, body } : { ok: false, reason: 'decrypt_failed' };
    }
    if (b.length < headerLen + 4) return { ok: false, reason: 'too_short' };
    const end = b.length - 4;
    if (crc32(b.subarray(0, end)) !== b.readUInt32BE(end)) return { ok: false, reason: 'bad_crc' };
    return { ok: true, body: b.subarray(headerLen, end) };
  }
}

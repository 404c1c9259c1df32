// Fuzz of the packet decoder: well over 100,000 inputs per run, from random bytes to
// authentic envelopes around wrong-shaped msgpack. Every input must yield either
// validated messages or a known reject reason; a throw fails the run, and fast-check
// prints the seed and path to replay it.

import t from 'tap';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { crc32 } from 'node:zlib';
import {
  REJECT_REASONS,
  decodePacket,
  decodeStream,
  encodePacket,
  type DecodeResult,
  type RejectReason,
  type WireOptions,
} from './codec.js';
import { Keyring, generateKey } from './keyring.js';
import type { Message } from './messages.js';
import { isMessage, isPacketMessage } from './validate.js';
import { arbPacketMessage } from './wire-arbitraries.js';

const LABEL = 'fuzz';
const plainOpts: WireOptions = { label: LABEL };
const keyring = new Keyring([generateKey()]);
const encOpts: WireOptions = { label: LABEL, keyring };
const anyPackr = new Packr({ useRecords: false, useBigIntExtension: true, moreTypes: true, structuredClone: true });

const seen = new Map<string, number>();
let inputs = 0;

/** Decodes one input and checks the outcome is one of the two allowed kinds. */
function check(buf: Uint8Array, opts: WireOptions, stream = false): void {
  inputs++;
  let r: DecodeResult<Message>;
  try {
    r = stream ? decodeStream(buf, opts) : decodePacket(buf, opts);
  } catch (e) {
    throw new Error(`decoder threw: ${String(e)}`, { cause: e });
  }
  if (r.ok) {
    if (r.msgs.length === 0) throw new Error('ok with no messages');
    for (const m of r.msgs)
      if (!(stream ? isMessage(m) : isPacketMessage(m))) throw new Error('ok with an invalid message');
    seen.set('ok', (seen.get('ok') ?? 0) + 1);
  } else {
    if (!REJECT_REASONS.includes(r.reason)) throw new Error(`unknown reason ${String(r.reason)}`);
    if (r.detail !== undefined && (typeof r.detail !== 'string' || r.detail.length > 200))
      throw new Error('bad detail');
    seen.set(r.reason, (seen.get(r.reason) ?? 0) + 1);
  }
}

/** An authentic envelope (right label, CRC or key) around arbitrary body bytes. */
function envelope(body: Uint8Array, encrypted: boolean): Buffer {
  const head = Buffer.from([1, encrypted ? 1 : 0, LABEL.length, ...Buffer.from(LABEL)]);
  if (encrypted) return Buffer.concat([head, keyring.seal(body, head)]);
  const out = Buffer.concat([head, body, Buffer.alloc(4)]);
  out.writeUInt32BE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

/** The msgpack body inside a valid plain packet. */
function bodyOf(msgs: Parameters<typeof encodePacket>[0]): Buffer {
  const p = encodePacket(msgs, plainOpts);
  return p.subarray(3 + LABEL.length, p.length - 4);
}

const compound = fc.array(arbPacketMessage, { minLength: 1, maxLength: 6 });
const encrypted = fc.boolean();

/** A valid message whose fields are replaced, dropped or extended with arbitrary values. */
const wrongShape = fc
  .tuple(
    compound,
    fc.nat(),
    fc.nat(),
    fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withNullPrototype: true,
    }),
    fc.constantFrom('replace', 'drop', 'append', 'nest'),
  )
  .map(([msgs, which, field, value, how]) => {
    const list = anyPackr.unpack(bodyOf(msgs)) as unknown[][];
    const target = list[which % list.length]!;
    const i = field % target.length;
    if (how === 'replace') target[i] = value;
    else if (how === 'drop') target.splice(i, 1);
    else if (how === 'append') target.push(value);
    else if (Array.isArray(target[i])) (target[i] as unknown[])[field % 3] = value;
    else target[i] = [value];
    return list;
  });

const RUNS = {
  randomBytes: 25_000,
  truncated: 15_000,
  flippedEnvelope: 20_000,
  flippedBody: 20_000,
  anything: 12_000,
  wrongShape: 12_000,
};

t.test(`decoder never throws on ${Object.values(RUNS).reduce((a, b) => a + b)}+ fuzzed inputs`, async (t) => {
  const started = Date.now();
  const opts = (enc: boolean) => (enc ? encOpts : plainOpts);

  // Random bytes, sometimes behind a plausible version/mode/label so they reach the CRC and key checks.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1500 }), fc.constantFrom(0, 1, 2), encrypted, (bytes, prefix, enc) => {
      const head =
        prefix === 0 ? [] : prefix === 1 ? [1, enc ? 1 : 0] : [1, enc ? 1 : 0, LABEL.length, ...Buffer.from(LABEL)];
      check(Buffer.concat([Buffer.from(head), bytes]), opts(enc));
    }),
    { numRuns: RUNS.randomBytes },
  );

  // Truncations of valid packets, plain and encrypted.
  fc.assert(
    fc.property(compound, encrypted, fc.nat(), (msgs, enc, cutAt) => {
      const p = encodePacket(msgs, opts(enc));
      check(p.subarray(0, cutAt % p.length), opts(enc));
    }),
    { numRuns: RUNS.truncated },
  );

  // Bit flips anywhere in valid packets: must be caught by the CRC, the label or the tag.
  fc.assert(
    fc.property(compound, encrypted, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (msgs, enc, bits) => {
      const p = Buffer.from(encodePacket(msgs, opts(enc)));
      for (const b of bits) p[(b >> 3) % p.length]! ^= 1 << (b & 7);
      check(p, opts(enc));
    }),
    { numRuns: RUNS.flippedEnvelope },
  );

  // Bit flips and byte writes in the msgpack body, re-sealed so they pass the CRC or tag:
  // what a buggy peer holding our key could send. This is where the msgpack parser and the
  // validator are exercised.
  fc.assert(
    fc.property(
      compound,
      encrypted,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
      (msgs, enc, edits) => {
        const body = Buffer.from(bodyOf(msgs));
        for (const [at, value, flip] of edits) {
          const i = at % body.length;
          body[i] = flip ? body[i]! ^ (1 << (value & 7)) : value;
        }
        check(envelope(body, enc), opts(enc));
      },
    ),
    { numRuns: RUNS.flippedBody },
  );

  // Valid msgpack of any value at all, in an authentic envelope.
  fc.assert(
    fc.property(
      fc.anything({
        withBigInt: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withTypedArray: true,
        withNullPrototype: true,
        withObjectString: true,
        withSparseArray: true,
      }),
      encrypted,
      (value, enc) => {
        let body: Buffer;
        try {
          body = anyPackr.pack(value);
        } catch {
          return; // a value msgpackr cannot encode tells us nothing about the decoder
        }
        check(envelope(body, enc), opts(enc));
        check(envelope(anyPackr.pack([value]), enc), opts(enc));
      },
    ),
    { numRuns: RUNS.anything / 2 },
  );

  // Right envelope, right list, wrong field types or counts inside otherwise valid messages.
  fc.assert(
    fc.property(wrongShape, encrypted, (list, enc) => {
      check(envelope(anyPackr.pack(list), enc), opts(enc));
      check(envelope(anyPackr.pack(list), enc), opts(enc), true);
    }),
    { numRuns: RUNS.wrongShape / 2 },
  );

  const seconds = (Date.now() - started) / 1000;
  t.ok(inputs >= 100_000, `${inputs} inputs in ${seconds.toFixed(1)} s`);
  const summary = [...seen]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  t.comment(summary);
  // The fuzz is only worth something if it reaches every stage of the decoder.
  const mustSee: (RejectReason | 'ok')[] = [
    'ok',
    'too_short',
    'bad_version',
    'encryption_mismatch',
    'bad_crc',
    'wrong_label',
    'decrypt_failed',
    'malformed',
    'invalid_message',
  ];
  for (const r of mustSee) t.ok((seen.get(r) ?? 0) > 0, `reached ${r}`);
});

t.test('deeply nested msgpack in a 4 MiB frame is rejected, not a crash', async (t) => {
  const depth = 4 * 1024 * 1024 - 64;
  const body = Buffer.alloc(depth, 0x91); // [[[[...]]]]
  body[depth - 1] = 0x01;
  const r = decodeStream(envelope(body, false), plainOpts);
  t.same(r.ok ? 'ok' : r.reason, 'malformed');
  const ok = decodePacket(encodePacket([{ t: 'nack', seq: 1 }], plainOpts), plainOpts);
  t.ok(ok.ok, 'the decoder still works afterwards');
});

t.test('huge declared lengths in a small body do not allocate', async (t) => {
  // array32 / map32 / bin32 / str32 claiming 4 G elements or bytes, with nothing behind them.
  for (const head of [[0xdd], [0xdf], [0xc6], [0xdb], [0xc9]]) {
    const body = Buffer.from([...head, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const r = decodePacket(envelope(body, false), plainOpts);
    t.equal(r.ok ? 'ok' : r.reason, 'malformed', Buffer.from(head).toString('hex'));
  }
});

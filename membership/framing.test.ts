import t from 'tap';
import fc from 'fast-check';
import { FrameReader, frame } from './framing.js';
import { decodeStream, encodeStream } from './codec.js';
import { Keyring, generateKey } from './keyring.js';
import { arbMessage } from './wire-arbitraries.js';

/** Cuts a buffer at the given sorted offsets. */
function cut(buf: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (buf.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    parts.push(buf.subarray(at, p));
    at = p;
  }
  parts.push(buf.subarray(at));
  return parts;
}

t.test('frames survive any split into chunks, including empty frames and one-byte chunks', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (bodies, offsets) => {
        const stream = Buffer.concat(bodies.map(frame));
        const reader = new FrameReader(4096);
        const got: Buffer[] = [];
        for (const chunk of cut(stream, offsets)) {
          const r = reader.push(chunk);
          if (!r.ok) throw new Error('rejected');
          got.push(...r.frames);
        }
        if (got.length !== bodies.length) throw new Error(`expected ${bodies.length} frames, got ${got.length}`);
        bodies.forEach((b, i) => {
          if (!Buffer.from(b).equals(got[i]!)) throw new Error(`frame ${i} differs`);
        });
        if (reader.buffered !== 0) throw new Error('bytes left over');
      },
    ),
    { numRuns: 500 },
  );
  const reader = new FrameReader();
  const stream = frame(Buffer.from('abcdefgh'));
  const frames = [...stream].flatMap((byte) => reader.push(Buffer.from([byte])).frames);
  t.same(frames.map(String), ['abcdefgh'], 'byte by byte');
});

t.test('encrypted stream messages round-trip through frames split at random', async (t) => {
  const opts = { label: 'prod', keyring: new Keyring([generateKey()]) };
  fc.assert(
    fc.property(
      fc.array(arbMessage, { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (msgs, offsets) => {
        const reader = new FrameReader();
        const frames = cut(frame(encodeStream(msgs, opts)), offsets).flatMap((c) => reader.push(c).frames);
        if (frames.length !== 1) throw new Error(`got ${frames.length} frames`);
        const r = decodeStream(frames[0]!, opts);
        if (!r.ok || r.msgs.length !== msgs.length) throw new Error('not decoded');
      },
    ),
    { numRuns: 200 },
  );
  t.pass('200 random splits decoded');
});

t.test('a length prefix over the limit is refused before any of the body is buffered', async (t) => {
  const reader = new FrameReader(1024);
  const ok = reader.push(frame(Buffer.alloc(1024)));
  t.equal(ok.ok && ok.frames.length, 1, 'a frame of exactly the limit is fine');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(1025);
  const r = reader.push(prefix);
  t.same(r, { ok: false, reason: 'too_large', frames: [] });
  t.equal(reader.buffered, 0, 'nothing held');
  t.equal(reader.push(frame(Buffer.from('x'))).ok, false, 'stays failed: the stream cannot be resynchronised');
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(0xffffffff);
  t.equal(new FrameReader().push(huge).ok, false, '4 GiB prefix with the default 4 MiB limit');
});

t.test('a peer trickling bytes does not make the reader hold one buffer per chunk', async (t) => {
  const reader = new FrameReader();
  const body = Buffer.alloc(200_000, 7);
  const stream = frame(body);
  let frames: Buffer[] = [];
  let peak = 0;
  for (let i = 0; i < stream.length; i += 3) {
    frames = frames.concat(reader.push(stream.subarray(i, i + 3)).frames);
    peak = Math.max(peak, reader.heldBuffers);
  }
  t.equal(frames.length, 1);
  t.ok(frames[0]!.equals(body));
  // 66,668 three-byte chunks packed into 16 KiB accumulators: about 13 buffers, not 66,668.
  t.ok(peak <= 20, `held at most ${peak} buffers`);
});

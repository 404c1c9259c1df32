// Length-prefixed frames for TCP streams (push/pull, messages too large for a packet).
//
//   4 bytes big-endian body length ‖ body
//
// The body is an envelope from codec.ts (encodeStream), so version, label and
// authentication rules are the same as for packets. A length of 0 is a valid empty
// frame: the transport uses it as "received, nothing to answer".
//
// The reader refuses a frame as soon as its length prefix exceeds the limit, before
// buffering any of it, so a hostile peer cannot make us hold more than one frame.
//
// A stream opens with a hello frame (stream-hello.ts), at most HELLO_MAX_BYTES long, that
// must authenticate before the server accepts a frame of full size: without the key,
// nobody gets more than a few KiB of our memory per connection.

export const FRAME_PREFIX_BYTES = 4;
/** Large enough for a push/pull of several thousand members with full metadata. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Largest first frame of an inbound stream: a hello, or a small request from a peer that sends none. */
export const HELLO_MAX_BYTES = 4 * 1024;

/** Prefixes a body with its length. */
export function frame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, FRAME_PREFIX_BYTES);
  return out;
}

export type FrameReadResult = { ok: true; frames: Buffer[] } | { ok: false; reason: 'too_large'; frames: Buffer[] };

/** Chunks smaller than this are copied together, so a peer trickling bytes cannot make us hold millions of tiny buffers. */
const SMALL_CHUNK = 1024;
const ACCUMULATOR_BYTES = 16 * 1024;

/** Reassembles frames from stream chunks split at arbitrary boundaries. */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Owned buffer collecting small chunks; its filled part belongs after #chunks. */
  #acc: Buffer | undefined;
  #accFilled = 0;
  /** Length of the frame whose prefix has been read, or undefined while waiting for a prefix. */
  #bodyLength: number | undefined;
  #failed = false;

  readonly #firstFrameBytes: number;
  #framesRead = 0;

  /**
   * @param firstFrameBytes a smaller limit for the first frame: an inbound stream's hello,
   *   which must authenticate before anything large is read (the caller checks it as soon
   *   as push() returns it, so at most one chunk of the next frame is held meanwhile)
   */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES, firstFrameBytes: number = maxFrameBytes) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#firstFrameBytes = Math.min(firstFrameBytes, maxFrameBytes);
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Length of the frame whose prefix has been read and whose body is still arriving, else 0. */
  get announced(): number {
    return this.#bodyLength ?? 0;
  }

  /** True between frames: nothing buffered and no length prefix read for a frame to come. */
  get idle(): boolean {
    return this.#buffered === 0 && this.#bodyLength === undefined;
  }

  /** Separate buffers held: what a trickling peer would try to inflate. */
  get heldBuffers(): number {
    return this.#chunks.length + (this.#acc === undefined ? 0 : 1);
  }

  /**
   * Feeds a chunk; returns every frame it completes. After a `too_large` result the stream
   * cannot be resynchronised, so the reader stays failed and the caller should close it.
   */
  push(chunk: Uint8Array): FrameReadResult {
    if (this.#failed) return { ok: false, reason: 'too_large', frames: [] };
    this.#store(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#bodyLength === undefined) {
        if (this.#buffered < FRAME_PREFIX_BYTES) break;
        const length = this.#take(FRAME_PREFIX_BYTES).readUInt32BE(0);
        if (length > (this.#framesRead === 0 ? this.#firstFrameBytes : this.#maxFrameBytes)) {
          this.#failed = true;
          this.#chunks = [];
          this.#acc = undefined;
          this.#buffered = 0;
          return { ok: false, reason: 'too_large', frames };
        }
        this.#bodyLength = length;
      }
      if (this.#buffered < this.#bodyLength) break;
      frames.push(this.#take(this.#bodyLength));
      this.#bodyLength = undefined;
      this.#framesRead++;
    }
    return { ok: true, frames };
  }

  #store(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#buffered += chunk.length;
    if (chunk.length >= SMALL_CHUNK) {
      this.#sealAccumulator();
      this.#chunks.push(chunk);
      return;
    }
    if (this.#acc === undefined || this.#acc.length - this.#accFilled < chunk.length) {
      this.#sealAccumulator();
      this.#acc = Buffer.allocUnsafe(ACCUMULATOR_BYTES);
    }
    chunk.copy(this.#acc, this.#accFilled);
    this.#accFilled += chunk.length;
  }

  #sealAccumulator(): void {
    if (this.#acc !== undefined && this.#accFilled > 0) this.#chunks.push(this.#acc.subarray(0, this.#accFilled));
    this.#acc = undefined;
    this.#accFilled = 0;
  }

  /** Removes and returns the next n buffered bytes (n <= buffered); copies only when they span chunks. */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.#sealAccumulator();
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const c = this.#chunks[used]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        used++;
      } else {
        c.copy(out, filled, 0, want);
        this.#chunks[used] = c.subarray(want);
        filled += want;
      }
    }
    this.#chunks.splice(0, used);
    return out;
  }
}

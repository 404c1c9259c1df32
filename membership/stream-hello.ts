// The first frame of every stream: proof that the peer holds the cluster's key before the
// server lets it send a frame of full size (up to 4 MiB). Without it, anyone who reaches
// the port could make us buffer a whole frame per connection before decrypting anything.
//
// The hello is the envelope of the port (gossip's codec, the store's Envelope) around a
// fixed tag and the sender's clock, so it authenticates exactly as the port's messages do:
// AES-GCM with any installed key, or, without encryption, the label and CRC (which keeps
// out strays and other clusters, not attackers: there is nothing to authenticate with).
// The timestamp keeps a captured hello from being replayed after `windowMs`.

const TAG = Buffer.from('weft-stream-hello/1', 'utf8');
const BODY_BYTES = TAG.length + 8;

export type HelloVerdict = 'hello' | 'other' | 'unauthentic';

/** What the transport needs to open and check the first frame of a stream. */
export interface StreamHello {
  /** The hello to send first on every stream we open. */
  make(): Uint8Array;
  /**
   * 'hello' for an authentic, fresh hello; 'other' for an authentic frame that is not one
   * (a small request from a peer that sends no hello); 'unauthentic' for the rest. Never throws.
   */
  check(frame: Uint8Array): HelloVerdict;
}

/** A port's envelope: the store's Envelope fits as it is, gossip's codec through codecEnvelope(). */
export interface HelloEnvelope {
  seal(body: Uint8Array): Uint8Array;
  /** The authenticated body, or a failure. */
  open(buf: Uint8Array): { ok: true; body: Uint8Array } | { ok: false; reason?: string };
}

export const DEFAULT_HELLO_WINDOW_MS = 60_000;

/**
 * @param onReject told why a first frame did not authenticate (the envelope's reason, or
 *   'stale'), so the port can count it with its other rejects
 */
export function sealedHello(
  env: HelloEnvelope,
  onReject: (reason: string) => void = () => {},
  windowMs = DEFAULT_HELLO_WINDOW_MS,
  clock: () => number = Date.now,
): StreamHello {
  return {
    make() {
      const body = Buffer.allocUnsafe(BODY_BYTES);
      TAG.copy(body, 0);
      body.writeDoubleBE(clock(), TAG.length);
      return env.seal(body);
    },
    check(frame) {
      try {
        const opened = env.open(frame);
        if (!opened.ok) {
          onReject(opened.reason ?? 'unauthentic');
          return 'unauthentic';
        }
        const body = opened.body;
        const b = Buffer.from(body.buffer, body.byteOffset, body.length);
        if (body.length !== BODY_BYTES || !b.subarray(0, TAG.length).equals(TAG)) return 'other';
        const sent = b.readDoubleBE(TAG.length);
        if (Number.isFinite(sent) && Math.abs(clock() - sent) <= windowMs) return 'hello';
        onReject('stale');
        return 'unauthentic';
      } catch {
        onReject('malformed');
        return 'unauthentic';
      }
    },
  };
}

/** For a port with no envelope (tests): the bare tag, which authenticates nothing. */
export const PLAIN_HELLO: StreamHello = sealedHello({ seal: (b) => b, open: (b) => ({ ok: true, body: b }) });

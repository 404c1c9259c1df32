// User events (serf's `serf event`), sans-IO: a named payload fired on one node and delivered
// once to every node's handlers. It rides membership's user broadcasts (piggybacked on
// gossip, a bounded number of transmissions); every node that admits an event relays it once,
// which is what carries it to the whole cluster, as serf rebroadcasts.
//
// Each event carries its origin and a hybrid Lamport time: max(last seen + 1, wall ms), so a
// restarted node, whose counter starts again, still fires after what it fired before, and an
// event's age is readable as time. Receivers dedupe by (origin, lamport) in a bounded window
// (dedupe.ts). A flood is bounded: each origin has a token bucket at every receiver (beyond
// it, events are dropped and not relayed), an event more than maxFutureMs ahead of the
// receiver's clock is refused (it would push everyone's window), and name plus payload are at
// most MAX_EVENT_BYTES, as serf's 512. With identity on, the origin signs the event with its
// node key and attaches its certificate; receivers refuse unsigned or forged events, so no
// node can fire in another's name.
import { Packr } from 'msgpackr';
import { LruMap } from '../../base/lru.js';
import { EventDedupe } from './dedupe.js';

/** The first byte of an event on the user broadcast channel (other users of the channel pick others). */
export const EVENT_TAG = 0x45;
/** Name and payload together, in bytes: serf's limit; an event fits one gossip datagram with its signature and certificate. */
export const MAX_EVENT_BYTES = 512;
export const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const EVENT_NAME_DOC = '1-64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

export interface UserEvent {
  origin: string;
  lamport: number;
  name: string;
  payload: Uint8Array;
}

/** Signs our events and checks others' (membership's identity); absent: events are unsigned. */
export interface EventAuth {
  sign(bytes: Uint8Array): { sig: Uint8Array; cert: Uint8Array };
  /** A reason to refuse, or undefined when `sig` is `origin`'s over `bytes`. */
  verify(origin: string, bytes: Uint8Array, sig: Uint8Array, cert: Uint8Array, now: number): string | undefined;
}

export interface UserEventOptions {
  self: string;
  /** How far behind the newest event one may arrive (ms of hybrid time). Default 5 min. */
  windowMs?: number;
  /** Event ids remembered at most. Default 4096. */
  maxRemembered?: number;
  /** Events per second one origin may fire, at every receiver; burst as many as `burst`. */
  ratePerSec?: number;
  burst?: number;
  /**
   * Events per second from all origins together, at every receiver (burst twice as many):
   * without identity an origin name costs nothing to forge, so the per-origin bucket alone
   * would not bound a flood under fresh names. Default 100.
   */
  totalPerSec?: number;
  /** An event stamped further ahead of this node's clock is refused. Default 10 min. */
  maxFutureMs?: number;
  auth?: EventAuth;
}

export const EVENT_REJECTS = [
  'malformed',
  'too_large',
  'bad_name',
  'unsigned',
  'bad_signature',
  'future',
  'too_old',
  'rate',
  'duplicate',
] as const;
export type EventReject = (typeof EVENT_REJECTS)[number];

export type Received = { event: UserEvent; relay: Uint8Array } | { reject: EventReject; detail?: string };
export type Fired =
  { event: UserEvent; data: Uint8Array } | { error: string; reason: 'too_large' | 'bad_name' | 'rate' };

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** The bytes an origin signs: everything but the signature. */
const signedBytes = (e: UserEvent): Uint8Array => packr.pack([e.origin, e.lamport, e.name, e.payload]);

export function eventSize(name: string, payload: Uint8Array): number {
  return Buffer.byteLength(name) + payload.byteLength;
}

/** The bucket of all origins together (no node name is empty). */
const ALL = '';

interface Bucket {
  tokens: number;
  at: number;
}

export class UserEvents {
  private clock = 0;
  private readonly dedupe: EventDedupe;
  private readonly buckets: LruMap<string, Bucket>;
  private readonly o: Required<Omit<UserEventOptions, 'auth'>> & { auth?: EventAuth };
  readonly rejected: Record<EventReject, number> = Object.fromEntries(EVENT_REJECTS.map((r) => [r, 0])) as Record<
    EventReject,
    number
  >;
  delivered = 0;

  constructor(opts: UserEventOptions) {
    this.o = {
      windowMs: 300_000,
      maxRemembered: 4096,
      ratePerSec: 10,
      burst: 50,
      totalPerSec: 100,
      maxFutureMs: 600_000,
      ...opts,
    };
    this.dedupe = new EventDedupe(this.o.windowMs, this.o.maxRemembered);
    this.buckets = new LruMap(4096);
  }

  /** A local event: checked, stamped, signed, and admitted here (the caller delivers it locally and broadcasts `data`). */
  fire(now: number, name: string, payload: Uint8Array): Fired {
    if (!EVENT_NAME.test(name))
      return { error: `event name "${name.slice(0, 80)}" must be ${EVENT_NAME_DOC}`, reason: 'bad_name' };
    const size = eventSize(name, payload);
    if (size > MAX_EVENT_BYTES)
      return {
        error: `event name and payload are ${size} bytes; at most ${MAX_EVENT_BYTES} (put larger data in weft kv and send its key)`,
        reason: 'too_large',
      };
    if (!this.take(this.o.self, now, this.o.ratePerSec, this.o.burst))
      return {
        error: `more than ${this.o.ratePerSec} events a second (burst ${this.o.burst}) from this node; try again shortly`,
        reason: 'rate',
      };
    const event: UserEvent = { origin: this.o.self, lamport: Math.max(this.clock + 1, Math.floor(now)), name, payload };
    this.clock = event.lamport;
    this.dedupe.admit(event.origin, event.lamport);
    this.delivered++;
    return { event, data: this.encode(event) };
  }

  /** An event from the user broadcast channel (its first byte is EVENT_TAG). */
  receive(now: number, data: Uint8Array): Received {
    const event = decodeEvent(data);
    if (typeof event === 'string') return this.refuse(event);
    if (!EVENT_NAME.test(event.event.name)) return this.refuse('bad_name');
    if (eventSize(event.event.name, event.event.payload) > MAX_EVENT_BYTES) return this.refuse('too_large');
    const { sig, cert } = event;
    // Copies are the common case (every node relays once): known ones cost no signature check.
    const known = this.dedupe.peek(event.event.origin, event.event.lamport);
    if (known !== 'new') return this.refuse(known);
    if (this.o.auth) {
      if (!sig || !cert) return this.refuse('unsigned');
      const why = this.o.auth.verify(event.event.origin, signedBytes(event.event), sig, cert, now);
      if (why) return this.refuse('bad_signature', why);
    }
    const e = event.event;
    if (e.lamport > now + this.o.maxFutureMs) return this.refuse('future');
    const admission = this.dedupe.admit(e.origin, e.lamport);
    if (admission !== 'new') return this.refuse(admission);
    // Counted after dedupe: duplicates of an admitted event cost its origin nothing.
    if (
      !this.take(ALL, now, this.o.totalPerSec, this.o.totalPerSec * 2) ||
      !this.take(e.origin, now, this.o.ratePerSec, this.o.burst)
    )
      return this.refuse('rate');
    if (e.lamport > this.clock) this.clock = e.lamport;
    this.delivered++;
    return { event: e, relay: data };
  }

  private refuse(reason: EventReject, detail?: string): Received {
    this.rejected[reason]++;
    return { reject: reason, detail };
  }

  private take(origin: string, now: number, ratePerSec: number, burst: number): boolean {
    const b = this.buckets.get(origin) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * ratePerSec);
    b.at = now;
    this.buckets.set(origin, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private encode(e: UserEvent): Uint8Array {
    const signed = this.o.auth?.sign(signedBytes(e));
    const body = packr.pack([1, e.origin, e.lamport, e.name, e.payload, signed?.sig ?? null, signed?.cert ?? null]);
    const out = new Uint8Array(body.byteLength + 1);
    out[0] = EVENT_TAG;
    out.set(body, 1);
    return out;
  }
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** The event in a broadcast, or why it is not one. */
export function decodeEvent(data: Uint8Array): { event: UserEvent; sig?: Uint8Array; cert?: Uint8Array } | 'malformed' {
  if (data.byteLength < 2 || data[0] !== EVENT_TAG || data.byteLength > 4096) return 'malformed';
  let v: unknown;
  try {
    v = packr.unpack(data.subarray(1));
  } catch {
    return 'malformed';
  }
  if (!Array.isArray(v) || v.length !== 7 || v[0] !== 1) return 'malformed';
  const [, origin, lamport, name, payload, sig, cert] = v as unknown[];
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 255) return 'malformed';
  if (typeof lamport !== 'number' || !Number.isSafeInteger(lamport) || lamport < 0) return 'malformed';
  if (typeof name !== 'string' || !isBytes(payload)) return 'malformed';
  if ((sig !== null && !isBytes(sig)) || (cert !== null && !isBytes(cert))) return 'malformed';
  return {
    event: { origin, lamport, name, payload: new Uint8Array(payload) },
    sig: sig ?? undefined,
    cert: cert ?? undefined,
  };
}

// Replay protection for encrypted envelopes. The sender puts its clock in the
// authenticated data; a receiver accepts an envelope only if that time is within
// `windowMs` of its own clock (the clock skew it allows) and the envelope's nonce (random,
// 96 bits, one per seal) has not been seen within that window. A captured packet replayed
// later is either outside the window ('stale') or a nonce already seen ('replayed').
//
// Memory is bounded whatever the packet rate: at most `maxEntries` nonces are kept. When
// full, the oldest is forgotten and the window's lower edge rises to its time, so an
// envelope that old can no longer be proven fresh and is refused as stale: under a flood
// the window narrows instead of the cache growing, and nothing forgotten becomes replayable.

import { OldestCursor } from '../base/oldest.js';

export type ReplayVerdict = 'ok' | 'stale' | 'replayed';

/** Allowed clock skew between nodes, either way. NTP keeps them within milliseconds; a resumed VM may be seconds off. */
export const DEFAULT_REPLAY_WINDOW_MS = 60_000;
/** ~64 bytes each: about 4 MiB at most, 1,000 packets a second for a whole minute. */
export const DEFAULT_REPLAY_ENTRIES = 65_536;

export class ReplayWindow {
  /** nonce (latin1 string) -> sender time; insertion order is (about) time order. */
  readonly #seen = new Map<string, number>();
  /** The oldest nonce, found without walking deleted slots (base/oldest.ts). Nonces are never set again. */
  readonly #oldest = new OldestCursor(this.#seen);
  /** Envelopes sent at or before this time may have been forgotten: refused. */
  #floor = -Infinity;

  constructor(
    readonly windowMs = DEFAULT_REPLAY_WINDOW_MS,
    readonly maxEntries = DEFAULT_REPLAY_ENTRIES,
    private readonly clock: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#seen.size;
  }

  /** Judges an authentic envelope's sender time and nonce; records the nonce when it passes. */
  check(sentAt: number, nonce: string): ReplayVerdict {
    const now = this.clock();
    if (!Number.isFinite(sentAt) || Math.abs(now - sentAt) > this.windowMs || sentAt <= this.#floor) return 'stale';
    if (this.#seen.has(nonce)) return 'replayed';
    this.#prune(now);
    if (this.#seen.size >= this.maxEntries) {
      this.#floor = Math.max(this.#floor, this.#forgetOldest());
      if (sentAt <= this.#floor) return 'stale';
    }
    this.#seen.set(nonce, sentAt);
    return 'ok';
  }

  /** Forgets nonces whose time has left the window: a replay of them is stale anyway. */
  #prune(now: number): void {
    const edge = now - this.windowMs;
    for (let n = this.#oldest.oldest(); n !== undefined && this.#seen.get(n)! < edge; n = this.#oldest.oldest())
      this.#forgetOldest();
  }

  /** Forgets the oldest nonce (the table is not empty); its time. */
  #forgetOldest(): number {
    const at = this.#seen.get(this.#oldest.oldest()!)!;
    this.#oldest.evictOldest();
    return at;
  }
}

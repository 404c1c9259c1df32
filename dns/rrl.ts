// Response-rate limiting on UDP, as BIND's RRL and unbound's ip-ratelimit: a token bucket
// per client network (/24 for IPv4, /56 for IPv6), since a reflection attack forges many
// addresses of one victim network. Over the limit, every `slip`-th response goes out as an
// empty truncated answer (TC=1: a real client retries over TCP, which cannot be spoofed) and
// the rest are dropped. The table is bounded: past maxClients the least recently active
// network is forgotten. Sans-IO: the time comes in with each call.
import { OldestCursor } from '../base/oldest.js';
import { DEFAULTS } from './defaults.js';
import { clientAddress, type NetSet } from './netset.js';
import { FLAG_TC, HEADER_LEN, skipName } from './wire.js';

export interface RrlOptions {
  /** Responses per second per client network; 0 turns the limit off. */
  ratePerS: number;
  /** Responses a network may get at once. Default: one second's worth. */
  burst?: number;
  /** Every slip-th response over the limit goes out truncated; 0 drops them all. Default 2. */
  slip?: number;
  /** Client networks tracked at once. Default 16,384. */
  maxClients?: number;
  /** Clients never limited (default: none here; the server passes loopback). */
  exempt?: NetSet;
}

/** What to do with a response. */
export const RRL_SEND = 0;
export const RRL_SLIP = 1;
export const RRL_DROP = 2;
export type RrlVerdict = typeof RRL_SEND | typeof RRL_SLIP | typeof RRL_DROP;

interface Bucket {
  tokens: number;
  at: number;
  over: number;
}

const groups = new Uint16Array(8);

export class ResponseRateLimiter {
  rate: number;
  burst: number;
  private readonly fullRate: number;
  private readonly fullBurst: number;
  readonly slip: number;
  readonly maxClients: number;
  private readonly exempt: NetSet | undefined;
  private readonly table = new Map<number | string, Bucket>();
  private readonly quietest = new OldestCursor(this.table);
  dropped = 0;
  slipped = 0;

  constructor(opts: RrlOptions) {
    this.rate = opts.ratePerS;
    this.burst = Math.max(1, opts.burst ?? opts.ratePerS);
    this.fullRate = this.rate;
    this.fullBurst = this.burst;
    this.slip = opts.slip ?? DEFAULTS.rateLimitSlip;
    this.maxClients = opts.maxClients ?? DEFAULTS.rateLimitMaxClients;
    this.exempt = opts.exempt;
  }

  /**
   * Keeps 1/readers of the limit: with DNS worker processes reading the same socket, each
   * limits on its own, so the networks' total stays within the configured rate.
   */
  share(readers: number): void {
    this.rate = this.fullRate / readers;
    this.burst = Math.max(1, this.fullBurst / readers);
  }

  get clients(): number {
    return this.table.size;
  }

  /** May a response go to this client now? */
  check(address: string, now: number): RrlVerdict {
    if (this.rate <= 0) return RRL_SEND;
    const v4 = clientAddress(address, groups);
    let key: number | string;
    if (v4 >= 0) {
      if (this.exempt?.hasV4(v4)) return RRL_SEND;
      key = Math.floor(v4 / 256);
    } else if (v4 === -1) {
      if (this.exempt?.hasV6(groups)) return RRL_SEND;
      // The first 56 bits: three groups and the high byte of the fourth.
      key = `${groups[0]}:${groups[1]}:${groups[2]}:${groups[3] >> 8}`;
    } else return RRL_SEND;
    let b = this.table.get(key);
    if (b === undefined) {
      b = { tokens: this.burst, at: now, over: 0 };
      this.table.set(key, b);
      this.quietest.wrote();
      if (this.table.size > this.maxClients) this.quietest.evictOldest();
    } else {
      const elapsed = now - b.at;
      if (elapsed > 0) {
        b.tokens = Math.min(this.burst, b.tokens + (elapsed * this.rate) / 1000);
        // Kept in order of activity (Map order), so the table forgets the quietest network first.
        if (elapsed > 1000) {
          this.table.delete(key);
          this.table.set(key, b);
          this.quietest.wrote();
        }
        b.at = now;
      }
    }
    if (b.tokens >= 1) {
      b.tokens--;
      return RRL_SEND;
    }
    b.over++;
    if (this.slip > 0 && b.over % this.slip === 0) {
      this.slipped++;
      return RRL_SLIP;
    }
    this.dropped++;
    return RRL_DROP;
  }
}

/** The slip answer to a response: its header and question only, TC set, no records (never bigger than the query). */
export function slipResponse(resp: Buffer): Buffer {
  let end = HEADER_LEN;
  if (resp.length >= HEADER_LEN && resp.readUInt16BE(4) === 1) {
    const n = skipName(resp, HEADER_LEN);
    if (n > 0 && n + 4 <= resp.length) end = n + 4;
  }
  const out = Buffer.allocUnsafe(Math.min(end, resp.length));
  resp.copy(out, 0, 0, out.length);
  if (out.length >= HEADER_LEN) {
    out[2] |= FLAG_TC >> 8;
    out.writeUInt16BE(end > HEADER_LEN ? 1 : 0, 4);
    out.fill(0, 6, 12);
  }
  return out;
}

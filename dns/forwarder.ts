// Forwarding names outside the zone to upstream resolvers, sans-IO: calls take `now` and
// bytes; what must be sent (to an upstream, or to a waiting client) is queued in `outbox`
// for the adapter. Identical questions in flight share one upstream query. Answers are
// cached for their TTL (negative answers for the SOA minimum, RFC 2308).
//
// Choosing an upstream: the one with the fewest recent failures (a score that halves every
// failureHalfLifeMs), ties in configured order; on a timeout, SERVFAIL or REFUSED the next
// one not yet tried; when all have been tried the client gets SERVFAIL.
//
// Recursion not desired (RD=0, e.g. dig +norec): answered from the cache if it is there,
// else REFUSED — the client asked us not to go upstream, and we are not authoritative there.
//
// Against blind spoofing (Kaminsky, SAD DNS): every upstream query has a fresh id from
// node:crypto and its name in random case (0x20, draft-vixie-dnsext-dns0x20), and the adapter
// sends each attempt from a socket of its own on a fresh random port (the 'send' and 'done'
// outputs). A reply is taken only when it carries that id and the question exactly as asked,
// case included; anything else is dropped and counted by reason (DnsStats.upstreamSpoofs).
// Identical questions share one upstream query, so a burst cannot open many guesses at once.
import { DEFAULTS } from './defaults.js';
import dnsPacket from 'dns-packet';
import { AnswerCache, type CachedAnswer } from './cache.js';
import { cryptoRandom32 } from './random.js';
import type { DnsStats, SpoofReason } from './stats.js';
import { FLAG_AD, FLAG_CD, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_LEN, OPT_LEN, RCODE, TYPE, skipName } from './wire.js';

export interface Upstream {
  host: string;
  port: number;
  /** host:port, as metrics and logs name it */
  label: string;
}

/** What the responder hands over about a client's query (the question bytes are the client's own). */
export interface ClientQuery<C> {
  id: number;
  flags: number;
  /** Lowercased wire name (see Query.key). */
  key: string;
  qtype: number;
  qclass: number;
  /** The question as the client sent it (name, type, class). */
  question: Buffer;
  edns: boolean;
  /** The largest answer this client takes on this transport. */
  udpSize: number;
  dnssecOk: boolean;
  client: C;
  /** When it arrived (for latency). */
  at: number;
}

export type ForwarderOutput<C> =
  /** Ask upstream `upstream` (over UDP: from a new socket on a fresh port, kept until 'done'). */
  | { kind: 'send'; upstream: number; tcp: boolean; id: number; bytes: Buffer }
  /** Query `id` is over: close what was opened for it (its id may be used again from now on). */
  | { kind: 'done'; id: number }
  | { kind: 'reply'; client: C; bytes: Buffer; rcode: number; qtype: number; at: number };

/** An upstream turned down (after DOWN_AFTER failures in a row) or up again (its first good answer). */
export interface UpstreamHealthChange {
  upstream: number;
  up: boolean;
  /** Down: what the last failure was. */
  reason: string;
}

/** Failures in a row that mark an upstream down: one lost packet is not an outage. */
export const DOWN_AFTER = 2;

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** Cached answers kept (least recently used goes first). Default 10,000. */
  cacheSize?: number;
  /** Upstream queries in flight at once; past it a new question gets SERVFAIL. Default 512. */
  maxOutstanding?: number;
  /** Wait for one upstream before trying the next. Default 1500 ms. */
  timeoutMs?: number;
  /** Longest time an answer is cached, whatever its TTL. Default 3600 s. */
  maxTtlS?: number;
  failureHalfLifeMs?: number;
  /** Clients waiting on one question; more get SERVFAIL. Default 1000. */
  maxWaiters?: number;
  /** 32 random bits per call, for query ids and 0x20 (tests make it deterministic). Default node:crypto. */
  random?: () => number;
  /** The UDP payload size we ask upstreams for. Default 1232. */
  udpPayload?: number;
}

export interface ImmediateAnswer {
  bytes: Buffer;
  rcode: number;
  fromCache: boolean;
}

interface Pending<C> {
  id: number;
  cacheKey: string;
  /** The upstream query as sent (the name in its 0x20 case, our OPT). */
  bytes: Buffer;
  qEnd: number;
  waiters: ClientQuery<C>[];
  tried: number[];
  current: number;
  attempt: number;
  done: boolean;
}

/** When an attempt of a pending query times out: stale once the query is done or tried again. */
interface Deadline<C> {
  at: number;
  p: Pending<C>;
  attempt: number;
}

export class Forwarder<C> {
  readonly outbox: ForwarderOutput<C>[] = [];
  /** Health changes to log, once per change (drained by the server). */
  readonly healthChanges: UpstreamHealthChange[] = [];
  /** Failures in a row per upstream; DOWN_AFTER or more: down. */
  private readonly failuresInRow: number[];
  readonly cache: AnswerCache;
  readonly upstreams: readonly Upstream[];
  private readonly pending = new Map<number, Pending<C>>();
  private readonly byKey = new Map<string, Pending<C>>();
  /** Attempt deadlines in the order they were set: all attempts wait equally long, so this is also deadline order. */
  private readonly deadlines: Deadline<C>[] = [];
  private deadlineHead = 0;
  private readonly scores: { score: number; at: number }[];
  private readonly maxOutstanding: number;
  private readonly timeoutMs: number;
  private readonly maxTtl: number;
  private readonly halfLife: number;
  private readonly maxWaiters: number;
  private readonly random: () => number;
  private readonly udpPayload: number;

  constructor(
    opts: ForwarderOptions,
    private readonly stats: DnsStats,
  ) {
    this.upstreams = opts.upstreams;
    this.cache = new AnswerCache(opts.cacheSize ?? DEFAULTS.cacheSize);
    this.maxOutstanding = opts.maxOutstanding ?? DEFAULTS.maxOutstanding;
    this.timeoutMs = opts.timeoutMs ?? DEFAULTS.upstreamTimeoutMs;
    this.maxTtl = opts.maxTtlS ?? DEFAULTS.maxTtlS;
    this.halfLife = opts.failureHalfLifeMs ?? DEFAULTS.failureHalfLifeMs;
    this.maxWaiters = opts.maxWaiters ?? DEFAULTS.maxWaiters;
    this.random = opts.random ?? cryptoRandom32;
    this.udpPayload = opts.udpPayload ?? DEFAULTS.udpPayload;
    this.scores = this.upstreams.map(() => ({ score: 0, at: 0 }));
    this.failuresInRow = this.upstreams.map(() => 0);
  }

  get outstanding(): number {
    return this.pending.size;
  }

  /** The recent-failure score of each upstream (decayed to `now`). */
  failureScores(now: number): number[] {
    return this.scores.map((_, i) => this.score(i, now));
  }

  /** A client's question: an answer now (cache, REFUSED, SERVFAIL) or undefined (asked upstream; see outbox). */
  query(now: number, cq: ClientQuery<C>): ImmediateAnswer | undefined {
    const cacheKey = `${cq.key}${String.fromCharCode(cq.qtype >> 8, cq.qtype & 0xff, cq.qclass >> 8, cq.qclass & 0xff)}${cq.flags & FLAG_CD ? 'c' : ''}${cq.dnssecOk ? 'd' : ''}`;
    const hit = this.cache.get(cacheKey, now);
    if (hit) {
      this.stats.cacheHits++;
      return { bytes: this.render(hit, cq, now), rcode: hit.rcode, fromCache: true };
    }
    this.stats.cacheMisses++;
    if (!(cq.flags & FLAG_RD)) return this.immediate(cq, RCODE.REFUSED);
    const inFlight = this.byKey.get(cacheKey);
    if (inFlight) {
      if (inFlight.waiters.length >= this.maxWaiters) return this.overloaded(cq);
      inFlight.waiters.push(cq);
      return undefined;
    }
    if (this.pending.size >= this.maxOutstanding || this.upstreams.length === 0) return this.overloaded(cq);
    const id = this.freshId();
    const bytes = this.upstreamQuery(id, cq);
    const p: Pending<C> = {
      id,
      cacheKey,
      bytes,
      qEnd: HEADER_LEN + cq.question.length,
      waiters: [cq],
      tried: [],
      current: -1,
      attempt: 0,
      done: false,
    };
    this.pending.set(id, p);
    this.byKey.set(cacheKey, p);
    this.tryNext(p, now);
    return undefined;
  }

  /**
   * A message from upstream `index` (over TCP when `tcp`) on the socket that carried query
   * `id`. Anything but the answer to exactly that question is dropped and counted.
   */
  response(now: number, index: number, tcp: boolean, msg: Buffer, id: number): void {
    if (msg.length < HEADER_LEN || !(msg[2] & 0x80)) return this.spoof('not_response');
    if (msg.readUInt16BE(0) !== id) return this.spoof('id');
    const p = this.pending.get(id);
    if (!p || !p.tried.includes(index)) return this.spoof('id');
    const mismatch = this.questionMismatch(p, msg);
    if (mismatch) return this.spoof(mismatch);
    const rcode = msg[3] & 0xf;
    let parsed: ReturnType<typeof parseAnswer>;
    try {
      dnsPacket.decode(msg); // the gate: what it cannot read, no client gets
      parsed = parseAnswer(msg, p.qEnd);
    } catch {
      parsed = undefined;
    }
    if (!parsed) {
      this.failure(index, now, 'an answer it could not parse');
      return this.tryNext(p, now);
    }
    if (msg[2] & (FLAG_TC >> 8)) {
      if (tcp) {
        this.failure(index, now, 'a truncated answer over TCP');
        return this.tryNext(p, now);
      }
      // Too big for UDP: the same upstream, over TCP.
      return this.send(p, index, true, now);
    }
    if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED || rcode === RCODE.NOTIMP || rcode === RCODE.FORMERR) {
      this.failure(
        index,
        now,
        `rcode ${rcode === RCODE.SERVFAIL ? 'SERVFAIL' : rcode === RCODE.REFUSED ? 'REFUSED' : rcode === RCODE.NOTIMP ? 'NOTIMP' : 'FORMERR'}`,
      );
      return this.tryNext(p, now);
    }
    this.success(index);
    const ttl = this.cacheTtl(rcode, parsed, msg);
    const entry: CachedAnswer = {
      rcode,
      ad: (msg[3] & FLAG_AD) !== 0,
      sections: Buffer.from(msg.subarray(p.qEnd, parsed.end)),
      an: parsed.an,
      ns: parsed.ns,
      ar: parsed.ar,
      ttlAt: parsed.ttlAt,
      ttls: parsed.ttls,
      stored: now,
      expires: now + ttl * 1000,
    };
    if (ttl > 0) this.cache.set(p.cacheKey, entry);
    this.finish(p);
    for (const w of p.waiters) this.reply(w, this.render(entry, w, now), rcode);
  }

  /** A TCP exchange with upstream `index` for query `id` failed (refused, reset, closed early). */
  failed(now: number, index: number, id: number): void {
    const p = this.pending.get(id);
    if (!p || p.current !== index) return;
    this.failure(index, now, 'the TCP connection failed');
    this.tryNext(p, now);
  }

  /** Expires attempts whose time is up. */
  tick(now: number): void {
    for (let d = this.firstLive(); d && d.at <= now; d = this.firstLive()) {
      this.failure(d.p.current, now, `no answer within ${this.timeoutMs} ms`);
      this.tryNext(d.p, now);
      this.deadlineHead++;
    }
    if (this.deadlineHead > 1024 && this.deadlineHead * 2 > this.deadlines.length) {
      this.deadlines.splice(0, this.deadlineHead);
      this.deadlineHead = 0;
    }
  }

  /** When tick() has something to do next, if ever. */
  nextDeadline(): number | undefined {
    return this.firstLive()?.at;
  }

  /**
   * The earliest deadline of an attempt still waiting. Those answered or retried since are
   * passed for good: the server asks for the next deadline after every query and answer,
   * and walking them again each time cost ~5 ns for each one answered within the timeout
   * (70 µs a call with 15,000 answered). When none is left, the list is emptied.
   */
  private firstLive(): Deadline<C> | undefined {
    for (; this.deadlineHead < this.deadlines.length; this.deadlineHead++) {
      const d = this.deadlines[this.deadlineHead];
      if (!d.p.done && d.p.attempt === d.attempt) return d;
    }
    this.deadlines.length = 0;
    this.deadlineHead = 0;
    return undefined;
  }

  // ------------------------------------------------------------ inside

  private score(i: number, now: number): number {
    const s = this.scores[i];
    return s.score === 0 ? 0 : s.score * Math.pow(0.5, Math.max(0, now - s.at) / this.halfLife);
  }

  private failure(i: number, now: number, reason: string): void {
    if (i < 0) return;
    const s = this.scores[i];
    s.score = this.score(i, now) + 1;
    s.at = now;
    this.stats.upstreamFailed(this.upstreams[i].label);
    if (++this.failuresInRow[i] === DOWN_AFTER) this.healthChanges.push({ upstream: i, up: false, reason });
  }

  private success(i: number): void {
    if (this.failuresInRow[i] >= DOWN_AFTER) this.healthChanges.push({ upstream: i, up: true, reason: '' });
    this.failuresInRow[i] = 0;
  }

  private tryNext(p: Pending<C>, now: number): void {
    let best = -1;
    let bestScore = Infinity;
    for (let i = 0; i < this.upstreams.length; i++) {
      if (p.tried.includes(i)) continue;
      const s = this.score(i, now);
      if (s < bestScore) {
        best = i;
        bestScore = s;
      }
    }
    if (best < 0) {
      this.finish(p);
      for (const w of p.waiters) this.reply(w, this.errorBytes(w, RCODE.SERVFAIL), RCODE.SERVFAIL);
      return;
    }
    p.tried.push(best);
    this.send(p, best, false, now);
  }

  private send(p: Pending<C>, index: number, tcp: boolean, now: number): void {
    p.current = index;
    p.attempt++;
    this.deadlines.push({ at: now + this.timeoutMs, p, attempt: p.attempt });
    this.outbox.push({ kind: 'send', upstream: index, tcp, id: p.id, bytes: p.bytes });
  }

  private finish(p: Pending<C>): void {
    p.done = true;
    this.pending.delete(p.id);
    this.byKey.delete(p.cacheKey);
    this.outbox.push({ kind: 'done', id: p.id });
  }

  private reply(w: ClientQuery<C>, bytes: Buffer, rcode: number): void {
    this.stats.answered(w.qtype, rcode);
    this.outbox.push({ kind: 'reply', client: w.client, bytes, rcode, qtype: w.qtype, at: w.at });
  }

  private spoof(reason: SpoofReason): void {
    this.stats.upstreamSpoofs[reason]++;
  }

  private overloaded(cq: ClientQuery<C>): ImmediateAnswer {
    this.stats.overloaded++;
    return this.immediate(cq, RCODE.SERVFAIL);
  }

  private immediate(cq: ClientQuery<C>, rcode: number): ImmediateAnswer {
    return { bytes: this.errorBytes(cq, rcode), rcode, fromCache: false };
  }

  private freshId(): number {
    for (;;) {
      const id = this.random() & 0xffff;
      if (!this.pending.has(id)) return id;
    }
  }

  private upstreamQuery(id: number, cq: ClientQuery<C>): Buffer {
    const qlen = cq.question.length;
    const out = Buffer.alloc(HEADER_LEN + qlen + OPT_LEN);
    out.writeUInt16BE(id, 0);
    out.writeUInt16BE(FLAG_RD | (cq.flags & FLAG_CD), 2);
    out.writeUInt16BE(1, 4);
    out.writeUInt16BE(1, 10);
    // The lowercased name (the cache key) with each letter's case drawn at random (0x20), then
    // the client's type and class. Label lengths are below 64, so never taken for letters.
    out.write(cq.key, HEADER_LEN, 'latin1');
    let bits = 0;
    let left = 0;
    for (let i = HEADER_LEN; i < HEADER_LEN + cq.key.length; i++) {
      const c = out[i];
      if (c < 0x61 || c > 0x7a) continue;
      if (left === 0) {
        bits = this.random();
        left = 32;
      }
      if (bits & 1) out[i] = c ^ 0x20;
      bits >>>= 1;
      left--;
    }
    cq.question.copy(out, HEADER_LEN + cq.key.length, cq.key.length);
    const opt = HEADER_LEN + qlen;
    out.writeUInt16BE(TYPE.OPT, opt + 1);
    out.writeUInt16BE(this.udpPayload, opt + 3);
    if (cq.dnssecOk) out[opt + 7] = 0x80;
    return out;
  }

  /** Why the reply's question is not the one asked, byte for byte; undefined when it is. */
  private questionMismatch(p: Pending<C>, msg: Buffer): SpoofReason | undefined {
    if (msg.readUInt16BE(4) !== 1 || msg.length < p.qEnd) return 'question';
    let caseOnly = false;
    for (let i = HEADER_LEN; i < p.qEnd; i++) {
      const c = msg[i];
      const want = p.bytes[i];
      if (c === want) continue;
      // Letters that differ only in case: a guess at the 0x20 bits that missed.
      if ((c | 0x20) === (want | 0x20) && (want | 0x20) >= 0x61 && (want | 0x20) <= 0x7a) caseOnly = true;
      else return 'question';
    }
    return caseOnly ? 'case' : undefined;
  }

  private cacheTtl(rcode: number, a: ParsedAnswer, msg: Buffer): number {
    if (rcode === RCODE.NXDOMAIN || a.an === 0) {
      // RFC 2308: negative answers live as long as the SOA's TTL and minimum allow; no SOA, no caching.
      if (a.soaMinimumAt < 0) return 0;
      return Math.min(msg.readUInt32BE(a.soaMinimumAt), a.soaTtl, this.maxTtl);
    }
    let min = this.maxTtl;
    for (const t of a.ttls) if (t < min) min = t;
    return min;
  }

  /** A cached or fresh upstream answer, re-addressed to one client: its id, its question, remaining TTLs, its limits. */
  private render(e: CachedAnswer, cq: ClientQuery<C>, now: number): Buffer {
    const qEnd = HEADER_LEN + cq.question.length;
    const opt = cq.edns ? OPT_LEN : 0;
    let size = qEnd + e.sections.length + opt;
    const tc = size > cq.udpSize;
    if (tc) size = qEnd + opt;
    const out = Buffer.allocUnsafe(size);
    const flags =
      0x8000 |
      (cq.flags & (FLAG_RD | FLAG_CD)) |
      FLAG_RA |
      (tc ? FLAG_TC : 0) |
      (e.ad && (cq.dnssecOk || cq.flags & FLAG_AD) ? FLAG_AD : 0) |
      e.rcode;
    out.writeUInt16BE(cq.id, 0);
    out.writeUInt16BE(flags, 2);
    out.writeUInt16BE(1, 4);
    out.writeUInt16BE(tc ? 0 : e.an, 6);
    out.writeUInt16BE(tc ? 0 : e.ns, 8);
    out.writeUInt16BE((tc ? 0 : e.ar) + (opt ? 1 : 0), 10);
    cq.question.copy(out, HEADER_LEN);
    if (!tc) {
      e.sections.copy(out, qEnd);
      const elapsed = Math.floor((now - e.stored) / 1000);
      if (elapsed > 0) {
        for (let i = 0; i < e.ttlAt.length; i++) out.writeUInt32BE(Math.max(0, e.ttls[i] - elapsed), qEnd + e.ttlAt[i]);
      }
    }
    if (opt) writeOpt(out, size - OPT_LEN, this.udpPayload, cq.dnssecOk);
    return out;
  }

  private errorBytes(cq: ClientQuery<C>, rcode: number): Buffer {
    const qEnd = HEADER_LEN + cq.question.length;
    const opt = cq.edns ? OPT_LEN : 0;
    const out = Buffer.alloc(qEnd + opt);
    out.writeUInt16BE(cq.id, 0);
    out.writeUInt16BE(0x8000 | (cq.flags & (FLAG_RD | FLAG_CD)) | FLAG_RA | rcode, 2);
    out.writeUInt16BE(1, 4);
    out.writeUInt16BE(opt ? 1 : 0, 10);
    cq.question.copy(out, HEADER_LEN);
    if (opt) writeOpt(out, qEnd, this.udpPayload, cq.dnssecOk);
    return out;
  }
}

function writeOpt(out: Buffer, at: number, payload: number, dnssecOk: boolean): void {
  out.fill(0, at, at + OPT_LEN);
  out.writeUInt16BE(TYPE.OPT, at + 1);
  out.writeUInt16BE(payload, at + 3);
  if (dnssecOk) out[at + 7] = 0x80;
}

interface ParsedAnswer {
  an: number;
  ns: number;
  ar: number;
  /** Where the kept records end (an upstream's OPT record and anything after it are not kept). */
  end: number;
  ttlAt: number[];
  ttls: number[];
  soaMinimumAt: number;
  soaTtl: number;
}

/** The record layout of an upstream answer: TTL positions (relative to `start`), the SOA minimum, where OPT begins. */
function parseAnswer(msg: Buffer, start: number): ParsedAnswer | undefined {
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  const out: ParsedAnswer = { an, ns, ar, end: start, ttlAt: [], ttls: [], soaMinimumAt: -1, soaTtl: 0 };
  let p = start;
  for (let i = 0; i < an + ns + ar; i++) {
    const at = p;
    p = skipName(msg, p);
    if (p < 0 || p + 10 > msg.length) return undefined;
    const type = msg.readUInt16BE(p);
    const ttl = msg.readUInt32BE(p + 4);
    const rdlen = msg.readUInt16BE(p + 8);
    if (p + 10 + rdlen > msg.length) return undefined;
    if (type === TYPE.OPT) {
      if (i < an + ns) return undefined;
      // Ours goes in its place; records after it (there should be none) are dropped with it.
      out.ar = i - an - ns;
      out.end = at;
      return out;
    }
    out.ttlAt.push(p + 4 - start);
    out.ttls.push(ttl > 0x7fffffff ? 0 : ttl);
    if (type === TYPE.SOA && i >= an && i < an + ns && out.soaMinimumAt < 0 && rdlen >= 20) {
      out.soaMinimumAt = p + 10 + rdlen - 4;
      out.soaTtl = ttl > 0x7fffffff ? 0 : ttl;
    }
    p += 10 + rdlen;
    out.end = p;
  }
  return out;
}

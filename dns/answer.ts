// The responder: query bytes in, response bytes out. No sockets and no clock: `now` comes
// in with each query (the forwarder needs it; the zone does not). The hot path for a zone
// name parses the question by hand, finds the name's precomputed answer, and writes the
// query's own header and question followed by the precomputed bytes.
import { DEFAULTS } from './defaults.js';
import { prepare, soaTail } from './prepare.js';
import type { Forwarder, ClientQuery } from './forwarder.js';
import { DnsStats } from './stats.js';
import {
  BADVERS,
  CLASS_IN,
  FLAG_AA,
  FLAG_CD,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  HEADER_LEN,
  OPT_LEN,
  Parse,
  Query,
  RCODE,
  TYPE,
  parseQuery,
  queryKey,
} from './wire.js';
import type { Zone } from './zone.js';

export interface ResponderOptions {
  /** The largest UDP answer we send to an EDNS client, whatever it offers. Default 1232 (DNS flag day 2020). */
  maxUdpPayload?: number;
  /**
   * Names outside the zone are forwarded somewhere else (a DNS worker process hands them to
   * its agent): set RA and leave them to the caller (wantsForward) though there is no forwarder here.
   */
  forwardsElsewhere?: boolean;
}

/** How many records, from the first, end within `room` bytes (`ends` ascends: binary search). */
export function wholeRecords(ends: Uint32Array, room: number): number {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[mid] <= room) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Responder<C = unknown> {
  private readonly q = new Query();
  private readonly maxUdp: number;
  private readonly soa: Buffer;
  private readonly raFlag: number;

  constructor(
    readonly zone: Zone,
    readonly stats: DnsStats = new DnsStats(),
    /** Names outside the zone go here; without it they are REFUSED. */
    readonly forwarder: Forwarder<C> | undefined = undefined,
    opts: ResponderOptions = {},
  ) {
    this.maxUdp = Math.max(512, Math.min(65535, opts.maxUdpPayload ?? DEFAULTS.udpPayload));
    this.soa = soaTail(zone);
    this.forwards = forwarder !== undefined || opts.forwardsElsewhere === true;
    this.raFlag = this.forwards ? FLAG_RA : 0;
  }

  private readonly forwards: boolean;

  private pendingForward: Buffer | undefined = undefined;

  /** What the last handled query was answered from (for the latency histogram). */
  // Stryker disable next-line StringLiteral: read only after handle() has set it
  lastSource: 'zone' | 'cache' | 'upstream' | 'error' = 'zone';

  /** The UDP size cap of the query being handled (0: none). */
  private cap = 0;

  /**
   * The response to `msg`, or undefined when there is none: dropped (not a query), or a name
   * outside the zone (then wantsForward is true). `udpCap` (0: none) truncates UDP answers
   * bigger than that many bytes, whatever the client offers: the server's bound on how much
   * an untrusted client (maybe a forged victim address) can amplify.
   */
  handle(msg: Buffer, tcp: boolean, udpCap = 0): Buffer | undefined {
    const q = this.q;
    this.pendingForward = undefined;
    this.cap = udpCap;
    const r = parseQuery(msg, q);
    if (r !== Parse.Ok) {
      this.stats.malformed[q.bad!]++;
      this.lastSource = 'error';
      return r === Parse.Drop ? undefined : this.error(msg, q, RCODE.FORMERR);
    }
    if (q.opcode !== 0) return this.error(msg, q, RCODE.NOTIMP);
    if (q.edns && q.ednsVersion !== 0) return this.error(msg, q, BADVERS);
    const qtype = q.qtype;
    if (qtype === TYPE.OPT) return this.error(msg, q, RCODE.FORMERR);
    if (qtype === TYPE.AXFR || qtype === TYPE.IXFR || qtype === TYPE.MAILA || qtype === TYPE.MAILB)
      return this.error(msg, q, RCODE.NOTIMP);

    const entry = this.zone.find(msg, HEADER_LEN, q.nameLen, q.hash);
    if (entry !== undefined && q.qclass === CLASS_IN) {
      let prepared = entry.prepared?.get(qtype);
      if (prepared === undefined) {
        prepared = prepare(this.zone, entry, qtype);
        (entry.prepared ??= new Map()).set(qtype, prepared);
      }
      const rot = prepared.rot;
      const at = prepared.next;
      if (++prepared.next === rot.length) prepared.next = 0;
      this.lastSource = 'zone';
      this.stats.answered(qtype, RCODE.NOERROR);
      return this.compose(
        msg,
        q,
        tcp,
        prepared.flags,
        RCODE.NOERROR,
        prepared.an,
        prepared.ns,
        prepared.ar,
        rot[at],
        prepared.ends[at],
      );
    }
    if (this.zone.inZone(queryKey(msg, q))) {
      if (q.qclass !== CLASS_IN) return this.error(msg, q, RCODE.REFUSED);
      return this.nxdomain(msg, q, tcp);
    }
    if (!this.forwards) return this.error(msg, q, RCODE.REFUSED);
    this.pendingForward = msg;
    this.lastSource = 'upstream';
    return undefined;
  }

  /**
   * Whether the query just handled is for the forwarder: then call forward() with the client
   * (right away, before the next handle()). Kept apart so the zone's hot path builds no client object.
   */
  get wantsForward(): boolean {
    return this.pendingForward !== undefined;
  }

  /**
   * An error answer for the query just handled, instead of forwarding it: REFUSED (a client not
   * allowed to recurse) or SERVFAIL (no room to forward it now).
   */
  refuseForward(rcode: number = RCODE.REFUSED): Buffer {
    const msg = this.pendingForward!;
    this.pendingForward = undefined;
    return this.error(msg, this.q, rcode);
  }

  /** Leaves the query just handled to someone else (forwardsElsewhere): the next handle() starts afresh. */
  dropForward(): void {
    this.pendingForward = undefined;
  }

  forward(now: number, tcp: boolean, client: C): Buffer | undefined {
    const msg = this.pendingForward!;
    this.pendingForward = undefined;
    const q = this.q;
    const cq: ClientQuery<C> = {
      id: q.id,
      flags: q.flags,
      key: q.key,
      qtype: q.qtype,
      qclass: q.qclass,
      question: msg.subarray(HEADER_LEN, q.qEnd),
      edns: q.edns,
      udpSize: this.udpLimit(q, tcp),
      dnssecOk: q.dnssecOk,
      client,
      at: now,
    };
    const out = this.forwarder!.query(now, cq);
    this.lastSource = out === undefined ? 'upstream' : out.fromCache ? 'cache' : 'error';
    if (out) this.stats.answered(q.qtype, out.rcode);
    return out?.bytes;
  }

  private udpLimit(q: Query, tcp: boolean): number {
    if (tcp) return 65535;
    const limit = !q.edns ? 512 : q.udpSize < 512 ? 512 : q.udpSize > this.maxUdp ? this.maxUdp : q.udpSize;
    return this.cap > 0 && this.cap < limit ? this.cap : limit;
  }

  /**
   * Header + question of the query, then `sec`. Over UDP's limit it carries the whole records
   * that fit (`ends`: where each ends, in section order), so a client that never retries over
   * TCP (musl before 1.2.4) still gets addresses; TC is set when an answer or authority record
   * was left out (RFC 2181 9: additional records may be dropped silently).
   */
  private compose(
    msg: Buffer,
    q: Query,
    tcp: boolean,
    flags: number,
    rcode: number,
    an: number,
    ns: number,
    ar: number,
    sec: Buffer,
    ends?: Uint32Array,
  ): Buffer {
    const qEnd = q.qEnd;
    const opt = q.edns ? OPT_LEN : 0;
    let secLen = sec.length;
    let tc = 0;
    const room = this.udpLimit(q, tcp) - qEnd - opt;
    if (secLen > room) {
      const kept = ends === undefined ? 0 : wholeRecords(ends, room);
      secLen = kept === 0 ? 0 : ends![kept - 1];
      if (kept < an + ns) tc = FLAG_TC;
      const keptAn = Math.min(kept, an);
      const keptNs = Math.min(kept - keptAn, ns);
      ar = kept - keptAn - keptNs;
      an = keptAn;
      ns = keptNs;
    }
    const size = qEnd + secLen + opt;
    const out = Buffer.allocUnsafe(size);
    msg.copy(out, 0, 0, qEnd);
    this.header(out, q, flags | tc, rcode, an, ns, ar + (opt ? 1 : 0));
    sec.copy(out, qEnd, 0, secLen);
    if (opt) this.opt(out, size - OPT_LEN, q, rcode);
    return out;
  }

  private nxdomain(msg: Buffer, q: Query, tcp: boolean): Buffer {
    const qEnd = q.qEnd;
    const opt = q.edns ? OPT_LEN : 0;
    const size = qEnd + 2 + this.soa.length + opt;
    this.lastSource = 'zone';
    this.stats.answered(q.qtype, RCODE.NXDOMAIN);
    if (size > this.udpLimit(q, tcp))
      return this.compose(msg, q, tcp, FLAG_AA, RCODE.NXDOMAIN, 0, 1, 0, Buffer.alloc(size));
    const out = Buffer.allocUnsafe(size);
    msg.copy(out, 0, 0, qEnd);
    this.header(out, q, FLAG_AA, RCODE.NXDOMAIN, 0, 1, opt ? 1 : 0);
    // The SOA's owner is the domain, which ends the question's name: point there.
    const apexAt = HEADER_LEN + q.nameLen - this.zone.domainKey.length;
    out[qEnd] = 0xc0 | (apexAt >> 8);
    out[qEnd + 1] = apexAt & 0xff;
    this.soa.copy(out, qEnd + 2);
    if (opt) this.opt(out, size - OPT_LEN, q, RCODE.NXDOMAIN);
    return out;
  }

  /** An answer with no records: FORMERR, NOTIMP, REFUSED, SERVFAIL, BADVERS. */
  private error(msg: Buffer, q: Query, rcode: number): Buffer {
    const withQuestion = q.qEnd > 0;
    const opt = q.edns ? OPT_LEN : 0;
    const qEnd = withQuestion ? q.qEnd : HEADER_LEN;
    const out = Buffer.allocUnsafe(qEnd + opt);
    msg.copy(out, 0, 0, qEnd);
    this.header(out, q, 0, rcode & 0xf, 0, 0, opt ? 1 : 0);
    if (!withQuestion) out.writeUInt16BE(0, 4);
    if (opt) this.opt(out, qEnd, q, rcode);
    this.lastSource = 'error';
    this.stats.answered(withQuestion ? q.qtype : -1, rcode);
    return out;
  }

  private header(out: Buffer, q: Query, flags: number, rcode: number, an: number, ns: number, ar: number): void {
    // QR, the query's opcode and RD and CD, our AA/TC/RA, the rcode.
    const f = 0x8000 | (q.opcode << 11) | flags | (q.flags & (FLAG_RD | FLAG_CD)) | this.raFlag | (rcode & 0xf);
    out[2] = f >> 8;
    out[3] = f & 0xff;
    out[4] = 0;
    out[5] = 1;
    out[6] = an >> 8;
    out[7] = an & 0xff;
    out[8] = ns >> 8;
    out[9] = ns & 0xff;
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
  }

  private opt(out: Buffer, at: number, q: Query, rcode: number): void {
    out[at] = 0;
    out[at + 1] = 0;
    out[at + 2] = TYPE.OPT;
    out[at + 3] = this.maxUdp >> 8;
    out[at + 4] = this.maxUdp & 0xff;
    out[at + 5] = rcode >> 4; // extended rcode: the upper 8 bits
    out[at + 6] = 0; // version 0
    out[at + 7] = q.dnssecOk ? 0x80 : 0; // DO is copied back (RFC 3225)
    out[at + 8] = 0;
    out[at + 9] = 0;
    out[at + 10] = 0;
  }
}

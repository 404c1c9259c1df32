// The DNS wire format, by hand: the query parser on the hot path (no object per query, no
// dns-packet decode) and the small name-compressing writer the zone's precomputed answers are
// built with (dns-packet does not compress names, and compression pointers to the question
// are what keep answers small and the client's case intact).

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
} as const;

export const CLASS_IN = 1;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Extended rcode BADVERS (16): upper 8 bits in the OPT record, lower 4 in the header. */
export const BADVERS = 16;

export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;

export const HEADER_LEN = 12;
/** Our OPT record: root name, type, class (payload size), ttl (ext rcode, version, flags), rdlen. */
export const OPT_LEN = 11;
export const MAX_NAME_WIRE = 255;

/** Why a packet was not answered normally; the keys of the malformed-packet counter. */
export type MalformedReason =
  | 'short'
  | 'response'
  | 'qdcount'
  | 'bad_name'
  | 'compressed_question'
  | 'truncated'
  | 'bad_rr'
  | 'multiple_opt'
  | 'bad_opt'
  | 'bad_tcp_frame';

export const MALFORMED_REASONS: readonly MalformedReason[] = [
  'short',
  'response',
  'qdcount',
  'bad_name',
  'compressed_question',
  'truncated',
  'bad_rr',
  'multiple_opt',
  'bad_opt',
  'bad_tcp_frame',
];

/**
 * One parsed query. The parser fills one instance per responder again and again; only `key`
 * is a new string per query (a Map key has to be).
 */
export class Query {
  id = 0;
  flags = 0;
  opcode = 0;
  /** Offset just past the question (header + qname + type + class). */
  qEnd = 0;
  /** Wire length of the qname (labels + root byte). */
  nameLen = 0;
  /** The qname in wire form, ASCII lowercased, as a latin1 string; filled by queryKey() when needed (not on the hot path). */
  // Stryker disable next-line StringLiteral: parseQuery resets it and queryKey fills it before anything reads it
  key = '';
  /** nameHash of the qname: the hot path's lookup key. */
  hash = 0;
  qtype = 0;
  qclass = 0;
  // Stryker disable next-line BooleanLiteral: parseQuery resets it before anything reads it
  edns = false;
  udpSize = 0;
  ednsVersion = 0;
  // Stryker disable next-line BooleanLiteral: parseQuery resets it before anything reads it
  dnssecOk = false;
  /** Set when the packet cannot be answered as a query; see parseQuery. */
  bad: MalformedReason | undefined = undefined;

  get rd(): boolean {
    return (this.flags & FLAG_RD) !== 0;
  }
  get cd(): boolean {
    return (this.flags & FLAG_CD) !== 0;
  }
}

/** What parseQuery found: Ok, answer it; Drop, not worth an answer (too short for a header, or a response); FormErr, answer FORMERR (with the question when it parsed). */
export const Parse = { Ok: 0, Drop: 1, FormErr: 2 } as const;
export type Parse = (typeof Parse)[keyof typeof Parse];

const scratch = Buffer.allocUnsafe(MAX_NAME_WIRE);
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

/** FNV-1a of a lowercased wire name, kept to 30 bits so it stays a small integer (a fast Map key). */
export function nameHash(key: Buffer): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i], FNV_PRIME);
  return h & 0x3fffffff;
}

/** nameHash of a wire key held as a latin1 string (zone.ts keeps keys as strings only). */
export function keyHash(key: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), FNV_PRIME);
  return h & 0x3fffffff;
}

/** sameName against a wire key held as a latin1 string. */
export function sameKey(msg: Buffer, off: number, key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = msg[off + i];
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== key.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether the name at msg[off..] equals `key` (lowercased wire form), ASCII case-insensitively. */
export function sameName(msg: Buffer, off: number, key: Buffer): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = msg[off + i];
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== key[i]) return false;
  }
  return true;
}

/** Fills q.key (the lowercased wire name as a string) from a query parseQuery accepted. */
export function queryKey(msg: Buffer, q: Query): string {
  const end = HEADER_LEN + q.nameLen;
  for (let i = HEADER_LEN; i < end; i++) {
    const c = msg[i];
    scratch[i - HEADER_LEN] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  q.key = scratch.toString('latin1', 0, q.nameLen);
  return q.key;
}

/**
 * Parses `msg` into `q`. Checks the whole message (every record's framing), not just the
 * question, so that a packet we answer is a packet we understood.
 */
export function parseQuery(msg: Buffer, q: Query): Parse {
  q.bad = undefined;
  // The Query is reused: EDNS fields left from the last query would reach this one (a DO bit
  // from another client's query made a plain query's forwarded copy ask for DNSSEC records).
  q.edns = false;
  q.udpSize = 0;
  q.ednsVersion = 0;
  q.dnssecOk = false;
  q.qEnd = 0;
  q.nameLen = 0;
  // Stryker disable next-line StringLiteral: read only through queryKey(), which fills it first
  q.key = '';
  if (msg.length < HEADER_LEN) {
    q.bad = 'short';
    return Parse.Drop;
  }
  q.id = (msg[0] << 8) | msg[1];
  q.flags = (msg[2] << 8) | msg[3];
  q.opcode = (q.flags >> 11) & 0xf;
  if (q.flags & FLAG_QR) {
    // Never answer a response: two servers would bounce packets at each other forever.
    q.bad = 'response';
    return Parse.Drop;
  }
  const qd = (msg[4] << 8) | msg[5];
  const an = (msg[6] << 8) | msg[7];
  const ns = (msg[8] << 8) | msg[9];
  const ar = (msg[10] << 8) | msg[11];
  if (qd !== 1) {
    q.bad = 'qdcount';
    return Parse.FormErr;
  }
  const p = parseQuestion(msg, q);
  if (p < 0) return Parse.FormErr;
  return checkRecords(msg, q, p, an + ns, ar);
}

/**
 * The question, by hand: label framing and the hash of the lowercased name in one pass, then
 * type and class. The offset after it, or -1 with q.bad set.
 */
function parseQuestion(msg: Buffer, q: Query): number {
  const len = msg.length;
  let p = HEADER_LEN;
  let h = FNV_OFFSET;
  for (;;) {
    if (p >= len) {
      q.bad = 'truncated';
      return -1;
    }
    const l = msg[p];
    h = Math.imul(h ^ l, FNV_PRIME);
    if (l === 0) {
      p++;
      break;
    }
    if (l & 0xc0) {
      // A pointer in the question could only point back into the header.
      q.bad = (l & 0xc0) === 0xc0 ? 'compressed_question' : 'bad_name';
      return -1;
    }
    const end = p + 1 + l;
    if (end - HEADER_LEN >= MAX_NAME_WIRE) {
      q.bad = 'bad_name';
      return -1;
    }
    if (end > len) {
      q.bad = 'truncated';
      return -1;
    }
    for (let i = p + 1; i < end; i++) {
      const c = msg[i];
      h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c | 0x20 : c), FNV_PRIME);
    }
    p = end;
  }
  if (p + 4 > len) {
    q.bad = 'truncated';
    return -1;
  }
  q.nameLen = p - HEADER_LEN;
  q.hash = h & 0x3fffffff;
  q.qtype = (msg[p] << 8) | msg[p + 1];
  q.qclass = (msg[p + 2] << 8) | msg[p + 3];
  q.qEnd = p + 4;
  return q.qEnd;
}

/**
 * The sections after the question from offset `p`: `before` answer and authority records,
 * then `additional` ones. Framing only, plus the OPT record's fields.
 */
function checkRecords(msg: Buffer, q: Query, p: number, before: number, additional: number): Parse {
  const len = msg.length;
  const total = before + additional;
  for (let i = 0; i < total; i++) {
    const nameStart = p;
    p = skipName(msg, p);
    if (p < 0) {
      q.bad = p === -2 ? 'truncated' : 'bad_rr';
      return Parse.FormErr;
    }
    if (p + 10 > len) {
      q.bad = 'truncated';
      return Parse.FormErr;
    }
    const type = (msg[p] << 8) | msg[p + 1];
    const rdlen = (msg[p + 8] << 8) | msg[p + 9];
    if (p + 10 + rdlen > len) {
      q.bad = 'truncated';
      return Parse.FormErr;
    }
    if (type === TYPE.OPT) {
      if (i < before || p - nameStart !== 1 || msg[nameStart] !== 0) {
        q.bad = 'bad_opt';
        return Parse.FormErr;
      }
      if (q.edns) {
        q.bad = 'multiple_opt';
        return Parse.FormErr;
      }
      q.edns = true;
      q.udpSize = (msg[p + 2] << 8) | msg[p + 3];
      q.ednsVersion = msg[p + 5];
      q.dnssecOk = (msg[p + 6] & 0x80) !== 0;
    }
    p += 10 + rdlen;
  }
  // Trailing bytes after the last record are tolerated (as most servers do); nothing reads them.
  return Parse.Ok;
}

/**
 * The offset after the (possibly compressed) name at `p`; -1 for a malformed name, -2 when
 * the message ends inside it. A pointer ends the name, so there are no loops to follow.
 */
export function skipName(msg: Buffer, p: number): number {
  const len = msg.length;
  let n = 0;
  for (;;) {
    if (p >= len) return -2;
    const l = msg[p];
    if (l === 0) return p + 1;
    const kind = l & 0xc0;
    if (kind === 0xc0) {
      if (p + 2 > len) return -2;
      const target = ((l & 0x3f) << 8) | msg[p + 1];
      return target < p ? p + 2 : -1;
    }
    if (kind !== 0) return -1;
    n += l + 1;
    if (n >= MAX_NAME_WIRE) return -1;
    p += l + 1;
  }
}

// ---------------------------------------------------------------- names

/** `a.b.c.` or `a.b.c` -> its lowercased labels; throws on a name DNS cannot carry. */
export function labelsOf(name: string): string[] {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '') return [];
  const labels = n.toLowerCase().split('.');
  let total = 1;
  for (const l of labels) {
    if (l.length === 0 || l.length > 63) throw new Error(`"${name}" is not a DNS name: empty or over-long label`);
    total += l.length + 1;
  }
  if (total > MAX_NAME_WIRE) throw new Error(`"${name}" is not a DNS name: longer than 255 bytes`);
  return labels;
}

/** The lookup key of a name (see Query.key): wire form, lowercased, latin1. */
export function wireKey(name: string): string {
  let s = '';
  for (const l of labelsOf(name)) s += String.fromCharCode(l.length) + l;
  return s + '\0';
}

/** The dotted name (with a trailing dot) of a wire key. */
export function nameOfKey(key: string): string {
  let p = 0;
  let out = '';
  while (p < key.length) {
    const l = key.charCodeAt(p);
    if (l === 0) break;
    out += key.slice(p + 1, p + 1 + l) + '.';
    p += l + 1;
  }
  return out === '' ? '.' : out;
}

/** Whether the name of wire key `key` is `suffix` or below it (label boundaries respected). */
export function isSubdomainKey(key: string, suffix: string): boolean {
  if (key.length < suffix.length || !key.endsWith(suffix)) return false;
  const at = key.length - suffix.length;
  // The suffix must start on a label boundary of key, not inside a label that happens to
  // contain the same bytes.
  let p = 0;
  while (p < at) p += key.charCodeAt(p) + 1;
  return p === at;
}

// ---------------------------------------------------------------- addresses

export function ipv4Bytes(addr: string): number[] {
  return addr.split('.').map((x) => Number(x));
}

export function ipv6Bytes(addr: string): number[] {
  let a = addr;
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  let tail: number[] = [];
  // An embedded IPv4 (::ffff:1.2.3.4) is its last 4 bytes.
  const lastColon = a.lastIndexOf(':');
  if (a.indexOf('.', lastColon) >= 0) {
    tail = ipv4Bytes(a.slice(lastColon + 1));
    a = a.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = a.includes('::') ? a.split('::') : [a, undefined];
  const groups = (s: string | undefined): number[] =>
    s
      ? s
          .split(':')
          .filter((g) => g !== '')
          .map((g) => parseInt(g, 16))
      : [];
  const h = groups(head);
  const r = groups(rest);
  const all = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const out: number[] = [];
  for (const g of all) out.push(g >> 8, g & 0xff);
  if (tail.length) out.splice(12, 4, ...tail);
  return out;
}

/** The PTR owner name of an address (in-addr.arpa / ip6.arpa), with a trailing dot. */
export function reverseName(addr: string, family: 4 | 6): string {
  if (family === 4) return `${ipv4Bytes(addr).reverse().join('.')}.in-addr.arpa.`;
  const nibbles: string[] = [];
  for (const b of ipv6Bytes(addr)) nibbles.push((b >> 4).toString(16), (b & 0xf).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa.`;
}

// ---------------------------------------------------------------- writing

/**
 * Writes records into a growing buffer that will sit at absolute offset `base` of a message,
 * compressing owner and RDATA names against earlier names (RFC 1035 4.1.4), the question's
 * name included: its suffixes are registered at their offsets in the question, so a pointer
 * to the question carries the client's own spelling of the name into the answer.
 */
export class Writer {
  private buf = Buffer.allocUnsafe(512);
  pos = 0;
  private readonly names = new Map<string, number>();

  constructor(
    private readonly base: number,
    qname?: string,
  ) {
    if (qname !== undefined) {
      const labels = labelsOf(qname);
      let off = HEADER_LEN;
      for (let i = 0; i < labels.length; i++) {
        this.names.set(labels.slice(i).join('.'), off);
        off += labels[i].length + 1;
      }
    }
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.room(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  bytes(b: ArrayLike<number>): void {
    this.room(b.length);
    for (let i = 0; i < b.length; i++) this.buf[this.pos++] = b[i];
  }

  /** A name; `compress` false writes it whole (SRV targets: RFC 2782) but still lets later names point at it. */
  name(name: string, compress = true): void {
    const labels = labelsOf(name);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.');
      const at = this.names.get(suffix);
      if (compress && at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      const abs = this.base + this.pos;
      if (abs < 0x3fff && at === undefined) this.names.set(suffix, abs);
      this.u8(labels[i].length);
      this.room(labels[i].length);
      this.pos += this.buf.write(labels[i], this.pos, 'latin1');
    }
    this.u8(0);
  }

  /** An owner, type, class IN, TTL and a 2-byte RDATA length to fill in; returns where the length goes. */
  rrHead(owner: string, type: number, ttl: number): number {
    this.name(owner);
    this.u16(type);
    this.u16(CLASS_IN);
    this.u32(ttl);
    const at = this.pos;
    this.u16(0);
    return at;
  }

  rdEnd(lenAt: number): void {
    this.buf.writeUInt16BE(this.pos - lenAt - 2, lenAt);
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

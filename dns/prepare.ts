// Precomputed answers: for one zone name and query type, the answer, authority and additional
// sections as bytes, ready to be appended to the query's own header and question. The bytes
// are laid out for a message whose question is this name (its wire length fixes every
// offset), so owner names are pointers to the question (0xC00C) and keep the client's case.
// Several rotations of the records are kept and cycled, for load spread.
import { FLAG_AA, RCODE, TYPE, Writer, ipv4Bytes, ipv6Bytes, wireKey, HEADER_LEN, OPT_LEN } from './wire.js';
import type { NameEntry, Prepared, Rdata, Zone } from './zone.js';

/** Rotations kept per answer: enough to spread load, few enough to stay small. */
export const MAX_ROTATIONS = 8;
/** The largest message TCP carries. */
const MAX_MESSAGE = 65535;

type Section = 'an' | 'ns' | 'ar';
type Out = { section: Section; owner: string; rd: Rdata | { type: typeof TYPE.HINFO; cpu: string; os: string } };

export function prepare(zone: Zone, entry: NameEntry, qtype: number): Prepared {
  const base = HEADER_LEN + entry.key.length + 4;
  const inZone = zone.inZone(entry.key);
  const has = entry.records > 0;

  if (qtype === TYPE.ANY && has) {
    // RFC 8482: a minimal answer instead of everything the name holds.
    return build(zone, entry, base, [
      [{ section: 'an', owner: entry.name, rd: { type: TYPE.HINFO, cpu: 'RFC8482', os: '' } }],
    ]);
  }
  const rds = has ? entry.rdata(qtype) : [];
  if (rds.length === 0) {
    // NODATA: inside the zone the SOA goes in the authority section (its minimum is the
    // negative TTL); a reverse name we answer PTR for has no SOA of ours to give.
    return build(zone, entry, base, [inZone ? [{ section: 'ns', owner: zone.domain, rd: zone.soa }] : []]);
  }
  const n = rds.length;
  const rotations = qtype === TYPE.SOA || n === 1 ? 1 : Math.min(n, MAX_ROTATIONS);
  const sets: Out[][] = [];
  for (let r = 0; r < rotations; r++) {
    const start = Math.floor((r * n) / rotations);
    const order = [...rds.slice(start), ...rds.slice(0, start)];
    const out: Out[] = order.map((rd) => ({ section: 'an', owner: entry.name, rd }));
    out.push(...additional(zone, order));
    sets.push(out);
  }
  return build(zone, entry, base, sets);
}

/** The addresses of the names an answer points at, so a client needs no second query. */
function additional(zone: Zone, rds: Rdata[]): Out[] {
  const out: Out[] = [];
  const seen = new Set<string>();
  for (const rd of rds) {
    if (rd.type === TYPE.SRV) {
      if (seen.has(rd.target)) continue;
      seen.add(rd.target);
      for (const addr of rd.addrs)
        out.push({
          section: 'ar',
          owner: rd.target,
          rd: addr.includes(':') ? { type: TYPE.AAAA, addr } : { type: TYPE.A, addr },
        });
    } else if (rd.type === TYPE.NS) {
      const ns = zone.get(wireKey(rd.target));
      if (!ns) continue;
      for (const a of [...ns.rdata(TYPE.A), ...ns.rdata(TYPE.AAAA)])
        out.push({ section: 'ar', owner: rd.target, rd: a });
    }
  }
  return out;
}

function build(zone: Zone, entry: NameEntry, base: number, sets: Out[][]): Prepared {
  const rot: Buffer[] = [];
  const ends: Uint32Array[] = [];
  let counts = { an: 0, ns: 0, ar: 0 };
  for (const set of sets) {
    let recs = set;
    for (;;) {
      const w = new Writer(base, entry.name);
      const c = { an: 0, ns: 0, ar: 0 };
      const at = new Uint32Array(recs.length);
      for (let i = 0; i < recs.length; i++) {
        writeRecord(w, recs[i], zone.ttl);
        c[recs[i].section]++;
        at[i] = w.pos;
      }
      // Past what TCP can carry (thousands of endpoints): keep the records that fit.
      if (base + w.pos + OPT_LEN > MAX_MESSAGE && recs.length > 1) {
        recs = recs.slice(0, Math.floor(recs.length * 0.9));
        continue;
      }
      rot.push(w.done());
      ends.push(at);
      counts = c;
      break;
    }
  }
  return { rcode: RCODE.NOERROR, flags: FLAG_AA, an: counts.an, ns: counts.ns, ar: counts.ar, rot, ends, next: 0 };
}

function writeRecord(w: Writer, o: Out, ttl: number): void {
  const rd = o.rd;
  const len = w.rrHead(o.owner, rd.type, ttl);
  switch (rd.type) {
    case TYPE.A:
      w.bytes(ipv4Bytes(rd.addr));
      break;
    case TYPE.AAAA:
      w.bytes(ipv6Bytes(rd.addr));
      break;
    case TYPE.PTR:
    case TYPE.NS:
      w.name(rd.target);
      break;
    case TYPE.SRV:
      w.u16(0);
      w.u16(1);
      w.u16(rd.port);
      w.name(rd.target, false);
      break;
    case TYPE.SOA:
      w.name(rd.mname);
      w.name(rd.rname);
      w.u32(rd.serial);
      w.u32(rd.refresh);
      w.u32(rd.retry);
      w.u32(rd.expire);
      w.u32(rd.minimum);
      break;
    case TYPE.HINFO:
      for (const s of [rd.cpu, rd.os]) {
        w.u8(s.length);
        w.bytes(Buffer.from(s, 'latin1'));
      }
      break;
  }
  w.rdEnd(len);
}

/**
 * The SOA record for negative answers to names that are not in the zone: everything after
 * its owner name, which the responder writes as a pointer to where the domain starts in the
 * question (that offset differs per question, the rest does not).
 */
export function soaTail(zone: Zone): Buffer {
  // A Writer at a base past any pointer range would compress nothing in RDATA; write the
  // SOA for owner "." and drop that 1-byte root owner.
  const w = new Writer(0x4000);
  writeRecord(w, { section: 'ns', owner: '.', rd: zone.soa }, zone.ttl);
  return w.done().subarray(1);
}

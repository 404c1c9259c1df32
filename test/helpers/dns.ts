// Helpers for the dns/ tests: store records, query bytes, decoding answers, running dig.
import { execFile } from 'node:child_process';
import dnsPacket, { type RecordType } from 'dns-packet';
import type { Json } from '../../crdt-store/json-value.js';
import { LocalStore, type LocalChange } from '../../crdt-store/local-store.js';
import type { EndpointRecord } from '../../records/schema.js';

export function newStore(name = 'n1'): LocalStore {
  return new LocalStore({ name, clock: () => Date.now() });
}

/** Every change `from` makes from now on is applied at `to` (so `to` holds records owned by `from`). */
export function pipe(from: LocalStore, to: LocalStore): void {
  for (const d of from.documents()) to.applyRemote(d.id, d.epoch, [d.save()]);
  from.observe({ localChange: (c: LocalChange) => void to.applyRemote(c.docId, c.epoch, [c.change]) });
}

/** An endpoint record's value, as the store holds it. */
export function endpoint(service: string, addrs: string[], extra: Partial<EndpointRecord> = {}): Json {
  const rec: EndpointRecord = { service, addrs, ports: {}, health: 'none', vips: [], source: 'api', ...extra };
  return JSON.parse(JSON.stringify(rec)) as Json;
}

export interface QueryOpts {
  id?: number;
  rd?: boolean;
  edns?: number | false;
  dnssecOk?: boolean;
  class?: 'IN' | 'CH' | 'ANY';
}

export function query(name: string, type: RecordType | 'ANY' | number, o: QueryOpts = {}): Buffer {
  const edns = o.edns === undefined ? 1232 : o.edns;
  const qtype = type === 'ANY' ? 255 : typeof type === 'number' ? type : undefined;
  const bytes = dnsPacket.encode({
    type: 'query',
    id: o.id ?? 4242,
    flags: o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type: qtype === undefined ? (type as RecordType) : 'A', name, class: o.class ?? 'IN' }],
    additionals:
      edns === false
        ? []
        : [{ type: 'OPT', name: '.', udpPayloadSize: edns, flags: o.dnssecOk ? dnsPacket.DNSSEC_OK : 0 } as never],
  });
  if (qtype !== undefined) bytes.writeUInt16BE(qtype, 12 + nameWireLength(name));
  return bytes;
}

function nameWireLength(name: string): number {
  const n = name.replace(/\.$/, '');
  return n === '' ? 1 : n.length + 2;
}

/** A decoded record, loosely typed (dns-packet's union makes every test cast). */
export interface Rec {
  type: string;
  name: string;
  ttl?: number;
  data?: unknown;
  udpPayloadSize?: number;
  extendedRcode?: number;
  flag_do?: boolean;
}

export interface Decoded {
  id: number;
  rcode: string;
  flags: number;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_rd: boolean;
  questions: { name: string; type: string }[];
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
}

export function decode(b: Buffer | undefined): Decoded {
  if (!b) throw new Error('no answer');
  return dnsPacket.decode(b) as unknown as Decoded;
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
  udp: number | undefined;
  raw: string;
}

/** Runs dig against a server on loopback; the records come back as whitespace-split lines. */
export function dig(server: string, port: number, args: string[]): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'dig',
      [`@${server}`, '-p', String(port), '+time=2', '+tries=1', ...args],
      { timeout: 10_000 },
      (err, stdout) => {
        if (err && !stdout) return reject(err);
        resolve(parseDig(stdout));
      },
    );
  });
}

export function parseDig(out: string): DigResult {
  const status = /status: (\w+)/.exec(out)?.[1] ?? 'none';
  const flags = (/;; flags: ([^;]*);/.exec(out)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const udp = /; EDNS: version: \d+, flags:[^;]*; udp: (\d+)/.exec(out)?.[1];
  const section = (title: string): string[][] => {
    const m = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(out);
    return m
      ? m[1]
          .split('\n')
          .filter((l) => l && !l.startsWith(';'))
          .map((l) => l.split(/\s+/))
      : [];
  };
  return {
    status,
    flags,
    answer: section('ANSWER'),
    authority: section('AUTHORITY'),
    additional: section('ADDITIONAL'),
    udp: udp ? Number(udp) : undefined,
    raw: out,
  };
}

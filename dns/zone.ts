// The zone: names and their records, kept current from the store's live view one record at
// a time. Every store record (and every VIP) is a "contributor" that adds records to a few
// names; a change withdraws what that contributor added and adds what it adds now, so only
// the names it touches change, and only their precomputed answers are dropped.
//
//   node/<node>             <node>.node.<domain> A/AAAA, and the PTR of its address
//   svc/<svc>/<node>/<id>   <svc>.svc.<domain> A/AAAA (serving endpoints only),
//                           <tag>.<svc>.svc.<domain> A/AAAA (serving endpoints with that tag),
//                           <inst>.<svc>.svc.<domain> A/AAAA (the endpoint's own name, SRV target),
//                           _<port>._<proto>.<svc>.svc.<domain> SRV, and the same under each tag,
//                           PTRs of its addresses (to <inst>)
//   a VIP (VipSource)       <vip>.vip.<domain> A/AAAA, and its PTR
//
// <inst> is the endpoint's readable name (instance-names.ts): from the container name or the
// registration id, the same on every node. Under <svc>.svc the labels never clash: SRV names
// start with '_', which tags and instance names cannot; a tag wins over an instance name.
import { DEFAULTS } from './defaults.js';
import { isIP } from 'node:net';
import { InstanceNames } from './instance-names.js';
import {
  NODE_PREFIX,
  SERVICE_PREFIX,
  isServiceName,
  isServing,
  ownedAsKeySays,
  parseEndpointKey,
  endpointRecordOf,
  parseNodeRecord,
} from '../records/schema.js';
import { TYPE, isSubdomainKey, keyHash, labelsOf, nameOfKey, reverseName, sameKey, wireKey } from './wire.js';

import type { EndpointRecord, RecordSource, SourceEvent } from '../records/schema.js';
export type { RecordSource, SourceEvent };

/**
 * Where VIP addresses come from (the load balancer allocates them). `watch` delivers every
 * current VIP at once, then each change; both addresses undefined means the VIP is gone.
 * addr6: the VIP's IPv6 address (lb.vipCidr6), answered as AAAA.
 */
export interface VipSource {
  watch(handler: (vip: string, addr: string | undefined, addr6?: string) => void): () => void;
}

export type Rdata =
  | { type: typeof TYPE.A | typeof TYPE.AAAA; addr: string }
  | { type: typeof TYPE.PTR | typeof TYPE.NS; target: string }
  | { type: typeof TYPE.SRV; port: number; target: string; addrs: string[] }
  | {
      type: typeof TYPE.SOA;
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    };

/** Answers the responder precomputed for one name and type (see answer.ts). */
export interface Prepared {
  rcode: number;
  flags: number;
  an: number;
  ns: number;
  ar: number;
  /** Answer, authority and additional sections, one per rotation of the records. */
  rot: Buffer[];
  /** Per rotation, where each record ends in its bytes: a UDP answer too big is cut after a whole record. */
  ends: Uint32Array[];
  next: number;
}

/**
 * One name of the zone. A zone holds a few names per record of every node (its instance
 * name, PTRs), so an entry is kept small: its wire key is its only string (the dotted name
 * is derived when an answer is first prepared, and the hot path compares a query's bytes
 * with the key's characters), and the one contributor nearly every name has is held
 * inline; only a name several contributors share (a service's A and SRV names) has a Map.
 */
export class NameEntry {
  /** The first contributor's records, inline (a contributor that adds none is not held). */
  private c0: string | undefined = undefined;
  private r0: Rdata[] | undefined = undefined;
  /** contributor -> the records it adds here, for every further contributor. */
  private more: Map<string, Rdata[]> | undefined = undefined;
  records = 0;
  /** Whether this name is counted as holding records (in the zone's name count and its ancestors' descendants). */
  counted = false;
  /** Names below this one that hold records: a name with none of its own still exists (empty non-terminal). */
  descendants = 0;
  /** Filled by the responder on first use, dropped whenever this name changes. */
  prepared: Map<number, Prepared> | undefined = undefined;

  /** nameHash of the key, for the hot path's lookup straight from a query's bytes. */
  readonly hash: number;
  /** The next entry whose key has the same hash. */
  nextInHash: NameEntry | undefined = undefined;

  constructor(
    /** The wire key (wire.ts wireKey): lowercase labels, each after its length, latin1. */
    readonly key: string,
  ) {
    this.hash = keyHash(key);
  }

  /** Lowercase, with the trailing dot. */
  get name(): string {
    return nameOfKey(this.key);
  }

  /** Adds one record of `contributor`; true when it had none here before. */
  put(contributor: string, rd: Rdata): boolean {
    if (this.c0 === contributor) {
      this.r0!.push(rd);
      return false;
    }
    const list = this.more?.get(contributor);
    if (list) {
      list.push(rd);
      return false;
    }
    if (this.c0 === undefined) {
      this.c0 = contributor;
      this.r0 = [rd];
    } else (this.more ??= new Map()).set(contributor, [rd]);
    return true;
  }

  /** Drops every record of `contributor`; returns how many there were. */
  withdraw(contributor: string): number {
    if (this.c0 === contributor) {
      const n = this.r0!.length;
      this.c0 = undefined;
      this.r0 = undefined;
      return n;
    }
    const list = this.more?.get(contributor);
    if (!list) return 0;
    this.more!.delete(contributor);
    if (this.more!.size === 0) this.more = undefined;
    return list.length;
  }

  /** Every contributor's records, contributors in key order. */
  private byContributor(): Rdata[][] {
    const all: [string, Rdata[]][] = this.more ? [...this.more] : [];
    if (this.c0 !== undefined) all.push([this.c0, this.r0!]);
    return all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
  }

  /** This name's records of one type in a stable order (contributors in key order), without duplicates. */
  rdata(type: number): Rdata[] {
    const out: Rdata[] = [];
    const seen = new Set<string>();
    for (const rs of this.byContributor()) {
      for (const r of rs) {
        if (r.type !== type) continue;
        const id = JSON.stringify(r);
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(r);
      }
    }
    return out;
  }

  types(): Set<number> {
    const s = new Set<number>();
    for (const rs of this.byContributor()) for (const r of rs) s.add(r.type);
    return s;
  }
}

export interface ZoneOptions {
  /** Default `weft.internal.` */
  domain?: string;
  /** TTL of every answer, and the negative TTL (SOA minimum). Default 5 s. */
  ttlS?: number;
  /** This node's name: the zone's NS and SOA name is `<nodeName>.node.<domain>`. Default `ns.<domain>` (no address). */
  nodeName?: string;
  vips?: VipSource;
}

export type ZoneSkipReason = 'node_record' | 'node_name' | 'endpoint_record' | 'endpoint_key' | 'vip';
export const ZONE_SKIP_REASONS: readonly ZoneSkipReason[] = [
  'node_record',
  'node_name',
  'endpoint_record',
  'endpoint_key',
  'vip',
];

type Item = [name: string, rd: Rdata];
type ZoneEndpoint = { node: string; id: string; rec: EndpointRecord };

export class Zone {
  readonly domain: string;
  readonly domainKey: string;
  readonly ttl: number;
  readonly soa: Rdata & { type: typeof TYPE.SOA };
  readonly nsName: string;
  private readonly names = new Map<string, NameEntry>();
  /** The same entries by nameHash (collisions chained through nextInHash). */
  private readonly byHash = new Map<number, NameEntry>();
  /** contributor -> the names it added records to */
  private readonly contributed = new Map<string, NameEntry[]>();
  private readonly apex: NameEntry;
  /** Every endpoint that parses, serving or not (all of them take part in naming). */
  private readonly endpoints = new Map<string, ZoneEndpoint>();
  private readonly instanceNames = new InstanceNames();
  /** Store values and VIPs that were skipped because they do not parse, by reason (each bad value seen). */
  readonly skipped: Record<ZoneSkipReason, number> = {
    node_record: 0,
    node_name: 0,
    endpoint_record: 0,
    endpoint_key: 0,
    vip: 0,
  };
  /** Called after each change with the names whose answers changed (tests, metrics). */
  onChange: ((names: string[]) => void) | undefined = undefined;
  private recordCount = 0;
  private nameCount = 0;

  constructor(opts: ZoneOptions = {}) {
    const labels = labelsOf(opts.domain ?? DEFAULTS.domain);
    if (labels.length === 0) throw new Error('the DNS domain cannot be the root');
    this.domain = labels.join('.') + '.';
    this.domainKey = wireKey(this.domain);
    this.ttl = opts.ttlS ?? DEFAULTS.ttlS;
    if (!Number.isInteger(this.ttl) || this.ttl < 0 || this.ttl > 86400)
      throw new Error(`DNS TTL ${opts.ttlS} is not a whole number of seconds from 0 to 86400`);
    this.nsName =
      opts.nodeName !== undefined && nodeLabels(opts.nodeName)
        ? `${nodeLabels(opts.nodeName)}.node.${this.domain}`
        : `ns.${this.domain}`;
    this.soa = {
      type: TYPE.SOA,
      mname: this.nsName,
      rname: `hostmaster.${this.domain}`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: this.ttl,
    };
    this.apex = new NameEntry(this.domainKey);
    this.add(this.apex);
    this.contribute('@', [
      [this.domain, this.soa],
      [this.domain, { type: TYPE.NS, target: this.nsName }],
    ]);
  }

  /** Follows the source (and the VIP source) until the returned function is called. */
  attach(source: RecordSource, vips?: VipSource): () => void {
    const stops = [
      source.watch(NODE_PREFIX, (e) => this.onNode(e)),
      source.watch(SERVICE_PREFIX, (e) => this.onEndpoint(e)),
    ];
    if (vips) stops.push(vips.watch((vip, addr, addr6) => this.setVip(vip, addr, addr6)));
    return () => {
      for (const s of stops) s();
    };
  }

  get(key: string): NameEntry | undefined {
    return this.names.get(key);
  }

  /** The entry for the name at msg[off..off+len) with that nameHash, if any. */
  find(msg: Buffer, off: number, len: number, hash: number): NameEntry | undefined {
    for (let e = this.byHash.get(hash); e !== undefined; e = e.nextInHash) {
      if (e.key.length === len && sameKey(msg, off, e.key)) return e;
    }
    return undefined;
  }

  private add(e: NameEntry): void {
    this.names.set(e.key, e);
    e.nextInHash = this.byHash.get(e.hash);
    this.byHash.set(e.hash, e);
  }

  private remove(e: NameEntry): void {
    this.names.delete(e.key);
    let cur = this.byHash.get(e.hash);
    if (cur === e) {
      if (e.nextInHash) this.byHash.set(e.hash, e.nextInHash);
      else this.byHash.delete(e.hash);
      return;
    }
    while (cur && cur.nextInHash !== e) cur = cur.nextInHash;
    if (cur) cur.nextInHash = e.nextInHash;
  }

  /** Whether a wire key is the domain or below it. */
  inZone(key: string): boolean {
    return isSubdomainKey(key, this.domainKey);
  }

  get stats(): { names: number; records: number } {
    return { names: this.nameCount, records: this.recordCount };
  }

  // ------------------------------------------------------------ sources

  onNode(e: SourceEvent): void {
    const node = e.key.slice(NODE_PREFIX.length);
    if (e.after === undefined) return this.contribute(e.key, []);
    const rec = parseNodeRecord(e.after.value);
    const labels = nodeLabels(node);
    if (!rec || !labels || !ownedAsKeySays(e.key, e.after.owner)) {
      this.skipped[!rec ? 'node_record' : 'node_name']++;
      return this.contribute(e.key, []);
    }
    const name = `${labels}.node.${this.domain}`;
    this.contribute(e.key, [
      [name, addrRdata(rec.addr)],
      [reverseName(rec.addr, family(rec.addr)), { type: TYPE.PTR, target: name }],
    ]);
  }

  onEndpoint(e: SourceEvent): void {
    const ep = e.after === undefined ? undefined : this.readEndpoint(e.key, e.after);
    if (ep) this.endpoints.set(e.key, ep);
    else this.endpoints.delete(e.key);
    const input = ep && {
      service: ep.rec.service,
      node: ep.node,
      id: ep.id,
      name: ep.rec.name ?? ep.id,
      tags: ep.rec.tags ?? [],
    };
    // Another endpoint's name can change with this one (a shared name, a new tag): answer it again.
    for (const other of this.instanceNames.set(e.key, input)) this.contributeEndpoint(other);
    this.contributeEndpoint(e.key);
  }

  /** The endpoint at a store key, or undefined (counted) when it does not parse or sits in the wrong document. */
  private readEndpoint(key: string, after: NonNullable<SourceEvent['after']>): ZoneEndpoint | undefined {
    const k = parseEndpointKey(key);
    const rec = endpointRecordOf(after.value);
    if (!k || !rec || rec.service !== k.service || !ownedAsKeySays(key, after.owner)) {
      this.skipped[!rec ? 'endpoint_record' : 'endpoint_key']++;
      return undefined;
    }
    return { node: k.node, id: k.id, rec };
  }

  private contributeEndpoint(key: string): void {
    const ep = this.endpoints.get(key);
    const name = this.instanceNames.nameOf(key);
    if (!ep || !name || !isServing(ep.rec)) return this.contribute(key, []);
    const rec = ep.rec;
    const svc = `${rec.service}.svc.${this.domain}`;
    const inst = `${name}.${svc}`;
    const groups = [svc, ...(rec.tags ?? []).map((tag) => `${tag}.${svc}`)];
    const items: Item[] = [];
    // One record object per address, held by each name it answers under (records are never changed).
    const ptr: Rdata = { type: TYPE.PTR, target: inst };
    for (const a of rec.addrs) {
      const rd = addrRdata(a);
      for (const g of groups) items.push([g, rd]);
      items.push([inst, rd], [reverseName(a, family(a)), ptr]);
    }
    if (rec.addrs.length > 0) {
      for (const [pn, spec] of Object.entries(rec.ports)) {
        for (const g of groups)
          items.push([
            `_${pn}._${spec.proto}.${g}`,
            { type: TYPE.SRV, port: spec.port, target: inst, addrs: rec.addrs },
          ]);
      }
    }
    this.contribute(key, items);
  }

  setVip(vip: string, addr: string | undefined, addr6?: string): void {
    const key = `vip:${vip}`;
    const addrs = [addr, addr6].filter((a): a is string => a !== undefined);
    if (addrs.length === 0) return this.contribute(key, []);
    if (!isServiceName(vip) || addrs.some((a) => isIP(a) === 0)) {
      this.skipped.vip++;
      return this.contribute(key, []);
    }
    const name = `${vip}.vip.${this.domain}`;
    this.contribute(
      key,
      addrs.flatMap((a): Item[] => [
        [name, addrRdata(a)],
        [reverseName(a, family(a)), { type: TYPE.PTR, target: name }],
      ]),
    );
  }

  // ------------------------------------------------------------ names

  private contribute(contributor: string, items: Item[]): void {
    const touched = new Set<NameEntry>();
    for (const entry of this.contributed.get(contributor) ?? []) {
      const n = entry.withdraw(contributor);
      this.recordCount -= n;
      entry.records -= n;
      touched.add(entry);
    }
    const entries: NameEntry[] = [];
    for (const [name, rd] of items) {
      const key = wireKey(name);
      let entry = this.names.get(key);
      if (!entry) {
        entry = new NameEntry(key);
        this.add(entry);
      }
      if (entry.put(contributor, rd)) entries.push(entry);
      entry.records++;
      this.recordCount++;
      touched.add(entry);
    }
    if (entries.length) this.contributed.set(contributor, entries);
    else this.contributed.delete(contributor);
    for (const entry of touched) this.settle(entry);
    if (touched.size && this.onChange) this.onChange([...touched].map((e) => e.key));
  }

  /** After a name's records changed: drop its answers, keep the empty non-terminals above it right. */
  private settle(entry: NameEntry): void {
    entry.prepared = undefined;
    const has = entry.records > 0;
    if (has !== entry.counted) {
      entry.counted = has;
      this.nameCount += has ? 1 : -1;
      this.walkUp(entry.key, has ? 1 : -1);
    }
    this.dropIfEmpty(entry);
  }

  /** Adjusts the descendant counts of the names between `key` and the apex (only inside the zone). */
  private walkUp(key: string, d: number): void {
    if (!this.inZone(key)) return;
    let k = key;
    while (k !== this.domainKey) {
      k = k.slice(k.charCodeAt(0) + 1);
      let e = this.names.get(k);
      if (!e) {
        e = new NameEntry(k);
        this.add(e);
      }
      e.descendants += d;
      // The answers at an empty non-terminal (NODATA vs NXDOMAIN) depend on its descendants.
      e.prepared = undefined;
      if (k !== this.domainKey) this.dropIfEmpty(e);
    }
  }

  private dropIfEmpty(e: NameEntry): void {
    if (e !== this.apex && e.records === 0 && e.descendants === 0 && this.names.get(e.key) === e) this.remove(e);
  }
}

const family = (addr: string): 4 | 6 => (isIP(addr) === 6 ? 6 : 4);

const addrRdata = (addr: string): Rdata => (isIP(addr) === 6 ? { type: TYPE.AAAA, addr } : { type: TYPE.A, addr });

/** A node name as DNS labels (lowercased), or undefined when it cannot be one. */
function nodeLabels(node: string): string | undefined {
  const labels = node.toLowerCase().split('.');
  if (!labels.every((l) => isServiceName(l))) return undefined;
  const joined = labels.join('.');
  return joined.length <= 180 ? joined : undefined;
}

// The zone as it was before its names were made lean (git 0965da7, dns/zone.ts): the
// reference zone-lean.test.ts checks the current zone against, answer for answer, over
// random record sets. Not used by the daemon. It pins what the zone answers, not how: a
// change meant to alter an answer changes this file too (or retires it with its test).
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
import type { Prepared, Rdata, VipSource } from './zone.js';
import { isIP } from 'node:net';
import { InstanceNames } from './instance-names.js';
import {
  NODE_PREFIX,
  SERVICE_PREFIX,
  isServiceName,
  isServing,
  ownedAsKeySays,
  parseEndpointKey,
  parseEndpointRecord,
  parseNodeRecord,
} from '../records/schema.js';
import { TYPE, isSubdomainKey, labelsOf, nameHash, nameOfKey, reverseName, sameName, wireKey } from './wire.js';

import type { EndpointRecord, RecordSource, SourceEvent } from '../records/schema.js';

class NameEntry {
  /** contributor -> the records it adds here */
  readonly by = new Map<string, Rdata[]>();
  records = 0;
  /** Whether this name is counted as holding records (in the zone's name count and its ancestors' descendants). */
  counted = false;
  /** Names below this one that hold records: a name with none of its own still exists (empty non-terminal). */
  descendants = 0;
  /** Filled by the responder on first use, dropped whenever this name changes. */
  prepared: Map<number, Prepared> | undefined = undefined;

  /** The key's bytes and hash, for the hot path's lookup straight from a query's bytes. */
  readonly keyBytes: Buffer;
  readonly hash: number;
  /** The next entry whose key has the same hash. */
  nextInHash: NameEntry | undefined = undefined;

  constructor(
    readonly key: string,
    /** Lowercase, with the trailing dot. */
    readonly name: string,
  ) {
    this.keyBytes = Buffer.from(key, 'latin1');
    this.hash = nameHash(this.keyBytes);
  }

  /** This name's records of one type in a stable order (contributors in key order), without duplicates. */
  rdata(type: number): Rdata[] {
    const keys = [...this.by.keys()].sort();
    const out: Rdata[] = [];
    const seen = new Set<string>();
    for (const k of keys) {
      for (const r of this.by.get(k)!) {
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
    for (const rs of this.by.values()) for (const r of rs) s.add(r.type);
    return s;
  }
}

interface ZoneOptions {
  /** Default `weft.internal.` */
  domain?: string;
  /** TTL of every answer, and the negative TTL (SOA minimum). Default 5 s. */
  ttlS?: number;
  /** This node's name: the zone's NS and SOA name is `<nodeName>.node.<domain>`. Default `ns.<domain>` (no address). */
  nodeName?: string;
  vips?: VipSource;
}

type ZoneSkipReason = 'node_record' | 'node_name' | 'endpoint_record' | 'endpoint_key' | 'vip';

type Item = [name: string, rd: Rdata];
type ZoneEndpoint = { node: string; id: string; rec: EndpointRecord };

export class ReferenceZone {
  readonly domain: string;
  readonly domainKey: string;
  readonly ttl: number;
  readonly soa: Rdata & { type: typeof TYPE.SOA };
  readonly nsName: string;
  private readonly names = new Map<string, NameEntry>();
  /** The same entries by nameHash (collisions chained through nextInHash). */
  private readonly byHash = new Map<number, NameEntry>();
  /** contributor -> the name keys it added records to */
  private readonly contributed = new Map<string, string[]>();
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
    this.apex = new NameEntry(this.domainKey, this.domain);
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
      if (e.keyBytes.length === len && sameName(msg, off, e.keyBytes)) return e;
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
    const rec = parseEndpointRecord(after.value);
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
    for (const a of rec.addrs) {
      for (const g of groups) items.push([g, addrRdata(a)]);
      items.push([inst, addrRdata(a)], [reverseName(a, family(a)), { type: TYPE.PTR, target: inst }]);
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
    const touched = new Set<string>();
    for (const key of this.contributed.get(contributor) ?? []) {
      const entry = this.names.get(key);
      if (!entry) continue;
      const n = entry.by.get(contributor)?.length ?? 0;
      entry.by.delete(contributor);
      this.recordCount -= n;
      entry.records -= n;
      touched.add(key);
    }
    const keys: string[] = [];
    for (const [name, rd] of items) {
      const key = wireKey(name);
      let entry = this.names.get(key);
      if (!entry) {
        entry = new NameEntry(key, labelsOf(name).join('.') + '.');
        this.add(entry);
      }
      const list = entry.by.get(contributor);
      if (list) list.push(rd);
      else {
        entry.by.set(contributor, [rd]);
        keys.push(key);
      }
      entry.records++;
      this.recordCount++;
      touched.add(key);
    }
    if (keys.length) this.contributed.set(contributor, keys);
    else this.contributed.delete(contributor);
    for (const key of touched) this.settle(this.names.get(key)!);
    if (touched.size && this.onChange) this.onChange([...touched]);
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
        e = new NameEntry(k, nameOfKey(k));
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

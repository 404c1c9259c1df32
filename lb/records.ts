// What the load balancer reads from the store, kept parsed: endpoints (svc/...) and declared
// VIPs (vip/...), from the live view, so records of dead owners are already gone; and the
// members' addresses (node/...) from every record held, dead owners' included, since no
// VIP may take a member's address (vip-guard.ts). Values
// from peers are validated here; a bad one is skipped and counted, and whatever that key
// held before is dropped (the writer meant to replace it).
import {
  NODE_PREFIX,
  parseNodeRecord,
  SERVICE_PREFIX,
  VIP_PREFIX,
  parseDeclaredVip,
  parseEndpointKey,
  endpointRecordOf,
  ownedAsKeySays,
  vipKey,
  type DeclaredVip,
  type EndpointRecord,
} from '../records/schema.js';

import type { SourceEvent } from '../records/schema.js';
export type { SourceEvent };

/** What the LB reads records from: crdt-store's LocalStore and StoreNode both fit. */
export interface RecordSource {
  watch(prefix: string, handler: (event: SourceEvent) => void, opts?: { view?: 'live' | 'all' }): () => void;
}

export interface EndpointEntry {
  key: string;
  node: string;
  id: string;
  rec: EndpointRecord;
}

export type SkipReason = 'endpoint_record' | 'endpoint_key' | 'vip_record' | 'vip_key';
export const SKIP_REASONS: readonly SkipReason[] = ['endpoint_record', 'endpoint_key', 'vip_record', 'vip_key'];

export class RecordIndex {
  readonly endpoints = new Map<string, EndpointEntry>();
  readonly declared = new Map<string, DeclaredVip>();
  /** node name -> its address, from node/ records. */
  readonly nodes = new Map<string, string>();
  readonly skipped: Record<SkipReason, number> = { endpoint_record: 0, endpoint_key: 0, vip_record: 0, vip_key: 0 };
  /** Called for each record skipped (for a log line). */
  onSkip: ((key: string, reason: SkipReason) => void) | undefined = undefined;
  /** Called with the key of each endpoint or declared VIP event, after it is applied (for an incremental reader). */
  onRecord: ((key: string) => void) | undefined = undefined;

  /** Applies one event; true if what the LB reads changed. */
  apply(e: SourceEvent): boolean {
    if (e.key.startsWith(SERVICE_PREFIX)) return this.noted(e.key, this.onEndpoint(e));
    if (e.key.startsWith(VIP_PREFIX)) return this.noted(e.key, this.onDeclared(e));
    if (e.key.startsWith(NODE_PREFIX)) return this.onNode(e);
    return false;
  }

  private noted(key: string, changed: boolean): boolean {
    if (changed) this.onRecord?.(key);
    return changed;
  }

  /** Every member's address the store knows of. */
  memberAddrs(): Set<string> {
    return new Set(this.nodes.values());
  }

  private onNode(e: SourceEvent): boolean {
    const node = e.key.slice(NODE_PREFIX.length);
    const before = this.nodes.get(node);
    const rec = e.after === undefined ? undefined : parseNodeRecord(e.after.value);
    if (rec) this.nodes.set(node, rec.addr);
    else this.nodes.delete(node);
    return before !== rec?.addr;
  }

  /** Follows the source until the returned function is called; `changed` after each change. */
  attach(source: RecordSource, changed: () => void): () => void {
    const on = (e: SourceEvent) => {
      if (this.apply(e)) changed();
    };
    const stops = [
      source.watch(SERVICE_PREFIX, on),
      source.watch(VIP_PREFIX, on),
      source.watch(NODE_PREFIX, on, { view: 'all' }),
    ];
    return () => {
      for (const s of stops) s();
    };
  }

  private skip(key: string, reason: SkipReason): void {
    this.skipped[reason]++;
    this.onSkip?.(key, reason);
  }

  private onEndpoint(e: SourceEvent): boolean {
    const had = this.endpoints.delete(e.key);
    if (e.after === undefined) return had;
    const k = parseEndpointKey(e.key);
    const rec = endpointRecordOf(e.after.value);
    if (!rec) {
      this.skip(e.key, 'endpoint_record');
      return had;
    }
    if (!k || rec.service !== k.service || !ownedAsKeySays(e.key, e.after.owner)) {
      this.skip(e.key, 'endpoint_key');
      return had;
    }
    this.endpoints.set(e.key, { key: e.key, node: k.node, id: k.id, rec });
    return true;
  }

  private onDeclared(e: SourceEvent): boolean {
    const had = this.declared.delete(e.key);
    if (e.after === undefined) return had;
    const v = parseDeclaredVip(e.after.value);
    if (!v) {
      this.skip(e.key, 'vip_record');
      return had;
    }
    if (vipKey(v) !== e.key || !ownedAsKeySays(e.key, e.after.owner)) {
      this.skip(e.key, 'vip_key');
      return had;
    }
    this.declared.set(e.key, v);
    return true;
  }
}

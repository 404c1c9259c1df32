// What the load balancer reads from the store, kept parsed: endpoints (svc/...) and declared
// VIPs (vip/...), from the live view, so records of dead owners are already gone. Values
// from peers are validated here; a bad one is skipped and counted, and whatever that key
// held before is dropped (the writer meant to replace it).
import {
  SERVICE_PREFIX,
  VIP_PREFIX,
  parseDeclaredVip,
  parseEndpointKey,
  parseEndpointRecord,
  ownedAsKeySays,
  vipKey,
  type DeclaredVip,
  type EndpointRecord,
} from '../src/records.js';

import type { RecordSource, SourceEvent } from '../src/records.js';
export type { RecordSource, SourceEvent };

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
  readonly skipped: Record<SkipReason, number> = { endpoint_record: 0, endpoint_key: 0, vip_record: 0, vip_key: 0 };
  /** Called for each record skipped (for a log line). */
  onSkip: ((key: string, reason: SkipReason) => void) | undefined = undefined;

  /** Applies one event; true if what the LB reads changed. */
  apply(e: SourceEvent): boolean {
    if (e.key.startsWith(SERVICE_PREFIX)) return this.onEndpoint(e);
    if (e.key.startsWith(VIP_PREFIX)) return this.onDeclared(e);
    return false;
  }

  /** Follows the source until the returned function is called; `changed` after each change. */
  attach(source: RecordSource, changed: () => void): () => void {
    const on = (e: SourceEvent) => {
      if (this.apply(e)) changed();
    };
    const stops = [source.watch(SERVICE_PREFIX, on), source.watch(VIP_PREFIX, on)];
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
    const rec = parseEndpointRecord(e.after.value);
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

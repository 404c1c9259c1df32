// The store's figures for /metrics. Counters restart with the component, so each reports
// the running store's own total.
import type { AgentContext } from '../agent.js';
import { Counter, Gauge } from '../metrics.js';
import { ENVELOPE_REJECTS, REPLICATION_REJECT_REASONS, type StoreNodeStats } from '../../crdt-store/index.js';
import type { StoreHandle } from './store-child.js';

export function registerStoreMetrics(ctx: AgentContext, handle: StoreHandle): void {
  const registers = [ctx.registry];
  const stats = () => handle.current?.stats();
  const gauge = (name: string, help: string, pick: (s: StoreNodeStats) => number) =>
    new Gauge({ name, help, registers, collect() { const s = stats(); this.set(s ? pick(s) : 0); } });
  const counter = (name: string, help: string, pick: (s: StoreNodeStats) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        const s = stats();
        if (!s) return;
        this.reset();
        this.inc(pick(s));
      },
    });
  gauge('weft_store_documents', 'Store documents held (one per node, plus shared buckets)', (s) => s.store.docs);
  gauge('weft_store_records', 'Records held, all owners', (s) => s.store.records);
  gauge('weft_store_live_records', 'Records whose owner is alive', (s) => s.store.liveRecords);
  gauge('weft_store_watches', 'Open watches', (s) => s.store.watches);
  gauge('weft_store_disk_bytes', 'Bytes of the data directory: log plus snapshot', (s) => s.journal.logBytes + s.journal.snapshotBytes);
  counter('weft_store_changes_out_total', 'Changes made on this node', (s) => s.store.localChanges);
  counter('weft_store_changes_in_total', 'Changes from peers applied here', (s) => s.store.remoteChangesApplied);
  counter('weft_store_bytes_out_total', 'Store replication bytes sent, UDP and TCP', (s) => s.transport.packetBytesOut + s.transport.streamBytesOut);
  counter('weft_store_bytes_in_total', 'Store replication bytes received, UDP and TCP', (s) => s.transport.packetBytesIn + s.transport.streamBytesIn);
  counter('weft_store_repair_rounds_total', 'Anti-entropy digests sent to a random member', (s) => s.replication.repair.digestsSent);
  counter('weft_store_repaired_documents_total', 'Documents brought up to date by anti-entropy', (s) => s.replication.repair.docsRepaired);
  counter('weft_store_compactions_total', 'Rewrites of the log into a snapshot', (s) => s.journal.compactions);
  new Counter({
    name: 'weft_store_rejected_total',
    help: 'Store input rejected, by reason: replication messages, envelopes (label, key, checksum), remote changes',
    labelNames: ['reason'],
    registers,
    collect() {
      const s = stats();
      if (!s) return;
      this.reset();
      for (const r of REPLICATION_REJECT_REASONS) this.inc({ reason: r }, s.replication.rejects[r]);
      for (const r of ENVELOPE_REJECTS) this.inc({ reason: `envelope_${r}` }, s.envelopeRejects[r]);
      this.inc({ reason: 'remote_change' }, s.store.remoteRejected);
      this.inc({ reason: 'bad_value' }, s.store.badValues);
    },
  });
}

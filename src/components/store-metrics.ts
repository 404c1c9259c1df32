// The store's figures for /metrics, read from the running store's stats at each scrape.
import type { AgentContext, StoreHandle } from './context.js';
import { followCounter } from '../../base/follow-counter.js';
import { Gauge } from '../metrics.js';
import {
  ADMIT_REJECTS,
  ENVELOPE_REJECTS,
  REPLICATION_REJECT_REASONS,
  type StoreNodeStats,
} from '../../crdt-store/index.js';

export function registerStoreMetrics(ctx: AgentContext, handle: StoreHandle): void {
  const registers = [ctx.registry];
  const stats = () => handle.current?.stats();
  const gauge = (name: string, help: string, pick: (s: StoreNodeStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const s = stats();
        this.set(s ? pick(s) : 0);
      },
    });
  const counter = (name: string, help: string, pick: (s: StoreNodeStats) => number) =>
    followCounter(
      ctx.registry,
      name,
      help,
      [],
      () => {
        const s = stats();
        return s ? [[{}, pick(s)]] : [];
      },
      () => handle.current,
    );
  gauge('weft_store_documents', 'Store documents held (one per node, plus shared buckets)', (s) => s.store.docs);
  gauge('weft_store_records', 'Records held, all owners', (s) => s.store.records);
  gauge('weft_store_live_records', 'Records whose owner is alive', (s) => s.store.liveRecords);
  gauge('weft_store_watches', 'Open watches', (s) => s.store.watches);
  gauge(
    'weft_store_disk_bytes',
    'Bytes of the data directory: log plus snapshot',
    (s) => s.journal.logBytes + s.journal.snapshotBytes,
  );
  counter('weft_store_changes_out_total', 'Changes made on this node', (s) => s.store.localChanges);
  counter('weft_store_changes_in_total', 'Changes from peers applied here', (s) => s.store.remoteChangesApplied);
  counter(
    'weft_store_bytes_out_total',
    'Store replication bytes sent, UDP and TCP',
    (s) => s.transport.packetBytesOut + s.transport.streamBytesOut,
  );
  counter(
    'weft_store_bytes_in_total',
    'Store replication bytes received, UDP and TCP',
    (s) => s.transport.packetBytesIn + s.transport.streamBytesIn,
  );
  counter(
    'weft_store_repair_rounds_total',
    'Anti-entropy digests sent to a random member',
    (s) => s.replication.repair.digestsSent,
  );
  counter(
    'weft_store_repaired_documents_total',
    'Documents brought up to date by anti-entropy',
    (s) => s.replication.repair.docsRepaired,
  );
  counter('weft_store_compactions_total', 'Rewrites of the log into a snapshot', (s) => s.journal.compactions);
  followCounter(
    ctx.registry,
    'weft_store_rejected_total',
    'Store input rejected, by reason: replication messages, envelopes (label, key, checksum), remote changes',
    ['reason'],
    () => {
      const s = stats();
      if (!s) return [];
      return [
        ...REPLICATION_REJECT_REASONS.map((r): [{ reason: string }, number] => [
          { reason: r },
          s.replication.rejects[r],
        ]),
        ...ENVELOPE_REJECTS.map((r): [{ reason: string }, number] => [
          { reason: `envelope_${r}` },
          s.envelopeRejects[r],
        ]),
        [{ reason: 'remote_change' }, s.store.remoteRejected],
        // why remote changes were refused (crdt-store/admission.ts): forged actors, foreign keys, future epochs
        ...ADMIT_REJECTS.map((r): [{ reason: string }, number] => [{ reason: `change_${r}` }, s.store.admitRejects[r]]),
        [{ reason: 'bad_value' }, s.store.badValues],
      ];
    },
    () => handle.current,
  );
}

// prom-client metrics of one overlay driver, registered on the registry it is given (one
// driver per registry). Names start with weft_overlay_.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BAD_REASONS, type BadReason } from './records.js';
import type { SkipReason } from './desired.js';
import type { CommandKind } from './plan.js';

export class OverlayMetrics {
  readonly peers: Gauge;
  readonly skipped: Gauge<'reason'>;
  readonly reconciles: Counter;
  readonly reconcileErrors: Counter;
  readonly applyFailures: Counter;
  readonly driftRepaired: Counter;
  readonly commands: Counter<'kind'>;
  readonly badRecords: Counter<'reason'>;
  readonly leaseChanges: Counter;
  readonly duration: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.peers = new Gauge({
      name: 'weft_overlay_peers',
      help: 'Live peers programmed (route, neighbour and FDB entry each)',
      registers,
    });
    this.skipped = new Gauge({
      name: 'weft_overlay_peers_skipped',
      help: 'Live peers whose lease is not programmed, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.reconciles = new Counter({
      name: 'weft_overlay_reconciles_total',
      help: 'Reconcile passes (desired vs actual kernel state)',
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'weft_overlay_reconcile_errors_total',
      help: 'Passes that could not read the kernel state or the underlay',
      registers,
    });
    this.applyFailures = new Counter({
      name: 'weft_overlay_apply_failures_total',
      help: 'ip/bridge commands that failed (the next pass retries)',
      registers,
    });
    this.driftRepaired = new Counter({
      name: 'weft_overlay_drift_repaired_total',
      help: 'Commands that repaired state changed outside weft (desired state unchanged since a clean pass)',
      registers,
    });
    this.commands = new Counter({
      name: 'weft_overlay_commands_total',
      help: 'ip/bridge commands applied, by object',
      labelNames: ['kind'],
      registers,
    });
    this.badRecords = new Counter({
      name: 'weft_overlay_bad_records_total',
      help: 'Overlay records skipped as malformed, by reason (each bad value counted once)',
      labelNames: ['reason'],
      registers,
    });
    this.leaseChanges = new Counter({
      name: 'weft_overlay_lease_changes_total',
      help: 'Times this node claimed a new subnet',
      registers,
    });
    this.duration = new Histogram({
      name: 'weft_overlay_reconcile_duration_seconds',
      help: 'Time of one reconcile pass',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    for (const r of BAD_REASONS) this.badRecords.inc({ reason: r }, 0);
  }

  setSkipped(counts: Partial<Record<SkipReason, number>>): void {
    this.skipped.reset();
    for (const [reason, n] of Object.entries(counts)) this.skipped.set({ reason }, n ?? 0);
  }

  bad(reason: BadReason): void {
    this.badRecords.inc({ reason });
  }

  command(kind: CommandKind, n = 1): void {
    this.commands.inc({ kind }, n);
  }
}

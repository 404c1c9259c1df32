// prom-client metrics of the load balancer (names start with weft_lb_). The proxy's hot
// path only bumps plain numbers; counters follow those totals when /metrics is scraped.
import { Gauge, Histogram, type Registry } from 'prom-client';
import { SKIP_REASONS, type SkipReason } from './records.js';
import type { ProxyStats } from './proxy.js';
import { REFUSAL_REASONS, type RefusalReason } from './vip-guard.js';
import { followCounter } from '../base/follow-counter.js';

export interface LbCounters {
  vips: number;
  backends: number;
  unallocated: number;
  reconciles: { ok: number; error: number };
  applyFailures: number;
  skipped: Record<SkipReason, number>;
  refused: Record<RefusalReason, number>;
  /** IPv6 backends left out of VIPs, by reason (desired.ts). */
  droppedBackends: Partial<Record<RefusalReason, number>>;
  proxy: ProxyStats | undefined;
  /** Proxy worker processes replaced after they died (proxy-pool.ts); undefined without workers. */
  proxyRestarts: number | undefined;
}

export class LbMetrics {
  readonly duration: Histogram;

  constructor(registry: Registry, read: () => LbCounters) {
    this.duration = new Histogram({
      name: 'weft_lb_reconcile_duration_seconds',
      help: 'Time of one reconcile pass: desired state, datapath read and apply',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    const gauge = (name: string, help: string, get: (c: LbCounters) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(get(read()));
        },
      });
    gauge('weft_lb_vips', 'VIPs in the desired state (name or IP, port, protocol)', (c) => c.vips);
    gauge('weft_lb_backends', 'Backends across all VIPs', (c) => c.backends);
    gauge(
      'weft_lb_unallocated_vips',
      'VIP names without an address because the VIP CIDR is full',
      (c) => c.unallocated,
    );
    reconcileCounters(registry, read);
    proxyCounters(registry, read);
  }
}

/** What the reconcile passes did: results, failed applies, records skipped, VIPs refused. */
function reconcileCounters(registry: Registry, read: () => LbCounters): void {
  followCounter(registry, 'weft_lb_reconciles_total', 'Reconcile passes, by result', ['result'], () => {
    const r = read().reconciles;
    return [
      [{ result: 'ok' }, r.ok],
      [{ result: 'error' }, r.error],
    ];
  });
  followCounter(
    registry,
    'weft_lb_rule_apply_failures_total',
    'Datapath transactions (nft -f, ip -batch, listeners) that failed',
    [],
    () => [[{}, read().applyFailures]],
  );
  followCounter(
    registry,
    'weft_lb_skipped_records_total',
    'Store records skipped because they do not parse, by reason',
    ['reason'],
    () => {
      const s = read().skipped;
      return SKIP_REASONS.map((reason) => [{ reason }, s[reason]]);
    },
  );
  followCounter(
    registry,
    'weft_lb_refused_vips_total',
    "VIPs refused because their address may not be a VIP (loopback, link-local, a member's or this node's address, outside the VIP ranges...), by reason; once per VIP",
    ['reason'],
    () => {
      const r = read().refused;
      return REFUSAL_REASONS.map((reason) => [{ reason }, r[reason]]);
    },
  );
  followCounter(
    registry,
    'weft_lb_dropped_backends_total',
    'IPv6 backends left out of a VIP because the kernel cannot reach them as written (link-local, multicast, unspecified, IPv4-mapped), by reason; once per backend',
    ['reason'],
    () => {
      const r = read().droppedBackends;
      return REFUSAL_REASONS.filter((reason) => r[reason] !== undefined).map((reason) => [{ reason }, r[reason]!]);
    },
  );
}

/** What the userspace proxy did; nothing while the nft datapath runs. */
function proxyCounters(registry: Registry, read: () => LbCounters): void {
  const proxy = (f: (p: ProxyStats) => [Record<string, string>, number][]) => () => {
    const p = read().proxy;
    return p ? f(p) : [];
  };
  followCounter(
    registry,
    'weft_lb_proxy_connections_total',
    'Client connections (TCP) and sessions (UDP) the userspace proxy took',
    ['proto'],
    proxy((p) => [
      [{ proto: 'tcp' }, p.tcpConnections],
      [{ proto: 'udp' }, p.udpSessions],
    ]),
  );
  followCounter(
    registry,
    'weft_lb_proxy_bytes_total',
    'Bytes the userspace proxy moved, by direction (TCP counted when a connection closes)',
    ['direction'],
    proxy((p) => [
      [{ direction: 'from_clients' }, p.bytesFromClients],
      [{ direction: 'to_clients' }, p.bytesToClients],
    ]),
  );
  const counts: [string, string, keyof ProxyStats][] = [
    ['weft_lb_proxy_connect_failures_total', 'Backend connects that failed or timed out', 'connectFailures'],
    ['weft_lb_proxy_ejections_total', 'Backends ejected by passive checks', 'ejections'],
    [
      'weft_lb_proxy_refused_total',
      'TCP clients closed at accept: their proxy process held its limit of open connections already (4096 by default)',
      'refused',
    ],
    [
      'weft_lb_proxy_fail_open_total',
      'Picks made among ejected backends because every backend was ejected',
      'failOpen',
    ],
  ];
  for (const [name, help, field] of counts)
    followCounter(
      registry,
      name,
      help,
      [],
      proxy((p) => [[{}, p[field]]]),
    );
  followCounter(
    registry,
    'weft_lb_proxy_worker_restarts_total',
    'Userspace proxy worker processes (lb.proxyWorkers) that exited and were replaced',
    [],
    () => {
      const n = read().proxyRestarts;
      return n === undefined ? [] : [[{}, n]];
    },
  );
}

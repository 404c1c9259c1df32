// prom-client metrics for the DNS server, read from the core's plain counters when /metrics
// is scraped (the hot path only bumps array slots). Names start with weft_dns_.
import { Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_S, QTYPE_LABELS, RCODE_LABELS, SOURCES, type DnsStats } from './stats.js';
import { ZONE_SKIP_REASONS, type Zone } from './zone.js';
import type { Forwarder } from './forwarder.js';
import type { ResponseRateLimiter } from './rrl.js';
import { followCounter } from '../base/follow-counter.js';
import type { DnsWorkerPool } from './worker-pool.js';

/** The latency histogram, from the counts the server keeps per source. */
const LATENCY_NAME = 'weft_dns_query_duration_seconds';
const LATENCY_HELP =
  'Time from receiving a query to sending its answer, by where the answer came from (zone, cache, upstream, error)';

class FollowedHistogram extends Histogram<'source'> {
  constructor(
    registry: Registry,
    private readonly stats: () => DnsStats,
  ) {
    super({
      name: LATENCY_NAME,
      help: LATENCY_HELP,
      labelNames: ['source'],
      buckets: LATENCY_BUCKETS_S,
      registers: [registry],
    });
  }

  override async get(): ReturnType<Histogram<'source'>['get']> {
    return this.getForPromString();
  }

  // The registry reads this one when a metric has it (prom-client 15); Histogram.get calls it too.
  async getForPromString(): ReturnType<Histogram<'source'>['get']> {
    const values: { value: number; labels: Partial<Record<'source' | 'le', string | number>>; metricName: string }[] =
      [];
    const latency = this.stats().latency;
    SOURCES.forEach((source, i) => {
      const l = latency[i];
      let cum = 0;
      LATENCY_BUCKETS_S.forEach((le, b) => {
        cum += l.buckets[b];
        values.push({ value: cum, labels: { source, le }, metricName: `${LATENCY_NAME}_bucket` });
      });
      values.push({ value: l.count, labels: { source, le: '+Inf' }, metricName: `${LATENCY_NAME}_bucket` });
      values.push({ value: l.sum, labels: { source }, metricName: `${LATENCY_NAME}_sum` });
      values.push({ value: l.count, labels: { source }, metricName: `${LATENCY_NAME}_count` });
    });
    const own = this as unknown as { type: never; aggregator: never; collect: never };
    return {
      name: LATENCY_NAME,
      help: LATENCY_HELP,
      type: own.type,
      aggregator: own.aggregator,
      collect: own.collect,
      values,
    };
  }
}

/**
 * What the metrics read: the agent's own counters (forwarder, cache, upstreams) and, when DNS
 * worker processes answer too, the sums with theirs (answers, latency, malformed packets,
 * refusals, rate-limited responses).
 */
export interface DnsCounters {
  own: DnsStats;
  all: () => DnsStats;
  limited: () => { slipped: number; dropped: number };
  workers?: DnsWorkerPool;
}

export function registerDnsMetrics(
  registry: Registry,
  counters: DnsCounters,
  zone: Zone,
  forwarder: Forwarder<unknown> | undefined,
  rrl?: ResponseRateLimiter,
): void {
  registerAnswerCounters(registry, counters);
  registerRejectCounters(registry, counters, zone);
  registerDnsGauges(registry, zone, forwarder, rrl);
  if (counters.workers) registerWorkerMetrics(registry, counters.workers);
}

// The worker processes (worker-pool.ts): how many answer, how often one was replaced, how far behind the zone they are.
function registerWorkerMetrics(registry: Registry, pool: DnsWorkerPool): void {
  new Gauge({
    name: 'weft_dns_workers',
    help: 'DNS worker processes answering UDP next to the agent (dns.workers; started under load)',
    registers: [registry],
    collect() {
      this.set(pool.running);
    },
  });
  new Gauge({
    name: 'weft_dns_udp_readers',
    help: 'Processes reading the DNS UDP sockets: the workers and, unless they keep up without it, the agent',
    registers: [registry],
    collect() {
      this.set(pool.readers);
    },
  });
  followCounter(
    registry,
    'weft_dns_worker_answers_total',
    'DNS answers sent by the worker processes (also in weft_dns_queries_total)',
    [],
    () => [[{}, pool.answers()]],
  );
  followCounter(
    registry,
    'weft_dns_worker_restarts_total',
    'DNS worker processes that exited and were replaced',
    [],
    () => [[{}, pool.restarts]],
  );
  followCounter(
    registry,
    'weft_dns_worker_relays_refused_total',
    'Names to forward a DNS worker answered SERVFAIL instead of relaying them to the agent, by reason (relay_backlog: MAX_RELAY_BACKLOG relays not yet read by a busy agent)',
    ['reason'],
    () => Object.entries(pool.relays().refused).map(([reason, n]) => [{ reason }, n]),
  );
  new Gauge({
    name: 'weft_dns_worker_zone_lag',
    help: 'Zone changes the furthest-behind DNS worker has yet to apply',
    registers: [registry],
    collect() {
      this.set(pool.lag());
    },
  });
}

// What was answered and how: by type and code, latency, the cache and the upstreams.
function registerAnswerCounters(registry: Registry, counters: DnsCounters): void {
  const stats = counters.own;
  followCounter(
    registry,
    'weft_dns_queries_total',
    'DNS answers sent, by query type and response code',
    ['qtype', 'rcode'],
    () => {
      const out: [Partial<Record<'qtype' | 'rcode', string>>, number][] = [];
      const all = counters.all();
      QTYPE_LABELS.forEach((qtype, qi) =>
        RCODE_LABELS.forEach((rcode, ri) => {
          const v = all.queries[qi * RCODE_LABELS.length + ri];
          if (v > 0) out.push([{ qtype, rcode }, v]);
        }),
      );
      return out;
    },
  );
  new FollowedHistogram(registry, counters.all);
  followCounter(registry, 'weft_dns_cache_hits_total', 'Forwarded questions answered from the cache', [], () => [
    [{}, stats.cacheHits],
  ]);
  followCounter(registry, 'weft_dns_cache_misses_total', 'Forwarded questions not in the cache', [], () => [
    [{}, stats.cacheMisses],
  ]);
  followCounter(
    registry,
    'weft_dns_upstream_failures_total',
    'Upstream timeouts, errors, SERVFAIL/REFUSED answers and unreadable responses, by upstream',
    ['upstream'],
    () => [...stats.upstreamFailures].map(([upstream, n]) => [{ upstream }, n]),
  );
}

// Input turned away or cut short: spoofs, refused recursion, rate limits, overload, malformed packets, bad records.
function registerRejectCounters(registry: Registry, counters: DnsCounters, zone: Zone): void {
  const stats = counters.own;
  followCounter(
    registry,
    'weft_dns_upstream_spoof_total',
    'Upstream replies dropped as possible spoofs (or garbled), by reason: source, id, question, case (0x20), not_response',
    ['reason'],
    () => Object.entries(stats.upstreamSpoofs).map(([reason, n]) => [{ reason }, n]),
  );
  followCounter(
    registry,
    'weft_dns_recursion_refused_total',
    'Names outside the zone answered REFUSED because the client is not in dns.recursionAllow',
    [],
    () => [[{}, counters.all().recursionRefused]],
  );
  followCounter(
    registry,
    'weft_dns_rate_limited_total',
    'UDP responses over the per-network rate limit, by action: slip (sent empty with TC) or drop',
    ['action'],
    () => {
      const l = counters.limited();
      return [
        [{ action: 'slip' }, l.slipped],
        [{ action: 'drop' }, l.dropped],
      ];
    },
  );
  followCounter(
    registry,
    'weft_dns_forward_overload_total',
    'Questions answered SERVFAIL because too many were waiting on upstreams',
    [],
    () => [[{}, stats.overloaded]],
  );
  followCounter(
    registry,
    'weft_dns_malformed_packets_total',
    'Packets that are not a well-formed query, by reason',
    ['reason'],
    () => Object.entries(counters.all().malformed).map(([reason, n]) => [{ reason }, n]),
  );
  followCounter(
    registry,
    'weft_dns_zone_skipped_records_total',
    'Store records (and VIPs) left out of the zone because their value does not parse, by reason',
    ['reason'],
    () => ZONE_SKIP_REASONS.map((reason) => [{ reason }, zone.skipped[reason]]),
  );
}

function registerDnsGauges(
  registry: Registry,
  zone: Zone,
  forwarder: Forwarder<unknown> | undefined,
  rrl: ResponseRateLimiter | undefined,
): void {
  new Gauge({
    name: 'weft_dns_rate_limit_networks',
    help: 'Client networks the response-rate limiter tracks',
    registers: [registry],
    collect() {
      this.set(rrl?.clients ?? 0);
    },
  });
  new Gauge({
    name: 'weft_dns_zone_names',
    help: 'Names in the zone that hold records',
    registers: [registry],
    collect() {
      this.set(zone.stats.names);
    },
  });
  new Gauge({
    name: 'weft_dns_zone_records',
    help: 'Records in the zone',
    registers: [registry],
    collect() {
      this.set(zone.stats.records);
    },
  });
  new Gauge({
    name: 'weft_dns_cache_entries',
    help: 'Answers in the forwarding cache',
    registers: [registry],
    collect() {
      this.set(forwarder?.cache.size ?? 0);
    },
  });
  new Gauge({
    name: 'weft_dns_upstream_outstanding',
    help: 'Upstream queries in flight',
    registers: [registry],
    collect() {
      this.set(forwarder?.outstanding ?? 0);
    },
  });
}

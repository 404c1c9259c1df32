// Plain counters the sans-IO core increments on every query (an array slot, no labels to hash);
// metrics.ts turns them into prom-client metrics when /metrics is read.
import { MALFORMED_REASONS, TYPE, type MalformedReason } from './wire.js';

export const QTYPE_LABELS = ['A', 'AAAA', 'SRV', 'PTR', 'SOA', 'NS', 'ANY', 'other'] as const;
export const RCODE_LABELS = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'BADVERS',
  'other',
] as const;
/** Where an answer came from, for the latency histogram. */
export const SOURCES = ['zone', 'cache', 'upstream', 'error'] as const;
export type Source = (typeof SOURCES)[number];
/**
 * Why an upstream reply was dropped: not from the address and port asked (source), not
 * carrying the query's id (id), another question (question), the question in another case
 * than the 0x20 one sent (case), not a response at all (not_response).
 */
export const SPOOF_REASONS = ['source', 'id', 'question', 'case', 'not_response'] as const;
export type SpoofReason = (typeof SPOOF_REASONS)[number];
export const LATENCY_BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

const qtypeIndex = (t: number): number => {
  switch (t) {
    case TYPE.A:
      return 0;
    case TYPE.AAAA:
      return 1;
    case TYPE.SRV:
      return 2;
    case TYPE.PTR:
      return 3;
    case TYPE.SOA:
      return 4;
    case TYPE.NS:
      return 5;
    case TYPE.ANY:
      return 6;
    default:
      return 7;
  }
};

const rcodeIndex = (r: number): number => (r <= 5 ? r : r === 16 ? 6 : 7);

/** What snapshot() copies: the counters a worker process keeps (it neither forwards nor caches). */
export interface StatsSnapshot {
  queries: Float64Array;
  malformed: Record<MalformedReason, number>;
  recursionRefused: number;
  latency: { buckets: Float64Array; sum: number; count: number }[];
}

export class DnsStats {
  /** [qtype][rcode] answers sent */
  readonly queries = new Float64Array(QTYPE_LABELS.length * RCODE_LABELS.length);
  readonly malformed: Record<MalformedReason, number> = Object.fromEntries(
    MALFORMED_REASONS.map((r) => [r, 0]),
  ) as Record<MalformedReason, number>;
  cacheHits = 0;
  cacheMisses = 0;
  /** Queries refused because too many were already waiting on upstreams. */
  overloaded = 0;
  /** Names outside the zone REFUSED because the client is not allowed to recurse. */
  recursionRefused = 0;
  /** Upstream timeouts, errors, SERVFAIL/REFUSED answers and unusable responses, by upstream. */
  readonly upstreamFailures = new Map<string, number>();
  /** Upstream replies dropped because they answer no query as we asked it (spoofed, or garbled), by reason. */
  readonly upstreamSpoofs: Record<SpoofReason, number> = Object.fromEntries(SPOOF_REASONS.map((r) => [r, 0])) as Record<
    SpoofReason,
    number
  >;
  /** Latency per source: counts per bucket (cumulative at export), sum and count. */
  readonly latency = SOURCES.map(() => ({ buckets: new Float64Array(LATENCY_BUCKETS_S.length), sum: 0, count: 0 }));

  /** The counters a DNS worker process sends its agent (worker-pool.ts sums them into the metrics). */
  snapshot(): StatsSnapshot {
    return {
      queries: this.queries.slice(),
      malformed: { ...this.malformed },
      recursionRefused: this.recursionRefused,
      latency: this.latency.map((l) => ({ buckets: l.buckets.slice(), sum: l.sum, count: l.count })),
    };
  }

  /** Adds a worker's counters to these. */
  add(s: StatsSnapshot): void {
    for (let i = 0; i < this.queries.length; i++) this.queries[i] += s.queries[i] ?? 0;
    for (const r of MALFORMED_REASONS) this.malformed[r] += s.malformed[r] ?? 0;
    this.recursionRefused += s.recursionRefused;
    s.latency.forEach((l, i) => {
      const mine = this.latency[i];
      if (!mine) return;
      for (let b = 0; b < mine.buckets.length; b++) mine.buckets[b] += l.buckets[b] ?? 0;
      mine.sum += l.sum;
      mine.count += l.count;
    });
  }

  /** Answers sent, all types and codes. */
  get total(): number {
    let n = 0;
    for (const v of this.queries) n += v;
    return n;
  }

  answered(qtype: number, rcode: number): void {
    this.queries[qtypeIndex(qtype) * RCODE_LABELS.length + rcodeIndex(rcode)]++;
  }

  /** How many answers of this qtype and rcode (tests). */
  count(qtype: string, rcode: string): number {
    const qi = QTYPE_LABELS.indexOf(qtype as (typeof QTYPE_LABELS)[number]);
    const ri = RCODE_LABELS.indexOf(rcode as (typeof RCODE_LABELS)[number]);
    return qi < 0 || ri < 0 ? 0 : this.queries[qi * RCODE_LABELS.length + ri];
  }

  upstreamFailed(upstream: string): void {
    this.upstreamFailures.set(upstream, (this.upstreamFailures.get(upstream) ?? 0) + 1);
  }

  observe(source: Source, seconds: number): void {
    const l = this.latency[SOURCES.indexOf(source)];
    l.sum += seconds;
    l.count++;
    const b = LATENCY_BUCKETS_S;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= b[i]) {
        l.buckets[i]++;
        return;
      }
    }
  }
}

// What the trace of a real membership run (BENCH_MEMBERSHIP_TRACE=FILE, written by
// bench/membership-real.ts from the membership-only nodes' logs) says about false deaths
// (issue 17): for each false death, how long the victim was suspected, how long it had
// been stalled (event-loop delay, and how much CPU it used meanwhile), and how long it
// took to refute; then the refutation lag of every false suspicion, against the
// suspicion timeout it had to beat.
//
// Run: `node dist/bench/membership-trace.js FILE`.

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface TraceEvent {
  agent: string;
  formed: boolean;
  time: number;
  msg: string;
  member?: string;
  incarnation?: number;
  stall_ms?: number;
  cpu_ms?: number;
}

interface Trace {
  events: TraceEvent[];
  /** Per victim: [killed at, whole again at (or Infinity)]. */
  down: Map<string, [number, number][]>;
}

export function readTrace(file: string): Trace {
  const events: TraceEvent[] = [];
  const down = new Map<string, [number, number][]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as {
      agent?: string;
      formed?: boolean;
      line?: string;
      kill?: string[];
      whole?: string[];
      time?: number;
    };
    if (r.line && r.agent) {
      events.push({ ...(JSON.parse(r.line) as TraceEvent), agent: r.agent, formed: r.formed === true });
    } else if (r.kill) {
      for (const v of r.kill) down.set(v, [...(down.get(v) ?? []), [r.time!, Infinity]]);
    } else if (r.whole) {
      for (const v of r.whole) {
        const spans = down.get(v);
        if (spans?.length) spans[spans.length - 1][1] = r.time!;
      }
    }
  }
  events.sort((a, b) => a.time - b.time);
  return { events, down };
}

const episodeKey = (member: string, incarnation: number) => `${member}@${incarnation}`;

/** The first time of each (member, incarnation) for events of one kind. */
function firstBy(t: Trace, suffix: string, keep: (e: TraceEvent) => boolean = () => true): Map<string, TraceEvent> {
  const out = new Map<string, TraceEvent>();
  for (const e of t.events) {
    if (!e.msg.endsWith(suffix) || e.member === undefined || e.incarnation === undefined || !keep(e)) continue;
    const k = episodeKey(e.member, e.incarnation);
    if (!out.has(k)) out.set(k, e);
  }
  return out;
}

/** When the member itself logged a refutation of `incarnation` (its new one is higher), if it did. */
function refutedAt(t: Trace, member: string, incarnation: number, after: number): number | undefined {
  return t.events.find(
    (e) => e.agent === member && e.msg === 'refuted' && (e.incarnation ?? 0) > incarnation && e.time >= after - 1000,
  )?.time;
}

function worstStall(t: Trace, agent: string, from: number, to: number): TraceEvent | undefined {
  let worst: TraceEvent | undefined;
  for (const e of t.events) {
    if (e.agent !== agent || e.msg !== 'loop stall' || e.time < from || e.time - (e.stall_ms ?? 0) > to) continue;
    if (!worst || (e.stall_ms ?? 0) > (worst.stall_ms ?? 0)) worst = e;
  }
  return worst;
}

export interface FalseDeathEpisode {
  victim: string;
  incarnation: number;
  observers: number;
  forming: boolean;
  suspected_for_s: number;
  victim_worst_stall_ms: number;
  victim_cpu_ms_in_that_stall: number | null;
  refuted_after_s: number | null;
}

export function falseDeathEpisodes(t: Trace): FalseDeathEpisode[] {
  const isDown = (v: string, at: number) => (t.down.get(v) ?? []).some(([a, b]) => a <= at && at <= b + 2000);
  const suspected = firstBy(t, 'is suspect');
  const deaths = new Map<string, TraceEvent[]>();
  for (const e of t.events) {
    if (!e.msg.endsWith('is dead') || e.member === undefined || isDown(e.member, e.time)) continue;
    const k = episodeKey(e.member, e.incarnation ?? 0);
    deaths.set(k, [...(deaths.get(k) ?? []), e]);
  }
  return [...deaths.entries()].map(([k, ds]) => {
    const d = ds[0];
    const s = suspected.get(k)?.time ?? d.time;
    const stall = worstStall(t, d.member!, s - 3000, d.time);
    const refuted = refutedAt(t, d.member!, d.incarnation ?? 0, s);
    return {
      victim: d.member!,
      incarnation: d.incarnation ?? 0,
      observers: new Set(ds.map((e) => e.agent)).size,
      forming: !d.formed,
      suspected_for_s: round1((d.time - s) / 1000),
      victim_worst_stall_ms: stall?.stall_ms ?? 0,
      victim_cpu_ms_in_that_stall: stall?.cpu_ms ?? null,
      refuted_after_s: refuted === undefined ? null : round1((refuted - s) / 1000),
    };
  });
}

/** Seconds from each false suspicion's start to its victim's refutation (null: never refuted). */
export function refutationLags(t: Trace): (number | null)[] {
  const isDown = (v: string, at: number) => (t.down.get(v) ?? []).some(([a, b]) => a <= at && at <= b + 2000);
  const lags: (number | null)[] = [];
  for (const e of firstBy(t, 'is suspect', (e) => !isDown(e.member!, e.time)).values()) {
    const r = refutedAt(t, e.member!, e.incarnation!, e.time);
    lags.push(r === undefined ? null : (r - e.time) / 1000);
  }
  return lags;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function quantile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return round1(s[Math.min(s.length - 1, Math.floor(q * s.length))]);
}

/** Readable lines, then the figures. */
export function traceReport(file: string): { lines: string[]; figures: Record<string, unknown> } {
  const t = readTrace(file);
  const episodes = falseDeathEpisodes(t);
  const lags = refutationLags(t).filter((x): x is number => x !== null);
  const stalls = t.events.filter((e) => e.msg === 'loop stall');
  const phase = (formed: boolean) => stalls.filter((e) => e.formed === formed);
  const lines = [
    `false-death episodes: ${episodes.length} (${episodes.filter((e) => e.forming).length} while forming)`,
    ...episodes.map(
      (e) =>
        `  ${e.victim}@${e.incarnation}: dead at ${e.observers} observers after ${e.suspected_for_s} s suspect; victim's worst stall ${e.victim_worst_stall_ms} ms (own CPU meanwhile ${e.victim_cpu_ms_in_that_stall ?? '?'} ms); refuted ${e.refuted_after_s ?? 'never'} s after the suspicion began`,
    ),
    `refutation lag of false suspicions: p50 ${quantile(lags, 0.5)} s, p90 ${quantile(lags, 0.9)} s, max ${quantile(lags, 1)} s (${lags.length} refuted)`,
    `event-loop stalls > 300 ms: ${phase(false).length} while forming (sum ${round1(phase(false).reduce((a, e) => a + (e.stall_ms ?? 0), 0) / 1000)} s), ${phase(true).length} once whole`,
  ];
  const figures = {
    trace_false_death_episodes: episodes.length,
    trace_refute_lag_p50_s: quantile(lags, 0.5),
    trace_refute_lag_p90_s: quantile(lags, 0.9),
    trace_refute_lag_max_s: quantile(lags, 1),
  };
  return { lines, figures };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/membership-trace.js TRACE_FILE (written with BENCH_MEMBERSHIP_TRACE=FILE)');
    process.exit(2);
  }
  const { lines, figures } = traceReport(file);
  for (const l of lines) console.log(l);
  console.log(JSON.stringify(figures));
}

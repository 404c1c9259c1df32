// When each check runs, and what its results mean: sans-IO and deterministic. The driver
// (runner.ts) asks for the checks that are due at `now`, runs their probes, and hands each
// outcome back; the scheduler applies rise/fall (state.ts) and says which status changed.
// The clock and the randomness are the caller's, so tests replay any sequence exactly.
//
// A check's first run is spread over its interval (at most DEFAULTS.firstSpreadMs) with the
// injected rng, so the checks of an agent that starts with 500 endpoints do not fire at
// once; after that it runs every interval, counted from the start of the run before (a
// check has one probe in flight at most). TTL checks run nothing: they turn critical when
// no push came for ttlMs, and a push sets the status at once (the service itself says it).
import { randomInt, type Rng } from '../base/rng.js';
import { boundOutput, checkDefKey, type CheckDef, type CheckRecord, type CheckStatus } from '../records/checks.js';
import { DEFAULTS } from './defaults.js';
import { initialState, step, type RiseFall } from './state.js';

export interface Outcome {
  status: CheckStatus;
  output: string;
}

export interface Transition extends Outcome {
  id: string;
}

/** A probe to start: `gen` comes back with its outcome, so a result of a replaced check is dropped. */
export interface DueCheck {
  id: string;
  gen: number;
  def: CheckDef;
}

interface Slot {
  /** Kept here so that the scans below iterate values, not [key, value] pairs made per slot. */
  id: string;
  def: CheckDef;
  defKey: string;
  gen: number;
  state: RiseFall;
  output: string;
  /** Next run (probes) or expiry (ttl). */
  next: number;
  running: boolean;
}

export class CheckScheduler {
  private readonly slots = new Map<string, Slot>();
  private gens = 0;

  constructor(private readonly rng: Rng) {}

  /** Adds a check, or replaces it when its definition changed; an unchanged one keeps its state and schedule. */
  upsert(id: string, rec: CheckRecord, now: number): void {
    const defKey = checkDefKey(rec);
    if (this.slots.get(id)?.defKey === defKey) return;
    const first =
      rec.kind === 'ttl'
        ? (rec.ttlMs ?? rec.intervalMs)
        : randomInt(this.rng, Math.min(rec.intervalMs, DEFAULTS.firstSpreadMs) + 1);
    this.slots.set(id, {
      id,
      def: rec,
      defKey,
      gen: ++this.gens,
      state: initialState(rec.status),
      output: rec.output,
      next: now + first,
      running: false,
    });
  }

  remove(id: string): void {
    this.slots.delete(id);
  }

  ids(): string[] {
    return [...this.slots.keys()];
  }

  /** The probes to start now; they count as running until finish(). */
  due(now: number): DueCheck[] {
    const out: DueCheck[] = [];
    for (const s of this.slots.values()) {
      if (s.def.kind === 'ttl' || s.running || s.next > now) continue;
      s.running = true;
      out.push({ id: s.id, gen: s.gen, def: s.def });
    }
    return out;
  }

  /** A probe's outcome; the transition when the status changed. `started`: when it was handed out. */
  finish(id: string, gen: number, started: number, now: number, outcome: Outcome): Transition | undefined {
    const s = this.slots.get(id);
    if (!s || s.gen !== gen) return undefined;
    s.running = false;
    s.next = Math.max(started + s.def.intervalMs, now);
    return this.apply(id, s, step(s.state, outcome.status, s.def.rise, s.def.fall), outcome.output);
  }

  /** A TTL check's push (weft service pass|warn|fail): its status at once, and a new deadline. */
  push(id: string, now: number, outcome: Outcome): Transition | undefined | 'not-ttl' {
    const s = this.slots.get(id);
    if (!s || s.def.kind !== 'ttl') return 'not-ttl';
    s.next = now + (s.def.ttlMs ?? s.def.intervalMs);
    return this.apply(id, s, { status: outcome.status, good: 0, bad: 0, observed: true }, outcome.output);
  }

  /** TTL checks whose deadline passed turn critical. */
  expire(now: number): Transition[] {
    const out: Transition[] = [];
    for (const s of this.slots.values()) {
      if (s.def.kind !== 'ttl' || s.next > now) continue;
      s.next = Infinity; // until the next push
      const t = this.apply(
        s.id,
        s,
        { ...s.state, status: 'critical' },
        `TTL expired: no update for ${s.def.ttlMs ?? s.def.intervalMs} ms`,
      );
      if (t) out.push(t);
    }
    return out;
  }

  /** When due() or expire() next has something: the driver's timer. */
  nextDeadline(): number {
    let at = Infinity;
    for (const s of this.slots.values()) if (!s.running && s.next < at) at = s.next;
    return at;
  }

  /** When this check is next due (Infinity while its probe runs, or for an unknown id). */
  nextOf(id: string): number {
    const s = this.slots.get(id);
    return !s || s.running ? Infinity : s.next;
  }

  status(id: string): Outcome | undefined {
    const s = this.slots.get(id);
    return s && { status: s.state.status, output: s.output };
  }

  counts(): Record<CheckStatus, number> {
    const c = { passing: 0, warning: 0, critical: 0 };
    for (const s of this.slots.values()) c[s.state.status]++;
    return c;
  }

  private apply(id: string, s: Slot, next: RiseFall, output: string): Transition | undefined {
    // The first result is reported even when it leaves the status as it was (a new check
    // starts critical): the record then shows what the probe said, not "not run yet".
    const changed = next.status !== s.state.status || (!s.state.observed && next.observed);
    s.state = next;
    if (!changed) return undefined;
    s.output = boundOutput(output);
    return { id, status: next.status, output: s.output };
  }
}

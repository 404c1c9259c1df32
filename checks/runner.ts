// The driver of the scheduler: one timer at the scheduler's next deadline, the probes of
// the checks that are due, their outcomes back in. It holds no policy of its own; the
// agent (src/components/checks-child.ts) tells it which endpoints this node owns and writes
// the status changes it reports into their records.
import { DeadlineTimer } from '../base/deadline-timer.js';
import type { Rng } from '../base/rng.js';
import type { CheckDef, CheckRecord, CheckStatus } from '../records/checks.js';
import { DEFAULTS } from './defaults.js';
import { httpProbe, KeepAlivePool, PROBES, type Probe } from './probes.js';
import { CheckScheduler, type DueCheck, type Outcome, type Transition } from './scheduler.js';

export interface RunnerOptions {
  rng: Rng;
  /** Milliseconds, monotonic. */
  clock: () => number;
  /** A status changed: the owner writes it into the endpoint's record. */
  onTransition: (endpoint: string, check: string, t: Transition) => void;
  /** Every probe's result, for metrics. */
  onResult?: (kind: string, status: CheckStatus) => void;
  probes?: Partial<Record<'http' | 'tcp' | 'script', Probe>>;
  /** Default DEFAULTS.maxChecksPerNode. */
  maxChecks?: number;
  /** An endpoint's checks were not taken: the node runs maxChecks already. */
  onRefused?: (endpoint: string, checks: string[], max: number) => void;
  /**
   * Script checks of an endpoint without a container run on this host (checks.allowScripts).
   * Default false: a script in a record is not run just because it is there.
   */
  hostScripts?: boolean;
  /** Runs a script check inside the endpoint's container (exec-probe.ts); none: such checks are critical, not run. */
  containerExec?: (def: CheckDef, container: string) => Promise<Outcome>;
}

interface Endpoint {
  addr: string;
  names: string[];
  /** The container the endpoint is (Docker's id): its script checks run inside it. */
  container?: string;
}

const notRun = (why: string): Promise<Outcome> => Promise.resolve({ status: 'critical', output: `not run: ${why}` });

/** The id of one check of one endpoint in the scheduler. */
const idOf = (endpoint: string, check: string) => `${endpoint}#${check}`;
const splitId = (id: string) => {
  const hash = id.lastIndexOf('#');
  return { endpoint: id.slice(0, hash), check: id.slice(hash + 1) };
};

/** The address a check probes: the endpoint's first IPv4 address, else its first. */
export function probeAddress(addrs: readonly string[]): string | undefined {
  return addrs.find((a) => !a.includes(':')) ?? addrs[0];
}

export class CheckRunner {
  private readonly sched: CheckScheduler;
  private readonly timer: DeadlineTimer;
  /** endpoint -> its address and the names of its checks. */
  private readonly endpoints = new Map<string, Endpoint>();
  private stopped = false;
  /** The deadline the timer is armed for (on the tick grid). */
  private armedAt = Infinity;
  /** Idle keep-alive connections of the HTTP checks, by target (http-probe.ts). */
  private readonly pool = new KeepAlivePool();
  private readonly httpKept: Probe = (def, addr) => httpProbe(def, addr, this.pool);

  constructor(private readonly opts: RunnerOptions) {
    this.sched = new CheckScheduler(opts.rng);
    this.timer = new DeadlineTimer(opts.clock, (now) => this.tick(now));
  }

  /** The checks of one endpoint (its record key), as its record has them now; none removes it. */
  setEndpoint(endpoint: string, addrs: readonly string[], checks: readonly CheckRecord[], container?: string): void {
    const now = this.opts.clock();
    const addr = probeAddress(addrs);
    let names = addr === undefined ? [] : checks.map((c) => c.name);
    const max = this.opts.maxChecks ?? DEFAULTS.maxChecksPerNode;
    if (this.running() - (this.endpoints.get(endpoint)?.names.length ?? 0) + names.length > max) {
      this.opts.onRefused?.(endpoint, names, max);
      names = [];
    }
    for (const old of this.endpoints.get(endpoint)?.names ?? [])
      if (!names.includes(old)) this.sched.remove(idOf(endpoint, old));
    if (names.length === 0 || addr === undefined) this.endpoints.delete(endpoint);
    else this.endpoints.set(endpoint, container === undefined ? { addr, names } : { addr, names, container });
    for (const c of names.length ? checks : []) this.sched.upsert(idOf(endpoint, c.name), c, now);
    this.tick(now);
  }

  /** A TTL push to every TTL check of the endpoint; false when it has none. */
  push(endpoint: string, outcome: Outcome): boolean {
    const now = this.opts.clock();
    let found = false;
    for (const name of this.endpoints.get(endpoint)?.names ?? []) {
      const t = this.sched.push(idOf(endpoint, name), now, outcome);
      if (t === 'not-ttl') continue;
      found = true;
      if (t) this.opts.onTransition(endpoint, name, t);
    }
    this.tick(now);
    return found;
  }

  /** How many checks run now. */
  running(): number {
    let n = 0;
    for (const e of this.endpoints.values()) n += e.names.length;
    return n;
  }

  /** The endpoints (record keys) that have checks here. */
  endpointKeys(): string[] {
    return [...this.endpoints.keys()];
  }

  status(endpoint: string, check: string): Outcome | undefined {
    return this.sched.status(idOf(endpoint, check));
  }

  counts(): Record<CheckStatus, number> {
    return this.sched.counts();
  }

  stop(): void {
    this.stopped = true;
    this.timer.stop();
    this.pool.close();
  }

  private tick(now: number): void {
    if (this.stopped) return;
    for (const t of this.sched.expire(now)) this.report(t);
    for (const due of this.sched.due(now)) this.run(due, now);
    this.armedAt = Infinity;
    this.arm(this.sched.nextDeadline());
  }

  /** Arms the timer on the tick grid, if `at` is before what it waits for now. */
  private arm(at: number): void {
    const grid = Math.ceil(at / DEFAULTS.tickMs) * DEFAULTS.tickMs;
    if (grid >= this.armedAt) return;
    this.armedAt = grid;
    this.timer.arm(grid);
  }

  private run(due: DueCheck, started: number): void {
    const ep = this.endpoints.get(splitId(due.id).endpoint);
    const probe = ep && this.probeOf(due.def, ep);
    if (!probe) return;
    void probe().then((outcome) => {
      if (this.stopped) return;
      this.opts.onResult?.(due.def.kind, outcome.status);
      const now = this.opts.clock();
      const t = this.sched.finish(due.id, due.gen, started, now, outcome);
      if (t) this.report(t);
      // Only this check's next run is new: no scan of every check per result.
      this.arm(this.sched.nextOf(due.id));
    });
  }

  /** The run of one check of `ep`; a script that may not run here is critical and says why. */
  private probeOf(def: CheckDef, ep: Endpoint): (() => Promise<Outcome>) | undefined {
    const kind = def.kind;
    if (kind === 'ttl') return undefined;
    const given = this.opts.probes?.[kind];
    if (given) return () => given(def, ep.addr);
    if (kind === 'http') return () => this.httpKept(def, ep.addr);
    if (kind === 'tcp') return () => PROBES.tcp(def, ep.addr);
    if (ep.container !== undefined) {
      const exec = this.opts.containerExec;
      const container = ep.container;
      return exec
        ? () => exec(def, container)
        : () => notRun('scripts in containers are off here (checks.allowContainerScripts)');
    }
    return this.opts.hostScripts
      ? () => PROBES.script(def, ep.addr)
      : () => notRun('scripts are off here (checks.allowScripts)');
  }

  private report(t: Transition): void {
    const { endpoint, check } = splitId(t.id);
    this.opts.onTransition(endpoint, check, t);
  }
}

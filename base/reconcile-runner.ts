// The one reconcile loop for everything that programs the kernel (lb's nft, overlay's ip,
// later the Docker network): a level-triggered pass runs
//   - debounceMs after the first change since the last pass (later changes in that window
//     share the pass; a steady stream of changes cannot postpone it forever), and never
//     sooner than minIntervalMs after the previous pass started;
//   - every fullEveryMs as a full pass (the driver reads the kernel and repairs drift);
//   - after a failure, as a full pass after a jittered, doubling backoff (reset by success);
//   - one at a time: requests during a pass cause exactly one more pass after it.
// Modelled on kube-proxy's BoundedFrequencyRunner (minInterval, periodic run, RetryAfter),
// written as a single timer towards the earliest due pass. Clock and randomness are
// injected so tests drive it deterministically.

/** What a pass reports; a pass that throws failed. */
export interface PassResult {
  /** Whether the pass changed anything (commands run, rules replaced). */
  changed: boolean;
}

/** The one status shape of every reconciler (lb and overlay status, /v1 API). */
export interface ReconcileStatus {
  /** Wall-clock start of the pass, ISO 8601. */
  at: string;
  durationMs: number;
  ok: boolean;
  changed: boolean;
  /** A full pass (periodic check, retry or explicit), which compares against the kernel. */
  full: boolean;
  error?: string;
}

export interface RunnerTimers {
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock milliseconds since the epoch, for ReconcileStatus.at. */
  wall(): number;
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface ReconcileRunnerOptions {
  /** One pass: `full` asks it to read the kernel rather than trust its last view. */
  pass: (full: boolean) => Promise<PassResult>;
  /** Changes within this window share one pass. */
  debounceMs: number;
  /** At least this long between the starts of two passes (explicit runNow excepted). */
  minIntervalMs: number;
  /** Period of the full pass. */
  fullEveryMs: number;
  /** First retry delay after a failure; doubles per failure in a row. */
  retryBaseMs: number;
  /** Longest retry delay. */
  retryMaxMs: number;
  /** Retry delay spread: delay * (1 - jitter/2 + jitter * random()), so nodes that fail together do not retry together. */
  retryJitter: number;
  /** Called after every pass with its status and, for a failure, the delay before the retry. */
  onPass?: (status: ReconcileStatus, retryInMs: number | undefined) => void;
  timers?: RunnerTimers;
  /** Uniform in [0, 1). */
  random?: () => number;
}

const realTimers: RunnerTimers = {
  now: () => performance.now(),
  wall: () => Date.now(),
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class ReconcileRunner {
  private readonly o: ReconcileRunnerOptions;
  private readonly timers: RunnerTimers;
  private readonly random: () => number;
  private dirty = false;
  private wantFull = false;
  private running: Promise<void> | undefined;
  /** The one pending wake-up and when it is due. */
  private timer: { handle: unknown; due: number } | undefined;
  /** Earliest time the next pass may run because of a change (debounce), a retry or the period. */
  private dueChange = Infinity;
  private dueRetry = Infinity;
  private dueFull = Infinity;
  private lastStart = -Infinity;
  private retryMs = 0;
  private stopped = false;
  private started = false;
  private passCount = 0;
  private lastStatus: ReconcileStatus | undefined;

  constructor(opts: ReconcileRunnerOptions) {
    this.o = opts;
    this.timers = opts.timers ?? realTimers;
    this.random = opts.random ?? Math.random;
  }

  /** Passes completed, succeeded or failed. */
  get passes(): number {
    return this.passCount;
  }

  get last(): ReconcileStatus | undefined {
    return this.lastStatus;
  }

  /** Starts the periodic full pass (the first one fullEveryMs from now). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.dueFull = this.timers.now() + this.o.fullEveryMs;
    this.arm();
  }

  /** Something changed: a pass runs debounceMs after the first change not yet passed. */
  request(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.dueChange === Infinity) this.dueChange = this.timers.now() + this.o.debounceMs;
    this.arm();
  }

  /** Runs a pass now, after the running one if any, and resolves with its status. */
  async runNow(full = false): Promise<ReconcileStatus | undefined> {
    if (full) this.wantFull = true;
    this.dirty = true;
    while (this.running) await this.running;
    if (this.stopped) return this.lastStatus;
    this.dueChange = Infinity;
    this.launch();
    await this.running;
    return this.lastStatus;
  }

  /** No more passes; resolves when the running one (if any) is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.timers.clear(this.timer.handle);
    this.timer = undefined;
    while (this.running) await this.running;
  }

  /** When the next pass may start, or Infinity when none is wanted. */
  private nextDue(): number {
    const wanted = Math.min(this.dirty ? this.dueChange : Infinity, this.dueRetry, this.dueFull);
    return wanted === Infinity ? Infinity : Math.max(wanted, this.lastStart + this.o.minIntervalMs);
  }

  /** Keeps one timer, towards the earliest due pass; none while a pass runs (its end re-arms). */
  private arm(): void {
    if (this.stopped || this.running) return;
    const due = this.nextDue();
    if (this.timer && this.timer.due === due) return;
    if (this.timer) this.timers.clear(this.timer.handle);
    this.timer = undefined;
    if (due === Infinity) return;
    const handle = this.timers.set(() => this.wake(), Math.max(0, due - this.timers.now()));
    this.timer = { handle, due };
  }

  private wake(): void {
    this.timer = undefined;
    if (this.stopped || this.running) return;
    const now = this.timers.now();
    if (now < this.nextDue()) return this.arm();
    if (this.dueFull <= now) {
      this.wantFull = true;
      this.dueFull = now + this.o.fullEveryMs;
    }
    if (this.dueRetry <= now) this.wantFull = true;
    this.launch();
  }

  private launch(): void {
    if (this.timer) this.timers.clear(this.timer.handle);
    this.timer = undefined;
    this.running = this.runPass().finally(() => {
      this.running = undefined;
      this.arm();
    });
  }

  private async runPass(): Promise<void> {
    const full = this.wantFull;
    this.dirty = this.wantFull = false;
    this.dueChange = this.dueRetry = Infinity;
    const t0 = this.timers.now();
    this.lastStart = t0;
    // Any full pass restarts the period, as kube-proxy's runner does after every run.
    if (full && this.started) this.dueFull = t0 + this.o.fullEveryMs;
    const at = new Date(this.timers.wall()).toISOString();
    let status: ReconcileStatus;
    let retryIn: number | undefined;
    try {
      const r = await this.o.pass(full);
      this.retryMs = 0;
      status = { at, durationMs: round(this.timers.now() - t0), ok: true, changed: r.changed, full };
    } catch (err) {
      this.retryMs = Math.min(this.o.retryMaxMs, this.retryMs ? this.retryMs * 2 : this.o.retryBaseMs);
      const j = this.o.retryJitter;
      retryIn = Math.round(this.retryMs * (1 - j / 2 + j * this.random()));
      this.dueRetry = this.timers.now() + retryIn;
      status = {
        at,
        durationMs: round(this.timers.now() - t0),
        ok: false,
        changed: false,
        full,
        error: err instanceof Error ? err.message : String(err),
      };
    }
    this.passCount++;
    this.lastStatus = status;
    this.o.onPass?.(status, retryIn);
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

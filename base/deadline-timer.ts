// One timer for a sans-IO core's next deadline. A driver calls arm(core.nextDeadline()) after
// every input; re-arming to the same deadline is free, so that call can sit on the hot path.
export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;
  private at = Infinity;
  private stopped = false;

  /** `fire` runs at the deadline with the clock's reading then. */
  constructor(
    private readonly clock: () => number,
    private readonly fire: (now: number) => void,
  ) {}

  arm(at: number): void {
    if (this.stopped || (at === this.at && this.timer)) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.at = at;
    if (!Number.isFinite(at)) return;
    this.schedule(at);
  }

  private schedule(at: number): void {
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.stopped) return;
        const now = this.clock();
        // Node starts a timer from the event loop's cached time, which a busy loop leaves behind
        // real time, so a timer can run a few milliseconds early: wait out the rest.
        if (now < at) return this.schedule(at);
        this.at = Infinity;
        this.fire(now);
      },
      Math.max(0, Math.ceil(at - this.clock())),
    );
    // The sockets keep a running node alive; a pending deadline alone must not hold the process.
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

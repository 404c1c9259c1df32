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
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.at = Infinity;
      if (!this.stopped) this.fire(this.clock());
    }, Math.max(0, at - this.clock()));
    // The sockets keep a running node alive; a pending deadline alone must not hold the process.
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

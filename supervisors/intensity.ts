// Restart intensity as in OTP's supervisor:add_restart/1: a sliding window of the
// times of recent restarts. Pure, so the limit arithmetic is tested without clocks.

export interface IntensityLimits {
  /** Restarts allowed within the window; one more means give up. 0 gives up on the first. */
  maxRestarts: number;
  periodMs: number;
}

export const DEFAULT_INTENSITY: Readonly<IntensityLimits> = Object.freeze({ maxRestarts: 3, periodMs: 5000 });

export interface RestartRecord {
  /** Restart times still inside the window, newest last. */
  times: number[];
  /** True when this restart is one too many: the supervisor must give up instead. */
  exceeded: boolean;
}

/** Records a restart at `now`. `times` is not modified. */
export function recordRestart(times: readonly number[], now: number, limits: IntensityLimits): RestartRecord {
  const threshold = now - limits.periodMs;
  // OTP keeps restarts with R >= Now - Period, so one exactly a period old still counts.
  const kept = times.filter((t) => t >= threshold);
  kept.push(now);
  return { times: kept, exceeded: kept.length > limits.maxRestarts };
}

export function validateLimits(limits: IntensityLimits): void {
  if (!Number.isInteger(limits.maxRestarts) || limits.maxRestarts < 0) {
    throw new TypeError(`maxRestarts must be an integer >= 0, got ${String(limits.maxRestarts)}`);
  }
  if (!(limits.periodMs > 0)) {
    throw new TypeError(`periodMs must be > 0, got ${String(limits.periodMs)}`);
  }
}

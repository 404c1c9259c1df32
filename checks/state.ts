// Flap damping, as HAProxy's rise/fall: a check's status changes only after `fall`
// failures in a row (to critical) or `rise` passes in a row (back from critical). Pure.
//
// A check that has not been observed yet (new, or critical when the agent started) takes
// its first pass at once: there is no flapping to damp before the first result, and an
// endpoint should not wait rise intervals to be served the first time.
import type { CheckStatus } from '../records/checks.js';

export interface RiseFall {
  status: CheckStatus;
  /** Passes (passing or warning) in a row. */
  good: number;
  /** Failures (critical) in a row. */
  bad: number;
  observed: boolean;
}

export function initialState(status: CheckStatus): RiseFall {
  return { status, good: 0, bad: 0, observed: status !== 'critical' };
}

/** The state after one probe result. Warning and passing switch between each other at once: both are served. */
export function step(s: RiseFall, result: CheckStatus, rise: number, fall: number): RiseFall {
  if (result === 'critical') {
    const bad = s.bad + 1;
    const status = s.status !== 'critical' && bad >= fall ? 'critical' : s.status;
    return { status, good: 0, bad, observed: true };
  }
  const good = s.good + 1;
  const up = s.status !== 'critical' || !s.observed || good >= rise;
  return { status: up ? result : s.status, good, bad: 0, observed: true };
}

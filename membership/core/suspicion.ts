// Bookkeeping for one suspected member: who has independently confirmed the suspicion,
// and therefore when it turns into a death. Pure arithmetic; the core owns the timer.

import { confirmationsCounted, suspicionTimeoutAfter } from './math.js';

export class Suspicion {
  private readonly confirmedBy = new Set<string>();
  private confirmations = 0;
  /** End of the one grace period granted (see SwimCore.suspicionExpired), if any. */
  graceUntil: number | undefined;
  /** We saw the failure ourselves (our own probe), rather than only hearing of it. */
  firstHand = false;

  /**
   * @param from who raised the suspicion first; never counted as a confirmation, since our
   *   own suspicion may gossip back to us.
   * @param k confirmations that drive the timeout down to `minMs`; one more takes it a step
   *   below (math.ts suspicionTimeoutAfter).
   */
  constructor(
    from: string,
    readonly k: number,
    readonly startMs: number,
    readonly minMs: number,
    readonly maxMs: number,
  ) {
    this.confirmedBy.add(from);
  }

  get count(): number {
    return this.confirmations;
  }

  /** Absolute time at which the member is declared dead, given what is known now. */
  deadline(): number {
    const d = this.startMs + suspicionTimeoutAfter(this.confirmations, this.k, this.minMs, this.maxMs);
    return this.graceUntil === undefined ? d : Math.max(d, this.graceUntil);
  }

  /**
   * Record an independent confirmation. Returns true when it was new information worth
   * re-gossiping; false for duplicates or once all that count (k + 1) are in.
   */
  confirm(from: string): boolean {
    if (this.confirmations >= confirmationsCounted(this.k)) return false;
    if (this.confirmedBy.has(from)) return false;
    this.confirmedBy.add(from);
    this.confirmations++;
    return true;
  }
}

// Lifeguard local health awareness. A node that misses acks and nacks is more likely
// slow itself (CPU stall, GC, overloaded NIC) than surrounded by failures, so it stretches
// its own probe interval and timeout instead of accusing healthy peers.

export class Awareness {
  private current = 0;

  /** `max` is the awarenessMaxMultiplier: timeouts stretch at most this many times. */
  constructor(private readonly max: number) {}

  get score(): number {
    return this.current;
  }

  applyDelta(delta: number): void {
    this.current = Math.min(Math.max(this.current + delta, 0), Math.max(this.max - 1, 0));
  }

  scale(timeoutMs: number): number {
    return timeoutMs * (this.current + 1);
  }
}

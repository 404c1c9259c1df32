// Retry delays for reaching the Docker engine: doubling from initialMs to maxMs, each
// jittered by +-jitter so that the agents of a rack whose engines restarted together do
// not all knock on the same second.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** Fraction of the delay added or taken at random (0.2: 80-120 %). */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private base: number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 500;
    this.maxMs = opts.maxMs ?? 30_000;
    this.jitter = opts.jitter ?? 0.2;
    this.random = opts.random ?? Math.random;
    this.base = this.initialMs;
  }

  /** The next delay in ms; each call doubles the base up to maxMs. */
  next(): number {
    const base = this.base;
    this.base = Math.min(this.maxMs, this.base * 2);
    const factor = 1 + this.jitter * (2 * this.random() - 1);
    return Math.max(1, Math.round(Math.min(this.maxMs, base * factor)));
  }

  reset(): void {
    this.base = this.initialMs;
  }
}

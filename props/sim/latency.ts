// One-way delay distributions for simulated links. A distribution is just a function of
// the link's random stream, so tests can compose their own.

import type { Rng } from '../../base/rng.js';

export type Latency = (rng: Rng) => number;

export const constant =
  (ms: number): Latency =>
  () =>
    ms;

export const uniform =
  (minMs: number, maxMs: number): Latency =>
  (rng) =>
    minMs + rng.next() * (maxMs - minMs);

/** Normal (Box-Muller), clipped at `floorMs`: jitter around a typical LAN delay. */
export const normal =
  (meanMs: number, sdMs: number, floorMs = 0): Latency =>
  (rng) => {
    const u = 1 - rng.next();
    const v = rng.next();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.max(floorMs, meanMs + sdMs * z);
  };

/** `base` most of the time; with probability `p` an extra Pareto-distributed delay (a congested switch). */
export const withTail =
  (base: Latency, p: number, scaleMs: number, alpha = 1.5, capMs = 5000): Latency =>
  (rng) => {
    const d = base(rng);
    if (rng.next() >= p) return d;
    const extra = scaleMs / Math.pow(1 - rng.next(), 1 / alpha);
    return d + Math.min(extra, capMs);
  };

/** A datacenter LAN: ~0.25 ms with a little jitter and a rare congested tail. */
export const lan: Latency = withTail(normal(0.25, 0.08, 0.05), 0.001, 2);

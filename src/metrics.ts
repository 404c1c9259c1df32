// One prom-client registry per agent; components register their own metrics on it.
import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/**
 * prom-client's event-loop lag histogram samples on a timer of this period. Its default, 10 ms,
 * wakes an idle agent 100 times a second, more than everything else it does while idle
 * (membership's probe and gossip ticks, the store's anti-entropy). One sample a second still
 * measures every stall that spans it: a blocked loop delays the sample that follows.
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'weft_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}

// One prom-client registry per agent; components register their own metrics on it.
import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'weft_' });
  return registry;
}

/**
 * A counter that follows a total kept elsewhere (a sans-IO core's stats): each scrape adds
 * what the total grew by, and a label set appears (at 0) as soon as it is first read.
 */
export function followCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], read: () => [Partial<Record<L, string>>, number][]): void {
  const last = new Map<string, number>();
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, total] of read()) {
        const k = JSON.stringify(labels);
        const d = total - (last.get(k) ?? 0);
        if (d > 0 || !last.has(k)) this.inc(labels, Math.max(0, d));
        last.set(k, total);
      }
    },
  });
}

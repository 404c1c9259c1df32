// A prom-client counter that follows a total a component keeps itself. It lives below every
// subsystem (dns/, lb/, src/components) so that none of them imports the daemon for it.
import { Counter, type Registry } from 'prom-client';

/**
 * A counter that follows a total kept elsewhere (a component's or a sans-IO core's own
 * stats): each scrape adds what the total grew by, and a label set appears (at 0) as soon
 * as it is first read. A restarted component's totals start from zero again: `instance`
 * (the running component) tells the counter so, and a total that went down is taken as
 * one too, so the exported counter never goes backwards.
 */
export function followCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => [Partial<Record<L, string>>, number][],
  instance?: () => object | undefined,
): void {
  const last = new Map<string, number>();
  let seen: object | undefined;
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      const now = instance?.();
      if (now !== seen) {
        for (const k of last.keys()) last.set(k, 0);
        seen = now;
      }
      for (const [labels, total] of read()) {
        const k = JSON.stringify(labels);
        const prev = last.get(k);
        const d = prev === undefined || total < prev ? total : total - prev;
        if (d > 0 || prev === undefined) this.inc(labels, d);
        last.set(k, total);
      }
    },
  });
}

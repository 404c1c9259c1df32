// When to inject which fault into whom: sans-IO and seeded, so a run's schedule can be
// replayed (`--seed`) and tested without a cluster. The driver (chaos/run.ts) feeds it the
// time and the nodes it may target, and carries out what it returns.
import { seededRng, shuffle, type Rng } from '../../base/rng.js';
import type { ChaosPlan, Mode, Policy } from './policy.js';

export interface TargetNode {
  name: string;
  /** The node's gossip metadata as text (policies may select on it). */
  meta: string;
}

export interface Fault {
  id: number;
  policy: number;
  mode: Mode;
  targets: string[];
  /** partition: the nodes on the other side. */
  others: string[];
  loss: number;
  delayMs: number;
  ports: number[];
  startMs: number;
  endMs: number;
}

export class ChaosPlanner {
  private readonly rng: Rng;
  private readonly nextTick: number[];
  private readonly active = new Map<number, Fault>();
  private nextId = 1;

  constructor(private readonly plan: ChaosPlan) {
    this.rng = seededRng(plan.seed);
    this.nextTick = plan.policies.map((p) => p.intervalMs);
  }

  /** Faults to inject and to heal at `now` (ms since the start). */
  step(now: number, nodes: readonly TargetNode[]): { inject: Fault[]; heal: Fault[] } {
    const heal = [...this.active.values()].filter((f) => f.endMs <= now || now >= this.plan.forMs);
    for (const f of heal) this.active.delete(f.id);
    const inject: Fault[] = [];
    if (now < this.plan.forMs) {
      this.plan.policies.forEach((p, i) => {
        while (this.nextTick[i]! <= now) {
          this.nextTick[i]! += p.intervalMs;
          if (this.rng.next() >= p.probability) continue;
          const f = this.pick(i, p, now, nodes);
          if (f) {
            this.active.set(f.id, f);
            inject.push(f);
          }
        }
      });
    }
    return { inject, heal };
  }

  /** The next time step() has something to do. */
  nextAt(): number {
    return Math.min(...this.nextTick, ...[...this.active.values()].map((f) => f.endMs), this.plan.forMs);
  }

  /** Every fault still in place (to heal on an early stop). */
  activeFaults(): Fault[] {
    return [...this.active.values()];
  }

  private pick(i: number, p: Policy, now: number, nodes: readonly TargetNode[]): Fault | undefined {
    const busy = new Set([...this.active.values()].flatMap((f) => f.targets));
    const re = p.targets.match ? new RegExp(p.targets.match) : undefined;
    const eligible = nodes.filter(
      (n) =>
        !busy.has(n.name) &&
        (!p.targets.names || p.targets.names.includes(n.name)) &&
        (!re || re.test(n.name)) &&
        (!p.targets.meta || n.meta.includes(p.targets.meta)),
    );
    if (eligible.length === 0) return undefined;
    const pool = [...eligible].sort((a, b) => (a.name < b.name ? -1 : 1));
    shuffle(this.rng, pool);
    const targets = pool
      .slice(0, p.targets.count)
      .map((n) => n.name)
      .sort();
    const others =
      p.mode === 'partition'
        ? nodes
            .map((n) => n.name)
            .filter((n) => !targets.includes(n))
            .sort()
        : [];
    if (p.mode === 'partition' && others.length === 0) return undefined;
    return {
      id: this.nextId++,
      policy: i,
      mode: p.mode,
      targets,
      others,
      loss: p.loss,
      delayMs: p.delayMs,
      ports: p.ports,
      startMs: now,
      endMs: Math.min(now + p.durationMs, this.plan.forMs),
    };
  }
}

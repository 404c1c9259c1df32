// One line per property for `npm run props`'s summary table: scripts/props.mjs reads the
// "PROP {...}" comments from tap's output (failures it counts from tap itself).
export interface PropertyFigures {
  property: string;
  runs: number;
  nodes: number;
  /** Simulated time over all runs. */
  simulatedMs: number;
  wallMs: number;
  seed: number;
}

export function reportProperty(t: { comment(msg: string): void }, f: PropertyFigures): void {
  t.comment(`PROP ${JSON.stringify({ ...f, simulatedMs: Math.round(f.simulatedMs), wallMs: Math.round(f.wallMs) })}`);
}

/** Counts a property's runs and their simulated time: call run(cluster) once per run. */
export class PropertyMeter {
  runs = 0;
  private simulated = 0;
  private last?: { readonly now: number };
  private readonly started = performance.now();

  run(cluster: { readonly now: number }): void {
    this.settle();
    this.runs++;
    this.last = cluster;
  }

  report(t: { comment(msg: string): void }, property: string, nodes: number, seed: number): void {
    this.settle();
    reportProperty(t, { property, runs: this.runs, nodes, simulatedMs: this.simulated, wallMs: performance.now() - this.started, seed });
  }

  private settle(): void {
    if (this.last) this.simulated += this.last.now;
    this.last = undefined;
  }
}

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
  /**
   * Share of the runs (0..1) in which the property's safety check was armed: the run
   * reached a state where a violation would have failed it. Absent: always armed.
   */
  armed?: number;
}

export function reportProperty(t: { comment(msg: string): void }, f: PropertyFigures): void {
  t.comment(
    `PROP ${JSON.stringify({ ...f, simulatedMs: Math.round(f.simulatedMs), wallMs: Math.round(f.wallMs), ...(f.armed !== undefined ? { armed: Math.round(f.armed * 1000) / 1000 } : {}) })}`,
  );
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

  /** Runs whose safety check was armed (see PropertyFigures.armed); call armed() once in such a run. */
  armedRuns = 0;

  armed(): void {
    this.armedRuns++;
  }

  /** Share of the runs so far whose check was armed. */
  get armedRate(): number {
    return this.runs ? this.armedRuns / this.runs : 0;
  }

  report(
    t: { comment(msg: string): void },
    property: string,
    nodes: number,
    seed: number,
    opts: { armed?: boolean } = {},
  ): void {
    this.settle();
    reportProperty(t, {
      property,
      runs: this.runs,
      nodes,
      simulatedMs: this.simulated,
      wallMs: performance.now() - this.started,
      seed,
      ...(opts.armed ? { armed: this.armedRate } : {}),
    });
  }

  private settle(): void {
    if (this.last) this.simulated += this.last.now;
    this.last = undefined;
  }
}

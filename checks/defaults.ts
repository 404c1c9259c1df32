// Every default of the health checks, with the reason for its value (as memberlist's
// config.go). The spec parser (spec.ts) fills a check's unset fields from here; the
// scheduler and the probes fall back to these and to nothing else.

export const DEFAULTS = {
  /** As the examples in Docker's and Consul's docs: a dead endpoint is noticed in seconds, and 500 checks cost little. */
  intervalMs: 5_000,
  /** A health endpoint answers in milliseconds; 2 s allows a GC pause or a cold cache, and stays under the interval. */
  timeoutMs: 2_000,
  /** HAProxy's default: one lucky pass does not bring a flapping endpoint back. */
  rise: 2,
  /** HAProxy's default: one lost packet or slow answer does not take an endpoint out; three in a row do. */
  fall: 3,
  /** Below 1 s a check is a load test of its target, and 500 of them a load test of the node. */
  minIntervalMs: 1_000,
  /** A check that runs less than daily is not watching anything. */
  maxIntervalMs: 24 * 3_600_000,
  /** A probe needs some time to connect at all. */
  minTimeoutMs: 100,
  /** Above this, a count stops damping flaps and starts hiding outages. */
  maxCount: 10,
  /** The first runs are spread over the interval, at most this long: 500 checks added at once (agent start) must not fire together. */
  firstSpreadMs: 5_000,
  /** Checks due within this many ms run together: at most 50 timer wake-ups a second however many checks, each a few ms late at most. */
  tickMs: 20,
  /** An HTTP probe reads at most this much body, to look for the expected text and to show in the output. */
  maxBodyBytes: 4_096,
  /** A script's stdout and stderr together beyond this are cut (the process keeps running until it exits or times out). */
  maxScriptOutputBytes: 4_096,
  /**
   * Checks one agent runs at most: labels come from whoever can start containers, and each
   * check is a probe a second at the shortest interval. 1,000 at 1 s measured about 13 % of
   * a core on a loaded 2-core machine (npm run bench -- checks). Endpoints beyond it are
   * not checked, so they stay critical and unserved: fail closed, and logged.
   */
  maxChecksPerNode: 1_000,
  /** Script checks from the API run commands on the host as the agent's user: off unless the operator turns them on (checks.allowScripts). */
  allowScripts: false,
  /**
   * A container's weft.check.script label runs inside that container, as its HEALTHCHECK
   * would, but through this node's Docker engine: an exec every interval per container.
   * Off unless the operator turns it on (checks.allowContainerScripts), and apart from
   * allowScripts, so that allowing one does not allow the other.
   */
  allowContainerScripts: false,
} as const;

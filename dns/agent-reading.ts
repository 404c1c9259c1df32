// Whether the agent reads its DNS sockets while its workers do (worker-pool.ts).
//
// Every process reading one UDP socket is woken for each datagram, and all but the one that
// gets it find nothing: libuv cannot ask epoll for EPOLLEXCLUSIVE, and Node 20 has no
// SO_REUSEPORT to give each process a socket of its own. At 20,000 queries/s that cost the
// agent and one worker 30.5-35 µs of CPU a query together, against 22.4-24 µs with the
// worker reading alone (`npm run bench -- dns`, cpu_us_per_query_at_20k). But at full load a
// second reader answers more: 69-72k against 61-63k queries/s in alternate runs.
//
// So the agent steps aside while its workers keep up, and reads again as soon as one of them
// nears its limit. Each worker reports its event-loop utilisation (the busy share of its
// time) every LOAD_REPORT_MS; the agent reads again when a worker was at HELP_AT or more in
// BUSY_REPORTS reports in a row (one busy moment, a collection or a burst, is not a load),
// and at once when none is left reading. It also reads while a worker hands it RELAY_AT or
// more of what it reads (names to forward: only the agent forwards), since each of those
// then crossed the IPC channel for nothing: cached forwards at full load fell from 39-51k
// to 33k queries/s with the worker reading them all.
//
// With the agent reading too, a worker's load no longer says whether it would keep up alone
// (both are woken for every query), so the agent tries stepping aside again HOLD_MS after
// the worker was last busy, a hold doubled up to MAX_HOLD_MS each time the worker needed
// help again within TRIAL_MS of a try. At a sustained full load that is half a second with
// one reader per minute.
//
// Stepping aside also keeps DNS load off the event loop that runs membership and the store.

/** How often a worker reports its load. */
export const LOAD_REPORT_MS = 250;
/** A worker this busy (event-loop utilisation, 0..1) for BUSY_REPORTS reports gets the agent's help. */
export const HELP_AT = 0.85;
export const BUSY_REPORTS = 2;
/** A worker relaying this share of the queries it read (or more) gets the agent reading too. */
export const RELAY_AT = 0.25;
/** The agent helps at least this long before it tries stepping aside again. */
export const HOLD_MS = 2_000;
export const MAX_HOLD_MS = 60_000;
/** Help needed again this soon after a try: the next help lasts twice as long. */
export const TRIAL_MS = 1_000;

export class AgentReading {
  /** The agent reads its sockets (it always does while no worker reads them). */
  reading = true;
  private hold = HOLD_MS;
  private tryAsideAt = -Infinity;
  private asideSince = -Infinity;
  private busy = 0;

  /**
   * After a load report at `now` (ms). `workers`: workers reading every socket; `workerLoad`:
   * the busiest one's utilisation since its last report; `relayed`: the largest share of its
   * reads a worker relayed meanwhile. Returns `reading`.
   */
  update(now: number, workers: number, workerLoad: number, relayed = 0): boolean {
    if (workers === 0) return (this.reading = true);
    this.busy = workerLoad >= HELP_AT || relayed >= RELAY_AT ? this.busy + 1 : 0;
    if (this.busy >= BUSY_REPORTS) {
      if (!this.reading) {
        this.hold = now - this.asideSince < TRIAL_MS ? Math.min(2 * this.hold, MAX_HOLD_MS) : HOLD_MS;
        this.reading = true;
      }
      this.tryAsideAt = now + this.hold;
    } else if (this.busy === 0 && this.reading && now >= this.tryAsideAt) {
      this.reading = false;
      this.asideSince = now;
    }
    return this.reading;
  }
}

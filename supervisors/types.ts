// Public types of weft's supervision tree (docs/ARCHITECTURE.md, "Supervision tree").

/** Erlang/OTP restart types. */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** Erlang/OTP restart strategies. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/**
 * Handed to a child's `start`. One context belongs to one incarnation: after a
 * restart the new incarnation gets a new context, and calls on an old one are ignored.
 */
export interface ChildContext {
  /** The child's id in its supervisor. */
  readonly id: string;
  /** Path of the supervisor running this child, e.g. `weft/net`. */
  readonly supervisor: string;
  /** Call when the component fails on its own (socket error, lost peer, ...). */
  crash(err: unknown): void;
  /** Call when the component has finished its work normally. */
  exit(): void;
  /**
   * Aborted once this incarnation is no longer wanted: the supervisor began to stop
   * it, it crashed or exited, or the supervisor is shutting down while `start` runs.
   */
  readonly signal: AbortSignal;
}

/**
 * A running component. The supervisor calls `stop` exactly once per successful
 * `start`, also after the child crashed or exited on its own, so that one place
 * releases its sockets and timers before a replacement starts.
 */
export interface Child {
  /** Graceful stop. Resolves when everything is released. */
  stop(): Promise<void>;
  /** Forced stop, called when `stop` did not finish within `shutdownMs` (or failed). */
  kill?(): void;
}

export interface ChildSpec {
  /** Unique within its supervisor. */
  readonly id: string;
  /**
   * Resolves when the component is ready to serve; the next sibling starts only then.
   * A rejection counts as a crash of this child. If it rejects, `start` itself must
   * release what it acquired: there is no handle to stop.
   */
  start(ctx: ChildContext): Promise<Child>;
  readonly restart: RestartType;
  /** How long `stop` may take before `kill`. `Infinity` waits forever (OTP's `infinity`, meant for supervisors). */
  readonly shutdownMs: number;
}

export interface SupervisorOptions {
  /** Shown in events and status; a nested supervisor defaults to its child id. Default `root`. */
  name?: string;
  /** Default `one_for_one`. */
  strategy?: Strategy;
  /** At most this many restarts within `periodMs`; one more and the supervisor gives up. Default 3. */
  maxRestarts?: number;
  /** Default 5000. */
  periodMs?: number;
  /** Started in this order, stopped in reverse. */
  children: readonly ChildSpec[];
  /** Receives the events of this supervisor and of every supervisor nested below it. Must not throw (if it does, the error is dropped). */
  onEvent?: (event: SupervisorEvent) => void;
  /** Monotonic clock in ms for the restart intensity window. Default `performance.now`. */
  now?: () => number;
}

/**
 * `starting`: wanted but not started yet; `restarting`: wanted, ran before, being
 * brought back; `stopped`: not wanted (temporary that ended, transient that exited
 * normally, or the supervisor is stopped).
 */
export type ChildState = 'starting' | 'running' | 'restarting' | 'stopped';

export interface ChildStatus {
  id: string;
  state: ChildState;
  /** How many times the supervisor started this child again after it had run. */
  restarts: number;
  /** Present when the child is itself a running supervisor. */
  children?: ChildStatus[];
}

export type SupervisorEvent =
  | { type: 'child_started'; supervisor: string; id: string }
  | { type: 'child_restarted'; supervisor: string; id: string; restarts: number }
  | { type: 'child_exited'; supervisor: string; id: string }
  | { type: 'child_crashed'; supervisor: string; id: string; error: Error; during: 'run' | 'start' }
  | { type: 'child_stopped'; supervisor: string; id: string }
  | { type: 'child_stop_failed'; supervisor: string; id: string; error: Error }
  | { type: 'child_killed'; supervisor: string; id: string; afterMs: number }
  | { type: 'gave_up'; supervisor: string; error: Error };

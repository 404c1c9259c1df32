// An OTP supervisor on nact. Every decision (start, crash, restart, shutdown) runs in
// the supervisor actor's mailbox, one at a time, so two children crashing together are
// handled one after the other against up-to-date state. Only stop() and kill() act out
// of band, to withdraw a start that is in progress.
import { dispatch, newActorSystem, spawnSerial, stop as stopActor, type ActorSystemRef, type Ref } from './actors.js';
import { spawnChildActor, type ChildActor, type Exit } from './child-actor.js';
import { GaveUpError, asError } from './errors.js';
import { DEFAULT_INTENSITY, recordRestart, validateLimits, type IntensityLimits } from './intensity.js';
import { nestingLinkOf } from './nesting.js';
import { restartScope, shouldRestart } from './strategy.js';
import type {
  Child,
  ChildContext,
  ChildSpec,
  ChildState,
  ChildStatus,
  Strategy,
  SupervisorEvent,
  SupervisorOptions,
} from './types.js';

type Phase = 'new' | 'booting' | 'running' | 'stopping' | 'giving_up' | 'stopped' | 'gave_up' | 'killed';

type SupervisorMsg =
  | { type: 'boot' }
  | { type: 'ended'; id: string; incarnation: number; exit: Exit }
  | { type: 'retry' }
  | { type: 'shutdown' }
  | { type: 'fault'; error: Error };

interface Slot {
  readonly spec: ChildSpec;
  readonly actor: ChildActor;
  state: ChildState;
  restarts: number;
  everStarted: boolean;
  /** A temporary child that ended: OTP forgets it, so no later group restart brings it back. */
  deleted: boolean;
  incarnation: number;
  handle: Child | undefined;
}

const STRATEGIES: readonly Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];
const RESTART_TYPES: readonly string[] = ['permanent', 'transient', 'temporary'];

export class Supervisor implements Child {
  /** Path in the tree, e.g. `weft` or `weft/net`. */
  readonly name: string;
  /**
   * Resolves (never rejects) with the reason once this supervisor has exceeded its
   * restart intensity and stopped all its children. For the root this means the daemon
   * should exit non-zero; a nested supervisor escalates to its parent by itself.
   */
  readonly gaveUp: Promise<GaveUpError>;

  readonly #strategy: Strategy;
  readonly #limits: IntensityLimits;
  readonly #now: () => number;
  readonly #sink: (event: SupervisorEvent) => void;
  readonly #parent: ChildContext | undefined;
  readonly #system: ActorSystemRef | undefined;
  readonly #actor: Ref<SupervisorMsg>;
  readonly #slots: Slot[];
  readonly #terminated: Promise<void>;
  #resolveTerminated!: () => void;
  #resolveGaveUp!: (error: GaveUpError) => void;
  #phase: Phase = 'new';
  #stopRequested = false;
  #restartTimes: number[] = [];
  #booted: Promise<void> | undefined;
  #boot: { resolve: () => void; reject: (err: Error) => void } | undefined;

  /**
   * @param parent the context this supervisor got as a child of another one; use
   * `supervisorChild` rather than passing it yourself.
   */
  constructor(options: SupervisorOptions, parent?: ChildContext) {
    const strategy = options.strategy ?? 'one_for_one';
    if (!STRATEGIES.includes(strategy)) throw new TypeError(`unknown strategy ${String(strategy)}`);
    const limits = {
      maxRestarts: options.maxRestarts ?? DEFAULT_INTENSITY.maxRestarts,
      periodMs: options.periodMs ?? DEFAULT_INTENSITY.periodMs,
    };
    validateLimits(limits);
    validateSpecs(options.children);

    this.#strategy = strategy;
    this.#limits = limits;
    this.#now = options.now ?? (() => performance.now());
    this.#parent = parent;
    this.name = parent ? `${parent.supervisor}/${options.name ?? parent.id}` : (options.name ?? 'root');
    this.gaveUp = new Promise((resolve) => (this.#resolveGaveUp = resolve));
    this.#terminated = new Promise((resolve) => (this.#resolveTerminated = resolve));

    const link = parent ? nestingLinkOf(parent) : undefined;
    const sinks = [options.onEvent, link?.emit].filter((f): f is (e: SupervisorEvent) => void => !!f);
    this.#sink = (event) => {
      for (const sink of sinks) {
        try {
          sink(event);
        } catch {
          // Observability must never take the supervisor down.
        }
      }
    };

    let home: Ref<unknown>;
    if (link) {
      home = link.parentActor;
    } else {
      this.#system = newActorSystem();
      home = this.#system;
    }
    this.#actor = spawnSerial<SupervisorMsg>(
      home,
      `supervisor-${options.name ?? parent?.id ?? 'root'}`,
      (msg) => this.#receive(msg),
      (err) => dispatch(this.#actor, { type: 'fault', error: asError(err) }),
    );
    this.#slots = options.children.map((spec) => ({
      spec,
      actor: spawnChildActor({
        spec,
        supervisor: this.name,
        parent: this.#actor,
        emit: this.#sink,
        onEnded: (incarnation, exit) => dispatch(this.#actor, { type: 'ended', id: spec.id, incarnation, exit }),
      }),
      state: 'stopped',
      restarts: 0,
      everStarted: false,
      deleted: false,
      incarnation: 0,
      handle: undefined,
    }));

    // The parent withdrawing this incarnation (its shutdown, even while we are still
    // starting) means stop; a stop() already under way returns the same promise.
    if (parent) {
      if (parent.signal.aborted) void this.stop();
      else parent.signal.addEventListener('abort', () => void this.stop(), { once: true });
    }
  }

  /**
   * Starts the children in order, each after the previous one is ready. Resolves when
   * all are running; rejects with a GaveUpError if the restart intensity ran out on the
   * way, or if stop()/kill() came first. Calling it again returns the same promise.
   */
  start(): Promise<void> {
    if (!this.#booted) {
      this.#booted = new Promise<void>((resolve, reject) => (this.#boot = { resolve, reject }));
      if (this.#phase === 'new' && !this.#stopRequested) {
        this.#phase = 'booting';
        for (const slot of this.#slots) slot.state = 'starting';
        dispatch(this.#actor, { type: 'boot' });
      } else {
        this.#boot?.reject(new Error(`supervisor ${this.name} was stopped before it started`));
      }
    }
    return this.#booted;
  }

  /** Stops all children in reverse start order, each within its shutdownMs. Never rejects. */
  stop(): Promise<void> {
    if (!this.#stopRequested) {
      this.#stopRequested = true;
      for (const slot of this.#slots) slot.actor.abortStart();
      if (this.#phase === 'new') this.#finish('stopped', new Error(`supervisor ${this.name} was stopped`));
      else if (!this.#isTerminal()) dispatch(this.#actor, { type: 'shutdown' });
    }
    return this.#terminated;
  }

  /** Forced stop, from a parent whose shutdownMs for this supervisor ran out: kills every child at once. */
  kill(): void {
    if (this.#isTerminal()) return;
    this.#stopRequested = true;
    for (const slot of [...this.#slots].reverse()) {
      slot.actor.killNow();
      slot.state = 'stopped';
      slot.handle = undefined;
    }
    this.#finish('killed', new Error(`supervisor ${this.name} was killed`));
  }

  /** Children in start order, for /v1/status. Nested supervisors list theirs under `children`. */
  status(): ChildStatus[] {
    return this.#slots.map((slot) => {
      const status: ChildStatus = { id: slot.spec.id, state: slot.state, restarts: slot.restarts };
      if (slot.state === 'running' && slot.handle instanceof Supervisor) status.children = slot.handle.status();
      return status;
    });
  }

  async #receive(msg: SupervisorMsg): Promise<void> {
    try {
      switch (msg.type) {
        case 'boot':
        case 'retry':
          await this.#settle();
          return;
        case 'ended':
          await this.#onEnded(msg.id, msg.incarnation, msg.exit);
          return;
        case 'shutdown':
          await this.#shutdown();
          return;
        case 'fault':
          throw msg.error;
      }
    } catch (err) {
      // A fault in the supervisor's own logic leaves its bookkeeping in doubt: like a
      // crashed OTP supervisor, take the subtree down and let the parent decide.
      const error = asError(err);
      await this.#giveUp(
        new GaveUpError(this.name, `supervisor ${this.name} failed: ${error.message}`, { cause: error }),
      );
    }
  }

  /** Starts every child that should run and does not; a failed start is handled as a crash. */
  async #settle(): Promise<void> {
    if (!this.#active()) return;
    const failure = await this.#startPending();
    if (!this.#active()) return;
    if (failure) {
      const { slot, error } = failure;
      this.#emit({ type: 'child_crashed', supervisor: this.name, id: slot.spec.id, error, during: 'start' });
      await this.#applyExit(slot, { normal: false, error });
      // OTP's try_again_restart: back to the mailbox first, so a shutdown or another
      // crash queued meanwhile is handled before the next attempt.
      if (this.#active()) dispatch(this.#actor, { type: 'retry' });
      return;
    }
    if (this.#phase === 'booting') {
      this.#phase = 'running';
      this.#boot?.resolve();
    }
  }

  async #startPending(): Promise<{ slot: Slot; error: Error } | undefined> {
    for (const slot of this.#slots) {
      if (!this.#active()) return undefined;
      if (slot.deleted || (slot.state !== 'starting' && slot.state !== 'restarting')) continue;
      const result = await slot.actor.start();
      if (this.#isTerminal()) return undefined;
      if (!result.ok) {
        if (result.aborted || !this.#active()) return undefined;
        return { slot, error: result.error };
      }
      slot.incarnation = result.incarnation;
      slot.handle = result.handle;
      slot.state = 'running';
      if (slot.everStarted) {
        slot.restarts++;
        this.#emit({ type: 'child_restarted', supervisor: this.name, id: slot.spec.id, restarts: slot.restarts });
      } else {
        slot.everStarted = true;
        this.#emit({ type: 'child_started', supervisor: this.name, id: slot.spec.id });
      }
    }
    return undefined;
  }

  async #onEnded(id: string, incarnation: number, exit: Exit): Promise<void> {
    const slot = this.#slots.find((s) => s.spec.id === id);
    // Stale: that incarnation was already stopped (or replaced) by the supervisor itself.
    if (!this.#active() || !slot || slot.state !== 'running' || slot.incarnation !== incarnation) return;
    if (exit.normal) this.#emit({ type: 'child_exited', supervisor: this.name, id });
    else this.#emit({ type: 'child_crashed', supervisor: this.name, id, error: exit.error, during: 'run' });
    await this.#applyExit(slot, exit);
    await this.#settle();
  }

  /**
   * OTP's do_restart + restart: decide from the restart type, count against the
   * intensity, stop the strategy's scope in reverse order and mark it to be started
   * again. The starting itself is #settle's job.
   */
  async #applyExit(slot: Slot, exit: Exit): Promise<void> {
    if (!shouldRestart(slot.spec.restart, exit.normal)) {
      slot.state = 'stopped';
      if (slot.spec.restart === 'temporary') slot.deleted = true;
      await this.#stopSlot(slot);
      return;
    }
    const record = recordRestart(this.#restartTimes, this.#now(), this.#limits);
    this.#restartTimes = record.times;
    if (record.exceeded) {
      const last = exit.normal
        ? `child ${slot.spec.id} exited`
        : `child ${slot.spec.id} crashed: ${exit.error.message}`;
      await this.#giveUp(
        new GaveUpError(
          this.name,
          `supervisor ${this.name} gave up: more than ${this.#limits.maxRestarts} restarts within ${this.#limits.periodMs} ms (last: ${last})`,
          exit.normal ? undefined : { cause: exit.error },
        ),
      );
      return;
    }
    const live = this.#slots.filter((s) => !s.deleted).map((s) => s.spec.id);
    const scope = restartScope(this.#strategy, live, slot.spec.id).map((id) => this.#slot(id));
    for (const s of scope.reverse()) {
      if (this.#isTerminal()) return;
      if (s !== slot && s.spec.restart === 'temporary' && s.everStarted) {
        // OTP terminates temporary siblings in a group restart and does not bring them back.
        s.state = 'stopped';
        s.deleted = true;
      } else {
        s.state = s.everStarted ? 'restarting' : 'starting';
      }
      await this.#stopSlot(s);
    }
  }

  async #stopSlot(slot: Slot): Promise<void> {
    const outcome = await slot.actor.stop();
    slot.handle = undefined;
    if (!outcome) return;
    const base = { supervisor: this.name, id: slot.spec.id };
    switch (outcome.kind) {
      case 'stopped':
        this.#emit({ type: 'child_stopped', ...base });
        return;
      case 'killed':
        this.#emit({ type: 'child_killed', ...base, afterMs: outcome.afterMs });
        return;
      case 'failed':
        this.#emit({ type: 'child_stop_failed', ...base, error: outcome.error });
        return;
    }
  }

  async #stopAllInReverse(): Promise<boolean> {
    for (const slot of [...this.#slots].reverse()) {
      if (this.#phase === 'killed') return false;
      await this.#stopSlot(slot);
      slot.state = 'stopped';
    }
    return this.#phase !== 'killed';
  }

  async #shutdown(): Promise<void> {
    if (this.#phase !== 'booting' && this.#phase !== 'running') return;
    this.#phase = 'stopping';
    if (!(await this.#stopAllInReverse())) return;
    this.#finish('stopped', new Error(`supervisor ${this.name} was stopped before all its children started`));
  }

  async #giveUp(error: GaveUpError): Promise<void> {
    if (this.#isTerminal() || this.#phase === 'giving_up') return;
    this.#phase = 'giving_up';
    if (!(await this.#stopAllInReverse())) return;
    this.#emit({ type: 'gave_up', supervisor: this.name, error });
    this.#finish('gave_up', error);
    this.#resolveGaveUp(error);
    // Escalation: to the parent this supervisor is a child that crashed.
    this.#parent?.crash(error);
  }

  #finish(phase: 'stopped' | 'gave_up' | 'killed', bootError: Error): void {
    this.#phase = phase;
    stopActor(this.#actor);
    if (this.#system) stopActor(this.#system);
    this.#boot?.reject(bootError);
    this.#resolveTerminated();
  }

  #active(): boolean {
    return (this.#phase === 'booting' || this.#phase === 'running') && !this.#stopRequested;
  }

  #isTerminal(): boolean {
    return this.#phase === 'stopped' || this.#phase === 'gave_up' || this.#phase === 'killed';
  }

  #slot(id: string): Slot {
    const slot = this.#slots.find((s) => s.spec.id === id);
    if (!slot) throw new Error(`no child ${id} in supervisor ${this.name}`);
    return slot;
  }

  #emit(event: SupervisorEvent): void {
    this.#sink(event);
  }
}

function validateSpecs(specs: readonly ChildSpec[]): void {
  if (!Array.isArray(specs)) throw new TypeError('children must be an array of child specs');
  const seen = new Set<string>();
  for (const spec of specs) {
    if (typeof spec?.id !== 'string' || spec.id === '')
      throw new TypeError('every child spec needs a non-empty string id');
    if (seen.has(spec.id)) throw new TypeError(`duplicate child id ${spec.id}`);
    seen.add(spec.id);
    if (typeof spec.start !== 'function') throw new TypeError(`child ${spec.id}: start must be a function`);
    if (!RESTART_TYPES.includes(spec.restart))
      throw new TypeError(`child ${spec.id}: unknown restart type ${String(spec.restart)}`);
    if (typeof spec.shutdownMs !== 'number' || !(spec.shutdownMs >= 0)) {
      throw new TypeError(`child ${spec.id}: shutdownMs must be a number >= 0 (or Infinity)`);
    }
  }
}

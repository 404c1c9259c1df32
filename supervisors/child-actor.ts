// The lifecycle of one child slot as a nact actor. Its mailbox orders start, stop and
// the component's own crash/exit reports, so a report from an old incarnation, or one
// that arrives while the supervisor is already stopping the child, is dropped here
// rather than restarting something twice.
import { dispatch, spawnSerial, type Ref } from './actors.js';
import { asError } from './errors.js';
import { linkContext } from './nesting.js';
import { stopWithin, forceKill, type StopOutcome } from './shutdown.js';
import type { Child, ChildContext, ChildSpec, SupervisorEvent } from './types.js';

export type Exit = { normal: true } | { normal: false; error: Error };

export type StartResult =
  | { ok: true; incarnation: number; handle: Child }
  /** `aborted`: the supervisor withdrew the start (shutdown), so it is no crash. */
  | { ok: false; error: Error; aborted: boolean };

type ChildMsg =
  | { type: 'start'; reply: (result: StartResult) => void }
  | { type: 'stop'; reply: (outcome: StopOutcome | undefined) => void }
  | { type: 'ended'; incarnation: number; exit: Exit };

export interface ChildActorOptions {
  spec: ChildSpec;
  /** Path of the owning supervisor, for ChildContext.supervisor. */
  supervisor: string;
  /** The supervisor's actor. */
  parent: Ref<unknown>;
  /** Event sink handed on to a nested supervisor. */
  emit: (event: SupervisorEvent) => void;
  /** The running incarnation crashed or exited on its own. Called from this actor's mailbox, once per incarnation. */
  onEnded: (incarnation: number, exit: Exit) => void;
}

export interface ChildActor {
  /** Resolves when the child is ready, or with the reason it did not start. Never rejects. */
  start(): Promise<StartResult>;
  /** Stops the current incarnation within its shutdownMs; undefined when none holds resources. */
  stop(): Promise<StopOutcome | undefined>;
  /** Out of band: withdraw a start in progress (its result is stopped and discarded). */
  abortStart(): void;
  /** Out of band: drop the current incarnation without waiting (the subtree is being killed). */
  killNow(): void;
}

interface Incarnation {
  n: number;
  handle: Child;
  controller: AbortController;
  ended: boolean;
  stopCalled: boolean;
  killed: boolean;
}

/** kill() at most once, and never a second stop() on a child whose stop() already hangs. */
function killIncarnation(inc: Incarnation): void {
  if (inc.killed) return;
  inc.killed = true;
  if (typeof inc.handle.kill === 'function' || !inc.stopCalled) {
    inc.stopCalled = true;
    forceKill(inc.handle);
  }
}

export function spawnChildActor(opts: ChildActorOptions): ChildActor {
  const slot = new ChildSlot(opts);
  return {
    start: () => new Promise<StartResult>((reply) => dispatch(slot.ref, { type: 'start', reply })),
    stop: () => new Promise<StopOutcome | undefined>((reply) => dispatch(slot.ref, { type: 'stop', reply })),
    abortStart: () => slot.abortStart(),
    killNow: () => slot.killNow(),
  };
}

/** The state of one child slot; its mailbox (receive) is the only way in but for the two out-of-band calls. */
class ChildSlot {
  readonly ref: Ref<ChildMsg>;
  private readonly spec: ChildSpec;
  private incarnations = 0;
  private current: Incarnation | undefined;
  /** Being stopped: a kill of the whole subtree must still reach it. */
  private stopping: Incarnation | undefined;
  private starting: AbortController | undefined;

  constructor(private readonly opts: ChildActorOptions) {
    this.spec = opts.spec;
    // receive() turns every failure of the component into a reply, so no fault can reach
    // nact here; the no-op only keeps nact's printing default policy out.
    this.ref = spawnSerial<ChildMsg>(
      opts.parent,
      this.spec.id,
      (msg) => this.receive(msg),
      () => undefined,
    );
  }

  private async receive(msg: ChildMsg): Promise<void> {
    switch (msg.type) {
      case 'start':
        msg.reply(await this.startIncarnation());
        return;
      case 'stop':
        msg.reply(await this.stopIncarnation());
        return;
      case 'ended':
        this.ended(msg.incarnation, msg.exit);
        return;
    }
  }

  private async startIncarnation(): Promise<StartResult> {
    const { spec } = this;
    const n = ++this.incarnations;
    const controller = new AbortController();
    this.starting = controller;
    const ctx = this.context(n, controller.signal);
    let handle: Child;
    try {
      handle = await spec.start(ctx);
      if (handle === null || typeof handle !== 'object' || typeof handle.stop !== 'function') {
        throw new TypeError(`start() of child ${spec.id} did not resolve to an object with stop()`);
      }
    } catch (err) {
      const aborted = controller.signal.aborted;
      controller.abort();
      return { ok: false, error: asError(err), aborted };
    } finally {
      this.starting = undefined;
    }
    if (controller.signal.aborted) {
      // Became unwanted while starting: release it now, nobody will stop it later.
      await stopWithin(handle, spec.shutdownMs);
      return {
        ok: false,
        error: new Error(`start of ${spec.id} withdrawn: supervisor is shutting down`),
        aborted: true,
      };
    }
    this.current = { n, handle, controller, ended: false, stopCalled: false, killed: false };
    return { ok: true, incarnation: n, handle };
  }

  /** What incarnation `n` is given: its reports go through the mailbox, so one made during start() is handled after it. */
  private context(n: number, signal: AbortSignal): ChildContext {
    const ctx: ChildContext = {
      id: this.spec.id,
      supervisor: this.opts.supervisor,
      signal,
      crash: (err: unknown) =>
        dispatch(this.ref, { type: 'ended', incarnation: n, exit: { normal: false, error: asError(err) } }),
      exit: () => dispatch(this.ref, { type: 'ended', incarnation: n, exit: { normal: true } }),
    };
    linkContext(ctx, { parentActor: this.ref, emit: this.opts.emit });
    return ctx;
  }

  private async stopIncarnation(): Promise<StopOutcome | undefined> {
    const inc = this.current;
    if (!inc) return undefined;
    this.current = undefined;
    this.stopping = inc;
    inc.controller.abort();
    inc.stopCalled = true;
    try {
      return await stopWithin(
        { stop: () => inc.handle.stop(), kill: () => killIncarnation(inc) },
        this.spec.shutdownMs,
      );
    } finally {
      if (this.stopping === inc) this.stopping = undefined;
    }
  }

  private ended(n: number, exit: Exit): void {
    const { current } = this;
    if (!current || current.n !== n || current.ended) return;
    // Keep the handle: the supervisor's stop releases it, in the order its strategy wants.
    current.ended = true;
    current.controller.abort();
    this.opts.onEnded(n, exit);
  }

  abortStart(): void {
    this.starting?.abort();
  }

  killNow(): void {
    this.starting?.abort();
    for (const inc of [this.current, this.stopping]) {
      if (!inc) continue;
      inc.controller.abort();
      killIncarnation(inc);
    }
    this.current = undefined;
  }
}

// A simulated machine: one address, a process state (up, paused, down) and the
// applications bound to its ports. Membership is one such application; the store and DNS
// of later issues bind their own ports on the same hosts.
//
// A paused host models a process that stops reading (GC, CPU stall, SIGSTOP): deliveries
// and its own timer wake-ups queue up in arrival order and all run, in that order, at the
// instant it resumes. A crashed host drops everything, and whatever was in flight to its
// former self is discarded (the epoch changes), even if it restarts at the same address.

import type { Endpoint } from '../../membership/core/outputs.js';
import type { Scheduler, ScheduledEvent } from './scheduler.js';

/** What the network and the clock can do to an application. */
export interface SimApp {
  datagram(now: number, from: Endpoint, payload: unknown): void;
  /** An inbound stream; the return value, if any, is sent back as the reply. */
  stream(now: number, from: Endpoint, payload: unknown): unknown;
  /** The reply to a stream this app opened. */
  streamReply(now: number, from: Endpoint, payload: unknown): void;
  /** The time this app asked to be woken at has come. */
  wake(now: number): void;
  /** When the app next wants wake() (Infinity for never). */
  nextDeadline(): number;
}

export type HostStatus = 'up' | 'paused' | 'down';

interface Slot {
  app: SimApp;
  wakeAt: number;
  wakeEvent: ScheduledEvent | undefined;
  /** A wake-up fired while paused and waits in the inbox: do not arm another. */
  wakeQueued: boolean;
}

export class SimHost {
  private status_: HostStatus = 'up';
  private readonly slots = new Map<number, Slot>();
  private inbox: (() => void)[] = [];
  private epoch_ = 0;
  private pausedUntil = -Infinity;
  private resumeEvent: ScheduledEvent | undefined;
  /**
   * How far this machine's clock is off the simulation's: its processes see now + skewMs.
   * Set at boot (a machine whose clock is wrong), as the daemon's clock is monotonic while
   * it runs and only differs between machines, or after a reboot.
   */
  private skew = 0;
  /**
   * How late this machine's timers fire: a real setTimeout never fires early and on a
   * busy host fires milliseconds late, which a core that schedules relative to the
   * instant it was woken must tolerate. Drawn per wake-up; the default fires at the
   * deadline exactly.
   */
  timerLate: () => number = () => 0;

  constructor(
    /** Stable identity of the machine across restarts (not an address). */
    readonly id: string,
    public addr: string,
    private readonly scheduler: Scheduler,
  ) {}

  get status(): HostStatus {
    return this.status_;
  }

  /** The time on this machine's clock. */
  get now(): number {
    return this.scheduler.now + this.skew;
  }

  get skewMs(): number {
    return this.skew;
  }

  /** Changes on every crash: lets in-flight replies to a former life be discarded. */
  get epoch(): number {
    return this.epoch_;
  }

  bind(port: number, app: SimApp): void {
    this.slots.set(port, { app, wakeAt: Infinity, wakeEvent: undefined, wakeQueued: false });
    this.touch(port);
  }

  app(port: number): SimApp | undefined {
    return this.slots.get(port)?.app;
  }

  /** Run `fn` as the process: now if up, at resume if paused, never if down. */
  deliver(fn: () => void): void {
    if (this.status_ === 'up') fn();
    else if (this.status_ === 'paused') this.inbox.push(fn);
  }

  /** Re-arm the wake-up of the app on `port` after something may have changed its deadline. */
  touch(port: number): void {
    const slot = this.slots.get(port);
    if (!slot || this.status_ === 'down' || slot.wakeQueued) return;
    const deadline = slot.app.nextDeadline();
    if (deadline === Infinity) return;
    if (slot.wakeEvent && !slot.wakeEvent.cancelled && slot.wakeAt <= deadline) return;
    if (slot.wakeEvent) slot.wakeEvent.cancelled = true;
    slot.wakeAt = deadline;
    slot.wakeEvent = this.scheduler.at(deadline - this.skew + this.timerLate(), () => {
      slot.wakeEvent = undefined;
      slot.wakeAt = Infinity;
      slot.wakeQueued = true;
      this.deliver(() => {
        slot.wakeQueued = false;
        if (this.slots.get(port) !== slot) return;
        // (deadline - skew) + skew can round to just below the deadline; an app woken
        // before its deadline does nothing and asks for the same wake-up, forever.
        slot.app.wake(Math.max(this.now, deadline));
        this.touch(port);
      });
    });
  }

  /** Stop processing for `ms` (extends a pause already running). */
  pause(ms: number): void {
    if (this.status_ === 'down') return;
    this.status_ = 'paused';
    const until = this.scheduler.now + ms;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    if (this.resumeEvent) this.resumeEvent.cancelled = true;
    this.resumeEvent = this.scheduler.at(until, () => this.resume());
  }

  resume(): void {
    if (this.status_ !== 'paused') return;
    this.status_ = 'up';
    this.pausedUntil = -Infinity;
    this.resumeEvent = undefined;
    const backlog = this.inbox;
    this.inbox = [];
    for (const fn of backlog) {
      if (this.status_ !== 'up') {
        // Paused or crashed again by something in the backlog: keep the rest for later.
        if (this.status_ === 'paused') this.inbox.push(fn);
        continue;
      }
      fn();
    }
    for (const port of this.slots.keys()) this.touch(port);
  }

  /** Kill the process: its apps and everything queued for it are gone. */
  crash(): void {
    if (this.status_ === 'down') return;
    this.status_ = 'down';
    this.epoch_++;
    this.inbox = [];
    if (this.resumeEvent) this.resumeEvent.cancelled = true;
    this.resumeEvent = undefined;
    this.pausedUntil = -Infinity;
    for (const slot of this.slots.values()) if (slot.wakeEvent) slot.wakeEvent.cancelled = true;
    this.slots.clear();
  }

  /** Boot again, possibly at a new address or with its clock set differently; the caller binds fresh apps. */
  restart(addr?: string, skewMs?: number): void {
    if (this.status_ !== 'down') this.crash();
    if (addr !== undefined) this.addr = addr;
    if (skewMs !== undefined) this.skew = skewMs;
    this.status_ = 'up';
  }

  /** Sets the clock offset of a machine that has not booted its apps yet. */
  setSkew(ms: number): void {
    if (this.slots.size > 0) throw new Error("set a host's clock skew before its apps start (or at restart)");
    this.skew = ms;
  }
}

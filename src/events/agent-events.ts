// The agent's events: user events (weft event) over membership's user broadcasts, and
// membership's own changes, given to the events.handlers of the config (one run at a time,
// in order, each with a timeout that kills its process group) and to `weft watch event`
// streams. The protocol (dedupe, limits, signatures) is membership/events/user-events.ts;
// this file is its thin edge: the clock, the socket, the processes.
import { randomUUID } from 'node:crypto';
import {
  identityEventAuth,
  UserEvents,
  EVENT_TAG,
  type Identity,
  type Membership,
  type MemberInfo,
  type UserEvent,
} from '../../membership/index.js';
import type { Logger } from '../log.js';
import { runHandler } from '../watch/handler.js';
import { handles, type EventHandler, type MemberEventName } from './handlers.js';

/** A user event as the API, the streams and the handlers show it (payload as UTF-8 text). */
export interface EventJson {
  /** This agent's delivery number, for a watch to resume after (with `boot`). */
  seq: number;
  boot: string;
  name: string;
  origin: string;
  lamport: number;
  payload: string;
}

/** Deliveries waiting for the handlers at most; beyond, they are dropped and logged. */
const MAX_PENDING_RUNS = 1000;
/** Deliveries kept for a watch that reconnects (same boot) to resume after the last it saw. */
const RECENT = 256;

const MEMBER_EVENT: Partial<Record<string, MemberEventName>> = {
  join: 'member-join',
  leave: 'member-leave',
  dead: 'member-failed',
  update: 'member-update',
};

export class AgentEvents {
  readonly boot = randomUUID();
  private seq = 0;
  private readonly recent: EventJson[] = [];
  private readonly subscribers = new Set<(e: EventJson) => void>();
  private core: UserEvents | undefined;
  private membership: Membership | undefined;
  private readonly pending: (() => Promise<void>)[] = [];
  private running = false;
  handlerRuns = 0;
  handlerFailures = 0;
  runsDropped = 0;

  constructor(
    private readonly handlers: () => EventHandler[],
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  get stats(): UserEvents | undefined {
    return this.core;
  }

  /** Follows a (re)started membership; returns the detach. */
  attach(m: Membership, self: string, identity: (() => Identity) | undefined): () => void {
    const core = (this.core = new UserEvents({ self, auth: identity ? identityEventAuth(identity) : undefined }));
    this.membership = m;
    const onUser = (data: Uint8Array) => {
      if (data[0] !== EVENT_TAG) return;
      const r = core.receive(Date.now(), data);
      if ('reject' in r) {
        if (r.reject !== 'duplicate')
          this.log.debug({ reason: r.reject, detail: r.detail }, `user event refused: ${r.reject}`);
        return;
      }
      m.broadcast(r.relay);
      const e = this.deliver(r.event);
      this.log.info({ event: e.name, origin: e.origin, lamport: e.lamport }, `user event ${e.name} from ${e.origin}`);
    };
    const onMember = (type: string) => (member: MemberInfo) => {
      const event = MEMBER_EVENT[type];
      if (event)
        this.runHandlers(
          event,
          { event, member: { name: member.name, addr: member.addr, port: member.port, state: member.state } },
          {},
        );
    };
    const memberListeners = Object.keys(MEMBER_EVENT).map((type) => [type, onMember(type)] as const);
    m.on('user', onUser);
    for (const [type, fn] of memberListeners) m.on(type, fn);
    return () => {
      m.off('user', onUser);
      for (const [type, fn] of memberListeners) m.off(type, fn);
      if (this.membership === m) this.membership = undefined;
    };
  }

  /** Fires a user event from this node; an error message for the caller when it is refused. */
  fire(name: string, payload: string): { event: EventJson } | { error: string; status: number } {
    if (!this.core || !this.membership) return { error: 'membership is not running; see /v1/status', status: 503 };
    const r = this.core.fire(Date.now(), name, Buffer.from(payload, 'utf8'));
    if ('error' in r)
      return { error: r.error, status: r.reason === 'rate' ? 429 : r.reason === 'too_large' ? 413 : 400 };
    this.membership.broadcast(r.data);
    return { event: this.deliver(r.event) };
  }

  /** Deliveries from now on, after those with seq > `after` still held (when `boot` is this agent's). */
  subscribe(fn: (e: EventJson) => void, resume?: { boot: string; after: number }): () => void {
    if (resume && resume.boot === this.boot) for (const e of this.recent) if (e.seq > resume.after) fn(e);
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  private deliver(e: UserEvent): EventJson {
    const json: EventJson = {
      seq: ++this.seq,
      boot: this.boot,
      name: e.name,
      origin: e.origin,
      lamport: e.lamport,
      payload: Buffer.from(e.payload).toString('utf8'),
    };
    this.recent.push(json);
    if (this.recent.length > RECENT) this.recent.shift();
    for (const s of this.subscribers) s(json);
    this.runHandlers(
      'user',
      { event: 'user', ...json },
      { WEFT_EVENT_NAME: json.name, WEFT_EVENT_ORIGIN: json.origin, WEFT_EVENT_LAMPORT: String(json.lamport) },
    );
    return json;
  }

  /** Queues a run of every handler that takes this event, one run at a time, in order. */
  private runHandlers(event: MemberEventName | 'user', input: object, env: Record<string, string>): void {
    const name = (input as { name?: string }).name;
    for (const h of this.handlers().filter((x) => handles(x, event, name))) {
      if (this.pending.length >= MAX_PENDING_RUNS) {
        this.runsDropped++;
        this.log.warn(
          { on: h.on },
          `event handler run dropped: ${MAX_PENDING_RUNS} runs are waiting (a handler is slow or events flood)`,
        );
        continue;
      }
      this.pending.push(() => this.runOne(h, input, { ...env, WEFT_EVENT: event }));
    }
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) await next();
    } finally {
      this.running = false;
    }
  }

  private async runOne(h: EventHandler, input: object, env: Record<string, string>): Promise<void> {
    const r = await runHandler({ cmd: h.exec, input, env, timeoutMs: this.timeoutMs });
    this.handlerRuns++;
    if (r.ok) return;
    this.handlerFailures++;
    this.log.warn(
      { on: h.on, exec: h.exec, failure: r.failure, stderr: r.stderr.slice(-500) },
      `event handler for ${h.on} failed (${r.failure})`,
    );
  }
}

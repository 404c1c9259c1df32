// User events over HTTP, behind the API's token like every write:
//   POST /v1/event/<name>  body: {"payload": "text"} (or none)   fire a user event to every node
//   GET  /v1/event?watch=true[&name=PREFIX][&boot=ID&after=SEQ]  the events this node delivers,
//        as JSON lines; boot and after (from the last line seen) resume after it, when the
//        agent is the same one (a restarted agent has a new boot and delivers from now on)
import { followCounter } from '../../base/follow-counter.js';
import { EVENT_REJECTS } from '../../membership/index.js';
import { ApiError } from '../api.js';
import { AgentEvents } from '../events/agent-events.js';
import type { AgentContext } from './context.js';

export function registerEventRoutes(ctx: AgentContext): AgentEvents {
  const events = new AgentEvents(() => ctx.config.events.handlers, ctx.config.events.handlerTimeout, ctx.log);
  registerEventMetrics(ctx, events);

  ctx.api.route('POST', '/v1/event/:name', (req) => {
    const body = req.body as { payload?: unknown } | undefined;
    if (
      body !== undefined &&
      (typeof body !== 'object' ||
        body === null ||
        Array.isArray(body) ||
        Object.keys(body).some((k) => k !== 'payload'))
    ) {
      throw new ApiError(400, 'the body is {"payload": "text"} (or none)');
    }
    const payload = body?.payload ?? '';
    if (typeof payload !== 'string') throw new ApiError(400, 'payload must be a string (text; send JSON as text)');
    const r = events.fire(req.params.name ?? '', payload);
    if ('error' in r) throw new ApiError(r.status, r.error);
    ctx.log.info(
      { event: r.event.name, lamport: r.event.lamport, bytes: Buffer.byteLength(payload) },
      `user event ${r.event.name} fired`,
    );
    return { body: r.event };
  });

  ctx.api.route('GET', '/v1/event', (req) => {
    if (req.query.get('watch') !== 'true')
      throw new ApiError(400, 'user events are not stored: watch them with ?watch=true');
    const name = req.query.get('name') ?? '';
    const boot = req.query.get('boot');
    const after = Number(req.query.get('after') ?? '0');
    if (!Number.isSafeInteger(after) || after < 0)
      throw new ApiError(400, '?after= takes the seq of the last event seen');
    return {
      stream: (send) => events.subscribe((e) => e.name.startsWith(name) && send(e), boot ? { boot, after } : undefined),
    };
  });

  return events;
}

function registerEventMetrics(ctx: AgentContext, events: AgentEvents): void {
  const core = () => events.stats;
  followCounter(
    ctx.registry,
    'weft_user_events_delivered_total',
    'User events delivered to this node (fired here or received), each once',
    [],
    () => [[{}, core()?.delivered ?? 0]],
    core,
  );
  followCounter(
    ctx.registry,
    'weft_user_events_rejected_total',
    'User events not delivered, by reason (duplicate: a copy of one delivered)',
    ['reason'],
    () => {
      const c = core();
      return c ? EVENT_REJECTS.map((reason) => [{ reason }, c.rejected[reason]]) : [];
    },
    core,
  );
  followCounter(ctx.registry, 'weft_event_handler_runs_total', 'events.handlers runs, by result', ['result'], () => [
    [{ result: 'ok' }, events.handlerRuns - events.handlerFailures],
    [{ result: 'failed' }, events.handlerFailures],
    [{ result: 'dropped' }, events.runsDropped],
  ]);
}

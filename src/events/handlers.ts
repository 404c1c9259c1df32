// events.handlers: serf-style event handlers in the config file,
//   events:
//     handlers:
//       - { on: member-join, exec: /usr/local/bin/on-join }
//       - { on: "user:deploy", exec: "systemctl reload app" }
// `on` is member-join, member-leave, member-failed, member-update, user (every user event)
// or user:NAME (user events named NAME). A bad handler is a config error naming it.
import { EVENT_NAME, EVENT_NAME_DOC } from '../../membership/index.js';

export interface EventHandler {
  on: string;
  exec: string;
}

export const MEMBER_EVENTS = ['member-join', 'member-leave', 'member-failed', 'member-update'] as const;
export type MemberEventName = (typeof MEMBER_EVENTS)[number];

export const HANDLERS_DOC = `a list of handlers {on, exec}: on is ${MEMBER_EVENTS.join(', ')}, user or user:NAME; exec a shell command`;

const describe = (i: number, h: unknown) => `handler ${i + 1} (${(JSON.stringify(h) ?? String(h)).slice(0, 120)})`;

function checkOne(h: unknown, i: number): EventHandler | string {
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return `${describe(i, h)} is not {on, exec}`;
  const { on, exec, ...rest } = h as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) return `${describe(i, h)} has unknown field ${extra.join(', ')} (only on and exec)`;
  if (typeof exec !== 'string' || exec.trim() === '') return `${describe(i, h)} needs exec: the shell command to run`;
  if (typeof on !== 'string') return `${describe(i, h)} needs on: ${MEMBER_EVENTS.join(', ')}, user or user:NAME`;
  if ((MEMBER_EVENTS as readonly string[]).includes(on) || on === 'user') return { on, exec };
  if (on.startsWith('user:') && EVENT_NAME.test(on.slice(5))) return { on, exec };
  if (on.startsWith('user:')) return `${describe(i, h)}: the event name after user: must be ${EVENT_NAME_DOC}`;
  return `${describe(i, h)}: on "${on}" is not one of ${MEMBER_EVENTS.join(', ')}, user, user:NAME`;
}

/** The handlers from the config (a list, or its JSON text from a flag or the environment), or the first problem. */
export function parseHandlers(raw: unknown): { value: EventHandler[] } | { error: string } {
  let list = raw;
  if (typeof raw === 'string') {
    try {
      list = raw.trim() === '' ? [] : JSON.parse(raw);
    } catch {
      return { error: `${HANDLERS_DOC} (as JSON from a flag or the environment)` };
    }
  }
  if (!Array.isArray(list)) return { error: HANDLERS_DOC };
  const out: EventHandler[] = [];
  for (const [i, h] of list.entries()) {
    const r = checkOne(h, i);
    if (typeof r === 'string') return { error: `${HANDLERS_DOC}; ${r}` };
    out.push(r);
  }
  return { value: out };
}

/** Whether a handler's `on` takes this event (a member event's name, or user with its name). */
export function handles(h: EventHandler, event: MemberEventName | 'user', name?: string): boolean {
  if (event !== 'user') return h.on === event;
  return h.on === 'user' || h.on === `user:${name}`;
}

// What `weft watch` watches, as level-triggered state: each kind is one API listing turned
// into a map key -> value (as JSON text), and a change is the difference between the map the
// handler last saw and the one now. Diffing whole states, not replaying events, is what makes
// a reconnect resync exact: after any gap the handler gets what differs, once.

/** One change as the handler sees it on stdin. */
export interface WatchChange {
  op: 'put' | 'delete';
  key: string;
  value?: unknown;
}

/** key -> value as JSON text (compared as text: an equal rewrite is no change). */
export type Snapshot = Map<string, string>;

export interface WatchKind {
  /** The API listing of the current state. */
  path(prefix: string): string;
  /** The listing's entries under the prefix, as [key, value]. */
  entries(body: unknown, prefix: string): [string, unknown][];
  /** The agent's change stream that triggers a pass early, if the kind has one (else it is polled). */
  stream?(prefix: string): string;
}

type Body = Record<string, unknown>;
const list = (body: unknown, field: string): Body[] => {
  const v = (body as Body | null)?.[field];
  if (!Array.isArray(v)) throw new Error(`the agent's answer has no "${field}" list`);
  return v as Body[];
};

export const WATCH_KINDS: Record<string, WatchKind> = {
  kv: {
    path: (prefix) => `/v1/kv?prefix=${encodeURIComponent(prefix)}`,
    entries: (body) => list(body, 'entries').map((e) => [String(e.key), e.value]),
    stream: (prefix) => `/v1/kv?watch=true&prefix=${encodeURIComponent(prefix)}`,
  },
  service: {
    path: () => '/v1/services',
    // key service/node/id: one endpoint; its value is the endpoint as /v1/services shows it.
    entries: (body, prefix) =>
      list(body, 'services')
        .filter((s) => String(s.service).startsWith(prefix))
        .flatMap((s) =>
          (s.endpoints as Body[]).map((e): [string, unknown] => [
            `${String(s.service)}/${String(e.node)}/${String(e.id)}`,
            { service: s.service, ...e },
          ]),
        ),
  },
  members: {
    path: () => '/v1/members',
    // Incarnation and lastChange are left out: a refuted suspicion is no change to a handler.
    entries: (body, prefix) =>
      list(body, 'members')
        .filter((m) => String(m.name).startsWith(prefix))
        .map((m) => [String(m.name), { name: m.name, addr: m.addr, port: m.port, state: m.state, meta: m.meta }]),
  },
  vip: {
    path: () => '/v1/vips',
    entries: (body, prefix) =>
      list(body, 'vips')
        .filter((v) => String(v.vip).startsWith(prefix))
        .map((v) => [String(v.key), { vip: v.vip, addr: v.addr, port: v.port, proto: v.proto, backends: v.backends }]),
  },
};

export function snapshotOf(kind: WatchKind, body: unknown, prefix: string): Snapshot {
  return new Map(kind.entries(body, prefix).map(([k, v]) => [k, JSON.stringify(v)]));
}

/** What changed from `before` to `after`, in key order: puts of new or different values, deletes of keys gone. */
export function diffSnapshots(before: Snapshot, after: Snapshot): WatchChange[] {
  const changes: WatchChange[] = [];
  for (const [key, value] of after) {
    if (before.get(key) !== value) changes.push({ op: 'put', key, value: JSON.parse(value) as unknown });
  }
  for (const key of before.keys()) if (!after.has(key)) changes.push({ op: 'delete', key });
  return changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

// Tags and meta in the services API (issue 14): reading them from a register body, and the
// service listing with its ?tag= filter. The listing also shows each endpoint's DNS
// instance name, computed as every node's zone computes it (dns/instance-names.ts), so an
// operator sees what to ask DNS for.
//
//   GET /v1/services?tag=primary            endpoints carrying every tag given (tag=a&tag=b: both)
//   GET /v1/services/<service>?tag=primary  the same for one service (404 when it has none)
import { ApiError } from '../api.js';
import { InstanceNames } from '../../dns/instance-names.js';
import { metaProblem, tagProblem, tagsProblem, type EndpointExtras } from '../../records/endpoint-tags.js';
import { parseEndpointKey, parseEndpointRecord, type EndpointRecord, type PortSpec } from '../../records/schema.js';
import type { CheckRecord } from '../../records/checks.js';

/** The tags and meta of a register body, or an ApiError saying what is wrong. */
export function tagsFromBody(b: Record<string, unknown>): EndpointExtras {
  const out: EndpointExtras = {};
  if (b.tags !== undefined) {
    const p = tagsProblem(b.tags);
    if (p) throw new ApiError(400, p);
    if ((b.tags as string[]).length) out.tags = [...(b.tags as string[])];
  }
  if (b.meta !== undefined) {
    const p = metaProblem(b.meta);
    if (p) throw new ApiError(400, p);
    if (Object.keys(b.meta as object).length) out.meta = { ...(b.meta as Record<string, string>) };
  }
  return out;
}

/** The ?tag= values of a request, each checked. */
export function tagFilter(query: URLSearchParams): string[] {
  const tags = query.getAll('tag');
  for (const tag of tags) {
    const p = tagProblem(tag);
    if (p) throw new ApiError(400, `?tag=: ${p}`);
  }
  return tags;
}

export interface EndpointView {
  node: string;
  id: string;
  /** The endpoint's DNS name: <dns>.<service>.svc.<domain>. */
  dns: string;
  addrs: string[];
  ports: Record<string, PortSpec>;
  health: string;
  /** docker, api, or file (defined in `file`, src/service-files.ts). */
  source: string;
  file?: string;
  tags: string[];
  meta: Record<string, string>;
  checks?: CheckView[];
}

type CheckView = Pick<CheckRecord, 'name' | 'kind' | 'target' | 'status' | 'output'> & { interval: string };
const checkView = (c: CheckRecord): CheckView => ({
  name: c.name,
  kind: c.kind,
  target: c.kind === 'ttl' ? `${c.ttlMs} ms` : c.target,
  interval: `${c.intervalMs} ms`,
  status: c.status,
  output: c.output,
});

interface Row {
  key: string;
  node: string;
  id: string;
  rec: EndpointRecord;
}

/** Every live service and its endpoints, by name; only endpoints with every tag in `tags`, only `service` if given. */
export function listServices(
  records: Iterable<{ key: string; value: unknown; owner: string }>,
  tags: string[],
  service?: string,
) {
  const rows: Row[] = [];
  const names = new InstanceNames();
  for (const r of records) {
    const key = parseEndpointKey(r.key);
    const rec = parseEndpointRecord(r.value);
    if (!key || !rec || key.service !== rec.service || (service !== undefined && rec.service !== service)) continue;
    rows.push({ key: r.key, node: r.owner, id: key.id, rec });
    names.set(r.key, {
      service: rec.service,
      node: key.node,
      id: key.id,
      name: rec.name ?? key.id,
      tags: rec.tags ?? [],
    });
  }
  const services = new Map<string, EndpointView[]>();
  for (const { key, node, id, rec } of rows) {
    if (!tags.every((t) => rec.tags?.includes(t))) continue;
    const view: EndpointView = {
      node,
      id,
      dns: names.nameOf(key)!,
      addrs: rec.addrs,
      ports: rec.ports,
      health: rec.health,
      ...(rec.file !== undefined ? { source: 'file', file: rec.file } : { source: rec.source }),
      tags: rec.tags ?? [],
      meta: rec.meta ?? {},
      ...(rec.checks ? { checks: rec.checks.map(checkView) } : {}),
    };
    const list = services.get(rec.service);
    if (list) list.push(view);
    else services.set(rec.service, [view]);
  }
  return [...services].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, endpoints]) => ({ service: name, endpoints }));
}

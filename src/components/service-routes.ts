// Endpoints registered through the API, for processes that are not containers. They are
// this node's own records, like the registrar's (source "api", which the registrar never
// touches), so they leave DNS and the load balancer when this node dies. Ports and VIPs
// take the same text as the Docker labels: "8080/tcp", "web:80->8080".
//
//   GET    /v1/services[?tag=T]              every live service, its endpoints cluster-wide
//   GET    /v1/services/<service>[?tag=T]    one service
//   POST   /v1/services                      {"service", "id"?, "addrs"?, "ports"?, "vips"?, "tags"?, "meta"?, "checks"?}
//          (checks: checks/spec.ts; a field this version does not know is a 400, not silently dropped)
//   DELETE /v1/services/<service>/<id>       remove one of this node's API endpoints
import type { AgentContext } from './context.js';
import { ApiError } from '../api.js';
import {
  endpointKey,
  isServiceName,
  parseEndpointRecord,
  SERVICE_PREFIX,
  type EndpointRecord,
  type PortSpec,
  type VipBinding,
} from '../../records/schema.js';
import { listServices, tagFilter, tagsFromBody } from './service-tags.js';
import { defaultVipTarget, parsePortSpec, parseVipSpec } from '../../registrar/labels.js';
import type { MembershipHandle } from './membership-child.js';
import type { StoreHandle } from './store-child.js';
import { isIP } from 'node:net';
import { stampClaims } from '../../lb/claims.js';
import { hostAddresses, VipGuard } from '../../lb/vip-guard.js';
import { parseCheckSpecs } from '../../checks/index.js';
import { carryCheckStatus } from '../../records/checks.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function registerServiceRoutes(ctx: AgentContext, membership: MembershipHandle, store: StoreHandle): void {
  const running = () => {
    if (!store.current || !membership.current) throw new ApiError(503, 'the store is not running; see /v1/status');
    return { s: store.current, m: membership.current };
  };
  routeListServices(ctx, running);
  routeRegisterEndpoint(ctx, running);
  routeDeregisterEndpoint(ctx, running);
}

/** The running store and membership, or a 503 ApiError while they are not up. */
type Running = () => { s: NonNullable<StoreHandle['current']>; m: NonNullable<MembershipHandle['current']> };

function routeListServices(ctx: AgentContext, running: Running): void {
  // Tags: ?tag= filters, one service by name (service-tags.ts).
  ctx.api.route('GET', '/v1/services', (req) => ({
    body: { services: listServices(running().s.entries(SERVICE_PREFIX), tagFilter(req.query)) },
  }));
  ctx.api.route('GET', '/v1/services/:service', (req) => {
    const services = listServices(running().s.entries(SERVICE_PREFIX), tagFilter(req.query), req.params.service!);
    if (services.length === 0)
      throw new ApiError(
        404,
        `no live endpoint of service ${req.params.service}${req.query.has('tag') ? ' with those tags' : ''}`,
      );
    return { body: services[0] };
  });
}

function routeRegisterEndpoint(ctx: AgentContext, running: Running): void {
  ctx.api.route('POST', '/v1/services', async (req) => {
    const { s, m } = running();
    const { checkVip, refuseScript } = registrationRules(ctx, m);
    const rec = endpointFromBody(req.body, m.localMember().addr, checkVip, refuseScript);
    const id = (req.body as { id?: string }).id ?? rec.service;
    const key = endpointKey(rec.service, ctx.config.node.name, id);
    const prev = parseEndpointRecord(s.get(key, { view: 'all' })?.value);
    if (prev?.file !== undefined) throw new ApiError(409, definedInFile(rec.service, id, prev.file));
    rec.vips = stampClaims(rec.vips, prev?.vips, s, Date.now());
    // Re-registering with the same checks keeps what the checker found (records/checks.ts).
    if (rec.checks) rec.checks = carryCheckStatus(rec.checks, prev?.checks);
    const r = await s.put(key, rec as unknown as Parameters<typeof s.put>[1], { durable: true });
    // Registering an id again replaces the endpoint whole (ports and VIPs not given are gone):
    // said in the log and the answer, so nobody loses a port without being told.
    const what = `${rec.service}/${id}`;
    if (!prev)
      ctx.log.info(
        { service: rec.service, id, addrs: rec.addrs },
        `registered service endpoint ${what} at ${rec.addrs.join(', ')}`,
      );
    else if (r.changed)
      ctx.log.info(
        {
          service: rec.service,
          id,
          before: { addrs: prev.addrs, ports: prev.ports, vips: prev.vips.map(vipText) },
          after: { addrs: rec.addrs, ports: rec.ports, vips: rec.vips.map(vipText) },
        },
        `re-registered service endpoint ${what}: replaced its addresses, ports and VIPs with the ones given`,
      );
    return {
      status: prev ? 200 : 201,
      body: { service: rec.service, id, endpoint: rec, changed: r.changed, replaced: prev !== undefined },
    };
  });
}

function routeDeregisterEndpoint(ctx: AgentContext, running: Running): void {
  ctx.api.route('DELETE', '/v1/services/:service/:id', async (req) => {
    const { s } = running();
    const key = endpointKey(req.params.service!, ctx.config.node.name, req.params.id!);
    const current = parseEndpointRecord(s.get(key, { view: 'all' })?.value);
    if (!current)
      throw new ApiError(404, `this node has no endpoint ${req.params.id} of service ${req.params.service}`);
    if (current.file !== undefined)
      throw new ApiError(409, definedInFile(req.params.service!, req.params.id!, current.file));
    if (current.source !== 'api')
      throw new ApiError(
        409,
        `endpoint ${req.params.id} of ${req.params.service} comes from Docker; stop the container instead`,
      );
    await s.delete(key, { durable: true });
    ctx.log.info(
      { service: req.params.service, id: req.params.id },
      `deregistered service endpoint ${req.params.service}/${req.params.id}`,
    );
    return { body: { service: req.params.service, id: req.params.id, deleted: true } };
  });
}

/** Service files own their records (src/service-files.ts): the API does not change them behind the file's back. */
const definedInFile = (service: string, id: string, file: string) =>
  `endpoint ${id} of ${service} is defined in ${file}; change or remove it there, then run weft reload`;

/** What this agent refuses in a registration beyond its shape (the API's and the service files'). */
export function registrationRules(
  ctx: AgentContext,
  m: Pick<NonNullable<MembershipHandle['current']>, 'members'>,
): { checkVip: (vip: string) => string | undefined; refuseScript: string | undefined } {
  // A literal VIP on a special, foreign, member's or this host's address is refused here
  // as every load balancer would skip it (lb/vip-guard.ts).
  const guard = new VipGuard({ vipCidr: ctx.config.lb.vipCidr, allow: ctx.config.lb.vipAllow });
  const members = new Set(m.members().map((x) => x.addr));
  const local = hostAddresses();
  const refuseScript = ctx.config.checks.allowScripts
    ? undefined
    : 'script checks are off on this agent: they run commands on its host (turn on with checks.allowScripts)';
  return { checkVip: (vip) => guard.check(vip, { members, local })?.message, refuseScript };
}

/** What a register body may hold: anything else is refused by name, so a typo ("check") is not silently a service without checks. */
const BODY_FIELDS = ['service', 'id', 'addrs', 'ports', 'vips', 'tags', 'meta', 'checks'];

const vipText = (v: VipBinding) => `${v.vip}:${v.port}/${v.proto}->${v.targetPort}`;

/** The endpoint a POST body describes, or an ApiError naming the first thing wrong with it. `checkVip`: why a VIP is refused. */
export function endpointFromBody(
  body: unknown,
  nodeAddr: string,
  checkVip?: (vip: string) => string | undefined,
  refuseScript?: string,
): EndpointRecord {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError(
      400,
      'body must be {"service": "<name>", "id"?, "addrs"?, "ports"?, "vips"?, "tags"?, "meta"?, "checks"?}',
    );
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).find((k) => !BODY_FIELDS.includes(k));
  if (unknown !== undefined)
    throw new ApiError(400, `unknown field ${JSON.stringify(unknown)} (known: ${BODY_FIELDS.join(', ')})`);
  if (!isServiceName(b.service))
    throw new ApiError(400, `service ${JSON.stringify(b.service)} is not a DNS label: 1-63 of a-z, 0-9 and "-"`);
  if (b.id !== undefined && (typeof b.id !== 'string' || !ID.test(b.id)))
    throw new ApiError(400, `id ${JSON.stringify(b.id)}: 1-63 letters, digits, ".", "_" or "-"`);
  const addrs = b.addrs ?? [nodeAddr];
  if (!Array.isArray(addrs) || addrs.length === 0 || !addrs.every((a) => typeof a === 'string' && isIP(a) !== 0))
    throw new ApiError(400, "addrs must be a non-empty list of IP addresses (default: this node's address)");
  const ports: Record<string, PortSpec> = {};
  const portsIn = b.ports ?? {};
  if (typeof portsIn !== 'object' || portsIn === null || Array.isArray(portsIn))
    throw new ApiError(400, 'ports must be {"<name>": "<port>[/tcp|udp]"}');
  for (const [name, spec] of Object.entries(portsIn)) {
    const p = typeof spec === 'string' ? parsePortSpec(spec) : `"${String(spec)}" is not text`;
    if (typeof p === 'string') throw new ApiError(400, `port ${name}: ${p}`);
    ports[name] = p;
  }
  const vips: VipBinding[] = [];
  const vipsIn = b.vips ?? [];
  if (!Array.isArray(vipsIn))
    throw new ApiError(400, 'vips must be a list of "<vip>:<port>[/<proto>][-><targetPort>]"');
  for (const spec of vipsIn) {
    const v = typeof spec === 'string' ? parseVipSpec(spec) : `${JSON.stringify(spec)} is not text`;
    if (typeof v === 'string') throw new ApiError(400, `vip: ${v}`);
    const refused = checkVip?.(v.vip);
    if (refused) throw new ApiError(400, refused);
    // Without ->PORT, as for Docker labels: the one named port of its protocol, if just one.
    const ambiguous = spec.includes('->') ? undefined : defaultVipTarget(v, ports);
    if (ambiguous) throw new ApiError(400, `vip ${spec}: ${ambiguous}; write ${spec}->PORT`);
    vips.push(v);
  }
  const checks = b.checks === undefined ? [] : parseCheckSpecs(b.checks, { refuseScript });
  if (typeof checks === 'string') throw new ApiError(400, checks);
  const rec = parseEndpointRecord({
    service: b.service,
    addrs,
    ports,
    health: 'none',
    vips,
    source: 'api',
    ...tagsFromBody(b),
    ...(checks.length ? { checks: carryCheckStatus(checks, undefined) } : {}),
  });
  if (!rec) throw new ApiError(400, 'a port name is not a DNS label (1-63 of a-z, 0-9 and "-")');
  return rec;
}

// Endpoints registered through the API, for processes that are not containers. They are
// this node's own records, like the registrar's (source "api", which the registrar never
// touches), so they leave DNS and the load balancer when this node dies. Ports and VIPs
// take the same text as the Docker labels: "8080/tcp", "web:80->8080".
//
//   GET    /v1/services                      every live service, its endpoints cluster-wide
//   POST   /v1/services                      {"service", "id"?, "addrs"?, "ports"?, "vips"?}
//   DELETE /v1/services/<service>/<id>       remove one of this node's API endpoints
import type { AgentContext } from './context.js';
import { ApiError } from '../api.js';
import {
  endpointKey,
  isServiceName,
  parseEndpointKey,
  parseEndpointRecord,
  SERVICE_PREFIX,
  type EndpointRecord,
  type PortSpec,
  type VipBinding,
} from '../../records/schema.js';
import { defaultVipTarget, parsePortSpec, parseVipSpec } from '../../registrar/labels.js';
import type { MembershipHandle } from './membership-child.js';
import type { StoreHandle } from './store-child.js';
import { isIP } from 'node:net';
import { stampClaims } from '../../lb/claims.js';
import { hostAddresses, VipGuard } from '../../lb/vip-guard.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function registerServiceRoutes(ctx: AgentContext, membership: MembershipHandle, store: StoreHandle): void {
  const running = () => {
    if (!store.current || !membership.current) throw new ApiError(503, 'the store is not running; see /v1/status');
    return { s: store.current, m: membership.current };
  };

  ctx.api.route('GET', '/v1/services', () => {
    const services = new Map<
      string,
      { node: string; id: string; addrs: string[]; ports: Record<string, PortSpec>; health: string; source: string }[]
    >();
    for (const r of running().s.entries(SERVICE_PREFIX)) {
      const key = parseEndpointKey(r.key);
      const e = parseEndpointRecord(r.value);
      if (!key || !e || key.service !== e.service) continue;
      if (!services.has(e.service)) services.set(e.service, []);
      services
        .get(e.service)!
        .push({ node: r.owner, id: key.id, addrs: e.addrs, ports: e.ports, health: e.health, source: e.source });
    }
    return {
      body: {
        services: [...services]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([service, endpoints]) => ({ service, endpoints })),
      },
    };
  });

  ctx.api.route('POST', '/v1/services', async (req) => {
    const { s, m } = running();
    // A literal VIP on a special, foreign, member's or this host's address is refused here
    // as every load balancer would skip it (lb/vip-guard.ts).
    const guard = new VipGuard({ vipCidr: ctx.config.lb.vipCidr, allow: ctx.config.lb.vipAllow });
    const members = new Set(m.members().map((x) => x.addr));
    const local = hostAddresses();
    const rec = endpointFromBody(
      req.body,
      m.localMember().addr,
      (vip) => guard.check(vip, { members, local })?.message,
    );
    const id = (req.body as { id?: string }).id ?? rec.service;
    const key = endpointKey(rec.service, ctx.config.node.name, id);
    const prev = parseEndpointRecord(s.get(key, { view: 'all' })?.value);
    rec.vips = stampClaims(rec.vips, prev?.vips, s, Date.now());
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

  ctx.api.route('DELETE', '/v1/services/:service/:id', async (req) => {
    const { s } = running();
    const key = endpointKey(req.params.service!, ctx.config.node.name, req.params.id!);
    const current = parseEndpointRecord(s.get(key, { view: 'all' })?.value);
    if (!current)
      throw new ApiError(404, `this node has no endpoint ${req.params.id} of service ${req.params.service}`);
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

const vipText = (v: VipBinding) => `${v.vip}:${v.port}/${v.proto}->${v.targetPort}`;

/** The endpoint a POST body describes, or an ApiError naming the first thing wrong with it. `checkVip`: why a VIP is refused. */
export function endpointFromBody(
  body: unknown,
  nodeAddr: string,
  checkVip?: (vip: string) => string | undefined,
): EndpointRecord {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError(400, 'body must be {"service": "<name>", "id"?, "addrs"?, "ports"?, "vips"?}');
  const b = body as Record<string, unknown>;
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
  const rec = parseEndpointRecord({ service: b.service, addrs, ports, health: 'none', vips, source: 'api' });
  if (!rec) throw new ApiError(400, 'a port name is not a DNS label (1-63 of a-z, 0-9 and "-")');
  return rec;
}

// The VIP load balancer as a supervised child, after the store and before DNS (DNS answers
// VIP names with the addresses the LB computes). Stopping leaves the kernel rules in place,
// so traffic to VIPs keeps flowing across an agent restart; `weft agent --cleanup` removes them.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from './context.js';
import { LbDriver } from '../../lb/index.js';
import { stampClaims } from '../../lb/claims.js';
import { hostAddresses, VipGuard, type Refusal } from '../../lb/vip-guard.js';
import { ApiError } from '../api.js';
import { Registry } from '../metrics.js';
import { NODE_PREFIX, parseDeclaredVip, parseNodeRecord, vipKey } from '../../records/schema.js';
import { parseVipSpec } from '../../registrar/labels.js';
import type { StoreHandle } from './store-child.js';

export interface LbHandle {
  current?: LbDriver;
}

export function lbChild(ctx: AgentContext, store: StoreHandle, handle: LbHandle): ChildSpec {
  const { config, log } = ctx;
  registerVipRoutes(ctx, store, handle);
  // The kernel reads of the first start (process starts of nft and ip), begun now: they run
  // while membership and the store start. A restart reads again.
  const choice = config.lb.datapath;
  let early = choice === 'off' ? undefined : LbDriver.readKernel({ datapath: choice });
  return {
    id: 'lb',
    restart: 'permanent',
    shutdownMs: 5_000,
    async start() {
      if (!store.current) throw new Error('the load balancer needs the store, which is not running');
      const { datapath, vipCidr, vipCidr6, vipAllow, proxyCidr, affinity, policy, proxyWorkers } = config.lb;
      if (datapath === 'off')
        throw new Error('lb.datapath is off: the agent should not have started the load balancer');
      const registry = new Registry();
      const kernel = early;
      early = undefined;
      const lb = await LbDriver.start({
        source: store.current,
        datapath,
        vipCidr,
        vipCidr6: vipCidr6 || undefined,
        vipAllow,
        proxyCidr,
        affinity,
        policy,
        proxyWorkers,
        log: log.child({ component: 'lb' }),
        registry,
        kernel,
      });
      handle.current = lb;
      ctx.instanceRegistries.add(registry);
      return {
        async stop() {
          ctx.instanceRegistries.delete(registry);
          if (handle.current === lb) handle.current = undefined;
          await lb.stop();
        },
      };
    },
  };
}

/**
 *   GET    /v1/vips                      VIPs with their addresses and backends, as this node programs them
 *   POST   /v1/vips {"vip": "web:80/tcp"}  declare a VIP (a shared record; backends come from endpoints)
 *   DELETE /v1/vips/<vip>/<port>/<proto>
 */
function registerVipRoutes(ctx: AgentContext, store: StoreHandle, handle: LbHandle): void {
  ctx.api.route('GET', '/v1/vips', () => {
    if (!handle.current) throw new ApiError(503, 'the load balancer is not running; see /v1/status');
    return { body: handle.current.status() };
  });
  ctx.api.route('POST', '/v1/vips', async (req) => {
    if (!store.current) throw new ApiError(503, 'the store is not running; see /v1/status');
    const spec = (req.body as { vip?: unknown } | undefined)?.vip;
    if (typeof spec !== 'string') throw new ApiError(400, 'body must be {"vip": "<name or IP>:<port>[/tcp|udp]"}');
    const parsed = parseVipSpec(spec);
    if (typeof parsed === 'string') throw new ApiError(400, `vip: ${parsed}`);
    const refused = vipRefusal(ctx, store, handle, parsed.vip);
    if (refused) throw new ApiError(400, refused.message);
    const key = vipKey({ vip: parsed.vip, port: parsed.port, proto: parsed.proto });
    // Re-declaring keeps the claim it had; a new one takes the VIP's current claim, or now.
    const prev = parseDeclaredVip(store.current.get(key, { view: 'all' })?.value);
    const [vip] = stampClaims(
      [{ vip: parsed.vip, port: parsed.port, proto: parsed.proto }],
      prev ? [prev] : [],
      store.current,
      Date.now(),
    );
    const r = await store.current.put(key, vip, { shared: true, durable: true });
    // existed: the CLI says "already declared" rather than "declared" again.
    return { status: prev ? 200 : 201, body: { ...vip, changed: r.changed, existed: prev !== undefined } };
  });
  ctx.api.route('DELETE', '/v1/vips/:vip/:port/:proto', async (req) => {
    if (!store.current) throw new ApiError(503, 'the store is not running; see /v1/status');
    const vip = parseDeclaredVip({ vip: req.params.vip, port: Number(req.params.port), proto: req.params.proto });
    if (!vip) throw new ApiError(400, 'write /v1/vips/<name or IP>/<port>/<tcp|udp>');
    const deleted = await store.current.delete(vipKey(vip), { shared: true, durable: true });
    if (!deleted)
      throw new ApiError(
        404,
        `no declared VIP ${vip.vip}:${vip.port}/${vip.proto} (VIPs from container labels go with their containers)`,
      );
    return { body: { ...vip, deleted } };
  });
}

/**
 * Why a literal VIP may not be declared (issue 12, item 8): the running load balancer's
 * view (members, this node's addresses as its datapath sees them), else the config's ranges
 * with the members' node records and this host's addresses.
 */
export function vipRefusal(ctx: AgentContext, store: StoreHandle, handle: LbHandle, vip: string): Refusal | undefined {
  if (handle.current) return handle.current.refusal(vip);
  const members = new Set<string>();
  for (const r of store.current?.entries(NODE_PREFIX, { view: 'all' }) ?? []) {
    const n = parseNodeRecord(r.value);
    if (n) members.add(n.addr);
  }
  const { vipCidr, vipCidr6, vipAllow } = ctx.config.lb;
  return new VipGuard({ vipCidr, vipCidr6: vipCidr6 || undefined, allow: vipAllow }).check(vip, {
    members,
    local: hostAddresses(),
  });
}

// The VXLAN overlay as a supervised child (when overlay.enabled): this node's subnet lease
// and the kernel state for every live peer, reconciled from the store. Stopping leaves the
// configuration in place (containers keep their routes across an agent restart);
// `weft agent --cleanup` removes it.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from './context.js';
import { isIP } from 'node:net';
import { OverlayDriver } from '../../overlay/index.js';
import { ApiError } from '../api.js';
import { Registry } from '../metrics.js';
import type { StoreHandle } from './store-child.js';
import type { MembershipHandle } from './membership-child.js';

export interface OverlayHandle {
  current?: OverlayDriver;
}

export function overlayChild(
  ctx: AgentContext,
  membership: MembershipHandle,
  store: StoreHandle,
  handle: OverlayHandle,
): ChildSpec {
  const { config, log } = ctx;
  ctx.api.route('GET', '/v1/overlay', () => {
    if (!handle.current) throw new ApiError(503, 'the overlay is not running; see /v1/status');
    return { body: handle.current.status() };
  });
  return {
    id: 'overlay',
    restart: 'permanent',
    shutdownMs: 5_000,
    async start() {
      if (!store.current) throw new Error('the overlay needs the store, which is not running');
      const o = config.overlay;
      const registry = new Registry();
      const overlay = await OverlayDriver.start({
        store: store.current,
        node: config.node.name,
        cidr: o.cidr,
        subnetPrefix: o.subnetPrefix,
        vni: o.vni,
        port: o.port,
        underlay: o.underlay || underlayFromGossip(membership),
        bridge: o.bridge || false,
        log: log.child({ component: 'overlay' }),
        registry,
      });
      handle.current = overlay;
      ctx.instanceRegistries.add(registry);
      return {
        async stop() {
          ctx.instanceRegistries.delete(registry);
          if (handle.current === overlay) handle.current = undefined;
          await overlay.stop();
        },
      };
    },
  };
}

/**
 * The address this node gossips on is the one its peers reach it at: the natural underlay.
 * Loopback and unspecified addresses are not (then the overlay finds a route itself).
 */
function underlayFromGossip(membership: MembershipHandle): string | undefined {
  const addr = membership.current?.localMember().addr;
  if (!addr || isIP(addr) !== 4 || addr.startsWith('127.') || addr === '0.0.0.0') return undefined;
  return addr;
}

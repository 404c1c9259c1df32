// The VXLAN overlay as a supervised child (when overlay.enabled): this node's subnet lease
// and the kernel state for every live peer, reconciled from the store. Stopping leaves the
// configuration in place (containers keep their routes across an agent restart);
// `weft agent --cleanup` removes it.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from './context.js';
import { isIP } from 'node:net';
import {
  DockerNetworkKeeper,
  DockerodeNetworks,
  DEFAULTS as OVERLAY_DEFAULTS,
  dockerNetworkPlan,
  OverlayDriver,
  VXLAN_OVERHEAD,
  type DockerNetworkWant,
  type OverlayStatus,
} from '../../overlay/index.js';
import { importDockerode, resolveSocket } from '../../registrar/index.js';
import { ApiError } from '../api.js';
import { Registry } from '../metrics.js';
import type { StoreHandle } from './store-child.js';
import type { MembershipHandle } from './membership-child.js';
import type { DnsHandle } from './dns-child.js';
import { GatewayDns } from './gateway-dns.js';

export interface OverlayHandle {
  current?: OverlayDriver;
  /** The Docker network keeper, with overlay.docker, docker.enabled and a bridge. */
  docker?: DockerNetworkKeeper;
}

export function overlayChild(
  ctx: AgentContext,
  membership: MembershipHandle,
  store: StoreHandle,
  handle: OverlayHandle,
  dns: DnsHandle,
): ChildSpec {
  const { config, log } = ctx;
  ctx.api.route('GET', '/v1/overlay', () => {
    if (!handle.current) throw new ApiError(503, 'the overlay is not running; see /v1/status');
    return { body: { ...handle.current.status(), docker: handle.docker?.status() ?? null } };
  });
  return {
    id: 'overlay',
    restart: 'permanent',
    shutdownMs: 5_000,
    async start() {
      if (!store.current) throw new Error('the overlay needs the store, which is not running');
      const o = config.overlay;
      const registry = new Registry();
      let latest: OverlayStatus | undefined;
      const keeper = await dockerKeeper(ctx, () => latest);
      const gatewayDns = new GatewayDns(dns, log.child({ component: 'overlay' }));
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
        hostRules: o.bridge ? { setForwarding: o.setForwarding } : undefined,
        onPass: (st) => {
          latest = st;
          keeper?.request();
          gatewayDns.follow(st);
        },
      });
      latest = overlay.status();
      keeper?.start();
      handle.current = overlay;
      handle.docker = keeper;
      ctx.instanceRegistries.add(registry);
      return {
        async stop() {
          ctx.instanceRegistries.delete(registry);
          if (handle.current === overlay) handle.current = undefined;
          if (handle.docker === keeper) handle.docker = undefined;
          await keeper?.stop();
          await gatewayDns.stop();
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

/** The Docker network `weft` on the lease, when Docker and a bridge are on; undefined otherwise. */
async function dockerKeeper(
  ctx: AgentContext,
  status: () => OverlayStatus | undefined,
): Promise<DockerNetworkKeeper | undefined> {
  const { config, log } = ctx;
  if (!config.overlay.docker || !config.docker.enabled || !config.overlay.bridge) return undefined;
  // Loaded only here: a node without the Docker network never pays for dockerode.
  const Dockerode = await importDockerode();
  const docker = new Dockerode({ socketPath: resolveSocket(config.docker.socket || undefined).socket });
  return new DockerNetworkKeeper({
    engine: new DockerodeNetworks(docker),
    name: OVERLAY_DEFAULTS.dockerNetwork,
    want: () => wantedNetwork(status(), config.overlay.bridge),
    log: log.child({ component: 'overlay' }),
    everyMs: OVERLAY_DEFAULTS.reconcileEveryMs,
  });
}

/**
 * The network the lease asks for: its subnet, this bridge, the VXLAN device's MTU; none
 * (withdraw) once the lease is lost with no subnet free; undefined before either is known.
 */
export function wantedNetwork(st: OverlayStatus | undefined, bridge: string): DockerNetworkWant | undefined {
  if (st?.state === 'exhausted') return 'withdraw';
  if (st?.state !== 'held' || !st.lease || !st.underlay) return undefined;
  return dockerNetworkPlan({ subnet: st.lease.subnet, bridge, mtu: st.underlay.mtu - VXLAN_OVERHEAD });
}

// The Docker registrar as a supervised child: containers labelled weft.service become this
// node's endpoint records. Docker is optional: without an engine it is ready at once and
// keeps retrying in the background, so the rest of the agent never waits on Docker.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from './context.js';
import { Registrar } from '../../registrar/index.js';
import { ApiError } from '../api.js';
import { hostAddresses, VipGuard } from '../../lb/vip-guard.js';
import type { MembershipHandle } from './membership-child.js';
import type { StoreHandle } from './store-child.js';

export interface RegistrarHandle {
  current?: Registrar;
}

export function registrarChild(
  ctx: AgentContext,
  membership: MembershipHandle,
  store: StoreHandle,
  handle: RegistrarHandle,
): ChildSpec {
  const { config, log } = ctx;
  ctx.api.route('GET', '/v1/docker', () => {
    if (!handle.current) throw new ApiError(503, 'the Docker registrar is not running; see /v1/status');
    return { body: handle.current.status() };
  });
  return {
    id: 'registrar',
    restart: 'permanent',
    shutdownMs: 5_000,
    async start() {
      if (!store.current || !membership.current) throw new Error('the registrar needs the store, which is not running');
      const m = membership.current;
      const guard = new VipGuard({ vipCidr: config.lb.vipCidr, allow: config.lb.vipAllow });
      const registrar = await Registrar.start({
        node: config.node.name,
        nodeAddr: m.localMember().addr,
        // A weft.vip label on a loopback, member's or this host's address is a bad label (lb/vip-guard.ts).
        checkVip: (vip) =>
          guard.check(vip, { members: new Set(m.members().map((x) => x.addr)), local: hostAddresses() })?.message,
        containerScripts: config.checks.allowContainerScripts,
        store: store.current,
        socket: config.docker.socket || undefined,
        logger: log.child({ component: 'registrar' }),
        registry: ctx.registry,
      });
      handle.current = registrar;
      return {
        async stop() {
          if (handle.current === registrar) handle.current = undefined;
          await registrar.stop();
        },
      };
    },
  };
}

// The DNS server as a supervised child, answering from the store's live view. It starts
// after the store and the load balancer (rest_for_one: a new store means a new zone). Ready once every listen
// address is bound; a bind failure (port 53 without privileges, address in use) is a
// start failure with a one-line reason.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from './context.js';
import { DnsServer } from '../../dns/index.js';
import { parseListenAddr } from '../config.js';
import { Registry } from '../metrics.js';
import type { StoreHandle } from './store-child.js';
import type { LbHandle } from './lb-child.js';

export interface DnsHandle {
  current?: DnsServer;
}

export function dnsChild(ctx: AgentContext, store: StoreHandle, lb: LbHandle, handle: DnsHandle): ChildSpec {
  const { config, log } = ctx;
  return {
    id: 'dns',
    restart: 'permanent',
    shutdownMs: 5_000,
    async start() {
      const source = store.current;
      if (!source) throw new Error('DNS needs the store, which is not running');
      const d = config.dns;
      const registry = new Registry();
      const server = await DnsServer.start({
        listen: d.listen.map((l) => parseListenAddr(l)!),
        domain: d.domain,
        ttlS: Math.max(0, Math.round(d.ttl / 1000)),
        nodeName: config.node.name,
        source,
        // VIP names resolve to the addresses the load balancer computes (absent with lb off).
        vips: lb.current?.dnsVips,
        forward: d.forward,
        upstreams: d.upstreams.length ? d.upstreams : undefined,
        recursionAllow: d.recursionAllow,
        // `overlay` in recursionAllow: the overlay's containers are this node's clients only when it runs.
        overlayCidr: config.overlay.enabled ? config.overlay.cidr : undefined,
        rateLimit: { ratePerS: d.rateLimit, slip: d.rateLimitSlip, exempt: d.rateLimitExempt },
        workers: d.workers,
        log: log.child({ component: 'dns' }),
        registry,
      });
      handle.current = server;
      ctx.instanceRegistries.add(registry);
      ctx.listening.set(
        'dns',
        server.addresses.map((a) => (a.addr.includes(':') ? `[${a.addr}]:${a.port}` : `${a.addr}:${a.port}`)).join(' '),
      );
      return {
        async stop() {
          ctx.instanceRegistries.delete(registry);
          ctx.listening.delete('dns');
          if (handle.current === server) handle.current = undefined;
          await server.stop();
        },
      };
    },
  };
}

// The HTTP API as a supervised child: listening means ready; stop closes every connection.
// Tokens are read at each start, so a restarted API picks up a rewritten token file.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from './context.js';
import { allowedHosts, hostOf } from '../api-access.js';
import { resolveApiTokens } from '../api-tokens.js';

export function apiChild(ctx: AgentContext): ChildSpec {
  return {
    id: 'api',
    restart: 'permanent',
    shutdownMs: 5_000,
    async start() {
      const { api, gossip, node } = ctx.config;
      const tokens = resolveApiTokens(api);
      for (const w of tokens.warnings) ctx.log.warn(w);
      const advertised = gossip.advertiseAddr ? (hostOf(gossip.advertiseAddr) ?? gossip.advertiseAddr) : '';
      const hosts = allowedHosts({
        apiAddr: api.addr,
        nodeName: node.name,
        addrs: [gossip.bindAddr, advertised].filter(Boolean),
        extra: api.allowedHosts,
      });
      const bound = await ctx.api.listen(api.addr, api.port, {
        access: { hosts, token: tokens.token, readToken: tokens.readToken },
        limits: {
          maxConnections: api.maxConnections,
          maxConnectionsPerClient: api.maxConnectionsPerClient,
          maxWatches: api.maxWatches,
        },
      });
      const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
      ctx.listening.set('api', `http://${host}:${bound.port}`);
      if (!tokens.token)
        ctx.log.debug('the API takes no token (api.tokenFile is unset): anyone who can reach it may use it');
      return { stop: () => ctx.api.close() };
    },
  };
}

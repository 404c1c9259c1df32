// The HTTP API as a supervised child: listening means ready; stop closes every connection.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from '../agent.js';

export function apiChild(ctx: AgentContext): ChildSpec {
  return {
    id: 'api',
    restart: 'permanent',
    shutdownMs: 5_000,
    async start() {
      const { addr, port } = ctx.config.api;
      const bound = await ctx.api.listen(addr, port);
      const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
      ctx.listening.set('api', `http://${host}:${bound.port}`);
      return { stop: () => ctx.api.close() };
    },
  };
}

// `weft service`: endpoints of processes that are not containers, through /v1/services.
import { API_FLAGS, parseFlags } from './args.js';
import { apiTarget, callApi, table } from './client.js';
import { UsageError } from './errors.js';

const HELP = `Usage: weft service <register|deregister|ls> [flags]

Register an endpoint of a service on this node, for a process that is not a container
(containers are registered from their Docker labels). The endpoint is this node's: it
leaves DNS and the load balancer when this node dies, and stays across agent restarts
when the agent has a data directory.

  weft service register NAME [--id ID] [--addr IP]... [--port NAME=PORT[/PROTO]]... [--vip 'VIP:PORT[/PROTO][->TARGET]']...
  weft service deregister NAME ID
  weft service ls                 every live service in the cluster and its endpoints

Flags:
  --id ID       endpoint id, unique on this node (default: the service name)
  --addr IP     the endpoint's address (default: this node's address); repeatable
  --port P      a named port for SRV, e.g. --port http=8080 or --port dns=53/udp; repeatable
  --vip V       a VIP this endpoint backs, e.g. --vip web:80 or --vip 'web:80->8080'
                (quote it: a shell reads > as a redirection); repeatable
  --api URL     agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --json        ls: print JSON
  -h, --help    this help`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'service',
    argv,
    {
      id: { type: 'string' },
      addr: { type: 'string', multiple: true },
      port: { type: 'string', multiple: true },
      vip: { type: 'string', multiple: true },
      ...API_FLAGS,
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  const [sub, ...args] = positionals;
  if (values.help || !sub) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const base = apiTarget(values);
  switch (sub) {
    case 'register': {
      if (args.length !== 1) throw new UsageError('usage: weft service register NAME [flags]; see weft service --help');
      const ports: Record<string, string> = {};
      for (const p of (values.port as string[] | undefined) ?? []) {
        const eq = p.indexOf('=');
        if (eq <= 0) throw new UsageError(`--port ${p}: write NAME=PORT[/PROTO], e.g. http=8080`);
        ports[p.slice(0, eq)] = p.slice(eq + 1);
      }
      const body = { service: args[0], id: values.id, addrs: values.addr, ports, vips: values.vip };
      const r = (await callApi(base, 'POST', '/v1/services', body)) as {
        service: string;
        id: string;
        endpoint: { addrs: string[] };
        replaced?: boolean;
      };
      console.log(
        r.replaced
          ? `replaced ${r.service}/${r.id}: now at ${r.endpoint.addrs.join(', ')}, with only the ports and VIPs given`
          : `registered ${r.service}/${r.id} at ${r.endpoint.addrs.join(', ')}`,
      );
      return 0;
    }
    case 'deregister': {
      if (args.length !== 2) throw new UsageError('usage: weft service deregister NAME ID');
      await callApi(base, 'DELETE', `/v1/services/${encodeURIComponent(args[0]!)}/${encodeURIComponent(args[1]!)}`);
      console.log(`deregistered ${args[0]}/${args[1]}`);
      return 0;
    }
    case 'ls':
    case 'list': {
      type Svc = {
        service: string;
        endpoints: {
          node: string;
          id: string;
          addrs: string[];
          ports: Record<string, { port: number; proto: string }>;
          health: string;
          source: string;
        }[];
      };
      const { services } = (await callApi(base, 'GET', '/v1/services')) as { services: Svc[] };
      if (values.json) {
        console.log(JSON.stringify(services, null, 2));
        return 0;
      }
      const rows = services.flatMap((s) =>
        s.endpoints.map((e) => [
          s.service,
          e.node,
          e.id,
          e.addrs.join(','),
          Object.entries(e.ports)
            .map(([n, p]) => `${n}=${p.port}/${p.proto}`)
            .join(','),
          e.health,
          e.source,
        ]),
      );
      console.log(table(['SERVICE', 'NODE', 'ID', 'ADDRESSES', 'PORTS', 'HEALTH', 'SOURCE'], rows));
      return 0;
    }
    default:
      throw new UsageError(`service: unknown subcommand "${sub}"; run weft service --help`);
  }
}

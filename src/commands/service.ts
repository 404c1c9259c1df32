// `weft service`: endpoints of processes that are not containers, through /v1/services.
import { API_FLAGS, noSubcommand, parseCommand } from './args.js';
import { apiTarget, callApi, table, type ApiTarget } from './client.js';
import { UsageError } from './errors.js';
import { CHECK_FLAGS, CHECK_HELP, CHECK_USAGE, checkCells, checksFromFlags, runTtlPush } from './service-checks.js';

const HELP = `Usage: weft service <register|deregister|ls|pass|warn|fail> [flags]

Register an endpoint of a service on this node, for a process that is not a container
(containers are registered from their Docker labels). The endpoint is this node's: it
leaves DNS and the load balancer when this node dies, and stays across agent restarts
when the agent has a data directory.

  weft service register NAME [--id ID] [--addr IP]... [--port NAME=PORT[/PROTO]]... [--vip 'VIP:PORT[/PROTO][->TARGET]']...
                        [--tag TAG]... [--meta KEY=VALUE]...
  weft service deregister NAME ID
  weft service ls [--tag TAG]...  every live service in the cluster and its endpoints (with --tag: only
                                  the endpoints carrying every tag given)
  weft service ls                 every live service in the cluster and its endpoints
${CHECK_USAGE}

Flags:
  --id ID       endpoint id, unique on this node (default: the service name)
  --addr IP     the endpoint's address (default: this node's address); repeatable
  --port P      a named port for SRV, e.g. --port http=8080 or --port dns=53/udp; repeatable;
                without NAME= it is named after the service (SRV _NAME._tcp.NAME.svc.<domain>)
  --vip V       a VIP this endpoint backs, e.g. --vip web:80 or --vip 'web:80->8080'
                (quote it: a shell reads > as a redirection); repeatable
  --tag T       register: a tag of the endpoint (a DNS label: T.NAME.svc.<domain> answers the
                endpoints tagged T); ls: only endpoints with this tag; repeatable
  --meta K=V    register: a key=value of the endpoint's metadata; repeatable
${CHECK_HELP}
  --api URL     agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --json        ls: print JSON
  -h, --help    this help`;

export async function run(argv: string[]): Promise<number> {
  return (await runTtlPush(HELP, argv)) ?? runService(argv);
}

async function runService(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    HELP,
    'service',
    argv,
    {
      id: { type: 'string' },
      addr: { type: 'string', multiple: true },
      port: { type: 'string', multiple: true },
      vip: { type: 'string', multiple: true },
      tag: { type: 'string', multiple: true },
      meta: { type: 'string', multiple: true },
      ...CHECK_FLAGS,
      ...API_FLAGS,
      json: { type: 'boolean' },
    },
    true,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [sub, ...args] = positionals;
  if (!sub) return noSubcommand(HELP);
  const base = apiTarget(values);
  switch (sub) {
    case 'register':
      return registerEndpoint(base, args, values as RegisterFlags);
    case 'deregister':
      return deregisterEndpoint(base, args);
    case 'ls':
    case 'list':
      return list(base, values.tag as string[] | undefined, values.json === true);
    default:
      throw new UsageError(`service: unknown subcommand "${sub}"; run weft service --help`);
  }
}

type RegisterFlags = {
  id?: string;
  addr?: string[];
  port?: string[];
  vip?: string[];
  tag?: string[];
  meta?: string[];
} & Record<string, unknown>;

async function registerEndpoint(base: ApiTarget, args: string[], values: RegisterFlags): Promise<number> {
  if (args.length !== 1) throw new UsageError('usage: weft service register NAME [flags]; see weft service --help');
  // A port without NAME= is named after the service: SRV _NAME._tcp.NAME.svc.<domain>.
  const portFlags = (values.port ?? []).map((p) => (/^[0-9]/.test(p) ? `${args[0]}=${p}` : p));
  const ports = keyValues('port', portFlags, 'NAME=PORT[/PROTO], e.g. http=8080, or PORT[/PROTO]') ?? {};
  const meta = keyValues('meta', values.meta, 'KEY=VALUE, e.g. version=2');
  const body = {
    service: args[0],
    id: values.id,
    addrs: values.addr,
    ports,
    vips: values.vip,
    tags: values.tag,
    meta,
    checks: checksFromFlags(values),
  };
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

async function deregisterEndpoint(base: ApiTarget, args: string[]): Promise<number> {
  if (args.length !== 2) throw new UsageError('usage: weft service deregister NAME ID');
  await callApi(base, 'DELETE', `/v1/services/${encodeURIComponent(args[0]!)}/${encodeURIComponent(args[1]!)}`);
  console.log(`deregistered ${args[0]}/${args[1]}`);
  return 0;
}

/** Repeated --flag K=V as an object (undefined when none); the agent checks keys and values. */
function keyValues(flag: string, items: string[] | undefined, form: string): Record<string, string> | undefined {
  if (!items) return undefined;
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} ${item}: write ${form}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

type Svc = {
  service: string;
  endpoints: {
    node: string;
    id: string;
    addrs: string[];
    ports: Record<string, { port: number; proto: string }>;
    health: string;
    source: string;
    file?: string;
    tags?: string[];
    checks?: { name: string; status: string; output: string }[];
  }[];
};

/** weft service ls [--tag T]... [--json] */
async function list(base: ApiTarget, tags: string[] | undefined, json: boolean): Promise<number> {
  const { services } = (await callApi(base, 'GET', `/v1/services${tagQuery(tags)}`)) as { services: Svc[] };
  if (json) {
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
      // Where it came from: docker, api, or the definition file's path.
      e.file ?? e.source,
      (e.tags ?? []).join(','),
      ...checkCells(e.checks),
    ]),
  );
  console.log(
    table(['SERVICE', 'NODE', 'ID', 'ADDRESSES', 'PORTS', 'HEALTH', 'SOURCE', 'TAGS', 'CHECKS', 'CHECK OUTPUT'], rows),
  );
  return 0;
}

/** ?tag=a&tag=b for ls --tag. */
const tagQuery = (tags: string[] | undefined): string =>
  tags?.length ? '?' + tags.map((t) => `tag=${encodeURIComponent(t)}`).join('&') : '';

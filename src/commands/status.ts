import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget, callApi, table } from './client.js';

const HELP = `Usage: weft status [--api URL] [--json]

Show the status of a running agent: node, version, uptime, and each component's state.

Flags:
  --api URL   agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --json      print the raw JSON
  -h, --help  this help`;

interface StatusBody {
  node: string;
  version: string;
  uptimeS: number;
  components: { id: string; state: string; restarts: number }[];
  registrar?: { socket: string; connected: boolean; containers: number; lastError?: string } | null;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'status', argv, {
    ...API_FLAGS,
    json: { type: 'boolean' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const status = (await callApi(apiTarget(values), 'GET', '/v1/status')) as StatusBody;
  if (values.json) {
    console.log(JSON.stringify(status, null, 2));
    return 0;
  }
  console.log(`node ${status.node}  version ${status.version}  up ${status.uptimeS}s\n`);
  console.log(
    table(
      ['COMPONENT', 'STATE', 'RESTARTS'],
      status.components.map((c) => [c.id, c.state, String(c.restarts)]),
    ),
  );
  const r = status.registrar;
  if (r)
    console.log(
      `\ndocker: ${r.connected ? `connected at ${r.socket}, ${r.containers} container(s) registered` : `UNREACHABLE at ${r.socket}${r.lastError ? ` (${r.lastError})` : ''}: no container is registered from this node until it is back`}`,
    );
  return 0;
}

import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget, callApi } from './client.js';
import { CommandFailed, UsageError } from './errors.js';

const HELP = `Usage: weft join [--api URL] ADDR...

Ask a running agent to join the cluster of the members at ADDR (host:port of their gossip
port, 7946 by default). The agent keeps retrying seeds that do not answer.

Example:
  weft join 10.0.0.5:7946 10.0.0.6:7946

Flags:
  --api URL       agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  -h, --help      this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'join', argv, API_FLAGS, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError("usage: weft join ADDR... (host:port of a member's gossip port)");
  const seeds = positionals.map((a) => (/:\d+$/.test(a) ? a : `${a}:7946`));
  const { answered } = (await callApi(apiTarget(values), 'POST', '/v1/members/join', { seeds })) as {
    answered: number;
  };
  if (answered === 0)
    throw new CommandFailed(`none of ${seeds.join(', ')} answered; the agent keeps trying them (see weft members)`);
  console.log(`joined: ${answered} of ${seeds.length} seed(s) answered`);
  return 0;
}

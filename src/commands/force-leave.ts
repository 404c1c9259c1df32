import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget, callApi } from './client.js';
import { UsageError } from './errors.js';

const HELP = `Usage: weft force-leave [--api URL] NODE

Turn a failed member (dead) into a member that left, on every node, and drop its records
now instead of after gossip.reapAfter (24 h): for a node that will not come back. A member
that is alive or suspect is refused (it would refute); if NODE comes back later, it rejoins.

Flags:
  --api URL       agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  -h, --help      this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'force-leave', argv, API_FLAGS, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('usage: weft force-leave NODE');
  const node = positionals[0]!;
  const r = (await callApi(apiTarget(values), 'POST', `/v1/members/${encodeURIComponent(node)}/force-leave`)) as {
    incarnation: number;
  };
  console.log(
    `${node} (dead at incarnation ${r.incarnation}) is being removed: every node marks it left and drops its records`,
  );
  return 0;
}

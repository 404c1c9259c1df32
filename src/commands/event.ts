// `weft event NAME [PAYLOAD]`: fire a user event to every node's handlers (serf event).
import { MAX_EVENT_BYTES } from '../../membership/index.js';
import { API_FLAGS, parseCommand, readStdin } from './args.js';
import { apiTarget, callApi } from './client.js';
import { UsageError } from './errors.js';

const HELP = `Usage: weft event NAME [PAYLOAD]

Fires a user event: every node's handlers for it (events.handlers with on: user or
user:NAME, and \`weft watch event\`) run once, wherever it was fired. It spreads by gossip
within a second or so; a node that is down meanwhile misses it, as with serf.

  NAME      1-64 letters, digits, ".", "_", ":" or "-"
  PAYLOAD   text (JSON or anything); "-" reads it from stdin. Name and payload together
            are at most ${MAX_EVENT_BYTES} bytes, as serf's: for more, put the data in weft kv
            and send its key.

At most 10 events a second from one node (a burst of 50); each node drops the rest of a flood.

Flags:
  --api URL       agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  -h, --help      this help

Example:
  weft event deploy '{"app": "web", "version": "1.4.2"}'`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'event', argv, API_FLAGS, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length < 1 || positionals.length > 2)
    throw new UsageError('usage: weft event NAME [PAYLOAD]; run weft event --help');
  const [name, arg = ''] = positionals as [string, string?];
  const payload = arg === '-' ? await readStdin() : arg;
  const size = Buffer.byteLength(name) + Buffer.byteLength(payload);
  if (size > MAX_EVENT_BYTES)
    throw new UsageError(
      `event: name and payload are ${size} bytes; at most ${MAX_EVENT_BYTES} (put larger data in weft kv and send its key)`,
    );
  const r = (await callApi(apiTarget(values), 'POST', `/v1/event/${encodeURIComponent(name)}`, { payload })) as {
    name: string;
    lamport: number;
  };
  console.error(`fired ${r.name} (lamport ${r.lamport})`);
  return 0;
}

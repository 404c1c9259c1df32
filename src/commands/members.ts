import { API_FLAGS, parseFlags } from './args.js';
import { apiTarget, callApi, table } from './client.js';
import { UsageError } from './errors.js';
import { MEMBER_STATES } from '../../membership/validate.js';

const HELP = `Usage: weft members [--api URL] [--state STATE] [--json]

List the cluster members this agent knows: name, address, state, incarnation, metadata and
the time of the last change.

Flags:
  --api URL       agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --state STATE   only members in this state: alive, suspect, dead or left
  --json          print the raw JSON
  -h, --help      this help`;

interface MemberBody {
  name: string;
  addr: string;
  port: number;
  state: string;
  incarnation: number;
  meta: string;
  lastChange: string;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags('members', argv, {
    ...API_FLAGS,
    state: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const state = values.state as string | undefined;
  if (state !== undefined && !(MEMBER_STATES as readonly string[]).includes(state)) {
    throw new UsageError(`members: --state takes ${MEMBER_STATES.join(', ')}, not "${state}"`);
  }
  const { members } = (await callApi(apiTarget(values), 'GET', '/v1/members')) as { members: MemberBody[] };
  const shown = members
    .filter((m) => !values.state || m.state === values.state)
    .sort((a, b) => a.name.localeCompare(b.name));
  if (values.json) {
    console.log(JSON.stringify(shown, null, 2));
    return 0;
  }
  const addr = (m: MemberBody) => (m.addr.includes(':') ? `[${m.addr}]:${m.port}` : `${m.addr}:${m.port}`);
  console.log(
    table(
      ['NAME', 'ADDRESS', 'STATE', 'INCARNATION', 'LAST CHANGE', 'META'],
      shown.map((m) => [m.name, addr(m), m.state, String(m.incarnation), m.lastChange, m.meta]),
    ),
  );
  return 0;
}

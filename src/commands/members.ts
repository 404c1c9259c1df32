import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget, callApi, table } from './client.js';
import { UsageError } from './errors.js';
import { MEMBER_STATES } from '../../membership/validate.js';
import { parseNodeTagFilter } from '../node-meta.js';

const HELP = `Usage: weft members [--api URL] [--state STATE] [--tag KEY=VALUE]... [--json]

List the cluster members this agent knows: name, address, state, incarnation, node tags,
metadata and the time of the last change.

Flags:
  --api URL       agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --state STATE   only members in this state: alive, suspect, dead or left
  --tag K=V       only members whose node tags (node.tags, weft agent --tag) hold K=V, exactly
                  (not a regular expression, as serf's -tag is: role=web never matches
                  role=webserver); repeatable, all must hold
  --json          print the raw JSON
  -h, --help      this help`;

interface MemberBody {
  name: string;
  addr: string;
  port: number;
  state: string;
  incarnation: number;
  meta: string;
  tags?: Record<string, string>;
  lastChange: string;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'members', argv, {
    ...API_FLAGS,
    state: { type: 'string' },
    tag: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const state = values.state as string | undefined;
  if (state !== undefined && !(MEMBER_STATES as readonly string[]).includes(state)) {
    throw new UsageError(`members: --state takes ${MEMBER_STATES.join(', ')}, not "${state}"`);
  }
  const tags = (values.tag as string[] | undefined) ?? [];
  const filter = parseNodeTagFilter(tags);
  if (typeof filter === 'string') throw new UsageError(`members: --tag: ${filter}`);
  const query = tags.map((t) => `tag=${encodeURIComponent(t)}`).join('&');
  const { members } = (await callApi(apiTarget(values), 'GET', `/v1/members${query ? '?' + query : ''}`)) as {
    members: MemberBody[];
  };
  const shown = members
    .filter((m) => !values.state || m.state === values.state)
    .sort((a, b) => a.name.localeCompare(b.name));
  if (values.json) {
    console.log(JSON.stringify(shown, null, 2));
    return 0;
  }
  const addr = (m: MemberBody) => (m.addr.includes(':') ? `[${m.addr}]:${m.port}` : `${m.addr}:${m.port}`);
  const tagText = (m: MemberBody) =>
    Object.entries(m.tags ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  console.log(
    table(
      ['NAME', 'ADDRESS', 'STATE', 'INCARNATION', 'LAST CHANGE', 'TAGS', 'META'],
      shown.map((m) => [m.name, addr(m), m.state, String(m.incarnation), m.lastChange, tagText(m), m.meta]),
    ),
  );
  return 0;
}

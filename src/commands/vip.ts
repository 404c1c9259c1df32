// `weft vip`: virtual IPs, through /v1/vips.
import { API_FLAGS, noSubcommand, parseCommand } from './args.js';
import { apiTarget, callApi, table, type ApiTarget } from './client.js';
import { UsageError } from './errors.js';

const HELP = `Usage: weft vip <add|ls|rm> [flags]

A VIP is a name (given an address from lb.vipCidr, the same on every node) or an IP
inside lb.vipCidr or lb.vipAllow (never loopback, link-local, multicast, a member's or
this node's address), a port and a protocol. Its backends are the live endpoints bound to it, from containers'
weft.vip labels or \`weft service register --vip\`. DNS answers <name>.vip.<domain>.

  weft vip add VIP:PORT[/tcp|udp]     declare a VIP (it exists even before it has backends)
  weft vip rm VIP:PORT[/tcp|udp]      remove a declared VIP
  weft vip ls                         VIPs as this node programs them: address, backends

Flags:
  --api URL     agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --json        ls: print JSON
  -h, --help    this help`;

interface VipStatus {
  vip: string;
  addr?: string;
  port: number;
  proto: string;
  listen?: string;
  backends: string[];
  error?: string;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'vip', argv, { ...API_FLAGS, json: { type: 'boolean' } }, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [sub, ...args] = positionals;
  if (!sub) return noSubcommand(HELP);
  const base = apiTarget(values);
  switch (sub) {
    case 'add':
      return addVip(base, args);
    case 'rm':
      return removeVip(base, args);
    case 'ls':
    case 'list':
      return listVips(base, values.json === true);
    default:
      throw new UsageError(`vip: unknown subcommand "${sub}"; run weft vip --help`);
  }
}

async function addVip(base: ApiTarget, args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError('usage: weft vip add VIP:PORT[/tcp|udp]');
  const r = (await callApi(base, 'POST', '/v1/vips', { vip: args[0] })) as {
    vip: string;
    port: number;
    proto: string;
    existed?: boolean;
    changed?: boolean;
  };
  const name = `${r.vip}:${r.port}/${r.proto}`;
  console.log(
    !r.existed
      ? `declared ${name}`
      : r.changed
        ? `${name} was already declared: updated`
        : `${name} was already declared: unchanged`,
  );
  return 0;
}

async function removeVip(base: ApiTarget, args: string[]): Promise<number> {
  const m = args.length === 1 ? /^(\[[^\]]+\]|[^:]+):(\d+)(?:\/(tcp|udp))?$/.exec(args[0]!) : null;
  if (!m) throw new UsageError('usage: weft vip rm VIP:PORT[/tcp|udp]');
  const vip = m[1]!.replace(/^\[|\]$/g, '');
  await callApi(base, 'DELETE', `/v1/vips/${encodeURIComponent(vip)}/${m[2]}/${m[3] ?? 'tcp'}`);
  console.log(`removed ${args[0]}`);
  return 0;
}

async function listVips(base: ApiTarget, json: boolean): Promise<number> {
  const status = (await callApi(base, 'GET', '/v1/vips')) as {
    datapath: string;
    vips: VipStatus[];
    refused?: { key: string; error: string }[];
  };
  if (json) {
    console.log(JSON.stringify(status, null, 2));
    return 0;
  }
  console.log(`datapath: ${status.datapath}`);
  console.log(
    table(
      ['VIP', 'ADDRESS', 'LISTEN', 'BACKENDS', 'ERROR'],
      status.vips.map((v) => [
        `${v.vip}:${v.port}/${v.proto}`,
        v.addr ?? '-',
        v.listen ?? '-',
        v.backends.join(',') || '-',
        v.error ?? '',
      ]),
    ),
  );
  // VIPs in the store that this node refuses to program (a literal on a forbidden address).
  for (const r of status.refused ?? []) console.log(`refused ${r.key}: ${r.error}`);
  return 0;
}

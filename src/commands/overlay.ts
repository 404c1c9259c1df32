// `weft overlay`: this node's overlay lease, peers and programmed state, from /v1/overlay.
import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget, callApi, table } from './client.js';

const HELP = `Usage: weft overlay [--api URL] [--json]

Show this node's VXLAN overlay: its subnet lease, its underlay, and for every live peer the
route, neighbour and FDB entry the agent programs (the agent needs overlay.enabled).

Flags:
  --api URL     agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --json        print the raw JSON
  -h, --help    this help`;

interface OverlayStatus {
  node: string;
  state: string;
  cidr: string;
  lease: { subnet: string; vtep: { addr: string; mac: string } } | null;
  underlay: { addr: string; dev: string; mtu: number } | null;
  peers: { node: string; subnet: string; gateway: string; underlay: string; mac: string }[];
  skipped: { node: string; reason: string }[];
  reconciles: number;
  driftRepaired: number;
  applyFailures: number;
  forwarding?: boolean | null;
  hostRules?: { masquerade: boolean; dockerUser: string | null; setForwarding: boolean } | null;
  docker?: {
    name: string;
    verdict: string | null;
    subnet: string | null;
    gateway: string | null;
    containers: number;
    /** Times the network was recreated on a new subnet (the lease moved). */
    moved?: number;
    notReconnected: string[];
    /** Containers taken off while no subnet is held, put back once a lease returns. */
    parked?: string[];
  } | null;
}

/** The forwarding, host rules and Docker network lines. */
function hostLines(s: OverlayStatus): string[] {
  const out: string[] = [];
  const h = s.hostRules;
  const fwd = s.forwarding === null || s.forwarding === undefined ? '?' : s.forwarding ? 'on' : 'off';
  out.push(
    `ip_forward ${fwd} (setForwarding ${h ? String(h.setForwarding) : '-'}); masquerade ${h?.masquerade ? 'on' : '-'}; DOCKER-USER ${h?.dockerUser ?? '-'}`,
  );
  const d = s.docker;
  if (d)
    out.push(
      `docker network ${d.name || 'weft'}: ${d.verdict ?? '-'}; subnet ${d.subnet ?? '-'} gateway ${d.gateway ?? '-'} (DNS on :53); ${d.containers} container(s)${d.moved ? `; moved with the lease ${d.moved} time(s)` : ''}${d.notReconnected.length ? `; not reconnected: ${d.notReconnected.join(' ')}` : ''}${d.parked?.length ? `; taken off until a subnet is free: ${d.parked.join(' ')}` : ''}`,
    );
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'overlay', argv, { ...API_FLAGS, json: { type: 'boolean' } });
  if (!parsed) return 0;
  const { values } = parsed;
  const s = (await callApi(apiTarget(values), 'GET', '/v1/overlay')) as OverlayStatus;
  if (values.json) {
    console.log(JSON.stringify(s, null, 2));
    return 0;
  }
  console.log(
    `node ${s.node}: ${s.state}; lease ${s.lease?.subnet ?? '-'} of ${s.cidr}; underlay ${s.underlay ? `${s.underlay.addr} on ${s.underlay.dev} (mtu ${s.underlay.mtu})` : '-'}`,
  );
  for (const l of hostLines(s)) console.log(l);
  console.log(`reconciles ${s.reconciles}, drift repaired ${s.driftRepaired}, apply failures ${s.applyFailures}\n`);
  console.log(
    table(
      ['PEER', 'SUBNET', 'VTEP', 'UNDERLAY', 'MAC'],
      s.peers.map((p) => [p.node, p.subnet, p.gateway, p.underlay, p.mac]),
    ),
  );
  for (const k of s.skipped) console.log(`skipped ${k.node}: ${k.reason}`);
  return 0;
}

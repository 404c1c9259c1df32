// The dev cluster chaos may act on, and the only ways it acts: nft tables (and tc) inside
// the cluster's own namespaces, and the dev-cluster's control socket for processes. It
// refuses anything that does not look like a live `weft dev-cluster` it can verify, so a
// mistake in a policy can never reach another namespace or process on the machine.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Fault } from './planner.js';
import { CONFIG_KEYS } from '../config-schema.js';
import type { Mode } from './policy.js';
import { run } from '../../base/exec.js';

/** The dev-cluster's control socket, in its directory. */
export const CONTROL_SOCKET = 'control.sock';

export interface ClusterNode {
  name: string;
  addr: string;
  ns: string | null;
  pid: number | null;
  paused: boolean;
  api: string;
}

export interface DevCluster {
  dir: string;
  devCluster: number;
  subnet: number;
  netns: boolean;
  /** Added to every default port of the agents (loopback mode only; 0 in namespaces). */
  portOffset: number;
  control: string;
  nodes: ClusterNode[];
}

export class ChaosRefused extends Error {}

const defaultOf = (path: string): unknown => CONFIG_KEYS.find((k) => k.path === path)?.default;

/** The agent's default ports, from the table its flags and config keys come from. */
const DEFAULT_PORTS = {
  gossip: Number(defaultOf('gossip.bindPort')),
  store: Number(defaultOf('store.bindPort')),
  // The first DNS listener's "addr:port".
  dns: Number(
    String((defaultOf('dns.listen') as string[])[0])
      .split(':')
      .at(-1),
  ),
  api: Number(defaultOf('api.port')),
};

/** The agent's default ports, each plus a dev cluster's --port-offset. */
export function devPorts(offset: number): typeof DEFAULT_PORTS {
  const p = DEFAULT_PORTS;
  return { gossip: p.gossip + offset, store: p.store + offset, dns: p.dns + offset, api: p.api + offset };
}

/** The largest --port-offset: the highest default port stays a port. */
export const MAX_PORT_OFFSET = 65535 - Math.max(...Object.values(DEFAULT_PORTS));

/** What a dev cluster names its i-th agent (from 0): chaos accepts exactly this and nothing else. */
export function devNode(
  subnet: number,
  netns: boolean,
  i: number,
  portOffset = 0,
): { name: string; addr: string; ns: string | null; api: string } {
  const addr = `${netns ? 10 : 127}.${subnet}.0.${i + 1}`;
  const api = `http://${addr}:${devPorts(portOffset).api}`;
  return { name: `dev-${i + 1}`, addr, ns: netns ? `weft-dev-${subnet}-${i + 1}` : null, api };
}

export const MAX_DEV_NODES = 250;

/**
 * Reads and checks cluster.json of a running dev-cluster. The file is trusted for nothing:
 * every field must be exactly what `weft dev-cluster` writes, since its names and addresses
 * end up in nft scripts and namespace arguments (a forged subnet string once matched any
 * namespace through a RegExp).
 */
export function openCluster(dir: string): DevCluster {
  const file = join(dir, 'cluster.json');
  if (!existsSync(file))
    throw new ChaosRefused(
      `no dev cluster in ${dir} (no cluster.json): start one with \`weft dev-cluster --dir ${dir}\``,
    );
  const c = parseCluster(readFileSync(file, 'utf8'), dir);
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${c.devCluster}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  })();
  if (!cmdline.includes('dev-cluster'))
    throw new ChaosRefused(`the dev cluster of ${dir} (pid ${c.devCluster}) is not running`);
  return c;
}

function parseCluster(text: string, dir: string): DevCluster {
  const bad = (what: string) => new ChaosRefused(`${join(dir, 'cluster.json')} is not a dev cluster's: ${what}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const c = raw as Partial<Record<keyof DevCluster, unknown>>;
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  if (!isInt(c.devCluster, 1, 2 ** 22)) throw bad('devCluster is not a pid');
  if (!isInt(c.subnet, 1, 254)) throw bad('subnet is not an integer from 1 to 254');
  if (typeof c.netns !== 'boolean') throw bad('netns is not true or false');
  if (!Array.isArray(c.nodes) || c.nodes.length > MAX_DEV_NODES)
    throw bad(`nodes is not a list of at most ${MAX_DEV_NODES}`);
  // Absent in the file of a dev-cluster older than --port-offset: its agents are on the defaults.
  const portOffset = c.portOffset ?? 0;
  if (!isInt(portOffset, 0, c.netns ? 0 : MAX_PORT_OFFSET))
    throw bad(`portOffset is not an integer from 0 to ${c.netns ? 0 : MAX_PORT_OFFSET}`);
  const subnet = c.subnet;
  const netns = c.netns;
  const nodes = c.nodes.map((n: unknown, i): ClusterNode => {
    const want = devNode(subnet, netns, i, portOffset);
    const got = n as Partial<ClusterNode> | null;
    if (typeof got !== 'object' || got === null) throw bad(`node ${i + 1} is not an object`);
    for (const k of ['name', 'addr', 'ns', 'api'] as const) {
      if (got[k] !== want[k])
        throw bad(`node ${i + 1}'s ${k} is ${JSON.stringify(got[k])}, not ${JSON.stringify(want[k])}`);
    }
    if (got.pid !== null && !isInt(got.pid, 1, 2 ** 22)) throw bad(`node ${want.name}'s pid is not a pid`);
    if (typeof got.paused !== 'boolean') throw bad(`node ${want.name}'s paused is not true or false`);
    return { ...want, pid: got.pid ?? null, paused: got.paused };
  });
  // The socket is always the one in the directory chaos was pointed at, whatever the file says.
  return { dir, devCluster: c.devCluster, subnet, netns, portOffset, control: join(dir, CONTROL_SOCKET), nodes };
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** Asks the dev-cluster to act on one of its agents. */
export function controlNode(
  c: DevCluster,
  name: string,
  action: 'kill' | 'start' | 'restart' | 'pause' | 'resume',
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: c.control, method: 'POST', path: `/nodes/${encodeURIComponent(name)}/${action}`, timeout: 30_000 },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`dev-cluster refused ${action} ${name}: ${body}`)),
        );
      },
    );
    req.on('error', (e) =>
      reject(new Error(`cannot reach the dev cluster's control socket ${c.control}: ${e.message}`)),
    );
    req.end();
  });
}

const tableName = (f: Fault) => `weft-chaos-${f.id}`;

/** The nft script that makes a network fault inside one target's namespace. */
export function faultRules(c: DevCluster, f: Fault): string {
  const chains = (match: (dir: 'in' | 'out') => string[]) =>
    [
      `table inet ${tableName(f)} {`,
      '  chain input {',
      '    type filter hook input priority -10; policy accept;',
      ...match('in').map((r) => `    ${r}`),
      '  }',
      '  chain output {',
      '    type filter hook output priority -10; policy accept;',
      ...match('out').map((r) => `    ${r}`),
      '  }',
      '}',
      '',
    ].join('\n');
  if (f.mode === 'partition') {
    const addrs = c.nodes.filter((n) => f.others.includes(n.name)).map((n) => n.addr);
    return chains((d) => [`ip ${d === 'in' ? 'saddr' : 'daddr'} { ${addrs.join(', ')} } drop`]);
  }
  if (f.mode === 'drop') {
    const ports = f.ports.join(', ');
    const pct = Math.round(f.loss * 100);
    const when = pct >= 100 ? 'drop' : `numgen random mod 100 < ${pct} drop`;
    return chains(() => [
      `meta l4proto { tcp, udp } th dport { ${ports} } ${when}`,
      `meta l4proto { tcp, udp } th sport { ${ports} } ${when}`,
    ]);
  }
  throw new Error(`no nft rules for mode ${f.mode}`);
}

function nsOf(c: DevCluster, name: string): string {
  const n = c.nodes.find((x) => x.name === name);
  if (!c.netns || !n?.ns)
    throw new ChaosRefused('network faults need a dev cluster started with --netns (one namespace per agent)');
  return n.ns;
}

/** Runs a command inside the target's namespace; a failure to undo a fault that is already gone (its namespace went with a stopped cluster) is no failure. */
const inNs = (c: DevCluster, name: string, argv: string[], input?: string) =>
  run(argv, { netns: nsOf(c, name), input });
const undo = (p: Promise<unknown>) => p.catch(() => undefined);

type Action = (c: DevCluster, f: Fault, name: string) => Promise<unknown>;

/** Drop and partition: one nft table per fault in the target's namespace, deleted to heal. */
const nftFault: { inject: Action; heal: Action } = {
  inject: (c, f, n) => inNs(c, n, ['nft', '-f', '-'], faultRules(c, f)),
  heal: (c, f, n) => undo(inNs(c, n, ['nft', 'delete', 'table', 'inet', tableName(f)])),
};

/** What each mode does to one target, and how it is undone. */
const ACTIONS: Record<Mode, { inject: Action; heal: Action }> = {
  drop: nftFault,
  partition: nftFault,
  // netem is the only delay qdisc; kernels without CONFIG_NET_SCH_NETEM refuse it.
  latency: {
    inject: (c, f, n) =>
      inNs(c, n, ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${f.delayMs}ms`]).catch(
        (e: Error) => {
          throw new ChaosRefused(
            `latency needs tc netem, which this kernel refuses (${e.message}); use drop or partition`,
          );
        },
      ),
    heal: (c, _f, n) => undo(inNs(c, n, ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root'])),
  },
  pause: { inject: (c, _f, n) => controlNode(c, n, 'pause'), heal: (c, _f, n) => controlNode(c, n, 'resume') },
  kill: { inject: (c, _f, n) => controlNode(c, n, 'kill'), heal: (c, _f, n) => controlNode(c, n, 'start') },
};

export async function inject(c: DevCluster, f: Fault): Promise<void> {
  for (const name of f.targets) await ACTIONS[f.mode].inject(c, f, name);
}

export async function heal(c: DevCluster, f: Fault): Promise<void> {
  for (const name of f.targets) await ACTIONS[f.mode].heal(c, f, name);
}

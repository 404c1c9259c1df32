// The dev cluster chaos may act on, and the only ways it acts: nft tables (and tc) inside
// the cluster's own namespaces, and the dev-cluster's control socket for processes. It
// refuses anything that does not look like a live `weft dev-cluster` it can verify, so a
// mistake in a policy can never reach another namespace or process on the machine.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Fault } from './planner.js';

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
  control: string;
  nodes: ClusterNode[];
}

export class ChaosRefused extends Error {}

/** Reads and checks cluster.json of a running dev-cluster. */
export function openCluster(dir: string): DevCluster {
  const file = join(dir, 'cluster.json');
  if (!existsSync(file)) throw new ChaosRefused(`no dev cluster in ${dir} (no cluster.json): start one with \`weft dev-cluster --dir ${dir}\``);
  const c = JSON.parse(readFileSync(file, 'utf8')) as Omit<DevCluster, 'dir'>;
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${c.devCluster}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  })();
  if (!cmdline.includes('dev-cluster')) throw new ChaosRefused(`the dev cluster of ${dir} (pid ${c.devCluster}) is not running`);
  const prefix = c.netns ? `10.${c.subnet}.0.` : `127.${c.subnet}.0.`;
  const nsName = new RegExp(`^weft-dev-${c.subnet}-\\d+$`);
  for (const n of c.nodes) {
    if (!n.addr.startsWith(prefix)) throw new ChaosRefused(`node ${n.name} has address ${n.addr}, outside the dev cluster's ${prefix}0/24`);
    if (c.netns && (!n.ns || !nsName.test(n.ns))) throw new ChaosRefused(`node ${n.name}'s namespace ${n.ns} is not one a dev cluster makes`);
  }
  return { ...c, dir };
}

/** Asks the dev-cluster to act on one of its agents. */
export function controlNode(c: DevCluster, name: string, action: 'kill' | 'start' | 'pause' | 'resume'): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: c.control, method: 'POST', path: `/nodes/${encodeURIComponent(name)}/${action}`, timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`dev-cluster refused ${action} ${name}: ${body}`))));
    });
    req.on('error', (e) => reject(new Error(`cannot reach the dev cluster's control socket ${c.control}: ${e.message}`)));
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
    return chains(() => [`meta l4proto { tcp, udp } th dport { ${ports} } ${when}`, `meta l4proto { tcp, udp } th sport { ${ports} } ${when}`]);
  }
  throw new Error(`no nft rules for mode ${f.mode}`);
}

function inNs(ns: string, cmd: string, args: string[], input?: string): void {
  execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { input, stdio: ['pipe', 'ignore', 'pipe'] });
}

function nsOf(c: DevCluster, name: string): string {
  const n = c.nodes.find((x) => x.name === name);
  if (!c.netns || !n?.ns) throw new ChaosRefused('network faults need a dev cluster started with --netns (one namespace per agent)');
  return n.ns;
}

export async function inject(c: DevCluster, f: Fault): Promise<void> {
  for (const name of f.targets) {
    switch (f.mode) {
      case 'drop':
      case 'partition':
        inNs(nsOf(c, name), 'nft', ['-f', '-'], faultRules(c, f));
        break;
      case 'latency':
        // netem is the only delay qdisc; kernels without CONFIG_NET_SCH_NETEM refuse it.
        try {
          inNs(nsOf(c, name), 'tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${f.delayMs}ms`]);
        } catch (e) {
          throw new ChaosRefused(`latency needs tc netem, which this kernel refuses (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}); use drop or partition`);
        }
        break;
      case 'pause':
        await controlNode(c, name, 'pause');
        break;
      case 'kill':
        await controlNode(c, name, 'kill');
        break;
    }
  }
}

export async function heal(c: DevCluster, f: Fault): Promise<void> {
  for (const name of f.targets) {
    switch (f.mode) {
      case 'drop':
      case 'partition':
        try {
          inNs(nsOf(c, name), 'nft', ['delete', 'table', 'inet', tableName(f)]);
        } catch {
          // already gone (the namespace went with a stopped cluster)
        }
        break;
      case 'latency':
        try {
          inNs(nsOf(c, name), 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
        } catch {
          // already gone
        }
        break;
      case 'pause':
        await controlNode(c, name, 'resume');
        break;
      case 'kill':
        await controlNode(c, name, 'start');
        break;
    }
  }
}

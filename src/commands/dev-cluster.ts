// `weft dev-cluster`: N agents on this machine, for trying weft out and for tests.
// Loopback mode needs no privileges: agent i binds gossip and API on 127.0.<net>.i.
// Netns mode (root): each agent in its own network namespace, wired to a bridge in a hub
// namespace, so that links can be cut and delayed per node with ip/tc/nft.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from './args.js';
import { CommandFailed, UsageError } from './errors.js';
import { AGENT_NODE_FLAGS } from '../node-flags.js';

const HELP = `Usage: weft dev-cluster [--nodes N] [--netns] [--subnet X] [-- agent flags...]

Start N weft agents on this machine and join them into one cluster. Ctrl-C stops them all
gracefully. Each agent's log goes to <dir>/<name>.log.

Flags:
  --nodes N      number of agents (default 3, at most 250)
  --subnet X     loopback mode: agents use 127.X.0.1 .. 127.X.0.N (default 42)
  --netns        one network namespace per agent, on a bridge (needs root and ip);
                 agents get 10.X.0.1 .. 10.X.0.N inside them
  --dir DIR      where logs go (default: a new temp dir)
  -h, --help     this help
Flags after -- are passed to every agent (e.g. -- --preset local).`;

interface Node {
  name: string;
  addr: string;
  ns?: string;
  proc?: ChildProcess;
}

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

export async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const passThrough = dash === -1 ? [] : argv.slice(dash + 1);
  const { values } = parseFlags('dev-cluster', own, {
    nodes: { type: 'string' },
    subnet: { type: 'string' },
    netns: { type: 'boolean' },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const count = Number(values.nodes ?? 3);
  if (!Number.isInteger(count) || count < 1 || count > 250) throw new UsageError('dev-cluster: --nodes must be an integer from 1 to 250');
  const subnet = Number(values.subnet ?? 42);
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) throw new UsageError('dev-cluster: --subnet must be an integer from 1 to 254');
  const netns = values.netns === true;
  if (netns && process.getuid?.() !== 0) throw new CommandFailed('dev-cluster --netns needs root (it creates network namespaces); run it with sudo or drop --netns');
  const dir = (values.dir as string | undefined) ?? mkdtempSync(join(tmpdir(), 'weft-dev-'));

  const prefix = netns ? `10.${subnet}.0.` : `127.${subnet}.0.`;
  const nodes: Node[] = Array.from({ length: count }, (_, i) => ({ name: `dev-${i + 1}`, addr: prefix + (i + 1), ns: netns ? `weft-dev-${subnet}-${i + 1}` : undefined }));
  const hub = `weft-dev-${subnet}-hub`;

  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the dev cluster...');
    await Promise.all(nodes.map((n) => stopAgent(n)));
    if (netns) removeNamespaces(nodes, hub);
  };
  const signalled = new Promise<void>((resolve) => {
    const onSignal = () => void stopAll().then(resolve);
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  });

  try {
    if (netns) createNamespaces(nodes, hub);
    const seed = `${nodes[0]!.addr}:7946`;
    for (const [i, n] of nodes.entries()) {
      const args = [...AGENT_NODE_FLAGS, CLI, 'agent', '--node', n.name, '--bind', n.addr, '--bind-port', '7946', '--data-dir', join(dir, n.name), '--log-format', 'json', ...(i > 0 ? ['--join', seed] : []), ...passThrough];
      // In loopback mode each API gets its own address; inside a namespace 127.0.0.1 is its own.
      if (!netns) args.push('--api-addr', n.addr);
      n.proc = n.ns ? spawn('ip', ['netns', 'exec', n.ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const log = createWriteStream(join(dir, `${n.name}.log`));
      n.proc.stdout!.pipe(log);
      n.proc.stderr!.pipe(log);
      await waitReady(n);
    }
  } catch (e) {
    await stopAll();
    throw new CommandFailed(`dev-cluster: ${(e as Error).message}; logs in ${dir}`);
  }

  console.log(`dev cluster of ${count} agents is up; logs in ${dir}\n`);
  for (const n of nodes) {
    const members = n.ns ? `ip netns exec ${n.ns} weft members` : `weft members --api http://${n.addr}:8947`;
    console.log(`  ${n.name.padEnd(8)} gossip ${n.addr}:7946   ${members}`);
  }
  console.log('\nCtrl-C stops them all.');

  const exits = nodes.map((n) => new Promise<void>((r) => (n.proc!.exitCode !== null ? r() : n.proc!.once('exit', () => r()))));
  await Promise.race([Promise.all(exits), signalled]);
  await stopAll();
  return 0;
}

function waitReady(n: Node): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${n.name} was not ready within 20s`)), 20_000);
    n.proc!.stdout!.on('data', function onData(d: Buffer) {
      buf += d;
      if (buf.includes('weft agent ready')) {
        clearTimeout(timer);
        n.proc!.stdout!.off('data', onData);
        resolve();
      }
    });
    n.proc!.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${n.name} exited (${code}) before it was ready`));
    });
  });
}

async function stopAgent(n: Node): Promise<void> {
  const p = n.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function createNamespaces(nodes: Node[], hub: string): void {
  removeNamespaces(nodes, hub); // leftovers of a run that was killed
  ip('netns', 'add', hub);
  ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', hub, 'link', 'set', 'br0', 'up');
  nodes.forEach((n, i) => {
    ip('netns', 'add', n.ns!);
    ip('-n', hub, 'link', 'add', `p${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns!);
    ip('-n', hub, 'link', 'set', `p${i + 1}`, 'master', 'br0', 'up');
    ip('-n', n.ns!, 'addr', 'add', `${n.addr}/24`, 'dev', 'eth0');
    ip('-n', n.ns!, 'link', 'set', 'eth0', 'up');
    ip('-n', n.ns!, 'link', 'set', 'lo', 'up');
  });
}

function removeNamespaces(nodes: Node[], hub: string): void {
  for (const ns of [...nodes.map((n) => n.ns!), hub]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not there: nothing to remove
    }
  }
}

// `weft dev-cluster`: N agents on this machine, for trying weft out and for tests.
// Loopback mode needs no privileges: agent i binds gossip and API on 127.0.<net>.i.
// Netns mode (root): each agent in its own network namespace, wired to a bridge in a hub
// namespace, so that links can be cut and delayed per node with ip/tc/nft.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommand } from './args.js';
import { CommandFailed, UsageError } from './errors.js';
import { AGENT_NODE_FLAGS, agentEnv } from '../node-flags.js';
import {
  CONTROL_SOCKET,
  MAX_DEV_NODES,
  MAX_PORT_OFFSET,
  controlNode,
  devNode,
  devPorts,
  openCluster,
  type DevCluster,
} from '../chaos/cluster.js';

export const STATE_FILE = 'cluster.json';

const HELP = `Usage: weft dev-cluster [--nodes N] [--netns] [--subnet X] [--port-offset K] [-- agent flags...]
       weft dev-cluster restart NODE --dir DIR

Start N weft agents on this machine and join them into one cluster. Ctrl-C stops them all
gracefully. Each agent's log goes to <dir>/<name>.log.

Flags:
  --nodes N      number of agents (default 3, at most 250)
  --subnet X     loopback mode: agents use 127.X.0.1 .. 127.X.0.N (default 42)
  --port-offset K
                 loopback mode: every agent port below plus K (default 0), for a host
                 where another program holds one of them on all addresses (serf and
                 Consul take 7946 and 8600)
  --netns        one network namespace per agent, on a bridge (needs root and ip);
                 agents get 10.X.0.1 .. 10.X.0.N inside them
  --dir DIR      where logs go (default: a new temp dir)
  -h, --help     this help
Flags after -- are passed to every agent (e.g. -- --preset local).

Every agent listens on its own address: gossip :7946, store :7947, DNS :8600, API :8947
(in netns mode this machine reaches them through 10.X.0.254, and the ports are the
namespace's own). The directory holds
cluster.json and control.sock, through which \`weft chaos --cluster DIR\` injects faults.

When an agent dies (it crashed, or was killed), dev-cluster says so, with its exit status and
the last lines of its log; \`weft dev-cluster restart NODE --dir DIR\` (NODE: dev-2, or 2)
starts it again, as does a restart of one that runs.`;

interface Node {
  name: string;
  addr: string;
  ns?: string;
  args: string[];
  proc?: ChildProcess;
  paused?: boolean;
  /** dev-cluster itself stopped it (Ctrl-C, restart): its exit is no news. */
  stopping?: boolean;
  /** The last lines it wrote, for the report of its death. */
  tail: string[];
}

/** Lines of a dead agent's output shown with the news. */
const TAIL_LINES = 8;

// The script this process runs as: dist/src/cli.js in a checkout, dist/weft.cjs (the launcher) when packaged.
const CLI = process.argv[1]!;

/** The agents to start and each one's command line. */
function planNodes(
  count: number,
  subnet: number,
  netns: boolean,
  portOffset: number,
  dir: string,
  passThrough: string[],
): Node[] {
  const ports = devPorts(portOffset);
  const seed = `${devNode(subnet, netns, 0).addr}:${ports.gossip}`;
  return Array.from({ length: count }, (_, i) => {
    const { name, addr, ns } = devNode(subnet, netns, i);
    // Every agent on its own address: gossip, store, DNS and API. Docker is off unless asked
    // for (-- --docker true): N agents registering one engine's containers would all claim them.
    // On loopback the agents share one network stack, so the LB is the userspace one (N
    // agents programming one nft table would fight), each proxying on loopback addresses of
    // its own (127.X.i.0/24, beside the agents' 127.X.0.i); in namespaces each has its own.
    const lb = netns ? [] : ['--lb-datapath', 'userspace', '--proxy-cidr', `127.${subnet}.${i + 1}.0/24`];
    // In namespaces the agents bind 10.X.0.i, beyond loopback but inside this machine's own
    // namespaces: a dev cluster runs without keys or token, so it says --insecure.
    const open = netns ? ['--insecure'] : [];
    const args = [
      ...AGENT_NODE_FLAGS,
      CLI,
      'agent',
      '--node',
      name,
      '--bind',
      addr,
      '--bind-port',
      String(ports.gossip),
      '--store-port',
      String(ports.store),
      '--api-addr',
      addr,
      '--api-port',
      String(ports.api),
      '--dns-listen',
      `${addr}:${ports.dns}`,
      '--docker',
      'false',
      ...lb,
      ...open,
      '--data-dir',
      join(dir, name),
      '--log-format',
      'json',
      ...(i > 0 ? ['--join', seed] : []),
      ...passThrough,
    ];
    return { name, addr, ns: ns ?? undefined, args, tail: [] };
  });
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'restart') return restart(argv.slice(1));
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const passThrough = dash === -1 ? [] : argv.slice(dash + 1);
  const parsed = parseCommand(HELP, 'dev-cluster', own, {
    nodes: { type: 'string' },
    subnet: { type: 'string' },
    'port-offset': { type: 'string' },
    netns: { type: 'boolean' },
    dir: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const count = intFlag(values.nodes, 'nodes', 3, 1, MAX_DEV_NODES);
  const subnet = intFlag(values.subnet, 'subnet', 42, 1, 254);
  const netns = values.netns === true;
  const portOffset = intFlag(values['port-offset'], 'port-offset', 0, 0, MAX_PORT_OFFSET);
  if (netns && portOffset !== 0)
    throw new UsageError('dev-cluster: --port-offset is for loopback mode; with --netns every agent has its own ports');
  if (netns && process.getuid?.() !== 0)
    throw new CommandFailed(
      'dev-cluster --netns needs root (it creates network namespaces); run it with sudo or drop --netns',
    );
  const dir = (values.dir as string | undefined) ?? mkdtempSync(join(tmpdir(), 'weft-dev-'));
  mkdirSync(dir, { recursive: true });

  const nodes = planNodes(count, subnet, netns, portOffset, dir, passThrough);
  const hub = `weft-dev-${subnet}-hub`;
  const state = new ClusterState(dir, subnet, netns, portOffset, nodes);

  let stopping = false;
  let control: Server | undefined;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the dev cluster...');
    control?.close();
    try {
      await Promise.all(nodes.map((n) => stopAgent(n)));
    } finally {
      if (netns) removeNamespaces(nodes, hub, subnet);
      state.remove();
    }
  };
  const signalled = new Promise<void>((resolve) => {
    const onSignal = () => void stopAll().then(resolve);
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  });

  try {
    if (netns) createNamespaces(nodes, hub, subnet);
    for (const n of nodes) await startNode(n, dir, state);
    control = await serveControl(dir, nodes, state, () => stopping);
  } catch (e) {
    await stopAll();
    throw new CommandFailed(`dev-cluster: ${(e as Error).message}; logs in ${dir}`);
  }

  printClusterUp(dir, state.file, nodes, devPorts(portOffset));
  await signalled;
  return 0;
}

function intFlag(value: unknown, flag: string, fallback: number, min: number, max: number): number {
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`dev-cluster: --${flag} must be an integer from ${min} to ${max}`);
  return n;
}

function printClusterUp(dir: string, stateFile: string, nodes: Node[], ports: ReturnType<typeof devPorts>): void {
  console.log(`dev cluster of ${nodes.length} agents is up; logs in ${dir}; state in ${stateFile}\n`);
  for (const n of nodes)
    console.log(
      `  ${n.name.padEnd(8)} gossip ${n.addr}:${ports.gossip}   dns ${n.addr}:${ports.dns}   weft members --api http://${n.addr}:${ports.api}`,
    );
  console.log(`\n\`weft chaos --cluster ${dir} ...\` injects faults into it. Ctrl-C stops them all.`);
}

/**
 * cluster.json in the cluster's directory: what `weft chaos` may act on (and nothing
 * else): the namespaces and the current pid of each agent. Rewritten on every change.
 */
class ClusterState {
  readonly file: string;
  private warned = false;
  constructor(
    private readonly dir: string,
    private readonly subnet: number,
    private readonly netns: boolean,
    private readonly portOffset: number,
    private readonly nodes: Node[],
  ) {
    this.file = join(dir, STATE_FILE);
  }

  write(): void {
    const ports = devPorts(this.portOffset);
    const body = {
      devCluster: process.pid,
      subnet: this.subnet,
      netns: this.netns,
      portOffset: this.portOffset,
      control: join(this.dir, CONTROL_SOCKET),
      nodes: this.nodes.map((n) => ({
        name: n.name,
        addr: n.addr,
        ns: n.ns ?? null,
        pid: running(n) ? n.proc!.pid : null,
        paused: n.paused === true,
        api: `http://${n.addr}:${ports.api}`,
        dns: `${n.addr}:${ports.dns}`,
      })),
    };
    try {
      writeFileSync(this.file + '.tmp', JSON.stringify(body, null, 2));
      renameSync(this.file + '.tmp', this.file);
    } catch (e) {
      // The directory was removed under us (a test's temporary directory, an rm -rf): the
      // agents and namespaces must still be stopped and removed, so this is no reason to die.
      if (!this.warned) console.error(`dev-cluster: cannot write ${this.file}: ${(e as Error).message}`);
      this.warned = true;
    }
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}

const running = (n: Node) => n.proc !== undefined && n.proc.exitCode === null && n.proc.signalCode === null;

async function startNode(n: Node, dir: string, state: ClusterState): Promise<void> {
  const proc = (n.proc = n.ns
    ? spawn('ip', ['netns', 'exec', n.ns, process.execPath, ...n.args], {
        env: agentEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, n.args, { env: agentEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
  n.paused = false;
  n.stopping = false;
  n.tail = [];
  const logFile = join(dir, `${n.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  log.on('error', () => {}); // a removed directory loses the log, not the cluster
  proc.stdout!.pipe(log);
  proc.stderr!.pipe(log);
  const keep = (d: Buffer) => (n.tail = [...n.tail, ...String(d).split('\n').filter(Boolean)].slice(-TAIL_LINES));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  proc.once('exit', () => state.write());
  // An agent that dies before it is ready is news through waitReady's error, to whoever
  // started it; after that, a death is reported here.
  let ready = false;
  // 'close': after its output has ended, so the tail is complete.
  proc.once('close', (code, signal) => {
    if (ready && !n.stopping && n.proc === proc) reportDeath(n, code, signal, dir, logFile);
  });
  await waitReady(n);
  ready = true;
  state.write();
}

/**
 * The control socket: the only way `weft chaos` touches processes, so it can only ever
 * signal the agents this dev-cluster started.
 *   POST /nodes/<name>/kill | stop | start | pause | resume
 */
function serveControl(dir: string, nodes: Node[], state: ClusterState, stopping: () => boolean): Promise<Server> {
  const path = join(dir, CONTROL_SOCKET);
  rmSync(path, { force: true });
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/nodes\/([^/]+)\/(kill|stop|start|restart|pause|resume)$/.exec(req.url ?? '');
    const n = m && nodes.find((x) => x.name === decodeURIComponent(m[1]!));
    if (req.method !== 'POST' || !m || !n)
      return reply(404, { error: 'POST /nodes/<name>/kill|stop|start|restart|pause|resume' });
    if (stopping()) return reply(409, { error: 'the dev cluster is stopping' });
    const act = async (): Promise<unknown> => {
      switch (m[2]) {
        case 'kill':
          if (running(n)) await killAgent(n);
          break;
        case 'stop':
          await stopAgent(n);
          break;
        case 'start':
          if (!running(n)) await startNode(n, dir, state);
          break;
        case 'restart':
          await stopAgent(n);
          await startNode(n, dir, state);
          console.log(`${n.name} restarted`);
          break;
        case 'pause':
        case 'resume':
          if (!running(n)) throw new Error(`${n.name} is not running`);
          signalAgent(n, m[2] === 'pause' ? 'SIGSTOP' : 'SIGCONT');
          n.paused = m[2] === 'pause';
          break;
      }
      state.write();
      return { name: n.name, running: running(n), paused: n.paused === true };
    };
    act().then(
      (body) => reply(200, body),
      (e: Error) => {
        // A start that failed is news here too, as a death is: the agent's reason is in it.
        if (m[2] === 'start' || m[2] === 'restart') process.stderr.write(`\n${e.message}\n`);
        reply(409, { error: e.message });
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** The agent itself, not `ip netns exec` in front of it (which has exec'd into node: same pid). */
function signalAgent(n: Node, sig: NodeJS.Signals): void {
  process.kill(n.proc!.pid!, sig);
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
    // 'close': after its output has ended, so the tail holds the agent's last words.
    n.proc!.once('close', (code, signal) => {
      clearTimeout(timer);
      let why = startError(n.tail);
      // On loopback a port in use is one another program holds on every address (each agent
      // has an address of its own): the agent's advice (--bind-port...) is not a dev cluster's.
      const taken = why?.match(/^.*\b(?:port|address) \S+ is in use\b/)?.[0];
      if (taken && !n.ns) why = `${taken}: another program holds it on every address; add --port-offset K (e.g. 10000)`;
      reject(new Error(`${n.name} exited (${code ?? signal}) before it was ready${why ? `: ${why}` : ''}`));
    });
  });
}

/**
 * Why an agent did not start, from the last lines it wrote: the first error its log names
 * (the cause; later lines are its supervisor giving up on it), or the command line's own
 * `weft: ...` message (a flag or config error, before there is a log).
 */
function startError(tail: string[]): string | undefined {
  for (const line of tail) {
    if (line.startsWith('weft: ')) return line.slice('weft: '.length);
    try {
      const err = (JSON.parse(line) as { err?: unknown }).err;
      if (typeof err === 'string') return err;
    } catch {
      // not a log line
    }
  }
  return undefined;
}

/**
 * SIGKILL, answered once the agent has exited. A start that comes after must find it gone:
 * answered at once, a kill let a start find the agent not yet exited and do nothing, and
 * the agent stayed dead (the chaos soak in CI, whose heal came seconds after the kill).
 */
async function killAgent(n: Node): Promise<void> {
  const p = n.proc!;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await exited;
}

async function stopAgent(n: Node): Promise<void> {
  const p = n.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  n.stopping = true;
  if (n.paused) p.kill('SIGCONT');
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** An agent died that dev-cluster did not stop: say which, how, its last words, and how to restart it. */
function reportDeath(n: Node, code: number | null, signal: NodeJS.Signals | null, dir: string, logFile: string): void {
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const tail = n.tail.map((l) => `  | ${l.length > 300 ? `${l.slice(0, 300)}...` : l}`).join('\n');
  process.stderr.write(
    `\n${n.name} ${how}; the last lines of ${logFile}:\n${tail || '  (nothing)'}\nrestart it with: weft dev-cluster restart ${n.name} --dir ${dir}\n`,
  );
}

/** `weft dev-cluster restart NODE --dir DIR`: through the running dev-cluster's control socket. */
async function restart(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'dev-cluster', argv, { dir: { type: 'string' } }, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const dir = values.dir as string | undefined;
  if (positionals.length !== 1 || !dir)
    throw new UsageError('usage: weft dev-cluster restart NODE --dir DIR (the directory the dev cluster printed)');
  let c: DevCluster;
  try {
    c = openCluster(dir);
  } catch (e) {
    throw new CommandFailed((e as Error).message);
  }
  const want = positionals[0]!;
  const node = c.nodes.find((x) => x.name === want || x.name === `dev-${want}`);
  if (!node)
    throw new UsageError(
      `dev-cluster restart: no node "${want}" in ${dir}; it has ${c.nodes.map((x) => x.name).join(', ')}`,
    );
  await controlNode(c, node.name, 'restart').catch((e: Error) => {
    throw new CommandFailed(e.message);
  });
  console.log(`${node.name} restarted`);
  return 0;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function createNamespaces(nodes: Node[], hub: string, subnet: number): void {
  removeNamespaces(nodes, hub, subnet); // leftovers of a run that was killed
  ip('netns', 'add', hub);
  ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', hub, 'link', 'set', 'br0', 'up');
  // A leg from this namespace into the hub, so the APIs and DNS servers are reachable from
  // here at the agents' addresses (10.X.0.254 is ours).
  ip('link', 'add', rootLink(subnet), 'type', 'veth', 'peer', 'name', 'p0', 'netns', hub);
  ip('-n', hub, 'link', 'set', 'p0', 'master', 'br0', 'up');
  ip('addr', 'add', `10.${subnet}.0.254/24`, 'dev', rootLink(subnet));
  ip('link', 'set', rootLink(subnet), 'up');
  nodes.forEach((n, i) => {
    ip('netns', 'add', n.ns!);
    ip('-n', hub, 'link', 'add', `p${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns!);
    ip('-n', hub, 'link', 'set', `p${i + 1}`, 'master', 'br0', 'up');
    ip('-n', n.ns!, 'addr', 'add', `${n.addr}/24`, 'dev', 'eth0');
    ip('-n', n.ns!, 'link', 'set', 'eth0', 'up');
    ip('-n', n.ns!, 'link', 'set', 'lo', 'up');
  });
}

const rootLink = (subnet: number) => `weft-dev-${subnet}`;

function removeNamespaces(nodes: Node[], hub: string, subnet: number): void {
  try {
    ip('link', 'del', rootLink(subnet));
  } catch {
    // not there (deleting the hub namespace removes it too)
  }
  for (const ns of [...nodes.map((n) => n.ns!), hub]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not there: nothing to remove
    }
  }
}

// "Hosts" for overlay system tests and benches: network namespaces on one underlay
// segment, each with "containers" (more namespaces) to attach to the host's bridge.
//
//   hub ns:   br0 ── veth ── host ns i: eth0 192.168.77.(10+i)/24, ip_forward on
//   host ns:  <bridge> ── veth ── container ns: eth0 <addr>/<len>, default via the gateway
//
// Every namespace is named with a per-fixture prefix (pid and a counter), so test files
// can run at once. Traffic stays inside the namespaces. A container runs a small Node
// process ("prober"): a TCP echo server on PROBE_PORT and a line protocol on stdin to
// connect elsewhere, so a reachability check costs a round trip, not a process start.
// destroy() kills what the fixture started and deletes its namespaces (which removes
// every device in them); call it from t.teardown so it runs on failure too.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ownLeftover } from './leftovers.js';

export const UNDERLAY_PREFIX = '192.168.77.';
export const PROBE_PORT = 7000;

let counter = 0;

export function sh(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = execFile(cmd, args, { timeout: 20_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) c.stdin?.end(input);
  });
}

/** `ip -n ns -batch` of several lines, failing on the first error. */
const ipBatch = (ns: string | undefined, lines: string[]) =>
  sh('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], lines.join('\n') + '\n');

const PROBER = String.raw`
const net = require('node:net');
const port = Number(process.argv[1]);
net.createServer((s) => { s.on('data', (d) => { if (d.length < 64) s.write(d); }); s.on('error', () => {}); }).listen(port, '0.0.0.0', () => console.log('ready'));
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [id, host, p, ms] = line.split(' ');
  const t0 = Date.now();
  const s = net.connect({ host, port: Number(p) });
  let done = false;
  const end = (ok, why) => { if (done) return; done = true; clearTimeout(timer); s.destroy(); console.log(id + ' ' + (ok ? 'ok' : 'fail') + ' ' + (Date.now() - t0) + ' ' + (why || '')); };
  const timer = setTimeout(() => end(false, 'timeout'), Number(ms));
  s.on('connect', () => s.write('ping'));
  s.on('data', (d) => end(d.toString() === 'ping', 'echo'));
  s.on('error', (e) => end(false, e.code));
});
process.stdin.on('end', () => process.exit(0));
`;

export class Container {
  private proc: ChildProcess | undefined;
  private readonly waiting = new Map<string, (ok: boolean) => void>();
  private seq = 0;

  constructor(
    readonly ns: string,
    readonly addr: string,
    readonly host: Host,
  ) {}

  /** Starts the prober (echo server + connect requests). */
  async startProber(): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', this.ns, process.execPath, '-e', PROBER, String(PROBE_PORT)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.proc = p;
    const rl = createInterface({ input: p.stdout! });
    await new Promise<void>((resolve, reject) => {
      p.once('error', reject);
      p.once('exit', (code) => reject(new Error(`prober in ${this.ns} exited ${code}`)));
      rl.on('line', (line) => {
        if (line === 'ready') return resolve();
        const [id, verdict] = line.split(' ');
        this.waiting.get(id)?.(verdict === 'ok');
        this.waiting.delete(id);
      });
    });
  }

  /** One TCP connection to `addr`'s echo server: true if the echo came back within timeoutMs. */
  connect(addr: string, timeoutMs = 1000): Promise<boolean> {
    if (!this.proc?.stdin) throw new Error(`prober of ${this.ns} is not running`);
    const id = String(++this.seq);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc!.stdin!.write(`${id} ${addr} ${PROBE_PORT} ${timeoutMs}\n`);
    });
  }

  stop(): void {
    this.proc?.stdin?.end();
    this.proc?.kill('SIGKILL');
    this.proc = undefined;
  }
}

export class Host {
  readonly containers: Container[] = [];
  constructor(
    readonly fixture: Hosts,
    readonly index: number,
    readonly ns: string,
    readonly underlay: string,
  ) {}

  /** ip -n <host ns> ... */
  ip(...args: string[]): Promise<string> {
    return sh('ip', ['-n', this.ns, ...args]);
  }

  bridgeCmd(...args: string[]): Promise<string> {
    return sh('bridge', ['-n', this.ns, ...args]);
  }

  /**
   * A container on `bridge` (which must exist) at `addr`/`len` with `gateway` as default
   * route and `mtu` on its interface.
   */
  async addContainer(o: {
    bridge: string;
    addr: string;
    len: number;
    gateway: string;
    mtu: number;
    prober?: boolean;
  }): Promise<Container> {
    const ns = `${this.ns}c${this.containers.length}`;
    const hostSide = `c${this.containers.length}`;
    await sh('ip', ['netns', 'add', ns]);
    ownLeftover('netns', ns);
    this.fixture.namespaces.push(ns);
    const c = new Container(ns, o.addr, this);
    this.containers.push(c);
    this.fixture.containers.push(c);
    await ipBatch(this.ns, [
      `link add ${hostSide} mtu ${o.mtu} type veth peer name eth0 netns ${ns}`,
      `link set ${hostSide} master ${o.bridge} up`,
    ]);
    await ipBatch(ns, [
      'link set lo up',
      `link set eth0 mtu ${o.mtu} up`,
      `addr add ${o.addr}/${o.len} dev eth0`,
      `route add default via ${o.gateway}`,
    ]);
    if (o.prober !== false) await c.startProber();
    return c;
  }
}

export class Hosts {
  readonly prefix: string;
  readonly hub: string;
  readonly hosts: Host[] = [];
  readonly namespaces: string[] = [];
  readonly containers: Container[] = [];
  readonly processes: ChildProcess[] = [];

  private constructor() {
    this.prefix = `wo${process.pid % 100000}x${++counter}`;
    this.hub = `${this.prefix}hub`;
  }

  /** A hub and `n` hosts (more with addHost). */
  static async create(n: number): Promise<Hosts> {
    const f = new Hosts();
    try {
      await sh('ip', ['netns', 'add', f.hub]);
      ownLeftover('netns', f.hub);
      f.namespaces.push(f.hub);
      await ipBatch(f.hub, ['link set lo up', 'link add br0 type bridge', 'link set br0 up']);
      for (let i = 0; i < n; i++) await f.addHost();
    } catch (err) {
      await f.destroy();
      throw err;
    }
    return f;
  }

  async addHost(): Promise<Host> {
    const i = this.hosts.length + 1;
    const ns = `${this.prefix}h${i}`;
    await sh('ip', ['netns', 'add', ns]);
    ownLeftover('netns', ns);
    this.namespaces.push(ns);
    const host = new Host(this, i, ns, `${UNDERLAY_PREFIX}${10 + i}`);
    this.hosts.push(host);
    await ipBatch(this.hub, [`link add h${i} type veth peer name eth0 netns ${ns}`, `link set h${i} master br0 up`]);
    await ipBatch(ns, ['link set lo up', `addr add ${host.underlay}/24 dev eth0`, 'link set eth0 up']);
    await sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    return host;
  }

  /** Runs `cmd` in `ns`, tracked for destroy(). */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.processes.push(p);
    return p;
  }

  async destroy(): Promise<void> {
    for (const c of this.containers) c.stop();
    for (const p of this.processes) if (p.exitCode === null) p.kill('SIGKILL');
    // Anything still running in our namespaces was started by this fixture.
    for (const ns of this.namespaces) {
      const pids = (await sh('ip', ['netns', 'pids', ns]).catch(() => '')).split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of [...this.namespaces].reverse()) await sh('ip', ['netns', 'del', ns]).catch(() => {});
    this.namespaces.length = 0;
  }
}

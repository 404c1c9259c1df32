// Network namespaces for system tests and benches (root, `ip`): a hub namespace holding a
// bridge, and hosts, each a namespace with one veth to the bridge and an address on one
// /24. Everything made here is removed by destroy(), which t.teardown calls even when the
// test fails: processes first, then the namespaces (which takes their veths, routes and nft
// tables with them). Names carry the pid, so test files can run side by side.
//
// Also: a backend process (TCP server that names itself, UDP responder) and a client
// process driven over stdin, both real Node processes inside a host's namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { run } from '../../base/exec.js';
import { ownLeftover } from './leftovers.js';

export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

let labs = 0;

export interface Host {
  ns: string;
  addr: string;
}

export class NetLab {
  readonly prefix: string;
  readonly hub: string;
  readonly hosts: Host[] = [];
  private readonly procs = new Set<ChildProcess>();
  private readonly namespaces: string[] = [];
  private destroyed = false;

  private constructor(
    readonly subnet: string,
    tag: string,
  ) {
    this.prefix = `wt${process.pid}${tag}${labs++}`;
    this.hub = `${this.prefix}hub`;
  }

  /** A lab with an empty bridge; hosts get `<subnet>.<n>/24`. */
  static async create(t: Teardown | undefined, opts: { subnet?: string; tag?: string } = {}): Promise<NetLab> {
    const lab = new NetLab(opts.subnet ?? '10.77.0', opts.tag ?? '');
    t?.teardown(() => lab.destroy());
    await lab.addNs(lab.hub);
    await run(['ip', '-n', lab.hub, '-batch', '-'], { input: 'link add br0 type bridge\nlink set br0 up\n' });
    return lab;
  }

  private async addNs(ns: string): Promise<void> {
    await run(['ip', 'netns', 'add', ns]);
    ownLeftover('netns', ns);
    this.namespaces.push(ns);
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** A new host namespace at `<subnet>.<last>`; returns it. */
  async addHost(last: number): Promise<Host> {
    const ns = `${this.prefix}h${last}`;
    const addr = `${this.subnet}.${last}`;
    await this.addNs(ns);
    await run(['ip', '-n', this.hub, '-batch', '-'], {
      input: `link add p${last} type veth peer name eth0 netns ${ns}\nlink set p${last} master br0 up\n`,
    });
    await run(['ip', '-n', ns, '-batch', '-'], { input: `addr add ${addr}/24 dev eth0\nlink set eth0 up\n` });
    // Many short connections from one client: reuse TIME_WAIT ports (MACHINE-NOTES).
    await run(['sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1'], { netns: ns });
    const h = { ns, addr };
    this.hosts.push(h);
    return h;
  }

  exec(ns: string, argv: string[], input?: string): Promise<string> {
    return run(argv, { netns: ns, input });
  }

  /** Starts a process inside `ns`; it is killed by destroy(). */
  spawn(ns: string, argv: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.procs.add(p);
    p.on('exit', () => this.procs.delete(p));
    return p;
  }

  /** A Node script (ESM source) run inside `ns` with these arguments. */
  node(ns: string, source: string, args: string[] = []): ChildProcess {
    return this.spawn(ns, [process.execPath, '--input-type=module', '-e', source, '--', ...args]);
  }

  /** Starts a backend named `name` on the host (TCP on tcpPort, UDP on udpPort); resolves once it listens. */
  async backend(
    h: Host,
    name: string,
    ports: { tcp?: number; udp?: number } = { tcp: 8080, udp: 8081 },
  ): Promise<ChildProcess> {
    const p = this.node(h.ns, BACKEND, [name, String(ports.tcp ?? 0), String(ports.udp ?? 0)]);
    await firstLine(p, 10_000);
    return p;
  }

  /** A client process in the host's namespace. */
  async client(h: Host): Promise<LabClient> {
    const p = this.node(h.ns, CLIENT);
    const c = new LabClient(p);
    await c.call({ op: 'hello' });
    return c;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const exits = [...this.procs].map(
      (p) =>
        new Promise<void>((r) =>
          p.exitCode !== null || p.signalCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGKILL')),
        ),
    );
    await Promise.all(exits);
    for (const ns of this.namespaces.reverse()) await run(['ip', 'netns', 'del', ns]).catch(() => {});
  }
}

function firstLine(p: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (d) => (err += d));
    const timer = setTimeout(() => reject(new Error(`no ready line within ${timeoutMs}ms: ${err}`)), timeoutMs);
    createInterface({ input: p.stdout! }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    p.once('exit', (code) => reject(new Error(`process exited (${code}) before it was ready: ${err}`)));
  });
}

export type Counts = Record<string, number>;

/** Drives the client process: one JSON command per line, one JSON answer per line, in order. */
export class LabClient {
  private readonly waiting: ((v: unknown) => void)[] = [];
  private stderr = '';

  constructor(readonly proc: ChildProcess) {
    proc.stderr?.on('data', (d) => (this.stderr += d));
    createInterface({ input: proc.stdout! }).on('line', (l) => this.waiting.shift()?.(JSON.parse(l)));
    proc.on('exit', () => {
      for (const w of this.waiting.splice(0)) w({ error: `client exited: ${this.stderr.slice(-300)}` });
    });
  }

  call<T = Record<string, unknown>>(cmd: Record<string, unknown>): Promise<T> {
    return new Promise((resolve) => {
      this.waiting.push(resolve as (v: unknown) => void);
      this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    });
  }

  /** n TCP connections (up to `parallel` at once), each reading the backend's name: counts by name ("error" for failures). */
  tcp(host: string, port: number, n: number, parallel = 16): Promise<Counts> {
    return this.call({ op: 'tcp', host, port, n, parallel });
  }

  /** n UDP exchanges, each from a new socket (so a new flow). */
  udp(host: string, port: number, n: number, parallel = 16): Promise<Counts> {
    return this.call({ op: 'udp', host, port, n, parallel });
  }

  /** Opens a connection kept under `id`; resolves with the backend's name (or an error). */
  async open(id: string, host: string, port: number): Promise<string> {
    return (await this.call<{ name?: string; error?: string }>({ op: 'open', id, host, port })).name ?? 'error';
  }

  /** Sends a line on connection `id`; resolves with the reply line, or "error: ...". */
  async ping(id: string): Promise<string> {
    const r = await this.call<{ reply?: string; error?: string }>({ op: 'ping', id });
    return r.reply ?? `error: ${r.error}`;
  }
}

const BACKEND = `
import net from 'node:net';
import dgram from 'node:dgram';
const [name, tcpPort, udpPort] = process.argv.slice(-3);
const waits = [];
if (+tcpPort) {
  const s = net.createServer((c) => {
    c.on('error', () => {});
    c.write(name + '\\n');
    let buf = '';
    c.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); c.write(name + ' ' + line + '\\n'); }
    });
  });
  waits.push(new Promise((r) => s.listen({ port: +tcpPort, backlog: 1024 }, r)));
}
if (+udpPort) {
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send(name, r.port, r.address));
  waits.push(new Promise((r) => u.bind(+udpPort, r)));
}
await Promise.all(waits);
console.log('ready');
`;

const CLIENT = `
import net from 'node:net';
import dgram from 'node:dgram';
import readline from 'node:readline';
const conns = new Map();
function oneTcp(host, port) {
  return new Promise((resolve) => {
    const c = net.connect({ host, port });
    let buf = '';
    const done = (v) => { clearTimeout(t); c.destroy(); resolve(v); };
    const t = setTimeout(() => done('error'), 3000);
    c.on('data', (d) => { buf += d; const i = buf.indexOf('\\n'); if (i >= 0) done(buf.slice(0, i)); });
    c.on('error', () => done('error'));
    c.on('close', () => done('error'));
  });
}
function oneUdp(host, port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const done = (v) => { clearTimeout(t); try { s.close(); } catch {} resolve(v); };
    const t = setTimeout(() => done('error'), 2000);
    s.on('message', (m) => done(String(m)));
    s.on('error', () => done('error'));
    s.send('x', port, host);
  });
}
async function many(n, parallel, f) {
  const counts = {};
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, async () => {
    while (next < n) { next++; const v = await f(); counts[v] = (counts[v] ?? 0) + 1; }
  }));
  return counts;
}
const ops = {
  hello: async () => ({ ok: true }),
  tcp: (m) => many(m.n, m.parallel, () => oneTcp(m.host, m.port)),
  udp: (m) => many(m.n, m.parallel, () => oneUdp(m.host, m.port)),
  open: (m) => new Promise((resolve) => {
    const c = net.connect({ host: m.host, port: m.port });
    const st = { c, buf: '', wait: null };
    conns.set(m.id, st);
    c.on('data', (d) => { st.buf += d; let i; while ((i = st.buf.indexOf('\\n')) >= 0) { const l = st.buf.slice(0, i); st.buf = st.buf.slice(i + 1); const w = st.wait; st.wait = null; w?.(l); } });
    c.on('error', (e) => { const w = st.wait; st.wait = null; w?.(null, e.message); });
    c.on('close', () => { const w = st.wait; st.wait = null; w?.(null, 'closed'); });
    st.wait = (l, e) => resolve(l ? { name: l } : { error: e });
  }),
  ping: (m) => new Promise((resolve) => {
    const st = conns.get(m.id);
    if (!st || st.c.destroyed) return resolve({ error: 'no such connection' });
    const t = setTimeout(() => { st.wait = null; resolve({ error: 'timeout' }); }, 3000);
    st.wait = (l, e) => { clearTimeout(t); resolve(l ? { reply: l } : { error: e }); };
    st.c.write('ping\\n');
  }),
};
let chain = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  chain = chain.then(() => ops[m.op](m)).then((r) => process.stdout.write(JSON.stringify(r) + '\\n'), (e) => process.stdout.write(JSON.stringify({ error: String(e) }) + '\\n'));
});
`;

/** Chi-square statistic of counts against a uniform spread over `k` buckets. */
export function chiSquare(counts: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  const e = n / counts.length;
  return counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
}

/** Critical values of chi-square at p = 0.01 by degrees of freedom (1..10). */
export const CHI2_P01 = [NaN, 6.635, 9.21, 11.345, 13.277, 15.086, 16.812, 18.475, 20.09, 21.666, 23.209];

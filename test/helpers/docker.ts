// A private Docker engine for one test file: its own dockerd (and the containerd it
// starts) with data, exec root, pid file and socket in a temporary directory, and a
// busybox image imported from the host's static busybox (no registry needed).
//
//   const skip = dockerSkip();                 // tap's skip option: reason, or false
//   t.test('...', { skip }, async (t) => {
//     const engine = await startDocker(t);     // torn down when t ends, pass or fail
//     await engine.run(['run', '-d', '--network', net, engine.image, 'sleep', '600']);
//   });
//
// The engine is kept off the host's network setup: --bridge=none (no docker0, so several
// of these can run at once), --iptables=false, --ip-forward=false and --ip-masq=false (no
// rules or sysctls of the host change). Containers use --network none, host, or a network
// the test creates (`docker network create`): user-defined bridges work without docker0,
// and containers on one reach each other. Their /24s come from a /16 picked at random in
// 10.200.0.0-10.249.255.255 per engine, so two engines at once do not hand out the same
// subnet; pass a --subnet to pin one.
//
// startDocker(t, { netns, iptables: true }) runs dockerd inside a network namespace instead
// (through nsenter: `ip netns exec` breaks dockerd), where iptables rules stay in it.
//
// busybox `sleep` as PID 1 ignores SIGTERM, so `docker stop` and stopping the engine would
// wait 10 s for it: run containers with --init (or --stop-timeout 1).
//
// Teardown removes every container and network the engine has, stops dockerd (SIGTERM,
// then SIGKILL after 15 s), removes bridges a killed dockerd left, unmounts what it
// mounted under the directory and deletes the directory.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  symlinkSync,
  copyFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import Dockerode from 'dockerode';
import { missing, requireSystem } from './system.js';
import type { Teardown } from './agent-process.js';
import { ownLeftover, removeDockerDir } from './leftovers.js';

export const BUSYBOX_IMAGE = 'local/busybox:1';

export interface DockerEngine {
  /** Temporary directory holding everything the engine keeps. */
  dir: string;
  /** The engine's unix socket path. */
  socket: string;
  /** A dockerode client for the socket. */
  docker: Dockerode;
  /** The imported busybox image (`sleep`, `sh`, `nc`, `nslookup`... all busybox applets). */
  image: string;
  /** Runs the docker CLI against this engine; resolves with stdout trimmed, rejects with stderr. */
  run(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** Stops dockerd (containers stop with it: no live-restore). */
  stopDaemon(): Promise<void>;
  /** Starts dockerd again on the same directory and socket. */
  startDaemon(): Promise<void>;
  /** The end of dockerd's log, for failure messages. */
  logTail(chars?: number): string;
}

function onPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(d, cmd);
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

/** True when `path` is an ELF executable without an interpreter (statically linked). */
export function isStaticElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false; // ELF, 64-bit, little-endian
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The static busybox to build the image from, or undefined. Debian's busybox-static puts it at /bin/busybox. */
export function staticBusybox(): string | undefined {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', onPath('busybox')])
    if (p && existsSync(p) && isStaticElf(p)) return p;
  return undefined;
}

/** tap's skip option for a test that needs a private dockerd: a reason string, or false. */
export function dockerSkip(): string | false {
  const reasons: string[] = [];
  const m = missing({ root: true, commands: ['dockerd', 'docker', 'containerd', 'runc', 'tar'] });
  if (m) reasons.push(m);
  if (!staticBusybox()) reasons.push('needs a static busybox at /bin/busybox (apt-get install busybox-static)');
  if (reasons.length === 0) return false;
  const why = reasons.join(', ');
  if (requireSystem()) throw new Error(`system prerequisite missing with WEFT_REQUIRE_SYSTEM=1: ${why}`);
  return why;
}

function sh(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: NodeJS.ReadableStream; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile(
      cmd,
      args,
      { env: opts.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
        else resolve(String(stdout).trim());
      },
    );
    if (opts.input) opts.input.pipe(p.stdin!);
    else p.stdin?.end();
  });
}

/** A rootfs of busybox and a link per applet, streamed as a tar (the input of `docker import`). */
async function busyboxRootfsTar(dir: string): Promise<NodeJS.ReadableStream> {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root']) mkdirSync(join(root, d), { recursive: true });
  const bb = join(root, 'bin', 'busybox');
  copyFileSync(staticBusybox()!, bb);
  chmodSync(bb, 0o755);
  for (const a of (await sh(bb, ['--list'])).split('\n')) {
    const name = a.trim();
    if (name && name !== 'busybox' && !existsSync(join(root, 'bin', name)))
      symlinkSync('busybox', join(root, 'bin', name));
  }
  return spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout!;
}

/** One dockerd on a private directory and socket; start() again after stop() restarts it. */
class Dockerd {
  readonly logPath: string;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly socket: string,
    private readonly docker: Dockerode,
    private readonly pool: string,
    private readonly place: EngineOptions = {},
  ) {
    this.logPath = join(dir, 'dockerd.log');
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  logTail(chars = 2000): string {
    try {
      return readFileSync(this.logPath, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }

  /** Resolves once dockerd answers a ping; rejects with its log's end if it exits or stays silent 30 s. */
  async start(): Promise<void> {
    const { dir } = this;
    const log = openSync(this.logPath, 'a');
    // In a namespace through nsenter: `ip netns exec` remounts /sys, and dockerd then finds
    // no devices cgroup (MACHINE-NOTES).
    const ns = this.place.netns ? ['nsenter', `--net=/run/netns/${this.place.netns}`] : [];
    const iptables = this.place.netns && this.place.iptables;
    const p = spawn(
      ns[0] ?? 'dockerd',
      [
        ...(ns.length ? [ns[1]!, 'dockerd'] : []),
        '--data-root',
        join(dir, 'data'),
        '--exec-root',
        join(dir, 'exec'),
        '--pidfile',
        join(dir, 'docker.pid'),
        '-H',
        `unix://${this.socket}`,
        '--storage-driver',
        'vfs',
        '--bridge',
        'none',
        `--iptables=${iptables ? 'true' : 'false'}`,
        '--ip-forward=false',
        '--ip-masq=false',
        '--userland-proxy=false',
        '--default-address-pool',
        `base=${this.pool},size=24`,
        '--log-level',
        'warn',
        // Containers whose PID 1 ignores SIGTERM (busybox sleep) would hold a stop for 15 s.
        '--shutdown-timeout',
        '1',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.proc = p;
    this.exited = new Promise((resolve) => p.once('exit', () => resolve()));
    await this.answering();
  }

  private async answering(): Promise<void> {
    const t0 = Date.now();
    let dead = false;
    void this.exited.then(() => (dead = true));
    for (;;) {
      if (dead) throw new Error(`dockerd exited at start; its log ends: ${this.logTail(800)}`);
      try {
        await this.docker.ping();
        return;
      } catch {
        /* not up yet */
      }
      if (Date.now() - t0 > 30_000)
        throw new Error(`dockerd did not answer on ${this.socket} within 30 s; its log ends: ${this.logTail(800)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Every container and network of a running engine, removed; the networks' bridges noted in `bridges`. */
async function removeContainersAndNetworks(
  run: (args: string[]) => Promise<string>,
  bridges: Set<string>,
): Promise<void> {
  const ids = (await run(['ps', '-aq']).catch(() => '')).split('\n').filter(Boolean);
  if (ids.length) await run(['rm', '-f', ...ids]).catch(() => '');
  const nets = (await run(['network', 'ls', '-q', '--filter', 'type=custom']).catch(() => ''))
    .split('\n')
    .filter(Boolean);
  for (const n of nets) bridges.add(`br-${n.slice(0, 12)}`);
  if (nets.length) await run(['network', 'rm', ...nets]).catch(() => '');
}

/** What a killed dockerd can leave behind: processes, bridges, mounts (netns, shm), the directory. */
async function removeLeftovers(dir: string, bridges: Set<string>): Promise<void> {
  for (const b of bridges) if (existsSync(`/sys/class/net/${b}`)) await sh('ip', ['link', 'del', b]).catch(() => '');
  removeDockerDir(dir);
}

export interface EngineOptions {
  /** Run dockerd in this network namespace (its bridges and rules stay there). */
  netns?: string;
  /** With netns: let dockerd program iptables (its FORWARD policy and DOCKER-USER chain) in that namespace. */
  iptables?: boolean;
}

export async function startDocker(t: Teardown, opts: EngineOptions = {}): Promise<DockerEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-docker-'));
  ownLeftover('docker', dir);
  const socket = join(dir, 'docker.sock');
  const pool = `10.${200 + Math.floor(Math.random() * 50)}.0.0/16`;
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') };
  const docker = new Dockerode({ socketPath: socket });
  const dockerd = new Dockerd(dir, socket, docker, pool, opts);
  const bridges = new Set<string>();
  const run = (args: string[], opts: { timeoutMs?: number } = {}) =>
    sh('docker', args, { env, timeoutMs: opts.timeoutMs });

  t.teardown(async () => {
    try {
      if (dockerd.running) await removeContainersAndNetworks(run, bridges);
      await dockerd.stop();
    } finally {
      await removeLeftovers(dir, bridges);
    }
  });

  // Built while dockerd starts; a fresh data root per engine, so the image is imported
  // each time (about 0.2 s, cheaper than sharing one engine between test files).
  const [tar] = await Promise.all([busyboxRootfsTar(dir), dockerd.start()]);
  const image = BUSYBOX_IMAGE;
  await sh('docker', ['import', '-', image], { env, input: tar });
  const engine: DockerEngine = {
    dir,
    socket,
    docker,
    image,
    run: async (args, opts) => {
      const out = await run(args, opts);
      // Bridges of networks made here, to remove if dockerd dies before it can.
      if (args[0] === 'network' && args[1] === 'create') {
        bridges.add(`br-${out.slice(0, 12)}`);
        ownLeftover('bridge', `br-${out.slice(0, 12)}`);
      }
      return out;
    },
    stopDaemon: () => dockerd.stop(),
    startDaemon: () => dockerd.start(),
    logTail: (chars) => dockerd.logTail(chars),
  };
  return engine;
}

// The script check of a container (weft.check.script on it): its command runs inside that
// container through the Docker engine's exec API, as `docker exec` does, so this node needs
// no shell on the host and no access to the container's files. Exit 0 passing, 1 warning,
// anything else critical, as the host's script probe (probes.ts).
//
// At the timeout the command is killed: the engine has no call to stop an exec, so the
// process (its pid, as the engine reports it, in the host's pid namespace) and every
// process below it are killed from here with SIGKILL. An agent that runs in another pid
// namespace than the engine cannot do that; the output then says so.
//
// dockerode is imported when the first container script runs, not when the agent starts.
import { readdirSync, readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import type { CheckDef } from '../records/checks.js';
import { DEFAULTS } from './defaults.js';
import { parseExecCommand } from './exec-command.js';
import type { Outcome } from './scheduler.js';

const critical = (output: string): Outcome => ({ status: 'critical', output });
const short = (id: string) => id.slice(0, 12);

/**
 * Docker's multiplexed exec stream (each frame an 8-byte header: stream, 0, 0, 0, size as
 * 32-bit big-endian, then the bytes), stdout and stderr together, keeping at most `max` bytes.
 */
export class FrameReader {
  private readonly header = Buffer.alloc(8);
  private have = 0;
  private left = 0;
  private readonly parts: Buffer[] = [];
  private kept = 0;

  constructor(private readonly max: number = DEFAULTS.maxScriptOutputBytes) {}

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.left === 0) {
        const n = Math.min(8 - this.have, chunk.length - i);
        chunk.copy(this.header, this.have, i, i + n);
        this.have += n;
        i += n;
        if (this.have < 8) return;
        this.have = 0;
        this.left = this.header.readUInt32BE(4);
        continue;
      }
      const n = Math.min(this.left, chunk.length - i);
      const take = Math.min(n, this.max - this.kept);
      if (take > 0) this.parts.push(Buffer.from(chunk.subarray(i, i + take)));
      this.kept += Math.max(take, 0);
      this.left -= n;
      i += n;
    }
  }

  text(): string {
    return Buffer.concat(this.parts).toString('utf8').trim();
  }
}

/** Runs container script checks through the engine at `socket`. */
export class ContainerExec {
  private docker: Promise<Docker> | undefined;

  constructor(private readonly socket: string) {}

  /** One run of `def` (a script check) inside `container`; resolves, never rejects, by the timeout. */
  probe(def: CheckDef, container: string): Promise<Outcome> {
    const argv = parseExecCommand(def.target);
    if (typeof argv === 'string') return Promise.resolve(critical(`not run: ${argv}`));
    return this.client().then(
      (docker) => execOnce(docker, def, container, argv),
      (err: Error) => critical(`cannot load the Docker client: ${err.message}`),
    );
  }

  private client(): Promise<Docker> {
    // Only the socket: DOCKER_HOST must not send these execs to another engine.
    this.docker ??= import('dockerode').then(
      ({ default: D }) =>
        new D({ socketPath: this.socket, host: undefined, port: undefined, protocol: 'http' } as Docker.DockerOptions),
    );
    return this.docker;
  }
}

/** Calls to the engine (create, start, inspect) that take longer than this fail the run. As the registrar's. */
export const ENGINE_TIMEOUT_MS = 10_000;

async function execOnce(docker: Docker, def: CheckDef, container: string, argv: string[]): Promise<Outcome> {
  let exec: Docker.Exec | undefined;
  try {
    exec = await docker.getContainer(container).exec({
      Cmd: argv,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      abortSignal: AbortSignal.timeout(ENGINE_TIMEOUT_MS),
    } as Docker.ExecCreateOptions);
    const stream = await started(exec);
    // The check's timeout is the command's, as Docker HEALTHCHECK's: the engine's own
    // latency (a busy dockerd takes a second to start an exec) does not count against it.
    const timeout = AbortSignal.timeout(def.timeoutMs);
    const out = new FrameReader();
    if (!(await untilEnd(stream, out, timeout))) return await timedOut(exec, def, container, out.text());
    const code = await exitCode(exec);
    if (code === undefined) return critical(`the Docker engine did not say the exit code of the script${said(out)}`);
    const status = code === 0 ? 'passing' : code === 1 ? 'warning' : 'critical';
    return { status, output: out.text() || `exit ${code}` };
  } catch (err) {
    return critical(`cannot run the script in container ${short(container)}: ${engineMessage(err)}`);
  }
}

const said = (out: FrameReader) => (out.text() ? `: ${out.text()}` : '');

/** Starts the exec attached. The signal is aborted only if the start takes too long: on the attached stream it would cut the command's output. */
async function started(exec: Docker.Exec): Promise<NodeJS.ReadableStream> {
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new Error('the Docker engine did not start the exec in time')),
    ENGINE_TIMEOUT_MS,
  );
  try {
    return (await exec.start({ hijack: true, stdin: false, Detach: false, Tty: false, abortSignal: ctl.signal }))!;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the stream until the command exits (true) or the timeout (false; the stream is closed). */
function untilEnd(stream: NodeJS.ReadableStream, out: FrameReader, signal: AbortSignal): Promise<boolean> {
  const s = stream as NodeJS.ReadableStream & { destroy(): void };
  return new Promise((resolve) => {
    const done = (ended: boolean) => {
      signal.removeEventListener('abort', onAbort);
      if (!ended) s.destroy();
      resolve(ended);
    };
    const onAbort = () => done(false);
    signal.addEventListener('abort', onAbort);
    s.on('data', (d: Buffer) => out.push(d));
    s.on('end', () => done(true));
    s.on('close', () => done(!signal.aborted));
    s.on('error', () => done(!signal.aborted));
  });
}

/** The exit code once the engine has it (the stream can end a moment before it records the exit). */
async function exitCode(exec: Docker.Exec): Promise<number | undefined> {
  const deadline = performance.now() + ENGINE_TIMEOUT_MS;
  for (let wait = 5; performance.now() < deadline; wait = Math.min(wait * 2, 200)) {
    const info = await exec.inspect({ abortSignal: AbortSignal.timeout(ENGINE_TIMEOUT_MS) });
    if (!info.Running && typeof info.ExitCode === 'number') return info.ExitCode;
    await new Promise((r) => setTimeout(r, wait));
  }
  return undefined;
}

async function timedOut(exec: Docker.Exec, def: CheckDef, container: string, text: string): Promise<Outcome> {
  const killed = await killExec(exec, container);
  return critical(`timed out after ${def.timeoutMs} ms and ${killed}${text ? `: ${text}` : ''}`);
}

/**
 * Kills the exec's process and all below it; what happened, for the output. Only processes
 * in the container's cgroup: should the agent see another pid namespace than the engine,
 * the engine's pid could name an unrelated process here.
 */
async function killExec(exec: Docker.Exec, container: string): Promise<string> {
  const pid = await pidOf(exec);
  if (pid === 'exited') return 'had exited';
  if (pid === undefined) return 'could not be killed (the engine did not say its pid)';
  if (!inContainer(pid, container)) return `could not be killed (no process ${pid} of the container here)`;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      if (inContainer(p, container)) process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return 'was killed';
}

/** The exec's pid. A busy engine says Running with pid 0 until runc has started the process: ask again. */
async function pidOf(exec: Docker.Exec): Promise<number | 'exited' | undefined> {
  const deadline = performance.now() + ENGINE_TIMEOUT_MS;
  for (let wait = 10; performance.now() < deadline; wait = Math.min(wait * 2, 250)) {
    try {
      const info = await exec.inspect({ abortSignal: AbortSignal.timeout(ENGINE_TIMEOUT_MS) });
      if (!info.Running) return 'exited';
      if (info.Pid > 1) return info.Pid;
    } catch {
      return undefined;
    }
    await new Promise((r) => setTimeout(r, wait));
  }
  return undefined;
}

/** Whether process `pid` here is in the container's cgroup (Docker names its cgroups by the full id). */
function inContainer(pid: number, container: string): boolean {
  try {
    return container.length >= 12 && readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(container);
  } catch {
    return false;
  }
}

/** Every process below `root`, from /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSafe('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function engineMessage(err: unknown): string {
  const e = err as { statusCode?: number; json?: { message?: unknown }; message?: string };
  const msg = typeof e?.json?.message === 'string' ? e.json.message : (e?.message ?? String(err));
  return msg.split('\n')[0]!.slice(0, 160);
}

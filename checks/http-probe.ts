// The HTTP check's probe on plain sockets, reusing a keep-alive connection per target.
// At 1 s intervals the probe is the hot path, and the profile of `npm run bench -- checks`
// put most of its cost in the kernel's loopback connect, write and close of a new
// connection per check (node:http's client costs about three times a bare socket). So an
// idle connection to the same address and port is reused when the server keeps it open.
//
// A check must still see a dead server: a reused connection that fails before any answer
// (the server closed it, or went away) is retried once on a fresh connection, and only that
// one's failure counts. A timeout is never retried: it is the check's own answer.
import { connect, type Socket } from 'node:net';
import type { CheckDef } from '../records/checks.js';
import { DEFAULTS } from './defaults.js';
import type { Outcome } from './scheduler.js';
import { parseResponse, type Parsed } from './http-response.js';

const critical = (output: string): Outcome => ({ status: 'critical', output });
export const hostPort = (addr: string, port: number) => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

/** Idle keep-alive connections by target ("addr:port"), bounded. */
export class KeepAlivePool {
  private readonly idle = new Map<string, { sock: Socket; drop: () => void }[]>();
  private count = 0;

  constructor(private readonly max = DEFAULTS.maxChecksPerNode) {}

  take(target: string): Socket | undefined {
    const list = this.idle.get(target);
    const entry = list?.pop();
    if (!entry) return undefined;
    if (list!.length === 0) this.idle.delete(target);
    this.count--;
    entry.sock.off('close', entry.drop).off('end', entry.drop).off('error', entry.drop);
    return entry.sock;
  }

  give(target: string, sock: Socket): void {
    if (this.count >= this.max || sock.destroyed) return void sock.destroy();
    // Closed by the server while idle: forget it (a later error would otherwise be unhandled).
    const entry = { sock, drop: () => this.drop(target, entry) };
    sock.on('close', entry.drop).on('end', entry.drop).on('error', entry.drop);
    sock.unref();
    const list = this.idle.get(target) ?? [];
    list.push(entry);
    this.idle.set(target, list);
    this.count++;
  }

  /** Idle connections held now. */
  size(): number {
    return this.count;
  }

  close(): void {
    for (const list of this.idle.values()) for (const e of list) e.sock.destroy();
    this.idle.clear();
    this.count = 0;
  }

  private drop(target: string, entry: { sock: Socket; drop: () => void }): void {
    const list = this.idle.get(target);
    const i = list?.indexOf(entry) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      if (list!.length === 0) this.idle.delete(target);
      this.count--;
    }
    entry.sock.destroy();
  }
}

/** ":8080/healthz" -> port and path. */
export function splitTarget(target: string): { port: number; path: string } {
  const slash = target.indexOf('/');
  return { port: Number(target.slice(1, slash < 0 ? undefined : slash)), path: slash < 0 ? '/' : target.slice(slash) };
}

export function httpVerdict(code: number, body: string, want: string | undefined): Outcome {
  const said = `HTTP ${code}${body ? `: ${body.slice(0, 120)}` : ''}`;
  if (code === 429) return { status: 'warning', output: said };
  if (code < 200 || code >= 400) return critical(said);
  if (want !== undefined && !body.includes(want))
    return critical(`HTTP ${code}, but the body does not contain ${JSON.stringify(want)}`);
  return { status: 'passing', output: said };
}

/** One GET; with a pool, over a kept-alive connection when there is one (retried once fresh if it fails). */
export async function httpProbe(def: CheckDef, addr: string, pool?: KeepAlivePool): Promise<Outcome> {
  const { port } = splitTarget(def.target);
  const target = hostPort(addr, port);
  const deadline = performance.now() + def.timeoutMs;
  const reused = pool?.take(target);
  if (reused) {
    const r = await exchange(def, addr, reused, deadline, pool);
    if (r !== 'retry') return r;
  }
  const r = await exchange(def, addr, connect({ host: addr, port }), deadline, pool);
  return r === 'retry'
    ? critical(`GET ${target}${splitTarget(def.target).path}: connection closed without an answer`)
    : r;
}

/**
 * One request on `sock`. 'retry': a reused connection failed before any byte came back.
 * The socket goes back to the pool only after a whole, keep-alive answer.
 */
function exchange(
  def: CheckDef,
  addr: string,
  sock: Socket,
  deadline: number,
  pool: KeepAlivePool | undefined,
): Promise<Outcome | 'retry'> {
  const { port, path } = splitTarget(def.target);
  const where = `GET ${hostPort(addr, port)}${path}`;
  const reused = !sock.connecting && sock.readyState === 'open';
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (o: Outcome | 'retry', keep = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onError);
      if (keep && pool) pool.give(hostPort(addr, port), sock);
      else sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(
      () => finish(critical(`timed out after ${def.timeoutMs} ms (${where})`)),
      Math.max(0, deadline - performance.now()),
    );
    const verdictOf = (p: Parsed) => httpVerdict(p.code, p.body, def.body);
    const onData = (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      const p = parseResponse(Buffer.concat(chunks, size), DEFAULTS.maxBodyBytes, false);
      if (p === 'bad') return finish(critical(`${where}: not an HTTP answer`));
      if (p && p.complete) finish(verdictOf(p), p.keepAlive && pool !== undefined);
    };
    const onEnd = () => {
      if (size === 0 && reused) return finish('retry');
      const p = parseResponse(Buffer.concat(chunks, size), DEFAULTS.maxBodyBytes, true);
      finish(p && p !== 'bad' ? verdictOf(p) : critical(`${where}: not an HTTP answer`));
    };
    const onError = (err: Error) =>
      size === 0 && reused ? finish('retry') : finish(critical(`${where}: ${err.message}`));
    sock.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onError);
    sock.setNoDelay(true);
    if (reused) sock.ref();
    const keep = pool ? 'keep-alive' : 'close';
    sock.write(
      `GET ${path} HTTP/1.1\r\nHost: ${hostPort(addr, port)}\r\nUser-Agent: weft-check\r\nConnection: ${keep}\r\n\r\n`,
    );
  });
}

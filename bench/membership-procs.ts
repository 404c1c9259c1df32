// Child processes for the real membership bench: spawn, read stdout/stderr line by line with
// the arrival time of every line, wait for a line, kill -9. Every process spawned through a
// ProcGroup is remembered, so one synchronous call kills whatever is left (finally, SIGINT).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { freePortOffset } from '../test/helpers/agent-process.js';

export type LineListener = (text: string, at: number) => void;

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (code or signal name). */
  readonly exited: Promise<number | string>;
  /** True until the process has exited. */
  running(): boolean;
  /** Calls `fn` for every later line of stdout or stderr, with performance.now() at arrival. */
  onLine(fn: LineListener): () => void;
  /** Resolves with the first line (from now, or among the last `lookback` lines) that matches. */
  waitFor(pred: (text: string) => boolean, timeoutMs: number, what?: string): Promise<{ text: string; at: number }>;
  /** The last lines, for error messages. */
  tail(n?: number): string;
  /** SIGKILL; resolves once the process has exited. */
  kill9(): Promise<void>;
}

/** The first line of `proc` that `pred` accepts; rejects when `timeoutMs` passes or the process exits first. */
function waitForLine(
  proc: Proc,
  pred: (text: string) => boolean,
  timeoutMs: number,
  what: string,
): Promise<{ text: string; at: number }> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, v?: { text: string; at: number }) => {
      clearTimeout(timer);
      off();
      if (err) reject(err);
      else resolve(v!);
    };
    const off = proc.onLine((text, at) => {
      if (pred(text)) done(undefined, { text, at });
    });
    const timer = setTimeout(
      () => done(new Error(`${proc.name}: no ${what} within ${timeoutMs} ms; last lines:\n${proc.tail()}`)),
      timeoutMs,
    );
    void proc.exited.then((code) =>
      done(new Error(`${proc.name} exited (${code}) before ${what}; last lines:\n${proc.tail()}`)),
    );
  });
}

export class ProcGroup {
  readonly #procs = new Set<Proc>();

  spawn(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Proc {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`could not start ${name}: ${cmd} ${args.join(' ')}`);
    const listeners = new Set<LineListener>();
    const recent: string[] = [];
    let exitedFlag = false;
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, sig) => {
        exitedFlag = true;
        resolve(code ?? sig ?? -1);
      });
      child.once('error', () => {
        exitedFlag = true;
        resolve(-1);
      });
    });
    const onText = (text: string) => {
      const at = performance.now();
      recent.push(text);
      if (recent.length > 50) recent.shift();
      for (const l of [...listeners]) l(text, at);
    };
    createInterface({ input: child.stdout! }).on('line', onText);
    createInterface({ input: child.stderr! }).on('line', onText);
    const proc: Proc = {
      name,
      pid: child.pid,
      child,
      exited,
      running: () => !exitedFlag,
      onLine(fn) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      waitFor: (pred, timeoutMs, what = 'the expected line') => waitForLine(proc, pred, timeoutMs, what),
      tail: (n = 8) => recent.slice(-n).join('\n'),
      async kill9() {
        if (!exitedFlag) {
          try {
            process.kill(child.pid!, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        await exited;
      },
    };
    void exited.then(() => this.#procs.delete(proc));
    this.#procs.add(proc);
    return proc;
  }

  /** Synchronous: SIGKILL to every process still running. Safe in an exit handler. */
  killAllSync(): number {
    let n = 0;
    for (const p of this.#procs) {
      if (p.running()) {
        try {
          process.kill(p.pid, 'SIGKILL');
          n++;
        } catch {
          /* gone */
        }
      }
    }
    return n;
  }

  async killAll(): Promise<void> {
    const all = [...this.#procs];
    this.killAllSync();
    await Promise.all(all.map((p) => p.exited));
    this.#procs.clear();
  }
}

/** Environment for children: ours minus anything that would configure weft behind our back. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WEFT_') && !k.startsWith('SERF_')) env[k] = v;
  return env;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A bench's ports: gossip (weft's and serf's alike) and serf's RPC. */
export interface BenchPorts {
  gossip: number;
  serfRpc: number;
}

/**
 * The gossip port of a weft-against-serf run, and serf's RPC port: 7946 and 7373 plus one
 * offset, probed free on every address the agents take (`<net>.1` .. `<net>.<agents>`). Each
 * agent has a loopback address of its own, but a program holding a port on every address
 * (a serf agent on this host takes 0.0.0.0:7946) would still refuse it the default.
 */
export async function benchPorts(nets: readonly string[], agents: number): Promise<BenchPorts> {
  const addrs = nets.flatMap((net) => Array.from({ length: agents }, (_, i) => `${net}.${i + 1}`));
  const offset = await freePortOffset(addrs, [7946, 7373]);
  return { gossip: 7946 + offset, serfRpc: 7373 + offset };
}

// The userspace proxy on several cores: N node:cluster workers (proxy-worker.ts), each a
// UserspaceProxy listening on the same sockets. The pool looks like one UserspaceProxy to
// the driver (apply, stats, listenError, activeConnections, stop).
//
//   - Workers start with the first VIP (a node without VIPs forks nothing).
//   - SCHED_NONE: each worker accepts on the shared socket itself. With node's default
//     (round-robin) the agent's process would accept every connection and pass it over IPC,
//     which is slower than one process doing it all.
//   - A worker that dies is replaced (backoff while it keeps dying young) and given the
//     current VIPs; its last reported counters are kept, so sums never go backwards.
//   - Draining is per worker, as in-process: a backend that leaves takes no new connections.
//   - UDP VIPs go to worker 0 only: a UDP session is a client address mapped to a backend,
//     and datagrams of one client spread over workers would spread over backends.
import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from './defaults.js';
import type { ProxyStats, ProxyVip } from './proxy.js';
import {
  addStats,
  listenerId,
  WORKER_OPTIONS_ENV,
  zeroStats,
  type FromWorker,
  type WorkerOptions,
} from './proxy-ipc.js';

export interface PoolOptions extends WorkerOptions {
  workers: number;
  /** Replies to an apply slower than this count as failed for that worker (it gets the VIPs when it is up). Default 30 s. */
  applyTimeoutMs?: number;
  onEvent?: (what: 'ejected' | 'listen_failed' | 'worker_exited', detail: Record<string, unknown>) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  stats: ProxyStats;
  active: number;
  startedAt: number;
  pending: Map<number, (r: Applied | undefined) => void>;
  /** Resolves when the worker can hear messages (one sent before is lost). */
  ready: Promise<void>;
  onReady: () => void;
}

type Applied = Extract<FromWorker, { t: 'applied' }>;

/**
 * The worker's file and node flags: the compiled worker next to this module, run by plain
 * node. From the TypeScript sources (tests under tap) the build's copy in dist/ when there
 * is one, as the agent tests use; compiling TypeScript in every worker took seconds.
 */
function workerProgram(): { exec: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./proxy-worker.js', import.meta.url));
  if (existsSync(js)) return { exec: js, execArgv: [] };
  const built = fileURLToPath(new URL('../dist/lb/proxy-worker.js', import.meta.url));
  if (existsSync(built)) return { exec: built, execArgv: [] };
  return { exec: fileURLToPath(new URL('./proxy-worker.ts', import.meta.url)), execArgv: process.execArgv };
}

export class ProxyPool {
  readonly kind = 'userspace' as const;
  private readonly slots = new Map<number, Slot>();
  private readonly retired = zeroStats();
  private vips: ProxyVip[] = [];
  private errors = new Map<string, string>();
  private seq = 0;
  private stopped = false;
  private restartMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Workers replaced after they died. */
  restarts = 0;

  constructor(private readonly opts: PoolOptions) {
    this.restartMs = DEFAULTS.proxyRestartMs;
  }

  /** Counters summed over live workers (as last reported) and the ones that died. */
  get stats(): ProxyStats {
    const sum = zeroStats();
    addStats(sum, this.retired);
    for (const s of this.slots.values()) addStats(sum, s.stats);
    return sum;
  }

  get activeConnections(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.active;
    return n;
  }

  /** The process ids of the live workers (tests, status). */
  get pids(): number[] {
    return [...this.slots.values()].map((s) => s.worker.process.pid!).filter((p) => p !== undefined);
  }

  listenError(v: ProxyVip): string | undefined {
    return this.errors.get(listenerId(v));
  }

  /** Every worker listens for exactly these VIPs; resolves when each has answered (or timed out). */
  async apply(vips: readonly ProxyVip[]): Promise<{ changed: boolean; failed: string[] }> {
    this.vips = [...vips];
    if (this.stopped) return { changed: false, failed: [] };
    if (vips.length > 0) for (let i = 0; i < this.opts.workers; i++) if (!this.slots.has(i)) this.fork(i);
    const replies = await Promise.all([...this.slots.values()].map((s) => this.send(s)));
    let changed = false;
    const failed = new Set<string>();
    const errors = new Map<string, string>();
    for (const r of replies) {
      if (!r) {
        changed = true; // a worker that did not answer is replaced and gets the VIPs then
        continue;
      }
      changed ||= r.changed;
      for (const f of r.failed) failed.add(f);
      for (const [id, e] of r.errors) errors.set(id, e);
    }
    this.errors = errors;
    return { changed, failed: [...failed] };
  }

  /** Stops every worker (their connections close) and waits for them to exit. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    const exits = [...this.slots.values()].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.worker.isDead()) return resolve();
          const kill = setTimeout(() => s.worker.process.kill('SIGKILL'), 2_000);
          s.worker.once('exit', () => (clearTimeout(kill), resolve()));
          if (s.worker.isConnected()) s.worker.send({ t: 'stop' });
          else s.worker.process.kill('SIGKILL');
        }),
    );
    await Promise.all(exits);
  }

  /** Sends the current VIPs once the worker is ready; its answer, or undefined when it died or timed out. */
  private send(s: Slot): Promise<Applied | undefined> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), this.opts.applyTimeoutMs ?? 30_000);
      const done = (r: Applied | undefined): void => {
        clearTimeout(timer);
        s.pending.delete(seq);
        resolve(r);
      };
      s.pending.set(seq, done);
      void s.ready.then(() => {
        if (!s.pending.has(seq)) return;
        if (!s.worker.isConnected()) return done(undefined);
        const vips = s.index === 0 ? this.vips : this.vips.filter((v) => v.proto === 'tcp');
        s.worker.send({ t: 'apply', seq, vips }, (err: Error | null) => err && done(undefined));
      });
    });
  }

  private fork(index: number): Slot {
    const o = this.opts;
    const options: WorkerOptions = {
      policy: o.policy,
      connectTimeoutMs: o.connectTimeoutMs,
      ejectMs: o.ejectMs,
      ejectMaxMs: o.ejectMaxMs,
      maxAttempts: o.maxAttempts,
      udpIdleMs: o.udpIdleMs,
      statsMs: o.statsMs,
    };
    // Frozen at the first fork of this process: set before it (see the header).
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ ...workerProgram(), args: [], silent: false });
    const worker = cluster.fork({ [WORKER_OPTIONS_ENV]: JSON.stringify(options) });
    let onReady = (): void => {};
    const ready = new Promise<void>((r) => (onReady = r));
    const slot: Slot = {
      index,
      worker,
      stats: zeroStats(),
      active: 0,
      startedAt: Date.now(),
      pending: new Map(),
      ready,
      onReady,
    };
    this.slots.set(index, slot);
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', () => {}); // an IPC send to a worker that just died; its exit follows
    worker.once('exit', (code, signal) => this.onExit(slot, code, signal));
    return slot;
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (m.t === 'ready') slot.onReady();
    else if (m.t === 'stats') {
      slot.stats = m.stats;
      slot.active = m.active;
    } else if (m.t === 'applied') slot.pending.get(m.seq)?.(m);
    else if (m.t === 'event') this.opts.onEvent?.(m.what, m.detail);
  }

  private onExit(slot: Slot, code: number | null, signal: string | null): void {
    if (this.slots.get(slot.index) !== slot) return;
    this.slots.delete(slot.index);
    addStats(this.retired, slot.stats);
    for (const done of [...slot.pending.values()]) done(undefined);
    if (this.stopped) return;
    // A worker that lived a while is replaced at once; one that keeps dying young, ever slower.
    const young = Date.now() - slot.startedAt < 10_000;
    const delay = young ? this.restartMs : 0;
    this.restartMs = young ? Math.min(this.restartMs * 2, DEFAULTS.proxyRestartMaxMs) : DEFAULTS.proxyRestartMs;
    this.opts.onEvent?.('worker_exited', { worker: slot.index, code, signal, restartInMs: delay });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopped || this.slots.has(slot.index)) return;
      this.restarts++;
      void this.send(this.fork(slot.index));
    }, delay);
    this.timers.add(timer);
  }
}

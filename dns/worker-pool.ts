// The agent's side of the DNS worker processes (worker.ts): more cores for the UDP answer
// path. Node 20 has no SO_REUSEPORT, but a bound UDP socket can be passed to a child process
// over IPC; then the agent and its workers all read the same file descriptor and the kernel
// gives each datagram to one of them. (worker_threads cannot share a socket handle, and
// node:cluster is process-global state the load balancer's acceptors may want too.)
//
// - The zone: the pool follows the same store view and VIP source as the agent's zone and
//   relays every change, numbered, to each worker; a new worker first gets every current
//   record in one message. A worker reports the number it answers from (lag()).
// - Started lazily: the server calls start() once UDP load passes a threshold, and stopped
//   again after idleMs without a query, so an idle agent has no extra process.
// - Readers: while its workers keep up, the agent stops reading the sockets itself, and reads
//   again once one nears its limit or none is left (agent-reading.ts says why). The rate
//   limit is shared out among the processes reading, so together they hold the configured one.
// - Supervised: a worker that exits is started again after a backoff; after MAX_RESTARTS in
//   RESTART_WINDOW_MS the pool gives up (logged) and the agent answers alone. A worker never
//   takes the agent down, and the agent reads the socket again at once. A worker whose load
//   reports stop (its event loop stuck) no longer counts as reading after SILENT_MS, so the
//   agent reads again, and after HUNG_MS it is killed and so replaced.
// - Counters: each worker sends its own every second; totals() adds them (and those of
//   workers gone) to the agent's, so the metrics count every answer once. relays() does the
//   same for the queries workers relayed to the agent or answered SERVFAIL for want of room.
import { fork, type ChildProcess } from 'node:child_process';
import type dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { NODE_PREFIX, SERVICE_PREFIX } from '../records/schema.js';
import { DEFAULTS } from './defaults.js';
import type { ResponseRateLimiter } from './rrl.js';
import { AgentReading, LOAD_REPORT_MS } from './agent-reading.js';
import { DnsStats, type StatsSnapshot } from './stats.js';
import type { Log as DnsLog } from '../base/log.js';
import type { RecordSource, VipSource } from './zone.js';
import {
  RELAY_REFUSALS,
  type FromWorker,
  type RelayCounts,
  type ToWorker,
  type WorkerInit,
  type ZoneEvent,
} from './worker-protocol.js';

/** More restarts than this within the window and the pool stops trying (the agent keeps answering). */
export const MAX_RESTARTS = 5;
export const RESTART_WINDOW_MS = 60_000;
const BACKOFF_MS = 250;
/** A worker with no load report for this long is not counted as reading (the agent reads). */
export const SILENT_MS = 4 * LOAD_REPORT_MS;
/** A worker with no load report for this long is killed (and started again, as after a crash). */
export const HUNG_MS = 10_000;
const STOP_GRACE_MS = 2_000;

export interface WorkerPoolOptions {
  count: number;
  /** As the agent's own server answers; the rate limit is the full one (the pool shares it out). */
  init: Omit<WorkerInit, 'readers'>;
  source: RecordSource;
  vips?: VipSource;
  /** The agent's rate limiter: it keeps its share while workers run. */
  rrl: ResponseRateLimiter;
  /** The agent's bound UDP sockets by listen address ("addr:port"). */
  sockets: () => Iterable<[string, dgram.Socket]>;
  /** Stops or resumes the agent's own reading of the sockets; false when it cannot stop (it goes on reading). */
  setAgentReading: (on: boolean) => boolean;
  /** A query a worker left to the agent (a name to forward or refuse). */
  relay: (at: string, msg: Buffer, address: string, port: number) => void;
  log: DnsLog;
  /** The worker's entry point. Default worker.js beside this module (tests: the compiled one). */
  script?: string;
  /** No queries read by the workers for this long and they stop. Default DEFAULTS.workerIdleMs. */
  idleMs?: number;
}

interface Slot {
  proc: ChildProcess;
  ready: boolean;
  seq: number;
  packets: number;
  stats?: StatsSnapshot;
  limited: { slipped: number; dropped: number };
  relays: RelayCounts;
  /** Its last load report: busy share of its time, share of its reads relayed, and the sockets it reads. */
  busy?: number;
  relayed: number;
  sockets: number;
  /** When it was ready or last reported its load (Date.now()). */
  heardAt: number;
  /** Not heard for SILENT_MS, as watch() last saw; killed for silence (HUNG_MS), not yet gone. */
  silent: boolean;
  killed: boolean;
}

const noRelays = (): RelayCounts => ({ sent: 0, refused: { relay_backlog: 0 } });

function addRelays(into: RelayCounts, r: RelayCounts): void {
  into.sent += r.sent;
  for (const k of RELAY_REFUSALS) into.refused[k] += r.refused[k] ?? 0;
}

const workerPath = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url),
);

export class DnsWorkerPool {
  restarts = 0;
  private readonly slots: (Slot | undefined)[];
  private readonly zone = new Map<string, ZoneEvent>();
  private seq = 0;
  private detach: (() => void)[] = [];
  private readonly retired = new DnsStats();
  private readonly retiredLimited = { slipped: 0, dropped: 0 };
  private readonly retiredRelays = noRelays();
  private retiredPackets = 0;
  private readonly recentRestarts: number[] = [];
  private started = false;
  private stopping = false;
  /** Stopping the workers for want of work (they start again under load). */
  private retiring = false;
  private gaveUp = false;
  /** When a worker last reported queries read, and the timer that looks for idleness. */
  private lastBusy = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Looks for workers that went silent (SILENT_MS, HUNG_MS). */
  private watchTimer: NodeJS.Timeout | undefined;
  private readonly agentReading = new AgentReading();
  /** Whether the agent reads its sockets now. */
  private agentOn = true;
  /** The agent's sockets could not stop being read (no handle): it always reads. */
  private agentPinned = false;
  /** The processes the rate limit is shared among, as last told to all. */
  private sharedAmong = 1;

  constructor(private readonly opts: WorkerPoolOptions) {
    this.slots = new Array<Slot | undefined>(opts.count).fill(undefined);
  }

  /** Starts the workers (later calls do nothing while they run). */
  start(): void {
    if (this.started || this.stopping || this.gaveUp || this.opts.count === 0) return;
    this.started = true;
    this.lastBusy = Date.now();
    const idleMs = this.opts.idleMs ?? DEFAULTS.workerIdleMs;
    this.idleTimer = setInterval(
      () => {
        const booting = this.slots.some((slot) => slot !== undefined && !slot.ready);
        if (!booting && Date.now() - this.lastBusy >= idleMs) void this.retire();
      },
      Math.min(idleMs / 4, 60_000),
    ).unref();
    this.watchTimer = setInterval(() => this.watch(), LOAD_REPORT_MS).unref();
    const { source, vips } = this.opts;
    this.detach = [
      source.watch(NODE_PREFIX, (e) => this.change(`n:${e.key}`, { k: 'node', e }, e.after === undefined)),
      source.watch(SERVICE_PREFIX, (e) => this.change(`s:${e.key}`, { k: 'svc', e }, e.after === undefined)),
    ];
    if (vips)
      this.detach.push(
        vips.watch((vip, addr, addr6) => this.change(`v:${vip}`, { k: 'vip', vip, addr, addr6 }, !addr && !addr6)),
      );
    for (let i = 0; i < this.slots.length; i++) this.spawn(i);
    this.opts.log.info({ workers: this.opts.count }, 'DNS workers started: UDP answers on more cores');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopAll();
  }

  /** No queries for idleMs: the workers go (an idle agent has no extra process) until load returns. */
  private async retire(): Promise<void> {
    if (this.retiring || this.stopping || !this.started) return;
    this.retiring = true;
    this.agentReading.reading = true;
    this.agentReads(true);
    await this.stopAll();
    this.zone.clear();
    this.reshare();
    this.retiring = false;
    this.started = false;
    this.opts.log.info({}, 'DNS workers stopped: no load for a while (they start again under load)');
  }

  private async stopAll(): Promise<void> {
    clearInterval(this.idleTimer);
    clearInterval(this.watchTimer);
    this.idleTimer = this.watchTimer = undefined;
    for (const d of this.detach) d();
    this.detach = [];
    await Promise.all(this.slots.map((s) => (s ? this.kill(s.proc) : undefined)));
  }

  /** Processes reading the UDP sockets: the workers running and, unless it stepped aside, the agent. */
  get readers(): number {
    return this.running + (this.agentOn ? 1 : 0);
  }

  /** Workers running and answering. */
  get running(): number {
    return this.slots.filter((s) => s?.ready).length;
  }

  /** The process ids of the workers (tests). */
  get pids(): number[] {
    return this.slots.flatMap((s) => (s?.proc.pid ? [s.proc.pid] : []));
  }

  /** How many zone changes the furthest-behind running worker has yet to apply. */
  lag(): number {
    let lag = 0;
    for (const s of this.slots) if (s?.ready) lag = Math.max(lag, this.seq - s.seq);
    return lag;
  }

  /** Answers the workers sent, running or gone. */
  answers(): number {
    let n = this.retired.total;
    for (const s of this.slots) if (s?.stats) for (const v of s.stats.queries) n += v;
    return n;
  }

  /** Datagrams the workers read, running or gone (as last reported). */
  packets(): number {
    let n = this.retiredPackets;
    for (const s of this.slots) if (s) n += s.packets;
    return n;
  }

  /** Queries the workers relayed to the agent or answered SERVFAIL instead, running or gone. */
  relays(): RelayCounts {
    const sum = noRelays();
    addRelays(sum, this.retiredRelays);
    for (const s of this.slots) if (s) addRelays(sum, s.relays);
    return sum;
  }

  /** Adds every worker's counters, running or gone, to `into`. */
  totals(into: DnsStats): { slipped: number; dropped: number } {
    into.add(this.retired.snapshot());
    const limited = { ...this.retiredLimited };
    for (const s of this.slots) {
      if (!s?.stats) continue;
      into.add(s.stats);
      limited.slipped += s.limited.slipped;
      limited.dropped += s.limited.dropped;
    }
    return limited;
  }

  /** One more listen address: the running workers read it too. */
  addSocket(at: string, sock: dgram.Socket): void {
    for (const s of this.slots) if (s?.ready) this.post(s, { t: 'socket', at }, sock);
  }

  removeSocket(at: string): void {
    for (const s of this.slots) if (s?.ready) this.post(s, { t: 'close', at });
  }

  // ------------------------------------------------------------ the zone

  /** A record or VIP changed (`gone`: removed): keep the current set for new workers, and pass it on to those running. */
  private change(id: string, ev: ZoneEvent, gone: boolean): void {
    if (gone) this.zone.delete(id);
    else this.zone.set(id, ev);
    this.seq++;
    for (const s of this.slots) if (s?.ready) this.post(s, { t: 'zone', seq: this.seq, events: [ev] });
  }

  // ------------------------------------------------------------ processes

  private spawn(i: number): void {
    const script = this.opts.script ?? workerPath;
    // The agent's flags, less those that would clash (a second debugger on the same port) or
    // write profiles; a script given compiled needs no loader (a test's TypeScript one takes seconds).
    const drop = this.opts.script
      ? /^--(inspect|cpu-prof|heap-prof|import|loader|experimental-loader)/
      : /^--(inspect|cpu-prof|heap-prof)/;
    const proc = fork(script, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: process.execArgv.filter((a) => !drop.test(a)),
    });
    const slot: Slot = {
      proc,
      ready: false,
      seq: 0,
      packets: 0,
      limited: { slipped: 0, dropped: 0 },
      relays: noRelays(),
      relayed: 0,
      sockets: 0,
      heardAt: 0,
      silent: false,
      killed: false,
    };
    this.slots[i] = slot;
    proc.on('message', (m: FromWorker) => this.onMessage(slot, m));
    proc.on('error', (err) => this.opts.log.warn({ err: err.message }, 'DNS worker process error'));
    proc.on('exit', (code, signal) => this.onExit(i, slot, code, signal));
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (m.t === 'ready') {
      slot.ready = true;
      slot.heardAt = Date.now();
      this.post(slot, { t: 'init', init: { ...this.opts.init, readers: this.readers } });
      this.post(slot, { t: 'zone', seq: this.seq, events: [...this.zone.values()] });
      for (const [at, sock] of this.opts.sockets()) this.post(slot, { t: 'socket', at }, sock);
      this.reshare();
      // Idle counts from when a worker can read: starting one can take longer than idleMs on a busy host.
      this.lastBusy = Date.now();
    } else if (m.t === 'relay') {
      this.opts.relay(m.at, Buffer.from(m.msg.buffer, m.msg.byteOffset, m.msg.byteLength), m.address, m.port);
    } else if (m.t === 'stats') {
      if (m.packets !== slot.packets) this.lastBusy = Date.now();
      slot.packets = m.packets;
      slot.seq = m.seq;
      slot.stats = m.stats;
      slot.limited = m.limited;
      slot.relays = m.relays;
    } else if (m.t === 'load') {
      // Heard again: balance() below counts it, and watch() has no change to act on.
      slot.heardAt = Date.now();
      slot.silent = false;
      slot.busy = m.busy;
      slot.relayed = m.relayed;
      slot.sockets = m.sockets;
      this.balance();
    }
  }

  /** After a load report or a worker gone: whether the agent reads too (agent-reading.ts). */
  private balance(): void {
    // The workers are being stopped: one may still have a report on its way, of a calm worker,
    // and stepping aside for it would leave the sockets unread once it is gone.
    if (this.retiring || this.stopping) return;
    const sockets = [...this.opts.sockets()].length;
    const now = Date.now();
    let workers = 0;
    let busiest = 0;
    let relayed = 0;
    for (const s of this.slots) {
      if (!s?.ready || s.busy === undefined || s.sockets < sockets || now - s.heardAt > SILENT_MS) continue;
      workers++;
      busiest = Math.max(busiest, s.busy);
      relayed = Math.max(relayed, s.relayed);
    }
    this.agentReads(this.agentPinned || this.agentReading.update(now, workers, busiest, relayed));
  }

  /**
   * Every LOAD_REPORT_MS: a worker that stopped reporting is stuck (a loop that never yields,
   * a stopped process) and may read nothing more, so the agent reads (balance counts only
   * workers heard within SILENT_MS); one silent for HUNG_MS is killed, and onExit starts another.
   * balance() runs here only when a worker falls silent (a report that comes runs it itself):
   * run on every tick, it would count one busy report as many (agent-reading.ts helps after
   * BUSY_REPORTS in a row).
   */
  private watch(): void {
    const now = Date.now();
    let changed = false;
    for (const s of this.slots) {
      if (!s?.ready) continue;
      const silent = now - s.heardAt > SILENT_MS;
      if (silent !== s.silent) {
        s.silent = silent;
        changed = true;
      }
      if (s.killed || now - s.heardAt < HUNG_MS) continue;
      s.killed = true;
      this.opts.log.warn(
        { pid: s.proc.pid, silentMs: now - s.heardAt },
        'DNS worker stopped reporting (stuck): killed, another starts',
      );
      s.proc.kill('SIGKILL');
    }
    if (changed) this.balance();
  }

  private agentReads(on: boolean): void {
    if (on !== this.agentOn) {
      if (this.opts.setAgentReading(on)) this.agentOn = on;
      else {
        this.agentPinned = true;
        this.agentOn = this.agentReading.reading = true;
        this.opts.setAgentReading(true);
      }
    }
    this.reshare();
  }

  /** Each process reading holds an equal share of the rate limit: told to all whenever their number changes. */
  private reshare(): void {
    const n = Math.max(1, this.readers);
    if (n === this.sharedAmong) return;
    this.sharedAmong = n;
    this.opts.rrl.share(n);
    for (const s of this.slots) if (s?.ready) this.post(s, { t: 'readers', n });
  }

  private post(slot: Slot, m: ToWorker, handle?: dgram.Socket): void {
    if (!slot.proc.connected) return;
    try {
      slot.proc.send(m, handle, { keepOpen: true }, (err) => {
        if (err) this.opts.log.debug({ err: err.message }, 'DNS worker message not delivered');
      });
    } catch (err) {
      // A value that cannot be copied to the worker: it would answer from a wrong zone, so it goes.
      this.opts.log.warn({ err: (err as Error).message }, 'DNS worker could not be sent the zone; restarting it');
      slot.proc.kill('SIGKILL');
    }
  }

  private onExit(i: number, slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.slots[i] === slot) this.slots[i] = undefined;
    if (slot.stats) this.retired.add(slot.stats);
    this.retiredLimited.slipped += slot.limited.slipped;
    this.retiredLimited.dropped += slot.limited.dropped;
    addRelays(this.retiredRelays, slot.relays);
    this.retiredPackets += slot.packets;
    if (this.stopping || this.retiring) return;
    // The agent reads again at once if no worker is left reading.
    this.balance();
    this.restarts++;
    const t = Date.now();
    this.recentRestarts.push(t);
    while (this.recentRestarts[0] < t - RESTART_WINDOW_MS) this.recentRestarts.shift();
    if (this.recentRestarts.length > MAX_RESTARTS) {
      if (!this.gaveUp)
        this.opts.log.error(
          { restarts: this.recentRestarts.length, code, signal },
          `DNS workers exited ${MAX_RESTARTS} times within ${RESTART_WINDOW_MS / 1000} s: the agent answers alone (see the log above; restart the agent to try again)`,
        );
      this.gaveUp = true;
      this.balance();
      return;
    }
    this.opts.log.warn({ code, signal, restarts: this.restarts }, 'DNS worker exited; starting another');
    const delay = BACKOFF_MS * 2 ** (this.recentRestarts.length - 1);
    setTimeout(() => {
      if (!this.stopping && !this.retiring && this.started && this.slots[i] === undefined) this.spawn(i);
    }, delay).unref();
  }

  private kill(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const hard = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      proc.once('exit', () => {
        clearTimeout(hard);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }
}

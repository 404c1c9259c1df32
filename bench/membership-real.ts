// Real membership figures, side by side with serf (the real half of
// `npm run bench -- membership`, README "Tests and benchmarks"):
//   - `kill -9` one agent; time until every other agent marks it dead (weft) or failed (serf);
//   - idle gossip bytes per agent per second.
//
// Both clusters run on loopback in the same run, with the same timing profile (weft
// `--preset lan`, serf `-profile=lan`), every agent on its own address and one gossip port
// (7946 plus an offset probed free on all of them, bench/membership-procs.ts benchPorts):
// weft on 127.0.10.1..N, serf on 127.0.11.1..N (BENCH_WEFT_NET / BENCH_SERF_NET change the /24). Agent 1 is the seed of its cluster and is never killed.
//
// Detection is timed on both sides by the same method: the arrival time, in this process, of
// each observer's log line for the victim (weft: "member X is dead"; serf: "serf:
// EventMemberFailed: X", logged when serf processes the failure, before the agent's 1–3 s event
// coalescing, which an event handler would add). For weft, /v1/members of every observer is
// also polled every 100 ms as a cross-check. Phases: first suspicion anywhere (weft "member X
// is suspect"; memberlist "Suspect X has failed, no acks received"), first dead anywhere,
// dead everywhere.
//
// Idle bytes, over a window that starts once every agent has run 65 s (memberlist's first
// periodic push/pull comes 30-60 s after start, so earlier would undercount serf): weft from its own counters (weft_gossip_bytes_out_total: UDP payload + TCP
// frames); serf from memberlist's go-metrics counters memberlist.udp.sent + memberlist.tcp.sent
// (the same payload-level meaning) sent by each serf agent to a statsd listener in this
// process (serf 0.8.2 reads the top-level "statsd_addr" config key). As root with nft, the
// same window is also counted on the wire with nftables counters (IP bytes, headers included),
// the same rules for both clusters.
//
// Run directly: `node dist/bench/membership-real.js [agents] [trials]`.

import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nftUsable, removeNftTable, setupNft, type NftCounters, type NftTotals } from './membership-nft.js';
import { AGENT_NODE_FLAGS, agentEnv } from '../src/node-flags.js';
import { benchPorts, cleanEnv, ProcGroup, sleep, type BenchPorts, type Proc } from './membership-procs.js';
import { startStatsd, type StatsdSink } from './membership-statsd.js';
import { HERMETIC_AGENT_FLAGS } from '../test/helpers/agent-process.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const MEMBERSHIP_ONLY = fileURLToPath(new URL('./membership-only.js', import.meta.url));
const DETECT_TIMEOUT_MS = 90_000;
const WHOLE_TIMEOUT_MS = 90_000;
const POLL_MS = 100;

export interface RealOptions {
  agents: number;
  trials: number;
  /** Seconds to settle after the clusters are whole, before the idle window; default 5. */
  settleSeconds?: number;
  /** The idle window starts once every agent has run this long; default 65 (memberlist's first
   *  periodic push/pull comes 30-60 s after start on lan). */
  steadySeconds?: number;
  /** Seconds of the idle window; default 30 (one push/pull period of the lan profile). */
  idleSeconds?: number;
  /** Count wire bytes with host nftables counters when root and nft allow; default true. */
  nft?: boolean;
  /** How many agents each kind of trial kills at once (`trials` of each); default [1]. */
  kills?: number[];
  /**
   * 'agent' (default): `weft agent` as a user runs it, every component at its default but
   * for the ports, Docker, forwarding and the nft datapath, which would clash on one host
   * (HERMETIC_AGENT_FLAGS); 'membership': membership alone (bench/membership-only.ts).
   */
  weftMode?: 'agent' | 'membership';
  /** No idle window (and no wait for steady state): detection only. */
  skipIdle?: boolean;
  weftNet?: string;
  serfNet?: string;
  serfBin?: string;
  log?: (line: string) => void;
}

export interface TrialResult {
  /** The victims' names, comma separated. */
  victim: string;
  /** Agents killed at once. */
  killed: number;
  /** 1-minute load average when the kill was sent. */
  load1: number;
  /** Seconds from kill -9 until the last observer's dead/failed log line about the last victim; null on timeout. */
  all_dead_s: number | null;
  first_suspect_s: number | null;
  first_dead_s: number | null;
  /** weft only: the same, seen by polling /v1/members every 100 ms. */
  poll_all_dead_s?: number | null;
  /** Seconds from restart until every agent saw the cluster whole again. */
  rejoin_s: number | null;
}

export interface ClusterResult {
  impl: 'weft' | 'serf';
  agents: number;
  trials: TrialResult[];
  detect_p50_s: number | null;
  detect_max_s: number | null;
  /** detect_p50_s of the trials that killed k at once, by k. */
  detect_p50_by_kill: Record<string, number | null>;
  first_suspect_p50_by_kill: Record<string, number | null>;
  first_suspect_p50_s: number | null;
  first_dead_p50_s: number | null;
  poll_detect_p50_s?: number | null;
  form_s: number;
  /** Payload bytes sent per agent per second, idle, from the implementation's own counters. */
  idle_bytes_per_agent_s: number;
  /** UDP datagrams sent per agent per second (weft_gossip_packets_out_total; memberlist.udp.sent samples). */
  idle_msgs_per_agent_s: number;
  /** nftables: IP bytes (headers included) and packets per agent per second; null without nft. */
  idle_wire_bytes_per_agent_s: number | null;
  idle_wire_packets_per_agent_s: number | null;
  /** nftables split: UDP and TCP (push/pull) IP bytes per agent per second. */
  idle_wire_udp_bytes_per_agent_s: number | null;
  idle_wire_tcp_bytes_per_agent_s: number | null;
  /** nftables: mean UDP payload per datagram (IP length minus 28 bytes of IPv4 + UDP headers). */
  idle_udp_payload_per_datagram: number | null;
  /** Observer-level dead/failed events about members that were not killed, once the cluster was whole. */
  false_deaths: number;
  /** The same while the cluster was forming (agents starting, not yet all seen alive). */
  false_deaths_forming: number;
  /** Distinct suspicion episodes about members that were not killed. */
  false_suspicions: number;
}

export interface RealResult {
  weft: ClusterResult;
  serf: ClusterResult;
  detect_ratio: number | null;
  /** weft / serf of detect_p50_by_kill, by agents killed at once. */
  detect_ratio_by_kill: Record<string, number | null>;
  weft_mode: 'agent' | 'membership';
  bytes_ratio: number | null;
  wire_bytes_ratio: number | null;
  bytes_method: string;
  idle_seconds: number;
  /** Seconds the idle window started after the youngest agent. */
  idle_after_s: number;
  loadavg_before: number[];
  loadavg_after: number[];
  wall_s: number;
}

/** Nearest-rank percentile of the non-null values; null when there are none. */
export function pct(values: readonly (number | null | undefined)[], p: number): number | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  return xs[Math.min(xs.length, Math.max(1, Math.ceil((p / 100) * xs.length))) - 1];
}

type ParsedEvent = { type: 'suspect' | 'dead' | 'declared' | 'alive' | 'join'; subject: string; episode?: string };

interface Impl {
  readonly kind: 'weft' | 'serf';
  readonly names: string[];
  readonly procs: (Proc | undefined)[];
  start(i: number): Promise<void>;
  /** The members every agent sees alive; undefined for an agent that did not answer. */
  aliveViews(): Promise<(Set<string> | undefined)[]>;
  parse(text: string): ParsedEvent | undefined;
  /** Sum over agents of payload bytes and messages sent so far. */
  counters(): Promise<{ bytes: number; msgs: number }>;
}

function ipOf(net: string, i: number): string {
  return `${net}.${i + 1}`;
}

async function fetchJson(url: string, timeoutMs = 2000): Promise<unknown> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function fetchText(url: string, timeoutMs = 2000): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.text();
}

interface WeftMember {
  name: string;
  state: string;
}

class WeftCluster implements Impl {
  readonly kind = 'weft' as const;
  readonly names: string[];
  readonly procs: (Proc | undefined)[] = [];
  readonly apis: string[] = [];

  constructor(
    private readonly group: ProcGroup,
    private readonly net: string,
    agents: number,
    private readonly port: number,
    private readonly mode: 'agent' | 'membership' = 'agent',
  ) {
    this.names = Array.from({ length: agents }, (_, i) => `weft-${i + 1}`);
  }

  async start(i: number): Promise<void> {
    // Its own address for gossip (as serf), every other listener on port 0: 20 agents
    // cannot share the default DNS or store ports.
    const own = ['--node', this.names[i], '--bind', ipOf(this.net, i), '--bind-port', String(this.port)];
    const args =
      this.mode === 'membership'
        ? [...AGENT_NODE_FLAGS, MEMBERSHIP_ONLY, ...own]
        : [
            ...AGENT_NODE_FLAGS,
            CLI,
            'agent',
            ...HERMETIC_AGENT_FLAGS,
            ...own,
            '--preset',
            'lan',
            '--log-format',
            'json',
          ];
    if (i > 0) args.push('--join', `${ipOf(this.net, 0)}:${this.port}`);
    const p = this.group.spawn(this.names[i], process.execPath, args, agentEnv(cleanEnv()));
    this.procs[i] = p;
    // Generous: 20 agents loading every module at once on a shared 2-core host took over 30 s.
    const ready = await p.waitFor((t) => t.includes('weft agent ready'), 120_000, 'ready line');
    const line = JSON.parse(ready.text) as { api?: string };
    if (!line.api) throw new Error(`${this.names[i]}: ready line without api: ${ready.text}`);
    this.apis[i] = line.api;
  }

  async members(i: number): Promise<WeftMember[] | undefined> {
    if (!this.procs[i]?.running()) return undefined;
    try {
      return ((await fetchJson(`${this.apis[i]}/v1/members`)) as { members: WeftMember[] }).members;
    } catch {
      return undefined;
    }
  }

  async aliveViews(): Promise<(Set<string> | undefined)[]> {
    return Promise.all(
      this.names.map(async (_, i) => {
        const ms = await this.members(i);
        return ms && new Set(ms.filter((m) => m.state === 'alive').map((m) => m.name));
      }),
    );
  }

  parse(text: string): ParsedEvent | undefined {
    if (!text.includes('"member"')) return undefined;
    let l: { msg?: string; member?: string; incarnation?: number };
    try {
      l = JSON.parse(text) as typeof l;
    } catch {
      return undefined;
    }
    if (typeof l.msg !== 'string' || typeof l.member !== 'string') return undefined;
    const m = /^member \S+ (?:is (suspect|dead|alive)|(joined))$/.exec(l.msg);
    if (!m) return undefined;
    const type = (m[1] ?? 'join') as ParsedEvent['type'];
    return { type, subject: l.member, episode: `${l.member}@${l.incarnation}` };
  }

  async counters(): Promise<{ bytes: number; msgs: number }> {
    let bytes = 0;
    let msgs = 0;
    await Promise.all(
      this.names.map(async (_, i) => {
        const text = await fetchText(`${this.apis[i]}/metrics`);
        const num = (name: string) => {
          const m = new RegExp(`^${name} ([0-9.eE+]+)$`, 'm').exec(text);
          if (!m) throw new Error(`${this.names[i]}: no ${name} in /metrics`);
          return Number(m[1]);
        };
        bytes += num('weft_gossip_bytes_out_total');
        msgs += num('weft_gossip_packets_out_total');
      }),
    );
    return { bytes, msgs };
  }
}

class SerfCluster implements Impl {
  readonly kind = 'serf' as const;
  readonly names: string[];
  readonly procs: (Proc | undefined)[] = [];

  constructor(
    private readonly group: ProcGroup,
    private readonly net: string,
    agents: number,
    private readonly ports: BenchPorts,
    private readonly bin: string,
    private readonly dir: string,
    private readonly statsd: StatsdSink,
  ) {
    this.names = Array.from({ length: agents }, (_, i) => `serf-${i + 1}`);
  }

  rpc(i: number): string {
    return `${ipOf(this.net, i)}:${this.ports.serfRpc}`;
  }

  async start(i: number): Promise<void> {
    const cfg = join(this.dir, `serf-${i + 1}.json`);
    writeFileSync(cfg, JSON.stringify({ statsd_addr: `127.0.0.1:${this.statsd.ports[i]}` }));
    // hermetic: serf's agent, on the ports benchPorts found free
    const args = [
      'agent',
      '-node',
      this.names[i],
      '-bind',
      `${ipOf(this.net, i)}:${this.ports.gossip}`,
      '-rpc-addr',
      this.rpc(i),
      '-profile=lan',
      '-log-level=info',
      '-config-file',
      cfg,
    ];
    if (i > 0) args.push('-retry-join', `${ipOf(this.net, 0)}:${this.ports.gossip}`, '-retry-interval', '1s');
    const p = this.group.spawn(this.names[i], this.bin, args, cleanEnv());
    this.procs[i] = p;
    await p.waitFor((t) => t.includes('Serf agent running!'), 30_000, '"Serf agent running!"');
  }

  aliveViews(): Promise<(Set<string> | undefined)[]> {
    return Promise.all(
      this.names.map(
        (_, i) =>
          new Promise<Set<string> | undefined>((resolve) => {
            if (!this.procs[i]?.running()) return resolve(undefined);
            execFile(
              this.bin,
              ['members', '-format', 'json', '-rpc-addr', this.rpc(i)],
              { timeout: 5000 },
              (err, stdout) => {
                if (err) return resolve(undefined);
                try {
                  const ms = (JSON.parse(stdout) as { members: { name: string; status: string }[] }).members;
                  resolve(new Set(ms.filter((m) => m.status === 'alive').map((m) => m.name)));
                } catch {
                  resolve(undefined);
                }
              },
            );
          }),
      ),
    );
  }

  parse(text: string): ParsedEvent | undefined {
    let m = /serf: EventMemberFailed: (\S+)/.exec(text);
    if (m) return { type: 'dead', subject: m[1] };
    m = /memberlist: Suspect (\S+) has failed, no acks received/.exec(text);
    if (m) return { type: 'suspect', subject: m[1], episode: `${m[1]}@${text}` };
    m = /memberlist: Marking (\S+) as failed, suspect timeout reached/.exec(text);
    if (m) return { type: 'declared', subject: m[1] };
    m = /serf: EventMemberJoin: (\S+)/.exec(text);
    if (m) return { type: 'join', subject: m[1] };
    return undefined;
  }

  async counters(): Promise<{ bytes: number; msgs: number }> {
    const s = this.statsd.sum();
    return { bytes: s.udpBytes + s.tcpBytes, msgs: s.udpPackets };
  }
}

/** BENCH_MEMBERSHIP_TRACE=FILE: weft's member events, loop stalls and refutations, one JSON line each (bench/membership-trace.ts reads it). */
const TRACE = process.env.BENCH_MEMBERSHIP_TRACE;
const TRACED = /"msg":"(member |loop stall|refuted)/;

/** Counts events about members that were not killed; `down` holds the killed ones. */
class FalseAlarms {
  deaths = 0;
  /** Deaths counted before the cluster was first whole (agents still starting). */
  deathsForming = 0;
  formed = false;
  readonly suspicionEpisodes = new Set<string>();
  readonly down = new Set<string>();
  readonly offs: (() => void)[] = [];

  watch(impl: Impl, i: number): void {
    const p = impl.procs[i];
    if (!p) return;
    this.offs.push(
      p.onLine((text) => {
        if (TRACE && impl.kind === 'weft' && TRACED.test(text))
          appendFileSync(TRACE, `${JSON.stringify({ agent: impl.names[i], formed: this.formed, line: text })}\n`);
        const e = impl.parse(text);
        if (!e || this.down.has(e.subject)) return;
        if (e.type === 'dead') {
          if (this.formed) this.deaths++;
          else this.deathsForming++;
        } else if (e.type === 'suspect') this.suspicionEpisodes.add(e.episode ?? e.subject);
      }),
    );
  }
}

async function waitWhole(impl: Impl, pollMs: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const views = await impl.aliveViews();
    const whole = views.every(
      (v) => v !== undefined && v.size === impl.names.length && impl.names.every((n) => v.has(n)),
    );
    if (whole) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs) {
      const worst = views.map((v, i) => `${impl.names[i]}:${v ? v.size : 'no answer'}`).join(' ');
      throw new Error(`${impl.kind}: cluster not whole after ${timeoutMs / 1000} s (alive seen per agent: ${worst})`);
    }
    await sleep(pollMs);
  }
}

async function startCluster(impl: Impl, alarms: FalseAlarms, log: (l: string) => void): Promise<number> {
  const t0 = performance.now();
  await impl.start(0);
  alarms.watch(impl, 0);
  // The rest in small batches: 20 processes starting at once on 2 cores would only queue.
  for (let i = 1; i < impl.names.length; i += 4) {
    const batch = [];
    for (let j = i; j < Math.min(impl.names.length, i + 4); j++)
      batch.push(impl.start(j).then(() => alarms.watch(impl, j)));
    await Promise.all(batch);
  }
  const whole = await waitWhole(impl, 250, WHOLE_TIMEOUT_MS);
  alarms.formed = true;
  const formS = (performance.now() - t0) / 1000;
  log(
    `${impl.kind}: ${impl.names.length} agents up and whole after ${formS.toFixed(1)} s (last ${whole.toFixed(1)} s waiting for convergence)`,
  );
  return formS;
}

/** What the observers' logs say about the victims: the first suspicion, first death, and when each observer had seen every victim dead. */
interface VictimWatch {
  deadAt: Map<number, number>;
  firstSuspect?: number;
  firstDead?: number;
  /** Resolves once every observer logged every victim dead. */
  allDead: Promise<void>;
  stop(): void;
}

function watchVictims(impl: Impl, victims: readonly string[], observers: number[]): VictimWatch {
  const offs: (() => void)[] = [];
  let allDead!: () => void;
  const w: VictimWatch = {
    deadAt: new Map(),
    allDead: new Promise<void>((r) => (allDead = r)),
    stop: () => offs.forEach((off) => off()),
  };
  for (const i of observers) {
    const seenDead = new Set<string>();
    offs.push(
      impl.procs[i]!.onLine((text, at) => {
        const e = impl.parse(text);
        if (!e || !victims.includes(e.subject)) return;
        if (e.type === 'suspect') w.firstSuspect ??= at;
        if (e.type === 'declared') w.firstDead ??= at;
        if (e.type === 'dead') {
          w.firstDead ??= at;
          seenDead.add(e.subject);
          if (seenDead.size === victims.length && !w.deadAt.has(i)) w.deadAt.set(i, at);
          if (w.deadAt.size === observers.length) allDead();
        }
      }),
    );
  }
  return w;
}

/**
 * weft only: polls /v1/members of every observer until each shows every victim dead.
 * finish() lets the poller see the last observer too (it lags the log by up to one poll), up to 3 s.
 */
function pollMembers(
  impl: Impl,
  victims: readonly string[],
  observers: number[],
): { at: Map<number, number>; finish(): Promise<void> } {
  const at = new Map<number, number>();
  let polling = impl instanceof WeftCluster;
  const gone = (ms: WeftMember[] | undefined) =>
    victims.every((v) => ms?.some((x) => x.name === v && (x.state === 'dead' || x.state === 'left')));
  const poller = (async () => {
    if (!(impl instanceof WeftCluster)) return;
    while (polling && at.size < observers.length) {
      const tick = performance.now();
      await Promise.all(
        observers
          .filter((i) => !at.has(i))
          .map(async (i) => {
            if (gone(await impl.members(i))) at.set(i, performance.now());
          }),
      );
      await sleep(Math.max(0, POLL_MS - (performance.now() - tick)));
    }
  })();
  const finish = async () => {
    const deadline = performance.now() + 3000;
    while (polling && at.size < observers.length && performance.now() < deadline) await sleep(20);
    polling = false;
    await poller;
  };
  return { at, finish };
}

/** kill -9 of every victim at once; times until every other agent holds them all dead. */
async function runTrial(
  impl: Impl,
  victimIdxs: readonly number[],
  alarms: FalseAlarms,
  log: (l: string) => void,
): Promise<TrialResult> {
  const victims = victimIdxs.map((i) => impl.names[i]);
  const observers = impl.names.map((_, i) => i).filter((i) => !victimIdxs.includes(i));
  const seen = watchVictims(impl, victims, observers);
  for (const v of victims) alarms.down.add(v);
  if (TRACE && impl.kind === 'weft') appendFileSync(TRACE, `${JSON.stringify({ kill: victims, time: Date.now() })}\n`);
  const load1 = round3(loadavg()[0]);
  const t0 = performance.now();
  const killed = victimIdxs.map((i) => impl.procs[i]!.kill9());
  const polled = pollMembers(impl, victims, observers);

  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    seen.allDead.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), DETECT_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  await polled.finish();
  seen.stop();
  await Promise.all(killed);

  const s = (at: number | undefined) => (at === undefined ? null : round3((at - t0) / 1000));
  const res: TrialResult = {
    victim: victims.join(','),
    killed: victims.length,
    load1,
    all_dead_s: timedOut ? null : s(Math.max(...seen.deadAt.values())),
    first_suspect_s: s(seen.firstSuspect),
    first_dead_s: s(seen.firstDead),
    rejoin_s: null,
  };
  if (impl instanceof WeftCluster)
    res.poll_all_dead_s = polled.at.size === observers.length ? s(Math.max(...polled.at.values())) : null;
  if (timedOut)
    log(
      `${impl.kind}: ${res.victim} not dead everywhere within ${DETECT_TIMEOUT_MS / 1000} s (${seen.deadAt.size}/${observers.length} observers)`,
    );
  res.rejoin_s = await restartVictims(impl, victimIdxs, alarms);
  return res;
}

/** Restarts the victims, same names and addresses; the seconds until the cluster is whole again. */
async function restartVictims(impl: Impl, victimIdxs: readonly number[], alarms: FalseAlarms): Promise<number> {
  const r0 = performance.now();
  for (const i of victimIdxs) {
    await impl.start(i);
    alarms.watch(impl, i);
  }
  await waitWhole(impl, impl.kind === 'weft' ? 200 : 500, WHOLE_TIMEOUT_MS);
  const rejoin = round3((performance.now() - r0) / 1000);
  for (const i of victimIdxs) alarms.down.delete(impl.names[i]);
  if (TRACE && impl.kind === 'weft')
    appendFileSync(TRACE, `${JSON.stringify({ whole: victimIdxs.map((i) => impl.names[i]), time: Date.now() })}\n`);
  return rejoin;
}

/** The p50 of `f` over the trials of each kill size. */
function byKill(trials: readonly TrialResult[], f: (t: TrialResult) => number | null): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const k of new Set(trials.map((t) => t.killed))) out[k] = pct(trials.filter((t) => t.killed === k).map(f), 50);
  return out;
}

function summarize(
  impl: Impl,
  trials: TrialResult[],
  formS: number,
  idle: { bytes: number; msgs: number },
  wire: NftTotals | null,
  idleS: number,
  alarms: FalseAlarms,
): ClusterResult {
  const n = impl.names.length;
  const r: ClusterResult = {
    impl: impl.kind,
    agents: n,
    trials,
    detect_p50_s: pct(
      trials.map((t) => t.all_dead_s),
      50,
    ),
    detect_max_s: pct(
      trials.map((t) => t.all_dead_s),
      100,
    ),
    detect_p50_by_kill: byKill(trials, (t) => t.all_dead_s),
    first_suspect_p50_by_kill: byKill(trials, (t) => t.first_suspect_s),
    first_suspect_p50_s: pct(
      trials.map((t) => t.first_suspect_s),
      50,
    ),
    first_dead_p50_s: pct(
      trials.map((t) => t.first_dead_s),
      50,
    ),
    form_s: round3(formS),
    idle_bytes_per_agent_s: round1(idle.bytes / n / idleS),
    idle_msgs_per_agent_s: round3(idle.msgs / n / idleS),
    idle_wire_bytes_per_agent_s: wire ? round1((wire.udpBytes + wire.tcpBytes) / n / idleS) : null,
    idle_wire_packets_per_agent_s: wire ? round3((wire.udpPackets + wire.tcpPackets) / n / idleS) : null,
    idle_wire_udp_bytes_per_agent_s: wire ? round1(wire.udpBytes / n / idleS) : null,
    idle_wire_tcp_bytes_per_agent_s: wire ? round1(wire.tcpBytes / n / idleS) : null,
    idle_udp_payload_per_datagram: wire && wire.udpPackets > 0 ? round1(wire.udpBytes / wire.udpPackets - 28) : null,
    false_deaths: alarms.deaths,
    false_deaths_forming: alarms.deathsForming,
    false_suspicions: alarms.suspicionEpisodes.size,
  };
  if (impl.kind === 'weft')
    r.poll_detect_p50_s = pct(
      trials.map((t) => t.poll_all_dead_s),
      50,
    );
  return r;
}

export function serfInstalled(bin = process.env.BENCH_SERF_BIN ?? 'serf'): boolean {
  return spawnSync(bin, ['version'], { stdio: 'ignore' }).status === 0;
}

/** The options with their defaults, checked: only 127.0.0.0/8, a different range for each. */
function realSettings(opts: RealOptions) {
  const agents = opts.agents;
  if (agents < 3 || agents > 254) throw new Error(`agents must be 3..254, got ${agents}`);
  const weftNet = opts.weftNet ?? process.env.BENCH_WEFT_NET ?? '127.0.10';
  const serfNet = opts.serfNet ?? process.env.BENCH_SERF_NET ?? '127.0.11';
  for (const net of [weftNet, serfNet])
    if (!/^127\.\d{1,3}\.\d{1,3}$/.test(net))
      throw new Error(`${net}: only 127.0.0.0/8 is allowed (three octets, e.g. 127.0.10)`);
  if (weftNet === serfNet) throw new Error('weft and serf need different address ranges');
  // Without an idle window: a token one-second window, right after forming.
  const skipIdle = opts.skipIdle === true;
  return {
    agents,
    settleS: opts.settleSeconds ?? 5,
    idleS: skipIdle ? 1 : (opts.idleSeconds ?? 30),
    steadyS: skipIdle ? 0 : (opts.steadySeconds ?? 65),
    weftNet,
    serfNet,
    serfBin: opts.serfBin ?? process.env.BENCH_SERF_BIN ?? 'serf',
    kills: opts.kills ?? [1],
    weftMode: opts.weftMode ?? 'agent',
    skipIdle,
  };
}

/** Runs `cleanupSync` on exit and on SIGINT/SIGTERM (then exits); returns the undo. */
function cleanupOnExit(cleanupSync: () => void): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`\n${sig}: stopping every agent of the bench`);
    cleanupSync();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', cleanupSync);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanupSync);
  };
}

interface IdleTraffic {
  weft: { bytes: number; msgs: number };
  serf: { bytes: number; msgs: number };
  weftWire: NftTotals | null;
  serfWire: NftTotals | null;
  /** When the window started (performance.now()) and how long it was, in seconds. */
  startedAt: number;
  seconds: number;
}

/** Idle traffic of both clusters over the same window: their own counters, and nft's when it counts. */
async function measureIdle(weft: Impl, serf: Impl, nft: NftCounters | undefined, idleS: number): Promise<IdleTraffic> {
  const w0 = await weft.counters();
  const s0 = await serf.counters();
  const n0 = nft?.read();
  const i0 = performance.now();
  await sleep(idleS * 1000);
  const w1 = await weft.counters();
  const s1 = await serf.counters();
  const n1 = nft?.read();
  const idleActual = (performance.now() - i0) / 1000;
  const diff = (a: NftTotals, b: NftTotals): NftTotals => ({
    udpBytes: b.udpBytes - a.udpBytes,
    udpPackets: b.udpPackets - a.udpPackets,
    tcpBytes: b.tcpBytes - a.tcpBytes,
    tcpPackets: b.tcpPackets - a.tcpPackets,
  });
  return {
    weft: { bytes: w1.bytes - w0.bytes, msgs: w1.msgs - w0.msgs },
    serf: { bytes: s1.bytes - s0.bytes, msgs: s1.msgs - s0.msgs },
    weftWire: n0 && n1 ? diff(n0.weft, n1.weft) : null,
    serfWire: n0 && n1 ? diff(n0.serf, n1.serf) : null,
    startedAt: i0,
    seconds: idleActual,
  };
}

/** `k` distinct victims for trial `t`, never the seed (index 0); the same for both clusters. */
function victimsOf(t: number, k: number, agents: number): number[] {
  const out: number[] = [];
  for (let j = 0; out.length < k; j++) {
    const i = 1 + ((t * 7 + 3 + j * 5) % (agents - 1));
    if (!out.includes(i)) out.push(i);
  }
  return out;
}

/** kill -9 trials: `trials` of each size in `kills` (agents killed at once), weft and serf in turn. */
async function runTrials(
  trials: number,
  kills: readonly number[],
  agents: number,
  clusters: readonly (readonly [Impl, FalseAlarms, TrialResult[]])[],
  log: (l: string) => void,
): Promise<void> {
  let n = 0;
  for (const k of kills)
    for (let t = 0; t < trials; t++, n++) {
      const victimIdxs = victimsOf(n, k, agents);
      for (const [impl, alarms, out] of clusters) {
        await sleep(2000);
        const r = await runTrial(impl, victimIdxs, alarms, log);
        out.push(r);
        const poll = r.poll_all_dead_s !== undefined ? `, polled ${r.poll_all_dead_s ?? 'timeout'} s` : '';
        log(
          `trial ${n + 1}/${trials * kills.length} ${impl.kind}: kill -9 ${r.victim} (load ${r.load1}): first suspect ${r.first_suspect_s} s, first dead ${r.first_dead_s} s, dead everywhere ${r.all_dead_s ?? 'timeout'} s${poll}; whole again ${r.rejoin_s} s after restart`,
        );
      }
    }
}

/** Starts both clusters, then waits until both are in steady state; the seconds each took to form, and when serf's started. */
async function formClusters(
  weft: Impl,
  serf: Impl,
  alarms: { weft: FalseAlarms; serf: FalseAlarms },
  o: { settleS: number; steadyS: number; idleS: number },
  log: (l: string) => void,
) {
  const weftForm = await startCluster(weft, alarms.weft, log);
  const serfStarted = performance.now();
  const serfForm = await startCluster(serf, alarms.serf, log);
  // memberlist starts its periodic push/pull only after a random stagger of up to one
  // interval plus one interval (30-60 s on lan), so a window right after forming would miss
  // most of serf's push/pull traffic and not all of weft's startup traffic would be over:
  // wait until the youngest agent has run `steadyS` seconds, and at least `settleS`.
  const youngestAge = (performance.now() - serfStarted) / 1000;
  const waitS = Math.max(o.settleS, o.steadyS - youngestAge);
  log(
    `settling ${waitS.toFixed(0)} s (every agent >= ${o.steadyS} s old, so both are in steady state), then ${o.idleS} s idle for traffic`,
  );
  await sleep(waitS * 1000);
  return { weftForm, serfForm, serfStarted };
}

/** nft counters of both ranges' gossip traffic on the wire, same rules for both; undefined without root and nft. */
function wireCounters(weftNet: string, serfNet: string, port: number): NftCounters | undefined {
  if (!nftUsable()) return undefined;
  return setupNft([
    { label: 'weft', cidr: `${weftNet}.0/24`, port },
    { label: 'serf', cidr: `${serfNet}.0/24`, port },
  ]);
}

/** Logs each cluster's idle payload rate, and statsd lines serf sent that could not be read. */
function logIdle(idle: IdleTraffic, agents: number, statsd: StatsdSink, log: (l: string) => void): void {
  log(
    `idle: weft ${(idle.weft.bytes / agents / idle.seconds).toFixed(0)} B/agent/s, serf ${(idle.serf.bytes / agents / idle.seconds).toFixed(0)} B/agent/s`,
  );
  if (statsd.malformed > 0) log(`statsd: ${statsd.malformed} malformed lines`);
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : round3(a / b);
}

/** The comparison of both clusters' results, with how it was measured and under what load. */
function comparison(
  weftRes: ClusterResult,
  serfRes: ClusterResult,
  idle: IdleTraffic,
  run: { nft: boolean; serfStarted: number; loadBefore: number[]; started: number; weftMode: 'agent' | 'membership' },
): RealResult {
  return {
    weft: weftRes,
    serf: serfRes,
    detect_ratio: ratio(weftRes.detect_p50_s, serfRes.detect_p50_s),
    detect_ratio_by_kill: Object.fromEntries(
      Object.keys(weftRes.detect_p50_by_kill).map((k) => [
        k,
        ratio(weftRes.detect_p50_by_kill[k], serfRes.detect_p50_by_kill[k] ?? null),
      ]),
    ),
    weft_mode: run.weftMode,
    bytes_ratio: ratio(weftRes.idle_bytes_per_agent_s, serfRes.idle_bytes_per_agent_s),
    wire_bytes_ratio: ratio(weftRes.idle_wire_bytes_per_agent_s, serfRes.idle_wire_bytes_per_agent_s),
    bytes_method: `payload counters: weft /metrics weft_gossip_bytes_out_total; serf memberlist.udp.sent+tcp.sent via statsd${run.nft ? '; cross-check: nftables IP bytes on lo, same rules for both' : ''}`,
    idle_seconds: round3(idle.seconds),
    idle_after_s: round3((idle.startedAt - run.serfStarted) / 1000),
    loadavg_before: run.loadBefore,
    loadavg_after: loadavg().map(round3),
    wall_s: round3((performance.now() - run.started) / 1000),
  };
}

export async function runRealComparison(opts: RealOptions): Promise<RealResult> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const o = realSettings(opts);
  const agents = o.agents;
  const group = new ProcGroup();
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-membership-'));
  let statsd: StatsdSink | undefined;
  let nft: NftCounters | undefined;
  const loadBefore = loadavg().map(round3);

  let cleaned = false;
  const cleanupSync = () => {
    if (cleaned) return;
    cleaned = true;
    group.killAllSync();
    if (nft) removeNftTable();
    rmSync(dir, { recursive: true, force: true });
  };
  const undoCleanup = cleanupOnExit(cleanupSync);

  const weftAlarms = new FalseAlarms();
  const serfAlarms = new FalseAlarms();
  try {
    statsd = await startStatsd(agents);
    const ports = await benchPorts([o.weftNet, o.serfNet], agents);
    const weft = new WeftCluster(group, o.weftNet, agents, ports.gossip, o.weftMode);
    const serf = new SerfCluster(group, o.serfNet, agents, ports, o.serfBin, dir, statsd);

    nft = opts.nft === false ? undefined : wireCounters(o.weftNet, o.serfNet, ports.gossip);
    if (!nft) log('nft not usable (needs root and nft): no wire-level cross-check');

    const { weftForm, serfForm, serfStarted } = await formClusters(
      weft,
      serf,
      { weft: weftAlarms, serf: serfAlarms },
      o,
      log,
    );
    const idle = await measureIdle(weft, serf, nft, o.idleS);
    logIdle(idle, agents, statsd, log);

    const [weftTrials, serfTrials]: TrialResult[][] = [[], []];
    const clusters = [[weft, weftAlarms, weftTrials] as const, [serf, serfAlarms, serfTrials] as const];
    await runTrials(opts.trials, o.kills, agents, clusters, log);
    const weftRes = summarize(weft, weftTrials, weftForm, idle.weft, idle.weftWire, idle.seconds, weftAlarms);
    const serfRes = summarize(serf, serfTrials, serfForm, idle.serf, idle.serfWire, idle.seconds, serfAlarms);
    const run = { nft: nft !== undefined, serfStarted, loadBefore, started, weftMode: o.weftMode };
    return comparison(weftRes, serfRes, idle, run);
  } finally {
    for (const off of [...weftAlarms.offs, ...serfAlarms.offs]) off();
    await group.killAll();
    await statsd?.close();
    nft?.remove();
    rmSync(dir, { recursive: true, force: true });
    cleaned = true;
    undoCleanup();
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const shown = (v: number | null | undefined, unit = '') => (v === null || v === undefined ? 'n/a' : `${v}${unit}`);

type Row = [string, string, string, string];

function trialList(trials: readonly TrialResult[], k: string): string {
  return trials
    .filter((t) => String(t.killed) === k)
    .map((t) => `${shown(t.all_dead_s)} (${t.load1})`)
    .join(' ');
}

/** Rows on forming the cluster and detecting a kill -9. */
function detectionRows(r: RealResult): Row[] {
  const f = shown;
  return [
    [
      'agents',
      `${r.weft.agents} (${r.weft_mode === 'agent' ? 'weft agent, all components' : 'membership only'})`,
      String(r.serf.agents),
      '',
    ],
    ['cluster formed (start to whole)', f(r.weft.form_s, ' s'), f(r.serf.form_s, ' s'), ''],
    ...Object.keys(r.weft.detect_p50_by_kill).flatMap((k): Row[] => [
      [
        `kill -9 of ${k} at once -> dead/failed at all, p50 (${r.weft.trials.filter((t) => String(t.killed) === k).length} trials)`,
        f(r.weft.detect_p50_by_kill[k], ' s'),
        f(r.serf.detect_p50_by_kill[k], ' s'),
        f(r.detect_ratio_by_kill[k]),
      ],
      ['  all trials (load average at the kill)', trialList(r.weft.trials, k), trialList(r.serf.trials, k), ''],
      [
        '  phase: first suspicion, p50',
        f(r.weft.first_suspect_p50_by_kill[k], ' s'),
        f(r.serf.first_suspect_p50_by_kill[k], ' s'),
        '',
      ],
    ]),
    ['all trials: dead everywhere, max', f(r.weft.detect_max_s, ' s'), f(r.serf.detect_max_s, ' s'), ''],
    ['  phase: first dead anywhere, p50', f(r.weft.first_dead_p50_s, ' s'), f(r.serf.first_dead_p50_s, ' s'), ''],
    ['  weft by polling /v1/members, p50', f(r.weft.poll_detect_p50_s, ' s'), '', ''],
    [
      '  whole again after restart, p50',
      f(
        pct(
          r.weft.trials.map((t) => t.rejoin_s),
          50,
        ),
        ' s',
      ),
      f(
        pct(
          r.serf.trials.map((t) => t.rejoin_s),
          50,
        ),
        ' s',
      ),
      '',
    ],
  ];
}

/** Rows on idle traffic and false alarms. */
function idleRows(r: RealResult): Row[] {
  const f = shown;
  return [
    [
      `idle payload bytes/agent/s (${r.idle_seconds.toFixed(0)} s window)`,
      f(r.weft.idle_bytes_per_agent_s),
      f(r.serf.idle_bytes_per_agent_s),
      f(r.bytes_ratio),
    ],
    ['idle UDP datagrams/agent/s (own counters)', f(r.weft.idle_msgs_per_agent_s), f(r.serf.idle_msgs_per_agent_s), ''],
    [
      'idle wire bytes/agent/s (nft, IP)',
      f(r.weft.idle_wire_bytes_per_agent_s),
      f(r.serf.idle_wire_bytes_per_agent_s),
      f(r.wire_bytes_ratio),
    ],
    [
      'idle wire packets/agent/s (nft)',
      f(r.weft.idle_wire_packets_per_agent_s),
      f(r.serf.idle_wire_packets_per_agent_s),
      '',
    ],
    [
      '  of which UDP bytes / TCP (push/pull) bytes',
      `${f(r.weft.idle_wire_udp_bytes_per_agent_s)} / ${f(r.weft.idle_wire_tcp_bytes_per_agent_s)}`,
      `${f(r.serf.idle_wire_udp_bytes_per_agent_s)} / ${f(r.serf.idle_wire_tcp_bytes_per_agent_s)}`,
      '',
    ],
    [
      '  mean UDP payload per datagram (B)',
      f(r.weft.idle_udp_payload_per_datagram),
      f(r.serf.idle_udp_payload_per_datagram),
      '',
    ],
    ['false deaths (observer events), once whole', String(r.weft.false_deaths), String(r.serf.false_deaths), ''],
    ['  while forming', String(r.weft.false_deaths_forming), String(r.serf.false_deaths_forming), ''],
    ['false suspicions (episodes)', String(r.weft.false_suspicions), String(r.serf.false_suspicions), ''],
  ];
}

/** The table rows of a real comparison, for this file's main and for bench/membership.ts. */
export function realTable(r: RealResult): string[] {
  const rows: Row[] = [['', 'weft', 'serf', 'weft/serf'], ...detectionRows(r), ...idleRows(r)];
  const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((row) => row[c].length)));
  const lines = rows.map((row) =>
    row
      .map((cell, c) => (c === 0 ? cell.padEnd(w[c]) : cell.padStart(w[c])))
      .join('  ')
      .trimEnd(),
  );
  lines.push(`bytes: ${r.bytes_method}; idle window from ${r.idle_after_s.toFixed(0)} s after the agents started`);
  lines.push(
    `load average before ${r.loadavg_before.join(' ')}, after ${r.loadavg_after.join(' ')} (2 cores; other work may share them); wall ${r.wall_s} s`,
  );
  return lines;
}

async function main(): Promise<void> {
  const [agents = '20', trials = '5'] = process.argv.slice(2);
  if (!serfInstalled()) {
    console.log('serf is not installed: nothing to compare with');
    process.exit(2);
  }
  const r = await runRealComparison({
    agents: Number(agents),
    trials: Number(trials),
    idleSeconds: process.env.BENCH_IDLE_S ? Number(process.env.BENCH_IDLE_S) : undefined,
    log: (l) => console.error(l),
  });
  for (const l of realTable(r)) console.log(l);
  console.log(JSON.stringify(r));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

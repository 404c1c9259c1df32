// Hostile input against membership, as reusable attacks: the tests in membership/ run
// them and assert, `npm run bench -- hostile` runs them once and prints what they measured.
// Each attack starts real agents on loopback (127.0.2.0/24 and up), attacks them through
// their real sockets, measures, and stops everything it started, even when it fails.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { Envelope } from '../../crdt-store/envelope.js';
import { frame } from '../../membership/framing.js';
import { sealedHello } from '../../membership/stream-hello.js';
import { startAgent, STEADY_GOSSIP_FLAGS, type AgentProcess } from '../../test/helpers/agent-process.js';
import { eventually } from '../../test/helpers/eventually.js';
import { codecEnvelope, decodePacket, packUnchecked, sealBody, type WireOptions } from '../../membership/codec.js';
import { Keyring, generateKey } from '../../membership/keyring.js';
import type { AttackResult } from './result.js';
import { residentMb } from '../proc-memory.js';

export type { AttackResult } from './result.js';

/** Fast timings, so that an attack and its verdict take seconds. */
const FAST = [...STEADY_GOSSIP_FLAGS, '--push-pull-interval', '5s'];

/** Collects cleanups, run in reverse order, as tap's t.teardown does. */
export class Cleanup {
  readonly #fns: (() => void | Promise<void>)[] = [];
  teardown(fn: () => void | Promise<void>): void {
    this.#fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => undefined);
  }
}

interface MemberJson {
  name: string;
  state: string;
  incarnation: number;
}

export async function members(a: AgentProcess): Promise<MemberJson[]> {
  const res = await fetch(`${a.ready.api}/v1/members`);
  return ((await res.json()) as { members: MemberJson[] }).members;
}

function running(a: AgentProcess): boolean {
  return a.proc.exitCode === null && a.proc.signalCode === null;
}

function endpoint(a: AgentProcess): { addr: string; port: number } {
  const [addr, port] = a.ready.gossip!.split(':');
  return { addr: addr!, port: Number(port) };
}

/** Sends datagrams from `from` (a loopback address of the attacker's) and closes the socket. */
export async function sendDatagrams(
  from: string,
  to: { addr: string; port: number },
  bufs: readonly Uint8Array[],
): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, from, () => resolve());
  });
  for (const b of bufs) await new Promise<void>((resolve) => sock.send(b, to.port, to.addr, () => resolve()));
  await new Promise<void>((resolve) => sock.close(() => resolve()));
}

const HUGE = Number.MAX_SAFE_INTEGER; // 2^53-1: +1 is not a safe integer

/** A forged `dead` of a2 and `alive` of a3 (at `a3`) at each of three heights. */
function forgedIncarnations(wire: WireOptions, a3: { addr: string; port: number }): Buffer[] {
  // Wire forms (wire-schema.ts): [6 dead, incarnation, node, from], [4 alive, incarnation, [name, addr, port], meta].
  // Three heights: above what +1 can encode; the top of the valid range (2^32-1), which
  // nobody could outbid; and just inside the plausible lead of a day, which a2 must outbid.
  const nearLead = Math.floor(Date.now() / 1000) + 24 * 3600 - 60;
  const packets: Buffer[] = [];
  for (const inc of [HUGE, 0xffffffff, nearLead]) {
    packets.push(sealBody(packUnchecked([[6, inc, 'a2', 'a1']]), wire));
    packets.push(sealBody(packUnchecked([[4, inc, ['a3', a3.addr, a3.port], new Uint8Array(0)]]), wire));
  }
  return packets;
}

/** Stops `a` if it still runs and starts it again with `args`: the new process, or why it would not start (its internal error line). */
async function restartAgent(cleanup: Cleanup, a: AgentProcess, args: string[]): Promise<AgentProcess | string> {
  if (running(a)) {
    a.proc.kill('SIGTERM');
    await a.exited;
  }
  try {
    return await startAgent(cleanup, args);
  } catch (e) {
    const line = /"msg":"(internal error[^"]*)"/.exec((e as Error).message)?.[1];
    return line ?? (e as Error).message.slice(0, 200);
  }
}

/** Entries a forged message planted: an incarnation above 2^32-1, or a member not alive. */
function forgedInViews(views: MemberJson[][]): number {
  const huge = views.flat().filter((m) => m.incarnation > 0xffffffff).length;
  const wrong = views.flat().filter((m) => m.state !== 'alive').length;
  return huge + wrong;
}

const viewsText = (views: MemberJson[][]) =>
  views.map((v) => v.map((m) => `${m.name}=${m.state}@${m.incarnation}`).join(' ')).join(' | ');

/** Whether every running agent of `agents` sees each of `names` alive. */
async function aliveEverywhere(agents: AgentProcess[], names: string[]): Promise<boolean> {
  const views = await Promise.all(agents.filter(running).map(members));
  return views.every((v) => names.every((n) => v.find((m) => m.name === n)?.state === 'alive'));
}

/** Agent a<i> on `base`.<i>, joined to `join` when given. */
function startNumbered(
  cleanup: Cleanup,
  base: string,
  i: number,
  join: string | undefined,
  keyArgs: string[],
): Promise<AgentProcess> {
  return startAgent(cleanup, [
    '--node',
    `a${i}`,
    '--bind',
    `${base}.${i}`,
    '--bind-port',
    '0',
    ...(join ? ['--join', join] : []),
    ...keyArgs,
    ...FAST,
  ]);
}

/** a1, a2 and a3, the last two joined to a1, once they all see each other alive. */
async function startTrio(cleanup: Cleanup, base: string, keyArgs: string[]): Promise<AgentProcess[]> {
  const a1 = await startNumbered(cleanup, base, 1, undefined, keyArgs);
  const a2 = await startNumbered(cleanup, base, 2, a1.ready.gossip!, keyArgs);
  const a3 = await startNumbered(cleanup, base, 3, a1.ready.gossip!, keyArgs);
  await eventually('3 agents see each other alive', () => aliveEverywhere([a1, a2, a3], ['a1', 'a2', 'a3']), 20_000);
  return [a1, a2, a3];
}

/** Sends the forged packets (from `base`.9) to a1 and a2 and waits for them to spread: the agents that exited since. */
async function sendForgedIncarnations(
  trio: AgentProcess[],
  base: string,
  key: string | undefined,
): Promise<AgentProcess[]> {
  const [a1, a2, a3] = trio as [AgentProcess, AgentProcess, AgentProcess];
  const packets = forgedIncarnations({ label: '', keyring: key ? new Keyring([key]) : undefined }, endpoint(a3));
  await sendDatagrams(`${base}.9`, endpoint(a1), packets);
  await sendDatagrams(`${base}.9`, endpoint(a2), packets);
  // Long enough for the refutation to be encoded several times and for gossip to spread.
  await new Promise((r) => setTimeout(r, 3000));
  return trio.filter((a) => !running(a));
}

/**
 * Restarts a2 (as systemd would after a crash, or by hand) and judges: it must not crash
 * again, and every view must heal and hold nothing forged. `crashes` and `details` carry
 * what was seen before the restart.
 */
async function restartA2AndJudge(
  cleanup: Cleanup,
  o: { name: string; trio: AgentProcess[]; base: string; keyArgs: string[] },
  crashes: number,
  details: string[],
): Promise<AttackResult> {
  const { name, trio, base, keyArgs } = o;
  const a2 = trio[1]!;
  const args = [
    '--node',
    'a2',
    '--bind',
    `${base}.2`,
    '--bind-port',
    String(endpoint(a2).port),
    '--join',
    trio[0]!.ready.gossip!,
    ...keyArgs,
    ...FAST,
  ];
  const restarted = await restartAgent(cleanup, a2, args);
  if (typeof restarted === 'string')
    return {
      name,
      held: false,
      crashes: crashes + 1,
      forged_accepted: 0,
      detail: [...details, `a2 crashed on restart: ${restarted}`].join('; '),
    };
  trio[1] = restarted;
  const healed = await eventually(
    'a2 and a3 alive in every view after the restart',
    () => aliveEverywhere(trio, ['a1', 'a2', 'a3']),
    20_000,
  ).then(
    () => true,
    () => false,
  );
  await new Promise((r) => setTimeout(r, 2000));
  if (!running(restarted)) {
    crashes++;
    details.push('a2 crashed again after its restart');
  }
  const views = await Promise.all(trio.filter(running).map(members));
  const forged = forgedInViews(views);
  if (!healed || forged > 0) details.push(`views: ${viewsText(views)}`);
  return {
    name,
    held: crashes === 0 && forged === 0 && healed,
    crashes,
    forged_accepted: forged,
    detail: details.join('; ') || undefined,
  };
}

/**
 * Forged incarnation: one `dead` message about a2 at incarnation 2^53-1, sent (as a key holder
 * when `keyed`) to a1 and to a2 itself, plus a forged `alive` of a3 at the same height.
 * Held when no agent exits, a2 and a3 stay alive in every view, no view holds an
 * incarnation above 2^32-1, and a2, restarted, stays up and alive.
 */
export async function forgedIncarnationAttack(opts: { keyed: boolean; base: string }): Promise<AttackResult> {
  const name = `forged_incarnation_${opts.keyed ? 'key_holder' : 'plain'}`;
  const cleanup = new Cleanup();
  try {
    const key = opts.keyed ? generateKey() : undefined;
    const keyArgs = key ? ['--encrypt', key] : [];
    const trio = await startTrio(cleanup, opts.base, keyArgs);
    const exited = await sendForgedIncarnations(trio, opts.base, key);
    const details: string[] = [];
    if (exited.length > 0)
      details.push(`exited after the forged packets: ${exited.map((a) => a.ready.gossip).join(', ')}`);
    return await restartA2AndJudge(cleanup, { name, trio, base: opts.base, keyArgs }, exited.length, details);
  } finally {
    await cleanup.run();
  }
}

const FRAME_4MIB = 4 * 1024 * 1024;

/**
 * One hostile connection: an optional first frame (a forged hello), then a 4 MiB length
 * prefix, then as much of the body as the server takes, in 64 KiB writes. Resolves when the
 * server closes it or `stopAt` passes.
 */
function floodConnection(
  from: string,
  to: { addr: string; port: number },
  hello: Uint8Array | undefined,
  stopAt: number,
): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    const sock: Socket = connect({ host: to.addr, port: to.port, localAddress: from });
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const done = () => {
      sock.destroy();
      resolve(sent);
    };
    sock.on('error', done);
    sock.on('close', done);
    sock.setTimeout(Math.max(1, stopAt - Date.now()), done);
    sock.on('connect', () => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(FRAME_4MIB);
      sock.write(hello ? Buffer.concat([frame(hello), prefix]) : prefix);
      const pump = () => {
        while (!sock.destroyed && sent < FRAME_4MIB - chunk.length && Date.now() < stopAt) {
          sent += chunk.length;
          if (!sock.write(chunk)) return void sock.once('drain', pump);
        }
        // The body stays one chunk short of complete: the frame is never finished.
      };
      pump();
    });
  });
}

/**
 * Waves of connections from 8 source addresses until `stopAt`, so that trickling ones are
 * always in flight while the join runs: every other one to the store port, and with a
 * forged hello as `hellos` says (half: a quarter of each wave gets none). Counts into `sent`.
 */
async function floodWaves(
  o: {
    ip: (i: number) => string;
    gossipAt: { addr: string; port: number };
    storeAt: { addr: string; port: number };
    connections: number;
    hellos?: 'none' | 'all' | 'half';
    stopAt: number;
  },
  sent: { attempted: number; bytes: number },
): Promise<void> {
  const sources = 8;
  const gossipHello = sealedHello(codecEnvelope({ label: '' })).make();
  const storeHello = sealedHello(new Envelope({ label: '' })).make();
  while (Date.now() < o.stopAt && o.connections > 0) {
    const wave: Promise<number>[] = [];
    for (let i = 0; i < o.connections; i++) {
      const toStore = i % 2 === 1;
      const withHello = o.hellos === 'all' || (o.hellos !== 'none' && i % 4 >= 2);
      const hello = withHello ? (toStore ? storeHello : gossipHello) : undefined;
      wave.push(floodConnection(o.ip(10 + (i % sources)), toStore ? o.storeAt : o.gossipAt, hello, o.stopAt));
    }
    sent.attempted += wave.length;
    for (const n of await Promise.all(wave)) sent.bytes += n;
    await new Promise((r) => setTimeout(r, 200)); // no busy loop when the agent cuts them off at once
  }
}

/** Writes the KV entry the joining agent must receive by repair. */
async function putProbe(v1: AgentProcess): Promise<void> {
  const put = await fetch(`${v1.ready.api}/v1/kv/flood/probe`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify('before'),
  });
  if (!put.ok) throw new Error(`kv put failed: ${put.status} ${await put.text()}`);
}

/** Samples the RSS of process `pid` every 100 ms until stopped: the peak seen, from `baseline`. */
function rssPeakSampler(cleanup: Cleanup, pid: number, baseline: number): { stop: () => number } {
  let peak = baseline;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, residentMb(pid).rss);
    } catch {
      // exited: counted by the caller
    }
  }, 100);
  cleanup.teardown(() => clearInterval(sampler));
  return {
    stop: () => {
      clearInterval(sampler);
      return peak;
    },
  };
}

/** Starts v2 joined to v1: the ms until v1 sees it alive and it holds the probe entry, or -1 past `deadlineMs`. */
async function joinWithRepair(
  cleanup: Cleanup,
  ip: (i: number) => string,
  v1: AgentProcess,
  deadlineMs: number,
): Promise<number> {
  const joinStarted = Date.now();
  const v2 = await startAgent(cleanup, [
    '--node',
    'v2',
    '--bind',
    ip(2),
    '--bind-port',
    '0',
    '--join',
    v1.ready.gossip!,
    ...FAST,
  ]);
  return eventually(
    'v2 joined v1 and holds the KV entry written before it came',
    async () => {
      const r = await fetch(`${v2.ready.api}/v1/kv/flood/probe`);
      return r.ok && (await members(v1)).some((m) => m.name === 'v2' && m.state === 'alive');
    },
    deadlineMs,
  ).then(
    () => Date.now() - joinStarted,
    () => -1,
  );
}

/**
 * Stream flood: connections that announce 4 MiB frames and dump or trickle bytes, at
 * the gossip and the store port of one agent, half without a hello and half behind a
 * forged one (without encryption anyone can make one). Meanwhile a second agent joins
 * (gossip push/pull) and must receive a KV entry written before it came (store repair).
 * Held when the agent's RSS grows by at most 32 MB and the join and the repair succeed.
 */
export async function streamFloodAttack(opts: {
  smoke: boolean;
  base: string;
  hellos?: 'none' | 'all' | 'half';
  connections?: number;
}): Promise<AttackResult> {
  const name = 'stream_flood';
  const cleanup = new Cleanup();
  try {
    const ip = (i: number) => `${opts.base}.${i}`;
    // NODE_OPTIONS cleared: under tap it loads tap's TypeScript loader into the agent, which
    // then measures tap as well as weft.
    const v1 = await startAgent(cleanup, ['--node', 'v1', '--bind', ip(1), '--bind-port', '0', ...FAST], {
      NODE_OPTIONS: '',
    });
    await putProbe(v1);
    await new Promise((r) => setTimeout(r, 500));
    const baseline = residentMb(v1.proc.pid!).rss;

    const gossipAt = endpoint(v1);
    const [storeAddr, storePort] = v1.ready.store!.split(':');
    const storeAt = { addr: storeAddr!, port: Number(storePort) };
    const connections = opts.connections ?? (opts.smoke ? 160 : 400); // over 64 per port: old agents refused the 65th
    const durationMs = opts.smoke ? 6_000 : 12_000;
    const stopAt = Date.now() + durationMs;
    const sampler = rssPeakSampler(cleanup, v1.proc.pid!, baseline);
    const sent = { attempted: 0, bytes: 0 };
    const flood = floodWaves({ ip, gossipAt, storeAt, connections, hellos: opts.hellos, stopAt }, sent);

    await new Promise((r) => setTimeout(r, 1000)); // the flood is in full swing
    const joined = await joinWithRepair(cleanup, ip, v1, durationMs);
    await flood;
    const peak = sampler.stop();
    const crashes = running(v1) ? 0 : 1;
    const growth = Math.round((peak - baseline) * 10) / 10;
    const held = crashes === 0 && growth <= 32 && joined >= 0;
    return {
      name,
      held,
      crashes,
      detail: `${sent.attempted} connections, ${Math.round(sent.bytes / 1e6)} MB sent; RSS ${baseline.toFixed(0)} -> peak ${peak.toFixed(0)} MB; join and repair ${joined >= 0 ? `in ${joined} ms` : 'failed'}`,
      figures: {
        rss_growth_mb_stream_flood: growth,
        stream_flood_connections: sent.attempted,
        stream_flood_join_ms: joined,
      },
    };
  } finally {
    await cleanup.run();
  }
}

/** A counter of an agent's /metrics, summed over the label sets that match `labels`. */
export async function metric(a: AgentProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${a.ready.api}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

/**
 * The recording post: a UDP socket on `addr` that keeps every packet it receives which
 * `look` opens and which carries an alive or suspect.
 */
async function startRecorder(
  cleanup: Cleanup,
  addr: string,
  look: WireOptions,
): Promise<{ sock: UdpSocket; captured: Buffer[] }> {
  const sock = createSocket('udp4');
  cleanup.teardown(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  await new Promise<void>((resolve) => sock.bind(0, addr, () => resolve()));
  const captured: Buffer[] = [];
  sock.on('message', (buf) => {
    const r = decodePacket(buf, look);
    if (r.ok && r.msgs.some((m) => m.t === 'alive' || m.t === 'suspect')) captured.push(buf);
  });
  return { sock, captured };
}

/** Announces the recorder to `to` as member "tap", in a packet sealed by an insider, both the current and the pre-replay-protection way. */
async function announceTap(sock: UdpSocket, to: { addr: string; port: number }, look: WireOptions): Promise<void> {
  const { address, port } = sock.address();
  const body = packUnchecked([[4, Math.floor(Date.now() / 1000), ['tap', address, port], new Uint8Array(0)]]);
  // Also sealed as agents before replay protection did (mode 1, no sender time), so the
  // attack runs against them too; newer agents refuse that copy as stale.
  const legacyHeader = Buffer.from([1, 1, 0]);
  for (const intro of [sealBody(body, look), Buffer.concat([legacyHeader, look.keyring!.seal(body, legacyHeader)])]) {
    await new Promise<void>((resolve) => sock.send(intro, to.port, to.addr, () => resolve()));
  }
}

/** Sends each packet twice (from `from`) to each agent: how many copies each refused as replayed. */
async function replayTwice(from: string, agents: AgentProcess[], replays: Buffer[]): Promise<number[]> {
  const replayed = (a: AgentProcess) => metric(a, 'weft_gossip_rejected_total', 'reason="replayed"');
  const before = await Promise.all(agents.map(replayed));
  for (const p of replays) {
    for (const a of agents) await sendDatagrams(from, endpoint(a), [p, p]);
  }
  await new Promise((r) => setTimeout(r, 500));
  const after = await Promise.all(agents.map(replayed));
  return after.map((n, i) => n - before[i]!);
}

/**
 * Replay: a captured encrypted packet, sent again. A fake member (the attacker,
 * who holds no key here; it merely records) announces itself to agent r1 with a packet
 * sealed by an insider, then records what r1 gossips to it; every recorded packet that
 * carries an alive or suspect is delivered to r2 twice. Held when r2 refuses every second
 * copy (counted as replayed) and r1 refuses its own packets sent back to it.
 */
export async function replayAttack(opts: { base: string }): Promise<AttackResult> {
  const name = 'gossip_replay';
  const cleanup = new Cleanup();
  try {
    const key = generateKey();
    const ip = (i: number) => `${opts.base}.${i}`;
    const r1 = await startAgent(cleanup, [
      '--node',
      'r1',
      '--bind',
      ip(1),
      '--bind-port',
      '0',
      '--encrypt',
      key,
      ...FAST,
    ]);
    const r2 = await startAgent(cleanup, [
      '--node',
      'r2',
      '--bind',
      ip(2),
      '--bind-port',
      '0',
      '--encrypt',
      key,
      '--join',
      r1.ready.gossip!,
      ...FAST,
    ]);
    await eventually(
      'r1 and r2 see each other',
      async () => (await members(r1)).length === 2 && (await members(r2)).length === 2,
      15_000,
    );

    // A UDP socket r1 believes is member "tap".
    const look: WireOptions = { label: '', keyring: new Keyring([key]), acceptUnstamped: true };
    const { sock, captured } = await startRecorder(cleanup, ip(9), look);
    await announceTap(sock, endpoint(r1), look);
    await eventually('r1 gossiped an alive or suspect to the tap', () => captured.length >= 3, 15_000);

    const replays = captured.slice(0, 3);
    // r1 sealed them and never received them: the first copy is new to r1, the second a replay.
    const [refused, refusedOwn] = (await replayTwice(ip(8), [r2, r1], replays)) as [number, number];
    const accepted = Math.max(0, replays.length - refused) + Math.max(0, replays.length - refusedOwn);
    return {
      name,
      held: accepted === 0,
      forged_accepted: accepted,
      detail: `${replays.length} captured packets replayed at r2 and r1: ${refused} + ${refusedOwn} second copies refused as replayed`,
      figures: { replays_refused: refused + refusedOwn },
    };
  } finally {
    await cleanup.run();
  }
}

export async function runGossipAttacks(opts: { smoke: boolean }): Promise<AttackResult[]> {
  const results: AttackResult[] = [];
  results.push(await forgedIncarnationAttack({ keyed: false, base: '127.0.2' }));
  results.push(await forgedIncarnationAttack({ keyed: true, base: '127.0.3' }));
  results.push(await replayAttack({ base: '127.0.5' }));
  results.push(await streamFloodAttack({ smoke: opts.smoke, base: '127.0.4' }));
  return results;
}

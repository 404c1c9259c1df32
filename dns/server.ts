// The socket adapter: UDP and TCP listeners in front of the sans-IO responder, and the
// upstream sockets and timer behind the forwarder. It reads the clock and moves bytes;
// every decision is made in answer.ts and forwarder.ts.
//
// Upstream queries over UDP each leave from a socket of their own, bound by the kernel to a
// fresh random port and closed when the forwarder is done with the query (its 'done'): a
// spoofer must guess that port as well as the id and the 0x20 case. Their number is bounded
// by the forwarder's maxOutstanding (times the upstreams tried per query).
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { RecursionAcl, type Interfaces } from './client-acl.js';
import { NetSet, parseNet } from './netset.js';
import { ResponseRateLimiter, RRL_SEND, RRL_SLIP, slipResponse } from './rrl.js';
import { Registry } from 'prom-client';
import { Responder } from './answer.js';
import { DEFAULTS } from './defaults.js';
import { DOWN_AFTER, Forwarder, type ForwarderOutput, type Upstream } from './forwarder.js';
import { registerDnsMetrics } from './metrics.js';
import { parseUpstream, upstreamsFromResolvConf } from './resolv-conf.js';
import { DnsStats, type Source } from './stats.js';
import { Zone, type RecordSource, type VipSource } from './zone.js';
import { DnsWorkerPool } from './worker-pool.js';
import { serveUdp, setReading, type UdpSend } from './udp-handle.js';

export interface ListenAddr {
  addr: string;
  port: number;
}

/** The component's log (base/log.ts). */
export type DnsLog = import('../base/log.js').Log;

export interface DnsServerOptions {
  /** Where to answer, UDP and TCP on each. Default 127.0.0.1:8600. Port 0 picks a free port. */
  listen?: ListenAddr[];
  /** Default `weft.internal.` */
  domain?: string;
  /** TTL of zone answers and the negative TTL. Default 5 s. */
  ttlS?: number;
  /** This node's name: the zone's NS is `<nodeName>.node.<domain>`. */
  nodeName?: string;
  /** The store (live view): crdt-store's StoreNode or LocalStore. */
  source: RecordSource;
  /** VIP name -> address, from the load balancer. Without it VIP names are NXDOMAIN. */
  vips?: VipSource;
  /** Forward names outside the zone (default true); when false they are REFUSED. */
  forward?: boolean;
  /** host, host:port or [v6]:port. Default: the nameservers of resolvConf, without our own listen addresses. */
  upstreams?: string[];
  /** Default /etc/resolv.conf */
  resolvConf?: string;
  /** Forwarded answers cached. Default 10,000. */
  cacheSize?: number;
  /** Upstream queries in flight at once. Default 512. */
  maxOutstanding?: number;
  /** Per upstream attempt. Default 1500 ms. */
  upstreamTimeoutMs?: number;
  /** Largest UDP answer to EDNS clients. Default 1232. */
  maxUdpPayload?: number;
  /** Open TCP client connections at once. Default 256. */
  maxTcpConnections?: number;
  /** A TCP client connection with nothing to say for this long is closed. Default 10 s. */
  tcpIdleMs?: number;
  /** Who may recurse (names outside the domain): CIDRs and the words docker and overlay (see client-acl.ts). Default loopback, docker, overlay. */
  recursionAllow?: readonly string[];
  /** The overlay CIDR, when the overlay runs (what `overlay` in recursionAllow means). */
  overlayCidr?: string;
  /** The host's interfaces, for the Docker bridges (tests). Default os.networkInterfaces. */
  interfaces?: Interfaces;
  /** Response-rate limiting on UDP, per client /24 or /56. Default 1000/s, burst 1000, slip 2, loopback exempt. */
  rateLimit?: { ratePerS?: number; burst?: number; slip?: number; maxClients?: number; exempt?: readonly string[] };
  /**
   * Worker processes that answer UDP for the zone from the same sockets (worker-pool.ts), on
   * other cores. Default 1. They start once UDP queries arrive faster than workerStartQps.
   */
  workers?: number;
  /** UDP queries per second that start the workers. Default 2,000; 0 starts them with the server. */
  workerStartQps?: number;
  /** Workers that read no query for this long stop until load returns. Default 5 min. */
  workerIdleMs?: number;
  /** The workers' entry point (tests running TypeScript pass dist's compiled worker.js). */
  workerScript?: string;
  log?: DnsLog;
  /** Where the weft_dns_* metrics go. Default: a registry of its own (see `registry`). */
  registry?: Registry;
}

/** A start failure, said in one line for a person. */
export class DnsStartError extends Error {
  override name = 'DnsStartError';
}

const silent: DnsLog = { debug() {}, info() {}, warn() {}, error() {} };

type UdpClient = { send: UdpSend; address: string; port: number };
type TcpClient = { conn: net.Socket };
type Client = UdpClient | TcpClient;

// A literal address needs no lookup; dgram's default goes through dns.lookup and a tick per send.
const literal = (
  address: string,
  family: unknown,
  cb: (err: Error | null, address: string, family: number) => void,
): void => cb(null, address, net.isIP(address) === 6 ? 6 : 4);

const now = (): number => performance.now();

/** How many UDP queries go between two checks of the load (countLoad): no timer, nothing at all when idle. */
const LOAD_CHECK_EVERY = 1024;

const atKey = (a: ListenAddr): string => `${a.addr}:${a.port}`;

/** Over UDP a client outside recursionAllow gets at most this many times its query's size (more is truncated: TCP). */
export const UNTRUSTED_AMPLIFICATION = 3;

export class DnsServer {
  readonly zone: Zone;
  readonly stats = new DnsStats();
  readonly registry: Registry;
  readonly forwarder: Forwarder<Client> | undefined;
  readonly acl: RecursionAcl;
  readonly rrl: ResponseRateLimiter;
  /** The worker processes (undefined with workers 0). */
  workers: DnsWorkerPool | undefined;
  /** The bound addresses, UDP and TCP on each (ports resolved when 0 was asked). */
  readonly addresses: ListenAddr[] = [];
  private readonly responder: Responder<Client>;
  private readonly udp: dgram.Socket[] = [];
  /** False while the workers read the UDP sockets without the agent (worker-pool.ts). */
  private agentReads = true;
  /** Each UDP socket's answer path (udp-handle.ts), by the same index. */
  private readonly udpSend: UdpSend[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly conns = new Set<net.Socket>();
  private readonly upstreamTcp = new Set<net.Socket>();
  /** The UDP sockets of each upstream query in flight, by query id. */
  private readonly upSocks = new Map<number, dgram.Socket[]>();
  /** Each upstream's address as dgram reports a sender's (IPv6 in canonical form). */
  private readonly upHosts: string[];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private housekeeping: NodeJS.Timeout | undefined;
  /** What the last log summary counted (spoofs, refusals, rate-limited), so each line says what is new. */
  private reported = { spoofs: 0, refused: 0, limited: 0 };
  private detach: () => void = () => {};
  private readonly log: DnsLog;
  private readonly tcpIdleMs: number;
  private readonly maxTcp: number;
  private readonly timeoutMs: number;
  private stopped = false;
  /** UDP queries since the last load check, and when that was (see countLoad). */
  private loadCount = 0;
  private loadMark = 0;
  private readonly loadWindowMs: number;

  private constructor(opts: DnsServerOptions, upstreams: Upstream[]) {
    this.log = opts.log ?? silent;
    this.tcpIdleMs = opts.tcpIdleMs ?? DEFAULTS.tcpIdleMs;
    this.maxTcp = opts.maxTcpConnections ?? DEFAULTS.maxTcpConnections;
    this.timeoutMs = opts.upstreamTimeoutMs ?? DEFAULTS.upstreamTimeoutMs;
    this.zone = new Zone({ domain: opts.domain, ttlS: opts.ttlS, nodeName: opts.nodeName });
    this.forwarder =
      opts.forward === false || upstreams.length === 0
        ? undefined
        : new Forwarder<Client>(
            { upstreams, cacheSize: opts.cacheSize, maxOutstanding: opts.maxOutstanding, timeoutMs: this.timeoutMs },
            this.stats,
          );
    this.upHosts = upstreams.map((u) =>
      net.isIP(u.host) === 6 ? new URL(`http://[${u.host}]`).hostname.slice(1, -1) : u.host,
    );
    this.responder = new Responder<Client>(this.zone, this.stats, this.forwarder, {
      maxUdpPayload: opts.maxUdpPayload ?? DEFAULTS.udpPayload,
    });
    this.acl = new RecursionAcl({
      allow: opts.recursionAllow,
      overlayCidr: opts.overlayCidr,
      interfaces: opts.interfaces ?? networkInterfaces,
    });
    const rl = opts.rateLimit ?? {};
    const exempt = (rl.exempt ?? DEFAULTS.rateLimitExempt).map((c) => {
      const n = parseNet(c);
      if (!n) throw new Error(`DNS rate-limit exemption "${c}" is not a CIDR (a.b.c.d/n or v6/n)`);
      return n;
    });
    this.rrl = new ResponseRateLimiter({
      ratePerS: rl.ratePerS ?? DEFAULTS.rateLimit,
      burst: rl.burst,
      slip: rl.slip,
      maxClients: rl.maxClients,
      exempt: new NetSet(exempt),
    });
    this.workers = this.workerPool(opts, rl.ratePerS ?? DEFAULTS.rateLimit);
    const startQps = opts.workerStartQps ?? DEFAULTS.workerStartQps;
    this.loadWindowMs = startQps > 0 ? (LOAD_CHECK_EVERY * 1000) / startQps : 0;
    this.registry = opts.registry ?? new Registry();
    registerDnsMetrics(
      this.registry,
      { own: this.stats, all: () => this.allStats(), limited: () => this.limited(), workers: this.workers },
      this.zone,
      this.forwarder as Forwarder<unknown> | undefined,
      this.rrl,
    );
  }

  private workerPool(opts: DnsServerOptions, ratePerS: number): DnsWorkerPool | undefined {
    const count = opts.workers ?? DEFAULTS.workers;
    if (!Number.isInteger(count) || count < 0 || count > 64)
      throw new Error(`DNS workers ${count} is not a whole number from 0 to 64`);
    if (count === 0) return undefined;
    const rl = opts.rateLimit ?? {};
    return new DnsWorkerPool({
      count,
      init: {
        domain: this.zone.domain,
        ttlS: this.zone.ttl,
        nodeName: opts.nodeName,
        maxUdpPayload: opts.maxUdpPayload ?? DEFAULTS.udpPayload,
        forwards: this.forwarder !== undefined,
        recursionAllow: opts.recursionAllow,
        overlayCidr: opts.overlayCidr,
        rateLimit: {
          ratePerS,
          burst: this.rrl.burst,
          slip: this.rrl.slip,
          maxClients: rl.maxClients,
          exempt: rl.exempt ?? DEFAULTS.rateLimitExempt,
        },
      },
      source: opts.source,
      vips: opts.vips,
      rrl: this.rrl,
      sockets: () => this.udp.map((s, i): [string, dgram.Socket] => [atKey(this.addresses[i]), s]),
      setAgentReading: (on) => {
        this.agentReads = on;
        // Every socket, even after one that cannot stop: none is left behind in the other state.
        return this.udp.map((s) => setReading(s, on)).every(Boolean);
      },
      relay: (at, msg, address, port) => {
        const i = this.addresses.findIndex((a) => atKey(a) === at);
        if (i >= 0 && !this.stopped) this.onUdp(this.udpSend[i], msg, address, port);
      },
      log: this.log,
      script: opts.workerScript,
      // Started with the server (workerStartQps 0), nothing would start them again.
      idleMs: (opts.workerStartQps ?? DEFAULTS.workerStartQps) > 0 ? opts.workerIdleMs : Infinity,
    });
  }

  /** Every process's answers (the agent's and its workers'). */
  private allStats(): DnsStats {
    if (!this.workers) return this.stats;
    const all = new DnsStats();
    all.add(this.stats.snapshot());
    this.workers.totals(all);
    return all;
  }

  private limited(): { slipped: number; dropped: number } {
    const own = { slipped: this.rrl.slipped, dropped: this.rrl.dropped };
    if (!this.workers) return own;
    const w = this.workers.totals(new DnsStats());
    return { slipped: own.slipped + w.slipped, dropped: own.dropped + w.dropped };
  }

  static async start(opts: DnsServerOptions): Promise<DnsServer> {
    const listen = opts.listen ?? DEFAULTS.listen.map((l) => ({ ...l }));
    if (listen.length === 0) throw new DnsStartError('DNS needs at least one listen address');
    for (const l of listen) {
      if (net.isIP(l.addr) === 0) throw new DnsStartError(`DNS listen address "${l.addr}" is not an IP address`);
      if (!Number.isInteger(l.port) || l.port < 0 || l.port > 65535)
        throw new DnsStartError(`DNS listen port ${l.port} is not a port (0-65535)`);
    }
    let upstreams: Upstream[] = [];
    try {
      if (opts.forward !== false)
        upstreams = opts.upstreams
          ? opts.upstreams.map(parseUpstream)
          : defaultUpstreams(opts.resolvConf ?? DEFAULTS.resolvConf, listen);
    } catch (err) {
      throw new DnsStartError((err as Error).message);
    }
    let server: DnsServer;
    try {
      server = new DnsServer(opts, upstreams);
    } catch (err) {
      throw new DnsStartError((err as Error).message);
    }
    try {
      for (const l of listen) await server.bind(l);
    } catch (err) {
      await server.stop();
      throw err;
    }
    if (opts.forward !== false && upstreams.length === 0)
      server.log.warn(
        {},
        `DNS: no upstream resolvers (none left in ${opts.resolvConf ?? DEFAULTS.resolvConf} after our own address); names outside ${server.zone.domain} are refused`,
      );
    server.detach = server.zone.attach(opts.source, opts.vips);
    if (server.workers && server.loadWindowMs === 0) server.workers.start();
    server.housekeeping = setInterval(() => {
      server.acl.refresh(now());
      server.reportHostile();
    }, DEFAULTS.housekeepingMs).unref();
    server.log.info(
      {
        listen: server.addresses.map((a) => `${a.addr}:${a.port}`),
        domain: server.zone.domain,
        upstreams: upstreams.map((u) => u.label),
        recursionAllow: server.acl.describe(),
        rateLimit: server.rrl.rate,
      },
      'DNS serving',
    );
    return server;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.detach();
    if (this.timer) clearTimeout(this.timer);
    if (this.housekeeping) clearInterval(this.housekeeping);
    const workers = this.workers?.stop();
    for (const c of this.conns) c.destroy();
    for (const c of this.upstreamTcp) c.destroy();
    const closing: Promise<void>[] = [];
    for (const socks of this.upSocks.values()) for (const s of socks) s.close();
    this.upSocks.clear();
    for (const s of this.udp) closing.push(new Promise((r) => s.close(() => r())));
    for (const s of this.tcp) closing.push(new Promise((r) => s.close(() => r())));
    await Promise.all(closing);
    await workers;
  }

  /**
   * Listens on one more address while running (the overlay's gateway, once its bridge holds
   * it, for containers started with `--dns <gateway>`); a no-op when already bound there.
   */
  async listenOn(l: ListenAddr): Promise<void> {
    if (this.stopped || this.addresses.some((a) => a.addr === l.addr && (l.port === 0 || a.port === l.port))) return;
    await this.bind(l);
    this.log.info({ listen: `${l.addr}:${l.port}` }, 'DNS serving on one more address');
  }

  /** Stops listening on an address listenOn added. */
  async stopListening(addr: string, port: number): Promise<void> {
    const i = this.addresses.findIndex((a) => a.addr === addr && a.port === port);
    if (i < 0 || this.stopped) return;
    const [udp] = this.udp.splice(i, 1);
    this.udpSend.splice(i, 1);
    const [tcp] = this.tcp.splice(i, 1);
    const [gone] = this.addresses.splice(i, 1);
    this.workers?.removeSocket(atKey(gone));
    await Promise.all([new Promise((r) => udp.close(() => r(null))), new Promise((r) => tcp.close(() => r(null)))]);
  }

  // ------------------------------------------------------------ listening

  private async bind(l: ListenAddr): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const sock = dgram.createSocket({ type: net.isIP(l.addr) === 6 ? 'udp6' : 'udp4', lookup: literal });
      await listenOrExplain(l, l.port, (done) => {
        sock.once('error', done);
        sock.bind(l.port, l.addr, () => {
          sock.off('error', done);
          done(null);
        });
      });
      const port = sock.address().port;
      const server = net.createServer({ noDelay: true }, (c) => this.onConnection(c));
      server.maxConnections = this.maxTcp;
      try {
        await listenOrExplain(l, port, (done) => {
          server.once('error', done);
          server.listen({ host: l.addr, port, exclusive: true }, () => {
            server.off('error', done);
            done(null);
          });
        });
      } catch (err) {
        sock.close();
        // Port 0 found a UDP port whose TCP twin is taken: pick again.
        if (l.port === 0 && attempt < 10) continue;
        throw err;
      }
      try {
        sock.setRecvBufferSize(4 << 20);
        sock.setSendBufferSize(4 << 20);
      } catch {
        // the kernel's limits apply
      }
      sock.on('error', (err) => this.log.warn({ err: err.message }, 'DNS UDP socket error'));
      const { send } = serveUdp(sock, (msg, address, port) => this.onUdp(send, msg, address, port));
      server.on('error', (err) => this.log.warn({ err: err.message }, 'DNS TCP listener error'));
      this.udp.push(sock);
      this.udpSend.push(send);
      this.tcp.push(server);
      this.addresses.push({ addr: l.addr, port });
      this.workers?.addSocket(atKey({ addr: l.addr, port }), sock);
      if (!this.agentReads) setReading(sock, false);
      return;
    }
  }

  private onUdp(send: UdpSend, msg: Buffer, address: string, port: number): void {
    const t0 = now();
    if (++this.loadCount === LOAD_CHECK_EVERY) this.checkLoad(t0);
    const r = this.responder;
    const trusted = this.acl.allows(address, t0);
    let out = r.handle(msg, false, trusted ? 0 : UNTRUSTED_AMPLIFICATION * msg.length);
    if (out === undefined && r.wantsForward) {
      if (trusted) {
        out = r.forward(t0, false, { send, address, port });
        if (this.forwarder!.outbox.length) this.flush();
      } else {
        this.stats.recursionRefused++;
        out = r.refuseForward();
      }
    }
    if (out !== undefined) this.sendUdp(send, out, address, port, t0);
    this.observe(r.lastSource, t0);
  }

  /** Every LOAD_CHECK_EVERY queries: that many within the window is workerStartQps or more, time for the workers. */
  private checkLoad(t: number): void {
    this.loadCount = 0;
    if (this.workers && t - this.loadMark < this.loadWindowMs) this.workers.start();
    this.loadMark = t;
  }

  /** One log line per period for what hostile or misdirected traffic did, never one per packet. */
  reportHostile(): void {
    const spoofs = Object.values(this.stats.upstreamSpoofs).reduce((a, b) => a + b, 0);
    const refused = this.stats.recursionRefused;
    const limited = this.rrl.dropped + this.rrl.slipped;
    const r = this.reported;
    if (spoofs > r.spoofs)
      this.log.warn(
        { dropped: spoofs - r.spoofs, byReason: { ...this.stats.upstreamSpoofs } },
        'DNS: upstream replies dropped as possible spoofs (wrong source, id, question or 0x20 case); see weft_dns_upstream_spoof_total',
      );
    if (refused > r.refused)
      this.log.info(
        { refused: refused - r.refused, allowed: this.acl.describe() },
        'DNS: recursion refused to clients outside dns.recursionAllow',
      );
    if (limited > r.limited)
      this.log.info(
        { limited: limited - r.limited, networks: this.rrl.clients },
        'DNS: UDP answers over dns.rateLimit dropped or slipped',
      );
    this.reported = { spoofs, refused, limited };
  }

  /** A UDP response, through the rate limiter. */
  private sendUdp(send: UdpSend, out: Buffer, address: string, port: number, t: number): void {
    const v = this.rrl.check(address, t);
    if (v === RRL_SEND) send(out, port, address);
    else if (v === RRL_SLIP) send(slipResponse(out), port, address);
  }

  private observe(source: Source, t0: number): void {
    this.stats.observe(source, (now() - t0) / 1000);
  }

  private onConnection(conn: net.Socket): void {
    this.conns.add(conn);
    const client: TcpClient = { conn };
    // TCP cannot come from a forged address, so it is neither capped nor rate-limited, only checked for recursion.
    const trusted = this.acl.allows(conn.remoteAddress ?? '', now());
    let buf: Buffer = Buffer.alloc(0);
    conn.setTimeout(this.tcpIdleMs, () => conn.destroy());
    conn.on('error', () => {});
    conn.on('close', () => this.conns.delete(conn));
    conn.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len === 0) {
          this.stats.malformed.bad_tcp_frame++;
          conn.destroy();
          return;
        }
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const t0 = now();
        const r = this.responder;
        let out = r.handle(msg, true);
        const forwarded = out === undefined && r.wantsForward;
        if (forwarded) {
          if (trusted) {
            out = r.forward(t0, true, client);
            if (this.forwarder!.outbox.length) this.flush();
          } else {
            this.stats.recursionRefused++;
            out = r.refuseForward();
          }
        }
        if (out !== undefined) writeFramed(conn, out);
        this.observe(r.lastSource, t0);
        if (out === undefined && !forwarded) {
          // Not a query (a response, a runt): a stream that carries those is not a DNS client.
          conn.destroy();
          return;
        }
      }
    });
  }

  // ------------------------------------------------------------ upstreams

  /** Query `id` to upstream `index` over UDP, from a new socket (the kernel binds it to a random free port on send). */
  private upstreamOverUdp(index: number, id: number, bytes: Buffer): void {
    const fwd = this.forwarder!;
    const u = fwd.upstreams[index];
    const host = this.upHosts[index];
    const sock = dgram.createSocket({ type: net.isIP(u.host) === 6 ? 'udp6' : 'udp4', lookup: literal });
    let socks = this.upSocks.get(id);
    if (!socks) this.upSocks.set(id, (socks = []));
    socks.push(sock);
    sock.on('error', (err) => this.log.debug({ err: err.message, upstream: u.label }, 'DNS upstream socket error'));
    sock.on('message', (msg, rinfo) => {
      // Only the address and port the query went to; the forwarder checks id and question.
      if (rinfo.port !== u.port || rinfo.address !== host) {
        this.stats.upstreamSpoofs.source++;
        return;
      }
      fwd.response(now(), index, false, msg, id);
      this.flush();
    });
    sock.send(bytes, u.port, u.host, (err) => {
      if (!err || this.stopped) return;
      // No socket to be had (out of file descriptors) or no route: this upstream failed now.
      this.log.warn({ err: err.message, upstream: u.label }, 'DNS upstream query could not be sent');
      fwd.failed(now(), index, id);
      this.flush();
    });
  }

  private closeUpstreamSockets(id: number): void {
    const socks = this.upSocks.get(id);
    if (!socks) return;
    this.upSocks.delete(id);
    for (const s of socks) s.close();
  }

  /** Carries out what the forwarder queued, then keeps its timer armed. */
  private flush(): void {
    const fwd = this.forwarder!;
    for (const h of fwd.healthChanges.splice(0)) {
      const label = fwd.upstreams[h.upstream]!.label;
      if (h.up) this.log.info({ upstream: label }, `DNS upstream ${label} answers again`);
      else
        this.log.warn(
          { upstream: label, reason: h.reason },
          `DNS upstream ${label} is down (${h.reason}, ${DOWN_AFTER} times in a row): its queries go to the other upstreams, or get SERVFAIL if none is left`,
        );
    }
    const outs = fwd.outbox.splice(0);
    for (const o of outs) {
      if (o.kind === 'reply') this.replyTo(o);
      else if (o.kind === 'done') this.closeUpstreamSockets(o.id);
      else if (o.tcp) this.upstreamOverTcp(o.upstream, o.id, o.bytes);
      else this.upstreamOverUdp(o.upstream, o.id, o.bytes);
    }
    const next = fwd.nextDeadline();
    if (next !== undefined && next < this.timerAt) {
      if (this.timer) clearTimeout(this.timer);
      this.timerAt = next;
      this.timer = setTimeout(() => this.onTimer(), Math.max(0, next - now()) + 1);
      this.timer.unref();
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped) return;
    this.forwarder!.tick(now());
    this.flush();
  }

  private replyTo(o: Extract<ForwarderOutput<Client>, { kind: 'reply' }>): void {
    const c = o.client;
    if ('send' in c) this.sendUdp(c.send, o.bytes, c.address, c.port, now());
    else if (!c.conn.destroyed) writeFramed(c.conn, o.bytes);
    this.observe(o.rcode === 2 ? 'error' : 'upstream', o.at);
  }

  private upstreamOverTcp(index: number, id: number, bytes: Buffer): void {
    const fwd = this.forwarder!;
    const u = fwd.upstreams[index];
    const sock = net.connect({ host: u.host, port: u.port, noDelay: true });
    this.upstreamTcp.add(sock);
    let buf: Buffer = Buffer.alloc(0);
    let answered = false;
    const fail = (): void => {
      if (answered || this.stopped) return;
      answered = true;
      fwd.failed(now(), index, id);
      this.flush();
    };
    sock.setTimeout(this.timeoutMs, () => sock.destroy());
    sock.on('connect', () => writeFramed(sock, bytes));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answered = true;
        fwd.response(now(), index, true, buf.subarray(2, 2 + buf.readUInt16BE(0)), id);
        sock.destroy();
        this.flush();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.upstreamTcp.delete(sock);
      fail();
    });
  }
}

function writeFramed(conn: net.Socket, msg: Buffer): void {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  conn.write(out);
}

/** Runs a bind and turns its failure into a sentence for a person. */
async function listenOrExplain(
  l: ListenAddr,
  port: number,
  bind: (done: (err: Error | null) => void) => void,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    bind((err) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      const at = `${net.isIP(l.addr) === 6 ? `[${l.addr}]` : l.addr}:${port}`;
      if (code === 'EADDRINUSE')
        reject(
          new DnsStartError(
            `DNS address ${at} is in use (another DNS server?); choose another DNS listen address or port`,
          ),
        );
      else if (code === 'EACCES')
        reject(
          new DnsStartError(
            `DNS address ${at} needs root or CAP_NET_BIND_SERVICE (ports below 1024); run as root, grant the capability, or use a port above 1023`,
          ),
        );
      else if (code === 'EADDRNOTAVAIL')
        reject(new DnsStartError(`DNS address ${l.addr} is not an address of this host`));
      else reject(new DnsStartError(`DNS address ${at} cannot be used: ${code ?? err.message}`));
    });
  });
}

function defaultUpstreams(path: string, listen: ListenAddr[]): Upstream[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const local = Object.values(networkInterfaces())
    .flat()
    .map((i) => i?.address)
    .filter((a): a is string => typeof a === 'string');
  return upstreamsFromResolvConf(text, listen, local);
}

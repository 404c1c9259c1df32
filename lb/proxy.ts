// The userspace datapath, for a node without root or nftables: a TCP listener and/or a UDP
// socket per VIP, on the VIP's listen address (see driver.ts: a loopback address of its
// own, allocated like VIP addresses, at the VIP's port).
//
//   - Backend choice: round-robin (default) or least-connections, over backends not ejected.
//   - Passive checks: a failed or timed-out connect ejects the backend for a backoff that
//     doubles with each consecutive failure (ejectMs .. ejectMaxMs); the connection is
//     retried on another backend, so the client does not see it.
//   - Fail-open: when every backend is ejected, all of them are tried anyway; a proxy that
//     refuses everything because its checks are wrong is worse than one that tries.
//   - Draining: a backend leaving the desired state takes no new connections, and its
//     established ones run until either side closes. A VIP that goes away stops listening;
//     its TCP connections also run on. (UDP sessions of a removed VIP end with it.)
//   - TCP bytes are relayed on libuv's handles (proxy-handles.ts: about a third of the CPU
//     per new connection of net.Socket streams); the stream relay below is the fallback
//     for a node without those bindings, and `relay: 'streams'` in tests.
import { DEFAULTS } from './defaults.js';
import dgram from 'node:dgram';
import net from 'node:net';
import {
  acceptOnHandles,
  available as handlesAvailable,
  Conn,
  ConnectSweep,
  type ClientHandle,
  type RelayBackend,
  type RelayHost,
} from './proxy-handles.js';
import type { Proto } from '../records/schema.js';
import type { Backend } from './desired.js';

export type Policy = 'round-robin' | 'least-connections';

export interface ProxyVip {
  key: string;
  proto: Proto;
  listen: { addr: string; port: number };
  backends: Backend[];
}

export interface ProxyOptions {
  policy?: Policy;
  /** Default 2000 ms. */
  connectTimeoutMs?: number;
  /** First ejection after a failed connect; doubles per consecutive failure. Default 1000 ms. */
  ejectMs?: number;
  /** Default 30 s. */
  ejectMaxMs?: number;
  /** Backends tried per client connection before giving up. Default 3. */
  maxAttempts?: number;
  /** A UDP session (client address -> backend) idle this long is closed. Default 30 s. */
  udpIdleMs?: number;
  /**
   * How TCP bytes are relayed: on libuv's handles (proxy-handles.ts; the default where node
   * has them) or through net.Socket streams (the fallback; tests run both).
   */
  relay?: 'handles' | 'streams';
  /** TCP connections this process holds open at most; more are closed at accept. Default 4096. */
  maxConnections?: number;
  now?: () => number;
  onEvent?: (what: 'ejected' | 'listen_failed', detail: Record<string, unknown>) => void;
}

export interface ProxyStats {
  tcpConnections: number;
  udpSessions: number;
  bytesFromClients: number;
  bytesToClients: number;
  connectFailures: number;
  ejections: number;
  failOpen: number;
  /** Client connections closed because no backend could be reached. */
  dropped: number;
  /** Client connections closed at accept: the process held maxConnections already. */
  refused: number;
}

/** Every counter at 0: a new proxy's, or a sum's start. */
export function zeroStats(): ProxyStats {
  return {
    tcpConnections: 0,
    udpSessions: 0,
    bytesFromClients: 0,
    bytesToClients: 0,
    connectFailures: 0,
    ejections: 0,
    failOpen: 0,
    dropped: 0,
    refused: 0,
  };
}

/**
 * Bytes from src to dst with backpressure and half-close, without stream.pipe: pipe adds
 * about ten listeners and a closure per direction to every connection, which showed in
 * the proxy's profile at thousands of new connections per second; this is three.
 */
function relay(src: net.Socket, dst: net.Socket): void {
  src.on('data', (chunk: Buffer) => {
    if (!dst.write(chunk)) src.pause();
  });
  dst.on('drain', () => src.resume());
  src.on('end', () => dst.end());
}

/** Bytes read from a backend per read call, into one buffer per connection. */
const READ_BUFFER = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * A connection to a backend whose bytes go to the client through one buffer per connection
 * (net's onread), not a new 64 KB Buffer per read: the garbage of those cost about 4x the CPU
 * per byte of a bulk download (95 vs 25 CPU ticks per 200 MB, proxy on loopback). A read
 * the kernel did not take at once pauses reading until it is written, so the buffer is
 * never overwritten while queued. (The client's side is an accepted socket: Node gives
 * those no onread, so uploads keep the stream path.)
 */
function connectUpstream(b: { addr: string; port: number }, client: net.Socket): net.Socket {
  const resume = (): void => void s.resume();
  const s: net.Socket = net.connect({
    host: b.addr,
    port: b.port,
    noDelay: true,
    allowHalfOpen: true,
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
      callback: (n: number, buf: Uint8Array): boolean => {
        client.write(buf.subarray(0, n));
        if (client.writableLength === 0) return true;
        client.write(EMPTY, resume);
        return false;
      },
    },
  });
  s.on('end', () => client.end());
  return s;
}

class BackendState implements RelayBackend {
  active = 0;
  failures = 0;
  ejectedUntil = 0;
  readonly family: number;
  constructor(
    readonly addr: string,
    readonly port: number,
  ) {
    this.family = net.isIP(addr);
  }
  get id(): string {
    return `${this.addr} ${this.port}`;
  }
}

interface UdpSession {
  up: dgram.Socket;
  backend: BackendState;
  last: number;
  queue: Buffer[] | undefined;
}

class VipListener implements RelayHost {
  /** The backends new connections may go to. */
  backends: BackendState[] = [];
  private rr = 0;
  server: net.Server | undefined;
  udp: dgram.Socket | undefined;
  private readonly sessions = new Map<string, UdpSession>();
  listenError: string | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Connections relayed on handles (proxy-handles.ts). */
  private readonly conns = new Set<Conn>();

  constructor(
    readonly vip: ProxyVip,
    private readonly p: UserspaceProxy,
  ) {}

  get id(): string {
    return `${this.vip.proto} ${this.vip.listen.addr} ${this.vip.listen.port}`;
  }

  get stats(): ProxyStats {
    return this.p.stats;
  }

  get maxAttempts(): number {
    return this.p.maxAttempts;
  }

  get connecting(): ConnectSweep {
    return this.p.connecting;
  }

  connectFailed(b: RelayBackend): void {
    this.p.stats.connectFailures++;
    this.p.eject(b, this.vip.key);
  }

  setBackends(list: Backend[]): void {
    const old = new Map(this.backends.map((b) => [b.id, b]));
    this.backends = list.map((b) => old.get(`${b.addr} ${b.port}`) ?? new BackendState(b.addr, b.port));
  }

  /** The next backend for a connection, not one of `tried`; no allocation on this path (it runs per connection). */
  pick(tried: readonly RelayBackend[]): BackendState | undefined {
    const b = this.choose(tried, this.p.now());
    if (b !== undefined) return b;
    const open = this.choose(tried, Infinity);
    if (open !== undefined) this.p.stats.failOpen++;
    return open;
  }

  /** Round-robin or least-connections among backends not tried and not ejected at `now` (Infinity: ignore ejection). */
  private choose(tried: readonly RelayBackend[], now: number): BackendState | undefined {
    const list = this.backends;
    const n = list.length;
    let best: BackendState | undefined;
    const start = this.rr;
    for (let i = 0; i < n; i++) {
      const b = list[(start + i) % n];
      if (b.ejectedUntil > now || tried.includes(b)) continue;
      if (this.p.policy === 'round-robin') {
        this.rr = start + i + 1;
        return b;
      }
      if (best === undefined || b.active < best.active) best = b;
    }
    if (best !== undefined) this.rr = start + 1;
    return best;
  }

  async listen(): Promise<void> {
    const { addr, port } = this.vip.listen;
    try {
      if (this.vip.proto === 'tcp') {
        const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (c) => this.onConnection(c));
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: addr, port, backlog: 4096 }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        server.on('error', () => {});
        if (this.p.relay === 'handles' && !acceptOnHandles(server, (h) => this.onHandle(h)))
          throw new Error('the listening socket has no handle to accept on');
        this.server = server;
      } else {
        const sock = dgram.createSocket(net.isIPv6(addr) ? 'udp6' : 'udp4');
        await new Promise<void>((resolve, reject) => {
          sock.once('error', reject);
          sock.bind(port, addr, () => {
            sock.off('error', reject);
            resolve();
          });
        });
        sock.on('error', () => {});
        sock.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
        this.udp = sock;
      }
      this.listenError = undefined;
    } catch (err) {
      this.listenError = (err as Error).message;
      this.p.onEvent?.('listen_failed', {
        vip: this.vip.key,
        listen: `${addr}:${port}`,
        proto: this.vip.proto,
        error: this.listenError,
      });
    }
  }

  /** Stops taking new connections; established TCP connections run on (draining). */
  close(destroyConnections: boolean): void {
    this.server?.close();
    this.udp?.close();
    for (const s of this.sessions.values()) s.up.close();
    this.sessions.clear();
    if (destroyConnections) {
      for (const s of this.sockets) s.destroy();
      for (const c of this.conns) c.destroy();
    }
  }

  /** A connection on handles is closed. */
  release(c: Conn): void {
    if (this.conns.delete(c)) this.p.openTcp--;
  }

  /** Whether a new client is over the process's limit: then it is counted, and the caller closes it. */
  private refuse(): boolean {
    if (this.p.openTcp < this.p.maxConnections) return false;
    this.p.stats.refused++;
    return true;
  }

  private onHandle(client: ClientHandle): void {
    if (this.refuse()) return client.close();
    this.p.stats.tcpConnections++;
    this.p.openTcp++;
    const c = new Conn(this, client);
    this.conns.add(c);
    c.start();
  }

  private onConnection(client: net.Socket): void {
    if (this.refuse()) return void client.destroy();
    this.p.stats.tcpConnections++;
    this.p.openTcp++;
    this.sockets.add(client);
    const tried: BackendState[] = [];
    let up: net.Socket | undefined;
    let clientGone = false;
    client.on('error', () => {
      // Before 'close': the destroyed attempt's own close must already see that the client left.
      clientGone = true;
      up?.destroy();
    });
    client.on('close', () => {
      clientGone = true;
      this.p.openTcp--;
      this.sockets.delete(client);
      this.p.stats.bytesFromClients += client.bytesRead;
      this.p.stats.bytesToClients += client.bytesWritten;
      up?.destroy();
    });
    const attempt = (): void => {
      if (client.destroyed) return;
      const b = tried.length < this.p.maxAttempts ? this.pick(tried) : undefined;
      if (!b) {
        this.p.stats.dropped++;
        client.destroy();
        return;
      }
      tried.push(b);
      b.active++;
      const s = connectUpstream(b, client);
      up = s;
      let connected = false;
      const timer = setTimeout(() => s.destroy(new Error('connect timeout')), this.p.connectTimeoutMs);
      s.once('connect', () => {
        connected = true;
        clearTimeout(timer);
        b.failures = 0;
        b.ejectedUntil = 0;
        relay(client, s);
      });
      s.on('error', () => {
        if (connected) client.destroy();
      });
      s.once('close', () => {
        clearTimeout(timer);
        b.active--;
        if (connected || clientGone) return; // a client that left is no verdict on the backend
        this.p.stats.connectFailures++;
        this.p.eject(b, this.vip.key);
        attempt();
      });
    };
    attempt();
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address} ${rinfo.port}`;
    let s = this.sessions.get(key);
    if (!s) {
      const b = this.pick([]);
      if (!b) return;
      const up = dgram.createSocket(net.isIPv6(b.addr) ? 'udp6' : 'udp4');
      const session: UdpSession = { up, backend: b, last: this.p.now(), queue: [] };
      s = session;
      this.sessions.set(key, session);
      this.p.stats.udpSessions++;
      b.active++;
      up.on('message', (m) => {
        session.last = this.p.now();
        this.p.stats.bytesToClients += m.length;
        this.udp?.send(m, rinfo.port, rinfo.address);
      });
      up.on('error', (err: NodeJS.ErrnoException) => {
        // A connected UDP socket hears the backend's ICMP port unreachable as ECONNREFUSED.
        if (err.code === 'ECONNREFUSED') this.p.eject(b, this.vip.key);
        this.endSession(key, session);
      });
      up.connect(b.port, b.addr, () => {
        for (const m of session.queue ?? []) up.send(m);
        session.queue = undefined;
      });
    }
    s.last = this.p.now();
    this.p.stats.bytesFromClients += msg.length;
    if (s.queue) s.queue.push(msg);
    else s.up.send(msg);
  }

  private endSession(key: string, s: UdpSession): void {
    if (this.sessions.get(key) !== s) return;
    this.sessions.delete(key);
    s.backend.active--;
    try {
      s.up.close();
    } catch {
      // already closed
    }
  }

  sweep(now: number): void {
    for (const [k, s] of this.sessions) if (now - s.last > this.p.udpIdleMs) this.endSession(k, s);
  }
}

export class UserspaceProxy {
  readonly kind = 'userspace' as const;
  readonly policy: Policy;
  readonly connectTimeoutMs: number;
  readonly maxAttempts: number;
  readonly udpIdleMs: number;
  readonly now: () => number;
  readonly onEvent: ProxyOptions['onEvent'];
  readonly relay: 'handles' | 'streams';
  readonly stats: ProxyStats = zeroStats();
  readonly maxConnections: number;
  /** TCP client connections open now, every listener's. */
  openTcp = 0;
  /** Backend connects under way (handles relay), timed out by one sweep. */
  readonly connecting: ConnectSweep;
  private readonly ejectMs: number;
  private readonly ejectMaxMs: number;
  private readonly listeners = new Map<string, VipListener>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: ProxyOptions = {}) {
    this.policy = opts.policy ?? DEFAULTS.policy;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.ejectMs = opts.ejectMs ?? DEFAULTS.ejectMs;
    this.ejectMaxMs = opts.ejectMaxMs ?? DEFAULTS.ejectMaxMs;
    this.maxAttempts = opts.maxAttempts ?? DEFAULTS.maxAttempts;
    this.udpIdleMs = opts.udpIdleMs ?? DEFAULTS.udpIdleMs;
    this.now = opts.now ?? (() => performance.now());
    this.onEvent = opts.onEvent;
    this.relay = opts.relay === 'streams' || !handlesAvailable ? 'streams' : 'handles';
    this.maxConnections = opts.maxConnections ?? DEFAULTS.proxyMaxConnections;
    this.connecting = new ConnectSweep(this.connectTimeoutMs, this.now);
    this.sweeper = setInterval(
      () => {
        const now = this.now();
        for (const l of this.listeners.values()) l.sweep(now);
      },
      Math.max(100, this.udpIdleMs / 4),
    );
    this.sweeper.unref();
  }

  eject(b: RelayBackend, vip: string): void {
    b.failures++;
    const ms = Math.min(this.ejectMaxMs, this.ejectMs * 2 ** Math.min(20, b.failures - 1));
    b.ejectedUntil = this.now() + ms;
    this.stats.ejections++;
    this.onEvent?.('ejected', { vip, backend: `${b.addr}:${b.port}`, forMs: ms, failures: b.failures });
  }

  /** Listens for exactly these VIPs (by listen address, port and protocol). */
  async apply(vips: readonly ProxyVip[]): Promise<{ changed: boolean; failed: string[] }> {
    const want = new Map<string, ProxyVip>();
    for (const v of vips) want.set(`${v.proto} ${v.listen.addr} ${v.listen.port}`, v);
    let changed = false;
    for (const [id, l] of this.listeners) {
      if (want.has(id)) continue;
      l.close(false);
      this.listeners.delete(id);
      changed = true;
    }
    const opening: Promise<void>[] = [];
    for (const [id, v] of want) {
      let l = this.listeners.get(id);
      if (!l || l.vip.key !== v.key) {
        l?.close(false);
        l = new VipListener(v, this);
        this.listeners.set(id, l);
        opening.push(l.listen());
        changed = true;
      } else if (l.listenError !== undefined) {
        opening.push(l.listen()); // a port that was busy may be free now
      }
      const before = l.backends.map((b) => b.id).join(',');
      l.setBackends(v.backends);
      if (l.backends.map((b) => b.id).join(',') !== before) changed = true;
    }
    await Promise.all(opening);
    const failed = [...this.listeners.values()]
      .filter((l) => l.listenError !== undefined)
      .map((l) => `${l.vip.key} on ${l.vip.listen.addr}:${l.vip.listen.port}: ${l.listenError}`);
    return { changed, failed };
  }

  /** The listen error of a VIP's listener, if it could not listen. */
  listenError(v: ProxyVip): string | undefined {
    return this.listeners.get(`${v.proto} ${v.listen.addr} ${v.listen.port}`)?.listenError;
  }

  get activeConnections(): number {
    let n = 0;
    for (const l of this.listeners.values()) for (const b of l.backends) n += b.active;
    return n;
  }

  /** Closes every listener and connection. */
  stop(): void {
    clearInterval(this.sweeper);
    for (const l of this.listeners.values()) l.close(true);
    this.connecting.stop();
    this.listeners.clear();
  }
}

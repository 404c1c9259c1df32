// The gossip transport: one UDP socket and one TCP listener on the same address and port,
// as memberlist does. It moves bytes and nothing else: what the bytes mean is codec.ts's
// business, what to do with them is the core's.
//
// Nothing that arrives from the network can crash the process: every socket has an error
// listener, handler exceptions are caught and counted, and inbound streams are bounded in
// number, size (framing.ts) and time.
//
// Before authentication a stream gets little: its first frame must be a hello of at most
// HELLO_MAX_BYTES that authenticates (stream-hello.ts) within helloTimeoutMs, and streams
// still waiting for theirs share a small pool in which a newcomer evicts the oldest, so a
// flood of silent or trickling connections cannot lock out a peer whose hello arrives at
// once (before, the 65th connection was refused). After it, a stream may send one frame of
// up to maxFrameBytes, within a cap on the bytes all streams hold together, and no source
// address holds more than maxStreamsPerSource streams.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, connect, isIP, type Server, type Socket } from 'node:net';
import { OldestCursor } from '../base/oldest.js';
import { DEFAULTS } from './defaults.js';
import { HELLO_MAX_BYTES, FrameReader, frame } from './framing.js';
import { PLAIN_HELLO, type StreamHello } from './stream-hello.js';

export interface Peer {
  addr: string;
  port: number;
}

export type PacketHandler = (from: Peer, buf: Buffer) => void;
/** Answers a stream request; `undefined` means nothing to answer (the requester gets an empty reply). */
export type RequestHandler = (from: Peer, body: Buffer) => Promise<Buffer | Uint8Array | undefined>;

export interface TransportOptions {
  /** Largest frame accepted or sent over TCP. Default 4 MiB. */
  maxFrameBytes?: number;
  /** How long an inbound stream may take to deliver its request and get its answer. Default 10 s. */
  inboundTimeoutMs?: number;
  /** Authenticated inbound streams served at once; more are refused, so a flood cannot exhaust file descriptors. Default 64. */
  maxInboundStreams?: number;
  /** Inbound streams waiting for their hello; when full, the oldest is dropped for a newcomer. Default 32. */
  maxPendingStreams?: number;
  /** Inbound streams, pending or not, from one source address. Default 8. */
  maxStreamsPerSource?: number;
  /**
   * New streams one source address may open per second, with bursts of twice that; more
   * are closed before a byte is read. Every stream read costs a 64 KiB buffer, so a source
   * that opens and drops connections in a loop would otherwise churn memory. Default 32.
   */
  streamsPerSourcePerSecond?: number;
  /**
   * Bytes the inbound streams of this transport may hold together while their frames
   * arrive. Default: a budget of 8 MiB (two full frames) shared by every transport of the
   * process (gossip and store ports), so that a flood at both ports holds no more than one.
   */
  maxBufferedBytes?: number;
  /** How long an inbound stream may take to send its hello. Default 3 s. */
  helloTimeoutMs?: number;
  /** Makes and checks the first frame of a stream; default: an unauthenticated tag (PLAIN_HELLO). */
  hello?: StreamHello;
  /** UDP socket buffer to ask the kernel for (capped by net.core.rmem_max). memberlist asks for 2 MiB. */
  udpBufferBytes?: number;
  /** Told about every failure that was absorbed, for logging. `context` is a short fixed phrase. */
  onError?: (err: Error, context: string) => void;
}

/** Plain counters; the daemon exports them to Prometheus. */
export interface TransportStats {
  packetsIn: number;
  packetsOut: number;
  packetBytesIn: number;
  packetBytesOut: number;
  streamsIn: number;
  streamsOut: number;
  streamBytesIn: number;
  streamBytesOut: number;
  /** Packets that could not be sent (no route, wrong address family, socket closed). */
  sendErrors: number;
  /** Inbound streams that failed: reset, timed out, oversized frame, data after the request. */
  streamErrors: number;
  /** Inbound streams turned away because maxInboundStreams (or maxStreamsPerSource) were already open, or no handler was set. */
  streamsRefused: number;
  /** Inbound streams closed before authenticating: first frame too large or not a hello in time, or evicted by a newer one. */
  streamsUnauthenticated: number;
  /** Inbound streams closed because the bytes held by all streams would exceed maxBufferedBytes. */
  streamsOverBudget: number;
  /** Exceptions thrown or rejections returned by onPacket/onRequest handlers. */
  handlerErrors: number;
}

/** A bind failure with a message fit to show the user as is. */
export class GossipBindError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'GossipBindError';
  }
}

const MAX_EPHEMERAL_ATTEMPTS = 10;

/** Bytes held by inbound streams, against a maximum; shared by the transports that use it. */
class ByteBudget {
  used = 0;
  constructor(readonly max: number) {}
}

const PROCESS_STREAM_BUDGET = new ByteBudget(8 * 1024 * 1024);

/** A token bucket per source address (burst: two seconds' worth); bounded in the sources it remembers. */
export class SourceRate {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #oldest = new OldestCursor(this.#buckets);
  constructor(
    readonly perSecond: number,
    readonly maxSources = 4096,
  ) {}

  take(source: string, now = performance.now()): boolean {
    const burst = 2 * this.perSecond;
    let b = this.#buckets.get(source);
    if (b === undefined) {
      if (this.#buckets.size >= this.maxSources) this.#oldest.evictOldest();
      b = { tokens: burst, at: now };
      this.#buckets.set(source, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** A source whose stream failed to authenticate or overran the budget waits a second or two before its next one. */
  penalize(source: string, now = performance.now()): void {
    const b = this.#buckets.get(source);
    if (b) {
      b.tokens = Math.min(b.tokens, 0) - this.perSecond;
      b.at = now;
    }
  }
}

function hostPort(addr: string, port: number): string {
  return isIP(addr) === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the core should see one spelling per peer. */
function unmapped(addr: string): string {
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

function isWildcard(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::';
}

function bindError(err: NodeJS.ErrnoException, addr: string, port: number): GossipBindError {
  const where = hostPort(addr, port);
  switch (err.code) {
    case 'EADDRINUSE':
      return new GossipBindError(`gossip port ${where} is in use: choose another with --bind-port`, err.code);
    case 'EADDRNOTAVAIL':
      return new GossipBindError(
        `gossip address ${addr} is not an address of this machine: choose another with --bind-addr`,
        err.code,
      );
    case 'EACCES':
      return new GossipBindError(
        `gossip port ${where} needs privileges this process lacks: choose a port above 1023`,
        err.code,
      );
    default:
      return new GossipBindError(
        `cannot bind gossip port ${where}: ${err.code ?? err.message}`,
        err.code ?? 'EUNKNOWN',
      );
  }
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    default:
      return e?.code ?? (e instanceof Error ? e.message : String(err));
  }
}

/** Ends an inbound stream after a failure, counting it under `counter`. */
type Fail = (
  err: Error,
  context: string,
  counter?: 'streamErrors' | 'handlerErrors' | 'streamsUnauthenticated' | 'streamsRefused' | 'streamsOverBudget',
) => void;

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** One inbound stream, from accept to close: one hello, one request, one answer. */
interface InboundStream {
  socket: Socket;
  source: string;
  from: Peer;
  /** host:port for messages */
  where: string;
  handler: RequestHandler;
  fail: Fail;
  reader: FrameReader;
  phase: 'hello' | 'request' | 'answering';
  /** Bytes this stream counts against maxBufferedBytes: its frame's announced length, then the request being answered. */
  held: number;
  helloTimer: ReturnType<typeof setTimeout>;
  timer: ReturnType<typeof setTimeout>;
}

export class Transport {
  readonly #maxFrameBytes: number;
  readonly #inboundTimeoutMs: number;
  readonly #maxInboundStreams: number;
  readonly #maxPendingStreams: number;
  readonly #maxStreamsPerSource: number;
  readonly #helloTimeoutMs: number;
  readonly #hello: StreamHello;
  readonly #udpBufferBytes: number;
  readonly #onError: (err: Error, context: string) => void;

  #udp: UdpSocket | undefined;
  #tcp: Server | undefined;
  #local: Peer | undefined;
  #closed = false;
  #onPacket: PacketHandler | undefined;
  #onRequest: RequestHandler | undefined;
  /** Authenticated inbound streams (or a peer's small hello-less request). */
  readonly #inbound = new Set<Socket>();
  /** Inbound streams waiting for their hello, oldest first (a Set keeps insertion order). */
  readonly #pending = new Set<Socket>();
  readonly #perSource = new Map<string, number>();
  readonly #openRate: SourceRate;
  readonly #budget: ByteBudget;
  readonly #outbound = new Set<Socket>();
  readonly #stats: TransportStats = {
    packetsIn: 0,
    packetsOut: 0,
    packetBytesIn: 0,
    packetBytesOut: 0,
    streamsIn: 0,
    streamsOut: 0,
    streamBytesIn: 0,
    streamBytesOut: 0,
    sendErrors: 0,
    streamErrors: 0,
    streamsRefused: 0,
    streamsUnauthenticated: 0,
    streamsOverBudget: 0,
    handlerErrors: 0,
  };

  constructor(opts: TransportOptions = {}) {
    this.#maxFrameBytes = opts.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    this.#inboundTimeoutMs = opts.inboundTimeoutMs ?? DEFAULTS.inboundTimeoutMs;
    this.#maxInboundStreams = opts.maxInboundStreams ?? DEFAULTS.maxInboundStreams;
    this.#maxPendingStreams = opts.maxPendingStreams ?? DEFAULTS.maxPendingStreams;
    this.#maxStreamsPerSource = opts.maxStreamsPerSource ?? DEFAULTS.maxStreamsPerSource;
    this.#budget = opts.maxBufferedBytes === undefined ? PROCESS_STREAM_BUDGET : new ByteBudget(opts.maxBufferedBytes);
    this.#helloTimeoutMs = opts.helloTimeoutMs ?? DEFAULTS.helloTimeoutMs;
    this.#hello = opts.hello ?? PLAIN_HELLO;
    this.#openRate = new SourceRate(opts.streamsPerSourcePerSecond ?? DEFAULTS.streamsPerSourcePerSecond);
    this.#udpBufferBytes = opts.udpBufferBytes ?? DEFAULTS.udpBufferBytes;
    this.#onError = opts.onError ?? (() => {});
  }

  /**
   * Binds UDP and TCP on addr:port. Port 0 picks a free port that is free for both.
   * Resolves with the bound address; rejects with a GossipBindError.
   */
  async bind(addr: string, port: number): Promise<Peer> {
    if (this.#udp || this.#closed) throw new Error('a transport binds once');
    if (isIP(addr) === 0) throw new GossipBindError(`gossip bind address "${addr}" is not an IP address`, 'EINVAL');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new GossipBindError(`gossip port ${port} is not a port number (0..65535)`, 'EINVAL');
    }
    for (let attempt = 1; ; attempt++) {
      const udp = await this.#bindUdp(addr, port);
      const udpPort = udp.address().port;
      try {
        this.#tcp = await this.#listenTcp(addr, udpPort);
      } catch (err) {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        // With an ephemeral port only the UDP side was checked; someone may hold the TCP one.
        if (port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < MAX_EPHEMERAL_ATTEMPTS)
          continue;
        throw bindError(err as NodeJS.ErrnoException, addr, udpPort);
      }
      this.#udp = udp;
      this.#local = { addr, port: udpPort };
      return { ...this.#local };
    }
  }

  /** The bound address, once bind() has resolved. */
  get local(): Peer | undefined {
    return this.#local && { ...this.#local };
  }

  onPacket(handler: PacketHandler): void {
    this.#onPacket = handler;
  }

  onRequest(handler: RequestHandler): void {
    this.#onRequest = handler;
  }

  /** Sends one datagram, fire and forget (UDP). Failures are counted, never thrown. */
  sendPacket(to: Peer, buf: Uint8Array): void {
    const udp = this.#udp;
    const dest = this.#udpDestination(to.addr);
    if (!udp || dest === undefined) {
      this.#stats.sendErrors++;
      return;
    }
    try {
      udp.send(buf, to.port, dest, (err) => {
        if (err) {
          this.#stats.sendErrors++;
          this.#onError(err, 'udp send');
        } else {
          this.#stats.packetsOut++;
          this.#stats.packetBytesOut += buf.length;
        }
      });
    } catch (err) {
      // dgram throws synchronously for a bad port or a socket closed under us.
      this.#stats.sendErrors++;
      this.#onError(asError(err), 'udp send');
    }
  }

  /**
   * Opens a TCP connection, sends one frame, reads one reply frame and closes. The reply is
   * empty when the peer had nothing to answer. Rejects with a short message on timeout,
   * refusal, reset, an oversized reply, or a close without reply.
   */
  request(to: Peer, body: Uint8Array, timeoutMs: number): Promise<Buffer> {
    const where = hostPort(to.addr, to.port);
    if (this.#closed) return Promise.reject(new Error(`gossip request to ${where} failed: transport closed`));
    if (body.length > this.#maxFrameBytes) {
      return Promise.reject(
        new Error(
          `gossip request to ${where} is ${body.length} bytes, over the ${this.#maxFrameBytes}-byte frame limit`,
        ),
      );
    }
    return new Promise<Buffer>((resolve, reject) => {
      const local = this.#local;
      // Connect from our gossip address, so the peer sees the same address as for our packets
      // (several agents on 127.0.0.x would otherwise all appear as 127.0.0.1).
      const localAddress =
        local && !isWildcard(local.addr) && isIP(local.addr) === isIP(to.addr) ? local.addr : undefined;
      const socket = connect({ host: to.addr, port: to.port, localAddress });
      this.#outbound.add(socket);
      this.#stats.streamsOut++;
      socket.setNoDelay(true);
      const reader = new FrameReader(this.#maxFrameBytes);
      let settled = false;
      const finish = (err: Error | undefined, reply?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#outbound.delete(socket);
        socket.destroy();
        if (err) reject(err);
        else resolve(reply!);
      };
      const timer = setTimeout(
        () => finish(new Error(`gossip request to ${where} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      const framed = Buffer.concat([frame(this.#hello.make()), frame(body)]);
      socket.write(framed, (err) => {
        if (!err) this.#stats.streamBytesOut += framed.length;
      });
      socket.on('data', (chunk: Buffer) => {
        this.#stats.streamBytesIn += chunk.length;
        const r = reader.push(chunk);
        if (!r.ok) finish(new Error(`gossip reply from ${where} is over the ${this.#maxFrameBytes}-byte frame limit`));
        else if (r.frames.length > 0) finish(undefined, r.frames[0]);
      });
      socket.on('error', (err) => finish(new Error(`gossip request to ${where} failed: ${describe(err)}`)));
      socket.on('close', () => finish(new Error(`gossip request to ${where} failed: closed without a reply`)));
    });
  }

  /** A snapshot of the counters. */
  stats(): TransportStats {
    return { ...this.#stats };
  }

  /** Stops listening and drops every open stream; pending requests reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#inbound) s.destroy();
    for (const s of this.#pending) s.destroy();
    for (const s of this.#outbound) s.destroy(); // their 'close' rejects the pending request
    const udp = this.#udp;
    const tcp = this.#tcp;
    this.#udp = undefined;
    this.#tcp = undefined;
    await Promise.all([
      udp && new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp && new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  #bindUdp(addr: string, port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const udp = createSocket({ type: isIP(addr) === 6 ? 'udp6' : 'udp4' });
      const onBindError = (err: Error) => {
        try {
          udp.close();
        } catch {
          // already closed by the failed bind
        }
        reject(bindError(err as NodeJS.ErrnoException, addr, port));
      };
      udp.once('error', onBindError);
      udp.bind({ address: addr, port, exclusive: true }, () => {
        udp.off('error', onBindError);
        udp.on('error', (err) => this.#onError(err, 'udp socket'));
        udp.on('message', (msg, rinfo) => this.#receivePacket(msg, rinfo.address, rinfo.port));
        try {
          udp.setRecvBufferSize(this.#udpBufferBytes);
          udp.setSendBufferSize(this.#udpBufferBytes);
        } catch {
          // The kernel's default still works; a larger buffer only absorbs bursts.
        }
        resolve(udp);
      });
    });
  }

  #listenTcp(addr: string, port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.#acceptStream(socket));
      server.once('error', reject);
      server.listen({ host: addr, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.#onError(err, 'tcp listener'));
        resolve(server);
      });
    });
  }

  /** The destination as this socket can reach it, or undefined when its address family cannot. */
  #udpDestination(addr: string): string | undefined {
    const family = isIP(addr);
    if (family === 0 || !this.#local) return undefined;
    if (isIP(this.#local.addr) === 4) return family === 4 ? addr : undefined;
    // A udp6 socket on :: is dual-stack and reaches IPv4 peers through mapped addresses.
    if (family === 4) return isWildcard(this.#local.addr) ? `::ffff:${addr}` : undefined;
    return addr;
  }

  #receivePacket(msg: Buffer, addr: string, port: number): void {
    this.#stats.packetsIn++;
    this.#stats.packetBytesIn += msg.length;
    const handler = this.#onPacket;
    if (!handler) return;
    try {
      handler({ addr: unmapped(addr), port }, msg);
    } catch (err) {
      this.#stats.handlerErrors++;
      this.#onError(asError(err), 'packet handler');
    }
  }

  #acceptStream(socket: Socket): void {
    socket.on('error', (err) => {
      this.#stats.streamErrors++;
      this.#onError(err, 'inbound stream');
    });
    const source = unmapped(socket.remoteAddress ?? '');
    const handler = this.#admitStream(socket, source);
    if (!handler) return;
    const s = this.#inboundStream(socket, source, handler);
    socket.on('close', () => this.#streamClosed(s));
    socket.on('data', (chunk: Buffer) => this.#streamData(s, chunk));
  }

  /**
   * Refuses a stream over the limits of its source, or evicts the oldest unauthenticated one
   * to make room, and counts it in; returns the handler for its request when admitted.
   */
  #admitStream(socket: Socket, source: string): RequestHandler | undefined {
    const handler = this.#onRequest;
    if (
      this.#closed ||
      !handler ||
      (this.#perSource.get(source) ?? 0) >= this.#maxStreamsPerSource ||
      !this.#openRate.take(source)
    ) {
      this.#stats.streamsRefused++;
      socket.destroy();
      return undefined;
    }
    if (this.#pending.size >= this.#maxPendingStreams) {
      // The oldest has had the longest to send its hello; a live peer's arrives at once.
      const oldest = this.#pending.values().next().value as Socket;
      this.#pending.delete(oldest);
      this.#stats.streamsUnauthenticated++;
      oldest.destroy();
    }
    this.#pending.add(socket);
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
    this.#stats.streamsIn++;
    socket.setNoDelay(true);
    return handler;
  }

  /** An admitted stream's state, with its hello and overall deadlines running. */
  #inboundStream(socket: Socket, source: string, handler: RequestHandler): InboundStream {
    const from: Peer = { addr: source, port: socket.remotePort ?? 0 };
    const where = hostPort(from.addr, from.port);
    const fail: Fail = (err, context, counter = 'streamErrors') => {
      this.#stats[counter]++;
      if (counter === 'streamsUnauthenticated' || counter === 'streamsOverBudget') this.#openRate.penalize(source);
      this.#onError(err, context);
      socket.destroy();
    };
    return {
      socket,
      source,
      from,
      where,
      handler,
      fail,
      reader: new FrameReader(this.#maxFrameBytes, HELLO_MAX_BYTES),
      phase: 'hello',
      held: 0,
      helloTimer: setTimeout(
        () => fail(new Error(`stream from ${where} sent no hello in time`), 'inbound stream', 'streamsUnauthenticated'),
        this.#helloTimeoutMs,
      ),
      timer: setTimeout(
        () => fail(new Error(`stream from ${where} timed out`), 'inbound stream'),
        this.#inboundTimeoutMs,
      ),
    };
  }

  /** Sets the bytes a stream counts against maxBufferedBytes. */
  #hold(s: InboundStream, bytes: number): void {
    this.#budget.used += bytes - s.held;
    s.held = bytes;
  }

  #streamClosed(s: InboundStream): void {
    clearTimeout(s.helloTimer);
    clearTimeout(s.timer);
    this.#hold(s, 0);
    this.#pending.delete(s.socket);
    this.#inbound.delete(s.socket);
    const n = (this.#perSource.get(s.source) ?? 1) - 1;
    if (n > 0) this.#perSource.set(s.source, n);
    else this.#perSource.delete(s.source);
  }

  /** Moves a stream from pending to inbound once it authenticated; false when inbound streams are full (it is closed). */
  #authenticated(s: InboundStream): boolean {
    clearTimeout(s.helloTimer);
    this.#pending.delete(s.socket);
    if (this.#inbound.size >= this.#maxInboundStreams) {
      s.fail(
        new Error(`stream from ${s.where} refused: ${this.#maxInboundStreams} streams already open`),
        'inbound stream',
        'streamsRefused',
      );
      return false;
    }
    this.#inbound.add(s.socket);
    return true;
  }

  #answerStream(s: InboundStream, body: Buffer): void {
    s.phase = 'answering';
    this.#hold(s, body.length);
    this.#answer(s.socket, s.from, body, s.handler, s.fail);
  }

  #streamData(s: InboundStream, chunk: Buffer): void {
    const { socket, reader, where, fail } = s;
    this.#stats.streamBytesIn += chunk.length;
    if (socket.destroyed) return;
    if (s.phase === 'answering') {
      // One request per connection: anything more is a confused or hostile peer.
      fail(new Error(`stream from ${where} sent data after its request`), 'inbound stream');
      return;
    }
    const r = reader.push(chunk);
    // A frame reserves its announced length as soon as its prefix is read: a flood of
    // streams announcing 4 MiB is turned away before their bodies are read, instead of
    // cycling the budget through garbage the collector has yet to free.
    this.#hold(s, Math.max(reader.buffered, reader.announced));
    if (!r.ok) {
      if (s.phase === 'hello' && r.frames.length === 0)
        fail(
          new Error(`stream from ${where} announced a first frame over ${HELLO_MAX_BYTES} bytes before authenticating`),
          'inbound stream',
          'streamsUnauthenticated',
        );
      else
        fail(new Error(`stream from ${where} announced a frame over ${this.#maxFrameBytes} bytes`), 'inbound stream');
      return;
    }
    if (this.#budget.used > this.#budget.max) {
      fail(
        new Error(`stream from ${where} closed: inbound streams hold over ${this.#budget.max} bytes`),
        'inbound stream',
        'streamsOverBudget',
      );
      return;
    }
    const frames = r.frames;
    if (s.phase === 'hello' && frames.length > 0 && !this.#streamHello(s, frames)) return;
    if (s.phase !== 'request' || frames.length === 0) return;
    if (frames.length > 1 || !reader.idle) {
      fail(new Error(`stream from ${where} sent data after its request`), 'inbound stream');
      return;
    }
    this.#answerStream(s, frames[0]!);
  }

  /** Checks a stream's first frame (taken off `frames`); true when the stream goes on to its request. */
  #streamHello(s: InboundStream, frames: Buffer[]): boolean {
    const { where, fail } = s;
    const first = frames.shift()!;
    const verdict = this.#hello.check(first);
    if (verdict === 'unauthentic') {
      fail(new Error(`stream from ${where} did not authenticate`), 'inbound stream', 'streamsUnauthenticated');
      return false;
    }
    if (verdict === 'other') {
      // A peer that sends no hello (an older version) may still send a small request;
      // it gets no more than the hello's size, and the handler authenticates it.
      if (!this.#authenticated(s)) return false;
      if (frames.length > 0 || !s.reader.idle) {
        fail(new Error(`stream from ${where} sent data after its request`), 'inbound stream');
        return false;
      }
      this.#answerStream(s, first);
      return false;
    }
    if (!this.#authenticated(s)) return false;
    s.phase = 'request';
    return true;
  }

  #answer(socket: Socket, from: Peer, body: Buffer, handler: RequestHandler, fail: Fail): void {
    let pending: Promise<Buffer | Uint8Array | undefined>;
    try {
      pending = handler(from, body);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (reply) => {
        if (socket.destroyed) return;
        const out = reply ?? Buffer.alloc(0);
        if (out.length > this.#maxFrameBytes) {
          fail(new Error(`reply of ${out.length} bytes is over the frame limit`), 'request handler', 'handlerErrors');
          return;
        }
        const framed = frame(out);
        socket.end(framed, () => {
          this.#stats.streamBytesOut += framed.length;
        });
      },
      (err: unknown) => fail(asError(err), 'request handler', 'handlerErrors'),
    );
  }
}

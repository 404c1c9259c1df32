// The userspace proxy's TCP relay on libuv's stream handles (node's tcp_wrap and
// stream_wrap bindings, which net.Socket is built on), without net.Socket's streams.
//
// Why: at a new connection per request, a proxied connection through two net.Sockets
// cost about 200 us of user CPU (two Readable/Writable state machines, ten listeners,
// nextTicks at every step), ten times HAProxy's; a bare net.Socket proxy with nothing of
// weft's cost the same, so no trimming of the proxy's own code could close that. On the
// handles the same work costs about 40 us (measured with wrk -c32 Connection: close, in
// namespaces, see bench/lb.ts).
//
// Per connection: one Conn object, one read buffer per direction (from a free list), no
// timers (connects are timed out by one sweep per proxy), no listeners. Behaviour is the
// stream path's (proxy.ts): backpressure per direction (a read is written before the next
// one: a write the kernel did not take at once stops reading until it is done, so a read
// buffer is never overwritten while queued), half-close (each side's FIN is passed on once
// its bytes are written, and the connection lives until both directions are done), a
// failed or timed-out connect retried on another backend, and a client that leaves while
// its connect is under way is no verdict on the backend.
//
// The bindings are node internals: `available` is false when this node lacks them, and
// the proxy uses net.Socket instead (proxy.ts).
/** The counters the relay adds to (proxy.ts's ProxyStats). */
export interface RelayStats {
  bytesFromClients: number;
  bytesToClients: number;
  dropped: number;
}

/** What a backend is to the relay (proxy.ts's BackendState). */
export interface RelayBackend {
  readonly addr: string;
  readonly port: number;
  /** 4 or 6 (net.isIP of addr). */
  readonly family: number;
  active: number;
  failures: number;
  ejectedUntil: number;
}

/** The VIP listener a connection belongs to (proxy.ts's VipListener). */
export interface RelayHost {
  readonly stats: RelayStats;
  readonly maxAttempts: number;
  /** The next backend, not one of `tried`; undefined when there is none. */
  pick(tried: readonly RelayBackend[]): RelayBackend | undefined;
  /** A connect to b failed or timed out: count it and eject b. */
  connectFailed(b: RelayBackend): void;
  /** The connection is closed (the listener forgets it). */
  release(c: Conn): void;
  /** Connections whose connect is under way, swept for timeouts. */
  readonly connecting: ConnectSweep;
}

// ---- the bindings (typed as much as this file uses) --------------------------------------

interface Handle {
  onread: (this: Handle) => void;
  readStart(): number;
  readStop(): number;
  useUserBuffer(b: Uint8Array): void;
  writeBuffer(req: WriteReq, b: Uint8Array): number;
  shutdown(req: ShutdownReq): number;
  setNoDelay(on: boolean): number;
  connect(req: ConnectReq, addr: string, port: number): number;
  connect6(req: ConnectReq, addr: string, port: number): number;
  close(cb?: () => void): void;
  /** The connection this handle is a side of. */
  conn?: Conn;
}
interface WriteReq {
  handle: Handle;
  oncomplete: (this: WriteReq, status: number) => void;
  conn: Conn;
  toClient: boolean;
}
interface ShutdownReq {
  handle: Handle;
  oncomplete: (this: ShutdownReq, status: number) => void;
}
interface ConnectReq {
  oncomplete: (this: ConnectReq, status: number) => void;
  address: string;
  port: number;
  conn: Conn;
  up: Handle;
}
interface Bindings {
  TCP: new (type: number) => Handle;
  TCPConnectWrap: new () => ConnectReq;
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  SOCKET: number;
  state: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

function load(): Bindings | undefined {
  try {
    const proc = process as unknown as { binding(n: string): Record<string, unknown> };
    const tcp = proc.binding('tcp_wrap') as {
      TCP: Bindings['TCP'];
      TCPConnectWrap: Bindings['TCPConnectWrap'];
      constants: { SOCKET: number };
    };
    const s = proc.binding('stream_wrap') as {
      WriteWrap: Bindings['WriteWrap'];
      ShutdownWrap: Bindings['ShutdownWrap'];
      streamBaseState: Int32Array;
      kReadBytesOrError: number;
      kLastWriteWasAsync: number;
    };
    const b: Bindings = {
      TCP: tcp.TCP,
      TCPConnectWrap: tcp.TCPConnectWrap,
      WriteWrap: s.WriteWrap,
      ShutdownWrap: s.ShutdownWrap,
      SOCKET: tcp.constants.SOCKET,
      state: s.streamBaseState,
      kReadBytesOrError: s.kReadBytesOrError,
      kLastWriteWasAsync: s.kLastWriteWasAsync,
    };
    const fns = [b.TCP, b.TCPConnectWrap, b.WriteWrap, b.ShutdownWrap];
    if (fns.some((f) => typeof f !== 'function') || !(b.state instanceof Int32Array)) return undefined;
    if (typeof b.kReadBytesOrError !== 'number' || typeof b.kLastWriteWasAsync !== 'number') return undefined;
    for (const m of ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'shutdown', 'connect', 'connect6'])
      if (typeof (b.TCP.prototype as unknown as Record<string, unknown>)[m] !== 'function') return undefined;
    return b;
  } catch {
    return undefined;
  }
}

const B = load();
/** Whether this node has the handle bindings (else the proxy relays through net.Socket). */
export const available = B !== undefined;

/** libuv's UV_EOF: a read of the peer's FIN. */
const UV_EOF = -4095;

// ---- read buffers ------------------------------------------------------------------------

// Each open connection holds its two read buffers for as long as it is open (libuv reads
// into them), so their size is what an idle connection costs: a backend's side reads as
// much as net.Socket does (downloads are the bulk), a client's side less (requests and
// uploads are mostly small), 80 KB a connection in all (the stream relay's was 64 KB).
/** Bytes read per read call from a backend (as net.Socket reads). */
const UPSTREAM_BUFFER = 64 * 1024;
/** Bytes read per read call from a client. */
const CLIENT_BUFFER = 16 * 1024;
/** Before the backend is connected, a client's bytes are held while at least this much of its buffer is free. */
const HELD_ROOM = 4096;
/**
 * Buffers kept for reuse, of each size (one per open connection): 32 connections at once fit,
 * and an idle process keeps at most 2.5 MB; beyond that buffers are allocated and dropped.
 */
const POOL_MAX = 32;
class BufferPool {
  private readonly free: Buffer[] = [];
  constructor(readonly bytes: number) {}
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.bytes);
  }
  give(b: Buffer | undefined): void {
    if (b !== undefined && this.free.length < POOL_MAX) this.free.push(b);
  }
  /** Buffers handed back (tests: a buffer must not return while a write still holds it). */
  get size(): number {
    return this.free.length;
  }
}
const clientBuffers = new BufferPool(CLIENT_BUFFER);
const upstreamBuffers = new BufferPool(UPSTREAM_BUFFER);
/** Buffers handed back, both sizes (tests). */
export const bufferPool = {
  get size(): number {
    return clientBuffers.size + upstreamBuffers.size;
  },
};

// ---- connect timeouts: one sweep, not a timer per connection -------------------------------

/** Connects under way; a timer runs while there are any, and fails those older than timeoutMs. */
export class ConnectSweep {
  private readonly pending = new Set<Conn>();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {}

  add(c: Conn): void {
    c.connectStart = this.now();
    this.pending.add(c);
    if (this.timer === undefined) {
      // A connect is cut between timeoutMs and 1.25 x timeoutMs after it began.
      this.timer = setInterval(() => this.sweep(), Math.max(5, this.timeoutMs / 4));
      this.timer.unref();
    }
  }

  delete(c: Conn): void {
    this.pending.delete(c);
  }

  private sweep(): void {
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const late = this.now() - this.timeoutMs;
    for (const c of this.pending) if (c.connectStart <= late) c.connectTimedOut();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

// ---- a connection --------------------------------------------------------------------------

/** One client connection and its backend connection. */
export class Conn {
  up: Handle | undefined;
  backend: RelayBackend | undefined;
  private tried: RelayBackend[] | undefined;
  connectStart = 0;
  private connected = false;
  private closed = false;
  private cBuf: Buffer | undefined;
  private uBuf: Buffer | undefined;
  /** Bytes read from the client before the backend was connected (at the start of cBuf). */
  private held = 0;
  /** Reading from the client stopped while held bytes filled cBuf. */
  private cPaused = false;
  /** FIN read from the client / from the backend. */
  private cEof = false;
  private uEof = false;
  /** Writes under way to the client / to the backend (each holds the other side's read buffer). */
  private cWrites = 0;
  private uWrites = 0;
  /** Our FIN sent (shutdown) to the client / to the backend. */
  private cShut = false;
  private uShut = false;

  constructor(
    private readonly host: RelayHost,
    readonly client: Handle,
  ) {}

  start(): void {
    const c = this.client;
    c.conn = this;
    c.onread = onClientRead;
    c.setNoDelay(true);
    // Reading at once (not only once connected) hears a client that resets or leaves while
    // the backend connect is under way; its first bytes wait in cBuf.
    c.useUserBuffer((this.cBuf = clientBuffers.take()));
    if (c.readStart() !== 0) return this.destroy();
    this.attempt();
  }

  private attempt(): void {
    const h = this.host;
    const tried = (this.tried ??= []);
    const b = tried.length < h.maxAttempts ? h.pick(tried) : undefined;
    if (b === undefined) {
      h.stats.dropped++;
      return this.destroy();
    }
    tried.push(b);
    b.active++;
    this.backend = b;
    const up = new B!.TCP(B!.SOCKET);
    this.up = up;
    up.conn = this;
    up.onread = onUpstreamRead;
    const req = new B!.TCPConnectWrap();
    req.oncomplete = afterConnect;
    req.address = b.addr;
    req.port = b.port;
    req.conn = this;
    req.up = up;
    const err = b.family === 6 ? up.connect6(req, b.addr, b.port) : up.connect(req, b.addr, b.port);
    if (err !== 0) return this.connectFailed();
    h.connecting.add(this);
  }

  /** The backend connect of `up` completed with status. */
  connectDone(up: Handle, status: number): void {
    if (up !== this.up || this.closed) return; // a timed-out or abandoned attempt
    this.host.connecting.delete(this);
    if (status < 0) return this.connectFailed();
    this.connected = true;
    const b = this.backend!;
    b.failures = 0;
    b.ejectedUntil = 0;
    up.setNoDelay(true);
    up.useUserBuffer((this.uBuf = upstreamBuffers.take()));
    if (up.readStart() !== 0) return this.destroy();
    if (this.held > 0) {
      const n = this.held;
      this.held = 0;
      this.client.useUserBuffer(this.cBuf!);
      if (!this.write(false, this.cBuf!.subarray(0, n))) return;
      // cBuf is free for the next read once the write is done: now, or at writeDone.
      if (this.uWrites > 0) this.client.readStop();
      else if (this.cPaused && !this.cEof) this.client.readStart();
      this.cPaused = false;
    }
    if (this.cEof) this.endTo(false);
  }

  connectTimedOut(): void {
    this.host.connecting.delete(this);
    this.connectFailed();
  }

  /** The current attempt failed: its backend is ejected, and another is tried (unless the client left). */
  private connectFailed(): void {
    const b = this.backend!;
    const up = this.up!;
    this.up = undefined;
    this.backend = undefined;
    b.active--;
    up.close();
    if (this.closed) return;
    this.host.connectFailed(b);
    this.attempt();
  }

  /** n bytes (or an error, or EOF) read from the client into cBuf. */
  clientRead(n: number): void {
    if (n > 0) {
      this.host.stats.bytesFromClients += n;
      if (!this.connected) {
        // Held until the backend is connected (most requests arrive before its SYN-ACK).
        // Reading goes on into the rest of cBuf rather than stopping and restarting, which
        // cost two epoll_ctl calls a connection; only a full buffer stops it.
        this.held += n;
        if (CLIENT_BUFFER - this.held >= HELD_ROOM) this.client.useUserBuffer(this.cBuf!.subarray(this.held));
        else {
          this.cPaused = true;
          this.client.readStop();
        }
        return;
      }
      if (this.write(false, this.cBuf!.subarray(0, n)) && this.uWrites > 0) this.client.readStop();
      return;
    }
    if (n === 0) return;
    if (n !== UV_EOF) return this.destroy(); // reset: the client left
    this.cEof = true;
    this.client.readStop();
    if (this.connected) this.endTo(false);
  }

  /** n bytes (or an error, or EOF) read from the backend into uBuf. */
  upstreamRead(n: number): void {
    if (n > 0) {
      this.host.stats.bytesToClients += n;
      if (this.write(true, this.uBuf!.subarray(0, n)) && this.cWrites > 0) this.up!.readStop();
      return;
    }
    if (n === 0) return;
    if (n !== UV_EOF) return this.destroy();
    this.uEof = true;
    this.up!.readStop();
    this.endTo(true);
  }

  /** Writes to the client (toClient) or the backend; false when the connection is gone. */
  private write(toClient: boolean, data: Buffer): boolean {
    const h = toClient ? this.client : this.up!;
    const req = new B!.WriteWrap();
    req.handle = h;
    req.oncomplete = afterWrite;
    req.conn = this;
    req.toClient = toClient;
    if (h.writeBuffer(req, data) !== 0) {
      this.destroy();
      return false;
    }
    if (B!.state[B!.kLastWriteWasAsync] !== 0) {
      if (toClient) this.cWrites++;
      else this.uWrites++;
    }
    return true;
  }

  /** A write that the kernel did not take at once is done: the other side may read again. */
  writeDone(toClient: boolean, status: number): void {
    if (toClient) this.cWrites--;
    else this.uWrites--;
    if (this.closed) return;
    if (status < 0) return this.destroy();
    if (toClient) {
      if (this.cWrites === 0 && !this.uEof) this.up!.readStart();
    } else if (this.uWrites === 0 && !this.cEof) this.client.readStart();
    this.endTo(toClient);
  }

  /**
   * Passes a FIN on to the client (toClient) or the backend once the bytes before it are
   * written; when both directions are done, closes the connection.
   */
  private endTo(toClient: boolean): void {
    if (this.closed) return;
    if (this.cEof && this.uEof && this.cWrites === 0 && this.uWrites === 0) return this.destroy(); // close sends the FINs
    if (toClient) {
      if (!this.uEof || this.cWrites > 0 || this.cShut) return;
      this.cShut = true;
      this.shutdown(this.client);
    } else {
      if (!this.cEof || this.uWrites > 0 || this.uShut) return;
      this.uShut = true;
      this.shutdown(this.up!);
    }
  }

  private shutdown(h: Handle): void {
    const req = new B!.ShutdownWrap();
    req.handle = h;
    req.oncomplete = noop;
    const err = h.shutdown(req);
    if (err !== 0 && err !== 1) this.destroy(); // 1: done at once
  }

  /** Closes both sides (a FIN each, or a reset if unread bytes remain) and hands the buffers back. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.release(this);
    if (this.up !== undefined) {
      if (!this.connected) this.host.connecting.delete(this);
      this.backend!.active--;
      this.up.close();
    }
    this.client.close();
    // The buffers are free now: libuv's close stops reading and closes the socket at once
    // (uv__stream_close), so a write still queued is only cancelled later, never made. No
    // close callbacks: each would be one more call into JS per handle.
    clientBuffers.give(this.cBuf);
    upstreamBuffers.give(this.uBuf);
    this.cBuf = this.uBuf = undefined;
  }
}

function noop(): void {}

function onClientRead(this: Handle): void {
  this.conn!.clientRead(B!.state[B!.kReadBytesOrError]);
}

function onUpstreamRead(this: Handle): void {
  this.conn!.upstreamRead(B!.state[B!.kReadBytesOrError]);
}

function afterConnect(this: ConnectReq, status: number): void {
  this.conn.connectDone(this.up, status);
}

function afterWrite(this: WriteReq, status: number): void {
  this.conn.writeDone(this.toClient, status);
}

/**
 * Takes over a listening net.Server's accepts: each new connection is a Conn on the
 * handles (net's own Socket is never made). The server must be listening.
 */
export function acceptOnHandles(server: object, onConnection: (client: Handle) => void): boolean {
  const h = (server as { _handle?: { onconnection?: unknown } | null })._handle;
  if (!B || !h || typeof h.onconnection !== 'function') return false;
  h.onconnection = (err: number, client: Handle | undefined): void => {
    if (err === 0 && client !== undefined) onConnection(client);
  };
  return true;
}

export type { Handle as ClientHandle };

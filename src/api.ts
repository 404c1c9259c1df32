// The HTTP API: JSON in, JSON out, loopback by default. Components add their own routes
// (membership adds /v1/members, and so on) through `route`, before or after it starts.
// Who may call it is api-access.ts's decision; what a caller may hold (connections, time,
// buffered stream bytes) is bounded here, before any handler runs.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { checkAccess, REFUSAL_REASONS, type AccessPolicy } from './api-access.js';
import type { Logger } from './log.js';
import { Counter, Gauge, type Registry } from './metrics.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ApiRequest {
  method: Method;
  path: string;
  query: URLSearchParams;
  /** Parsed JSON body (POST/PUT); undefined when there is none. */
  body: unknown;
  /** Path parameters from `:name` segments. */
  params: Record<string, string>;
}

export interface ApiReply {
  status?: number;
  body?: unknown;
  /** Raw text (e.g. Prometheus exposition) instead of JSON. */
  text?: string;
  contentType?: string;
  /** Extra response headers (the dashboard's Content-Security-Policy). */
  headers?: Record<string, string>;
  /**
   * A stream of JSON lines (NDJSON) instead of one body, kept open until the client goes
   * away or the server closes; `start` returns what to do then. Lines wait in a queue and
   * are serialised only as the client reads; a client that stops reading is cut off.
   */
  stream?: (send: (line: unknown) => void) => () => void;
}

export type Handler = (req: ApiRequest) => ApiReply | Promise<ApiReply>;

/** An error whose message is meant for the API caller (4xx). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 1 << 20;

export interface ApiLimits {
  /** Open connections at most (server.maxConnections); more are closed at once. */
  maxConnections: number;
  /** Open connections at most from one client address. */
  maxConnectionsPerClient: number;
  /** Open watch streams at most; more get 503. */
  maxWatches: number;
  /** The request's headers must arrive within this (slowloris). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A stream writes while the response holds less than this unsent. */
  streamHighWaterBytes: number;
  /** A stream whose client has read nothing for this long while lines wait is cut off. */
  streamStallMs: number;
  /** A stream more than this many lines behind is cut off. */
  streamMaxPending: number;
}

export const DEFAULT_LIMITS: ApiLimits = {
  maxConnections: 512,
  maxConnectionsPerClient: 100,
  maxWatches: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  streamHighWaterBytes: 16 * 1024,
  streamStallMs: 10_000,
  streamMaxPending: 10_000,
};

export interface ListenOptions {
  access: AccessPolicy;
  limits?: Partial<ApiLimits>;
}

const CONNECTION_REFUSALS = ['connections_total', 'connections_per_client', 'watch_limit'] as const;
const STREAM_CUTS = ['stalled', 'overflow'] as const;

interface Route {
  method: Method;
  segments: string[];
  handler: Handler;
}

export class ApiServer {
  private readonly routes: Route[] = [];
  private server?: Server;
  private readonly requests: Counter<'route' | 'status'>;
  private readonly refused: Counter<'reason'>;
  private readonly streamsCut: Counter<'reason'>;
  private access: AccessPolicy = { hosts: new Set() };
  private limits: ApiLimits = DEFAULT_LIMITS;
  private readonly perClient = new Map<string, number>();
  private watches = 0;
  /** Per kind of refusal: when it was last logged, and how many since. */
  private readonly warned = new Map<string, { at: number; since: number }>();

  constructor(
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.requests = new Counter({
      name: 'weft_api_requests_total',
      help: 'HTTP API requests by route and status',
      labelNames: ['route', 'status'],
      registers: [registry],
    });
    this.refused = new Counter({
      name: 'weft_api_refused_total',
      help: 'HTTP API requests and connections refused, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    for (const reason of [...REFUSAL_REASONS, ...CONNECTION_REFUSALS]) this.refused.inc({ reason }, 0);
    this.streamsCut = new Counter({
      name: 'weft_api_streams_cut_total',
      help: 'Watch streams cut off because the client did not read',
      labelNames: ['reason'],
      registers: [registry],
    });
    for (const reason of STREAM_CUTS) this.streamsCut.inc({ reason }, 0);
    const connections: Gauge = new Gauge({
      name: 'weft_api_connections',
      help: 'Open HTTP API connections',
      registers: [registry],
      collect: () => connections.set([...this.perClient.values()].reduce((a, b) => a + b, 0)),
    });
    const watches: Gauge = new Gauge({
      name: 'weft_api_watches',
      help: 'Open watch streams',
      registers: [registry],
      collect: () => watches.set(this.watches),
    });
  }

  route(method: Method, pattern: string, handler: Handler): void {
    this.routes.push({ method, segments: pattern.split('/').filter(Boolean), handler });
  }

  async listen(addr: string, port: number, opts: ListenOptions): Promise<AddressInfo> {
    this.access = opts.access;
    const limits = (this.limits = { ...DEFAULT_LIMITS, ...opts.limits });
    const server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        // Node checks the two timeouts above every 30 s by default: a slowloris would hold
        // its connections three times longer than the timeout says.
        connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
      },
      (req, res) => void this.handle(req, res),
    );
    server.maxConnections = limits.maxConnections;
    server.on('drop', (d?: { remoteAddress?: string }) => {
      this.refused.inc({ reason: 'connections_total' });
      this.warnRated(
        'connections_total',
        d?.remoteAddress,
        `API connection refused: ${limits.maxConnections} are open (api.maxConnections)`,
      );
    });
    server.on('connection', (socket: Socket) => this.admit(socket));
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) =>
        reject(
          new Error(
            e.code === 'EADDRINUSE'
              ? `API address ${addr}:${port} is in use: stop the other agent or choose another with --api-port`
              : `cannot listen on API address ${addr}:${port}: ${e.code ?? e.message}`,
          ),
        );
      server.once('error', onError);
      server.listen(port, addr, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Counts a new connection against its client's share; over the share it is closed at once. */
  private admit(socket: Socket): void {
    const client = socket.remoteAddress ?? '?';
    const n = this.perClient.get(client) ?? 0;
    if (n >= this.limits.maxConnectionsPerClient) {
      this.refused.inc({ reason: 'connections_per_client' });
      this.warnRated(
        'connections_per_client',
        client,
        `API connection refused: ${client} already has ${n} open (api.maxConnectionsPerClient)`,
      );
      socket.destroy();
      return;
    }
    this.perClient.set(client, n + 1);
    socket.once('close', () => {
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const segments = url.pathname.split('/').filter(Boolean);
    let routeLabel = 'unmatched';
    let reply: ApiReply;
    // Nothing the API answers may be cached by a browser or proxy, or sniffed into HTML.
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    if (this.refuseByAccess(req, res, url)) return;
    try {
      const route = this.find(req.method ?? 'GET', url.pathname, segments);
      routeLabel = '/' + route.segments.join('/');
      const body = req.method === 'POST' || req.method === 'PUT' ? await readJsonBody(req) : undefined;
      reply = await this.run(route, url, segments, body);
      if (reply.stream && this.watches >= this.limits.maxWatches) {
        this.refused.inc({ reason: 'watch_limit' });
        throw new ApiError(
          503,
          `too many watch streams are open (${this.limits.maxWatches}, api.maxWatches); try again later`,
        );
      }
    } catch (e) {
      if (e instanceof ApiError) reply = { status: e.status, body: { error: e.message } };
      else {
        this.log.error({ err: e, path: url.pathname }, 'API handler failed');
        reply = { status: 500, body: { error: 'internal error; see the agent log' } };
      }
    }
    const status = reply.status ?? 200;
    this.requests.inc({ route: routeLabel, status: String(status) });
    this.sendReply(res, status, reply);
  }

  /** The route for a method and path, or the 404/405 ApiError that says why there is none. */
  private find(method: string, pathname: string, segments: string[]): Route {
    const candidates = this.routes.filter((r) => matchSegments(r.segments, segments) !== undefined);
    const route = candidates.find((r) => r.method === method);
    if (route) return route;
    throw candidates.length
      ? new ApiError(
          405,
          `method ${method} is not allowed on ${pathname}; allowed: ${candidates.map((c) => c.method).join(', ')}`,
        )
      : new ApiError(404, `no such endpoint: ${pathname}`);
  }

  private run(route: Route, url: URL, segments: string[], body: unknown): ApiReply | Promise<ApiReply> {
    return route.handler({
      method: route.method,
      path: url.pathname,
      query: url.searchParams,
      body,
      params: matchSegments(route.segments, segments)!,
    });
  }

  /**
   * A GET answered in-process, as a client would get it but without the access checks (the
   * caller is a route that passed them): the dashboard's view streams read the API this way,
   * so that what the page shows is what the API answers. Streams and errors come back as
   * {status, body}.
   */
  async get(path: string): Promise<{ status: number; body: unknown }> {
    const url = new URL(path, 'http://localhost');
    const segments = url.pathname.split('/').filter(Boolean);
    try {
      const reply = await this.run(this.find('GET', url.pathname, segments), url, segments, undefined);
      if (reply.stream) throw new ApiError(400, `${url.pathname} is a stream`);
      return { status: reply.status ?? 200, body: reply.text ?? reply.body ?? {} };
    } catch (e) {
      if (e instanceof ApiError) return { status: e.status, body: { error: e.message } };
      this.log.error({ err: e, path: url.pathname }, 'API handler failed (in-process read)');
      return { status: 500, body: { error: 'internal error; see the agent log' } };
    }
  }

  /** Answers a request that api.access refuses (token, origin, host) and says so; true if it was refused. */
  private refuseByAccess(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const refusal = checkAccess(this.access, {
      method: req.method ?? 'GET',
      path: url.pathname,
      headers: req.headers,
      localAddress: req.socket.localAddress,
    });
    if (!refusal) return false;
    this.refused.inc({ reason: refusal.reason });
    this.requests.inc({ route: 'refused', status: String(refusal.status) });
    this.warnRated(
      refusal.reason,
      req.socket.remoteAddress,
      `API request ${req.method} ${url.pathname.slice(0, 100)} refused: ${refusal.message}`,
    );
    const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' };
    if (refusal.status === 401) headers['www-authenticate'] = 'Bearer realm="weft"';
    res.writeHead(refusal.status, headers);
    res.end(JSON.stringify({ error: refusal.message }) + '\n');
    return true;
  }

  private sendReply(res: ServerResponse, status: number, reply: ApiReply): void {
    if (reply.stream) {
      res.writeHead(status, { 'content-type': 'application/x-ndjson' });
      res.flushHeaders();
      this.openStream(res, reply.stream);
    } else if (reply.text !== undefined) {
      res.writeHead(status, { 'content-type': reply.contentType ?? 'text/plain; charset=utf-8', ...reply.headers });
      res.end(reply.text);
    } else {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body ?? {}) + '\n');
    }
  }

  /**
   * Feeds a stream's lines to the client as fast as it reads and no faster: lines wait as
   * objects (sharing the store's values) and are serialised only while the response holds
   * less than the high-water mark. A client that reads nothing for streamStallMs while
   * lines wait, or falls streamMaxPending lines behind, gets a last error line and is cut.
   */
  private openStream(res: ServerResponse, start: NonNullable<ApiReply['stream']>): void {
    const { streamHighWaterBytes, streamStallMs, streamMaxPending } = this.limits;
    // A client gone before its stream starts would never see 'close' again.
    if (!res.socket || res.socket.destroyed) return;
    this.watches++;
    let queue: unknown[] = [];
    let head = 0;
    let done = false;
    let stall: NodeJS.Timeout | undefined;
    // eslint-disable-next-line prefer-const -- finish() may run before the watch is set up, so stop is read before it is assigned
    let stop: (() => void) | undefined;
    const finish = () => {
      if (done) return false;
      done = true;
      clearTimeout(stall);
      queue = [];
      stop?.();
      return true;
    };
    const cut = (reason: (typeof STREAM_CUTS)[number]) => {
      if (finish()) this.endCutStream(res, reason);
    };
    const pump = () => {
      while (head < queue.length && res.writableLength < streamHighWaterBytes && !done) {
        res.write(JSON.stringify(queue[head]) + '\n');
        queue[head++] = undefined;
      }
      if (head === queue.length) {
        queue = [];
        head = 0;
      } else if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      if (head < queue.length && !stall && !done) stall = setTimeout(() => cut('stalled'), streamStallMs);
    };
    res.on('drain', () => {
      clearTimeout(stall);
      stall = undefined;
      pump();
    });
    res.once('close', () => {
      finish();
      this.watches--;
    });
    stop = start((line) => {
      if (done) return;
      queue.push(line);
      if (queue.length - head > streamMaxPending) cut('overflow');
      else pump();
    });
    if (done) stop();
  }

  /** Counts and logs a watch cut off, sends the client a last line saying why, and drops the connection soon after. */
  private endCutStream(res: ServerResponse, reason: (typeof STREAM_CUTS)[number]): void {
    const { streamStallMs, streamMaxPending } = this.limits;
    this.streamsCut.inc({ reason });
    this.warnRated(
      `cut_${reason}`,
      res.socket?.remoteAddress,
      `API watch cut off: the client ${reason === 'stalled' ? 'read nothing' : 'fell too far behind'}`,
    );
    res.end(
      JSON.stringify({
        error: `watch cut off: the client ${reason === 'stalled' ? `read nothing for ${streamStallMs / 1000}s` : `fell ${streamMaxPending} events behind`}; watch again to get the current entries`,
      }) + '\n',
    );
    // The last line cannot reach a client that does not read; do not keep its buffers.
    setTimeout(() => (res.socket ? res.socket.resetAndDestroy() : res.destroy()), 1_000).unref();
  }

  /** One warning per kind per 10 s at most: a flood of bad requests must not flood the log too. */
  private warnRated(kind: string, client: string | undefined, msg: string): void {
    const now = Date.now();
    const w = this.warned.get(kind);
    if (w && now - w.at < 10_000) {
      w.since++;
      return;
    }
    const more = w?.since ? ` (and ${w.since} more like it since the last warning)` : '';
    this.log.warn({ reason: kind, client }, `${msg} [from ${client ?? '?'}]${more}`);
    this.warned.set(kind, { at: now, since: 0 });
  }
}

/** `:name` matches one segment; a last `*name` matches the rest (one or more segments, joined by "/"). */
function matchSegments(pattern: string[], actual: string[]): Record<string, string> | undefined {
  const rest = pattern.length > 0 && pattern[pattern.length - 1]!.startsWith('*');
  if (rest ? actual.length < pattern.length : pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith('*')) params[p.slice(1)] = actual.slice(i).map(decodeSegment).join('/');
    else if (p.startsWith(':')) params[p.slice(1)] = decodeSegment(actual[i]!);
    else if (p !== actual[i]) return undefined;
  }
  return params;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError(400, `path segment "${s}" is not valid percent-encoding`);
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `request body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'request body is not valid JSON');
  }
}

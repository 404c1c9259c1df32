// The HTTP API: JSON in, JSON out, loopback by default. Components add their own routes
// (membership adds /v1/members, and so on) through `route`, before or after it starts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './log.js';
import { Counter, type Registry } from './metrics.js';

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
  /**
   * A stream of JSON lines (NDJSON) instead of one body, kept open until the client goes
   * away or the server closes; `start` returns what to do then.
   */
  stream?: (send: (line: unknown) => void) => () => void;
}

export type Handler = (req: ApiRequest) => ApiReply | Promise<ApiReply>;

/** An error whose message is meant for the API caller (4xx). */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_BODY_BYTES = 1 << 20;

interface Route {
  method: Method;
  segments: string[];
  handler: Handler;
}

export class ApiServer {
  private readonly routes: Route[] = [];
  private server?: Server;
  private readonly requests: Counter<'route' | 'status'>;

  constructor(private readonly log: Logger, registry: Registry) {
    this.requests = new Counter({ name: 'weft_api_requests_total', help: 'HTTP API requests by route and status', labelNames: ['route', 'status'], registers: [registry] });
  }

  route(method: Method, pattern: string, handler: Handler): void {
    this.routes.push({ method, segments: pattern.split('/').filter(Boolean), handler });
  }

  async listen(addr: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'EADDRINUSE' ? `API address ${addr}:${port} is in use: stop the other agent or choose another with --api-port` : `cannot listen on API address ${addr}:${port}: ${e.code ?? e.message}`));
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const segments = url.pathname.split('/').filter(Boolean);
    let routeLabel = 'unmatched';
    let reply: ApiReply;
    try {
      const candidates = this.routes.filter((r) => matchSegments(r.segments, segments) !== undefined);
      const route = candidates.find((r) => r.method === req.method);
      if (!route) {
        throw candidates.length
          ? new ApiError(405, `method ${req.method} is not allowed on ${url.pathname}; allowed: ${candidates.map((c) => c.method).join(', ')}`)
          : new ApiError(404, `no such endpoint: ${url.pathname}`);
      }
      routeLabel = '/' + route.segments.join('/');
      const body = req.method === 'POST' || req.method === 'PUT' ? await readJsonBody(req) : undefined;
      reply = await route.handler({ method: route.method, path: url.pathname, query: url.searchParams, body, params: matchSegments(route.segments, segments)! });
    } catch (e) {
      if (e instanceof ApiError) reply = { status: e.status, body: { error: e.message } };
      else {
        this.log.error({ err: e, path: url.pathname }, 'API handler failed');
        reply = { status: 500, body: { error: 'internal error; see the agent log' } };
      }
    }
    const status = reply.status ?? 200;
    this.requests.inc({ route: routeLabel, status: String(status) });
    if (reply.stream) {
      res.writeHead(status, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      res.flushHeaders();
      const stop = reply.stream((line) => res.write(JSON.stringify(line) + '\n'));
      res.once('close', stop);
    } else if (reply.text !== undefined) {
      res.writeHead(status, { 'content-type': reply.contentType ?? 'text/plain; charset=utf-8' });
      res.end(reply.text);
    } else {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body ?? {}) + '\n');
    }
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

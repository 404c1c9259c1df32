// Who may use the HTTP API, decided from a request's headers alone (no IO, so it is tested
// directly). Three defences, in the order they are checked:
//  - Host allow-list: a DNS-rebinding page reaches the agent with its own name in Host;
//  - no cross-site browsers: a request with an Origin other than the API's own is refused,
//    and writes must be JSON (text/plain is what a page can send without a preflight);
//  - tokens: a write token (any request) and an optional read-only token (GET only),
//    compared in constant time. /v1/health needs none, for liveness probes.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

export interface AccessPolicy {
  /** Lower-case host names and IP addresses (IPv6 without brackets) the API answers to. */
  hosts: ReadonlySet<string>;
  /** Required on every request (but PUBLIC_PATHS) when set. */
  token?: string;
  /** When set, also accepted on GET. */
  readToken?: string;
}

export const REFUSAL_REASONS = ['host', 'origin', 'content_type', 'no_token', 'bad_token', 'read_only_token'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  status: number;
  reason: RefusalReason;
  message: string;
}

export interface RequestFacts {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The address the client connected to: always a valid Host (it is no rebinding). */
  localAddress?: string;
}

/** Paths that need no token (still Host- and Origin-checked): liveness probes. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/v1/health']);

/**
 * The dashboard's static files (src/ui-routes.ts) need no token either: a browser cannot send
 * one on navigation, and they hold no data; the page asks for the token and sends it with
 * every API call it makes.
 */
const isPublic = (path: string) => PUBLIC_PATHS.has(path) || path === '/ui' || path.startsWith('/ui/');

/** The names the API answers to: its address, loopback names, the node's name and addresses, and the operator's. */
export function allowedHosts(o: { apiAddr: string; nodeName: string; addrs: string[]; extra: string[] }): Set<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '::1']);
  for (const h of [o.apiAddr, o.nodeName, ...o.addrs, ...o.extra]) {
    const n = normalHost(h);
    if (n && !isUnspecified(n)) hosts.add(n);
  }
  return hosts;
}

/** `Host`/authority text → lower-case host without port, brackets or trailing dot; undefined if malformed. */
export function hostOf(authority: string): string | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/@]+))(?::(\d{1,5}))?$/.exec(authority.trim());
  if (!m) return undefined;
  return normalHost(m[1] ?? m[2]!);
}

function normalHost(h: string): string | undefined {
  const n = h
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  return n || undefined;
}

const isUnspecified = (h: string) => h === '0.0.0.0' || h === '::';

/** The token a request carries: `X-Weft-Token: T` or `Authorization: Bearer T`. */
export function tokenOf(headers: IncomingHttpHeaders): string | undefined {
  const x = headers['x-weft-token'];
  if (typeof x === 'string') return x.trim();
  const auth = headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m ? m[1] : undefined;
}

/** Equal in constant time, whatever the lengths (both are hashed first). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

const READS = new Set(['GET', 'HEAD']);

/** Why this request is refused, or undefined when it may go on to its handler. */
export function checkAccess(policy: AccessPolicy, req: RequestFacts): Refusal | undefined {
  const h = req.headers;
  // HTTP/1.0 clients may omit Host; browsers never do, so rebinding always shows one.
  if (h.host !== undefined) {
    const host = hostOf(h.host);
    const local = req.localAddress ? normalHost(req.localAddress.replace(/^::ffff:/, '')) : undefined;
    if (!host || !(policy.hosts.has(host) || (host === local && isIP(host) !== 0))) {
      return {
        status: 403,
        reason: 'host',
        message: `Host "${h.host.slice(0, 100)}" is not a name of this agent; if it should be, add it to api.allowedHosts`,
      };
    }
  }
  // A browser names the page's origin; the only pages the API serves are its own dashboard's,
  // so any other origin is a cross-site request (CSRF or a rebinding page). Same-origin means
  // the Host's own authority.
  if (h.origin !== undefined && !sameOrigin(h.origin, h.host)) {
    return {
      status: 403,
      reason: 'origin',
      message: 'cross-origin requests are refused: the API takes no requests from web pages',
    };
  }
  const write = !READS.has(req.method);
  if (policy.token && !isPublic(req.path)) {
    const given = tokenOf(h);
    if (given === undefined) {
      return {
        status: 401,
        reason: 'no_token',
        message:
          'this agent needs an API token: send it as X-Weft-Token or Authorization: Bearer (weft commands read WEFT_TOKEN_FILE, WEFT_TOKEN or --token-file)',
      };
    }
    const isWrite = sameSecret(given, policy.token);
    const isRead =
      !isWrite && policy.readToken !== undefined && policy.readToken !== '' && sameSecret(given, policy.readToken);
    if (!isWrite && !isRead)
      return {
        status: 401,
        reason: 'bad_token',
        message: "the API token was not accepted; check it against the agent's api.tokenFile",
      };
    if (write && !isWrite)
      return {
        status: 403,
        reason: 'read_only_token',
        message: "this token may only read; writes need the agent's api.token",
      };
  }
  if (write) {
    const type = h['content-type'];
    const hasBody = Number(h['content-length'] ?? 0) > 0 || h['transfer-encoding'] !== undefined;
    if ((hasBody || type !== undefined) && !isJson(type)) {
      return {
        status: 415,
        reason: 'content_type',
        message: `writes take Content-Type: application/json${type ? `, not "${String(type).slice(0, 60)}"` : ''}`,
      };
    }
  }
  return undefined;
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file:) and junk
  }
  try {
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      u.host.toLowerCase() === new URL(`http://${host}`).host.toLowerCase()
    );
  } catch {
    return false;
  }
}

function isJson(type: string | undefined): boolean {
  return typeof type === 'string' && type.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

// Upstream resolvers: parsing `host`, `host:port` and `[v6]:port`, and the default list
// from /etc/resolv.conf without weft itself (a node whose resolv.conf points at weft's DNS
// would otherwise forward to itself, forever).
import { isIP } from 'node:net';
import type { Upstream } from './forwarder.js';

/** `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353` -> an upstream; throws a short message otherwise. */
export function parseUpstream(s: string): Upstream {
  const t = s.trim();
  let host = t;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) {
    host = bracket[1];
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (isIP(t) === 0 && t.includes(':') && t.indexOf(':') === t.lastIndexOf(':')) {
    host = t.slice(0, t.indexOf(':'));
    port = Number(t.slice(t.indexOf(':') + 1));
  }
  if (isIP(host) === 0) throw new Error(`DNS upstream "${s}" is not an IP address (host, host:port or [v6]:port)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`DNS upstream "${s}" has a bad port (1-65535)`);
  return { host, port, label: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** The nameserver lines of a resolv.conf text. */
export function nameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && isIP(m[1].split('%')[0]) !== 0) out.push(m[1].split('%')[0]);
  }
  return out;
}

const WILDCARD = new Set(['0.0.0.0', '::']);

/**
 * The upstreams of a resolv.conf, without the addresses weft listens on. `localAddrs` are
 * this host's addresses: a wildcard listener on port 53 answers on all of them.
 */
export function upstreamsFromResolvConf(
  text: string,
  listen: { addr: string; port: number }[],
  localAddrs: string[] = [],
): Upstream[] {
  const ours = new Set<string>();
  for (const l of listen) {
    if (l.port !== 53) continue;
    if (WILDCARD.has(l.addr)) {
      for (const a of localAddrs) ours.add(a);
      ours.add('127.0.0.1');
      ours.add('::1');
    } else ours.add(l.addr);
  }
  return nameservers(text)
    .filter((a) => !ours.has(a))
    .map((a) => parseUpstream(a));
}

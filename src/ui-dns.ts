// The dashboard's DNS view asks a question of this agent's own DNS server: over UDP to the
// address it listens on, so the answer is exactly what any client gets (zone, forwarder,
// cache, rate limits and all), not a second resolver's idea of it.
//
//   GET /v1/ui/dns?name=web.svc.weft.internal&type=A   {"rcode", "answers": [{name, type, ttl, data}], "ms"}
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import dnsPacket, { type RecordType } from 'dns-packet';
import { ApiError, type ApiServer } from './api.js';

export const UI_DNS_TYPES = ['A', 'AAAA', 'SRV', 'TXT', 'PTR', 'CNAME', 'NS', 'SOA', 'MX'] as const;
const TIMEOUT_MS = 2_000;

export interface DnsAnswer {
  rcode: string;
  truncated: boolean;
  answers: { name: string; type: string; ttl: number; data: unknown }[];
  ms: number;
}

/** `dnsAddr`: the agent's DNS listeners as /v1/status shows them ("127.0.0.1:8600 [::1]:8600"), or undefined when DNS is off. */
export function registerUiDnsRoute(api: ApiServer, dnsAddr: () => string | undefined): void {
  api.route('GET', '/v1/ui/dns', async (req) => {
    const name = (req.query.get('name') ?? '').trim().replace(/\.$/, '');
    const type = (req.query.get('type') ?? 'A').toUpperCase();
    if (!/^[A-Za-z0-9_*-]{1,63}(\.[A-Za-z0-9_*-]{1,63})*$/.test(name) || name.length > 253)
      throw new ApiError(400, `name "${name.slice(0, 60)}" is not a DNS name (labels of letters, digits, - and _)`);
    if (!(UI_DNS_TYPES as readonly string[]).includes(type))
      throw new ApiError(400, `type "${type.slice(0, 10)}": one of ${UI_DNS_TYPES.join(', ')}`);
    const target = firstListener(dnsAddr());
    if (!target) throw new ApiError(404, 'DNS is off on this agent (dns.listen is empty)');
    return { body: await ask(target, name, type as RecordType) };
  });
}

function firstListener(text: string | undefined): { addr: string; port: number } | undefined {
  const first = text?.split(' ')[0];
  const m = first ? /^\[?([^\]]+?)\]?:(\d+)$/.exec(first) : null;
  if (!m || !isIP(m[1]!)) return undefined;
  const addr = m[1] === '0.0.0.0' ? '127.0.0.1' : m[1] === '::' ? '::1' : m[1]!;
  return { addr, port: Number(m[2]) };
}

function ask(target: { addr: string; port: number }, name: string, type: RecordType): Promise<DnsAnswer> {
  const id = Math.floor(Math.random() * 65536);
  const query = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
  });
  const sock = createSocket(isIP(target.addr) === 6 ? 'udp6' : 'udp4');
  const started = performance.now();
  return new Promise<DnsAnswer>((resolve, reject) => {
    let settled = false;
    // Once only: an error after the timeout (or the reverse) must not close the socket twice.
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      f();
    };
    const timer = setTimeout(
      () => done(() => reject(new ApiError(504, `no DNS answer within ${TIMEOUT_MS / 1000} s`))),
      TIMEOUT_MS,
    );
    sock.on('error', (e) => done(() => reject(new ApiError(502, `DNS query failed: ${e.message}`))));
    sock.on('message', (msg) => {
      let p: dnsPacket.Packet;
      try {
        p = dnsPacket.decode(msg);
      } catch {
        return; // not an answer to us: keep waiting
      }
      if (p.id !== id) return;
      done(() =>
        resolve({
          rcode: (p as { rcode?: string }).rcode ?? 'NOERROR',
          truncated: ((p.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0,
          answers: (p.answers ?? []).map((a) => ({
            name: a.name,
            type: a.type,
            ttl: 'ttl' in a ? (a.ttl ?? 0) : 0,
            data: 'data' in a ? plain(a.data) : null,
          })),
          ms: Math.round((performance.now() - started) * 10) / 10,
        }),
      );
    });
    sock.send(query, target.port, target.addr);
  });
}

/** Record data as JSON shows it: TXT strings as text, not Buffer objects. */
function plain(d: unknown): unknown {
  if (Buffer.isBuffer(d)) return d.toString('utf8');
  return Array.isArray(d) ? d.map(plain) : d;
}

// Hostile input: random, mutated, truncated and looping packets into the responder (with a
// forwarder behind it), then a share of them over real UDP and TCP. Nothing may throw, every
// answer must be a readable DNS message for the same id, and good queries still get good answers.
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { Responder } from './answer.js';
import { Forwarder } from './forwarder.js';
import { DnsStats } from './stats.js';
import { Zone } from './zone.js';
import { DnsServer } from './server.js';
import { parseUpstream } from './resolv-conf.js';
import { decode, endpoint, newStore, query } from '../test/helpers/dns.js';

const N = 100_000;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 0x100000000;
  };
}

function corpus(): Buffer[] {
  return [
    query('web.svc.weft.internal', 'A'),
    query('web.svc.weft.internal', 'SRV', { edns: false }),
    query('_http._tcp.web.svc.weft.internal', 'SRV'),
    query('1.0.1.10.in-addr.arpa', 'PTR'),
    query('weft.internal', 'SOA', { dnssecOk: true }),
    query('nope.weft.internal', 'AAAA'),
    query('outside.example', 'A'),
  ];
}

/** One hostile packet. */
function hostile(rand: () => number, seeds: Buffer[]): Buffer {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const kind = Math.floor(rand() * 6);
  if (kind === 0) {
    const b = Buffer.alloc(Math.floor(rand() * 600));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
    if (b.length > 2 && rand() < 0.5) b[2] &= 0x7f; // mostly "queries", to get past the first check
    return b;
  }
  const b = Buffer.from(pick(seeds));
  if (kind === 1) {
    const flips = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < flips; i++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    return b;
  }
  if (kind === 2) return b.subarray(0, Math.floor(rand() * b.length));
  if (kind === 3) {
    // Huge counts.
    b.writeUInt16BE(Math.floor(rand() * 65536), 4 + 2 * Math.floor(rand() * 4));
    return b;
  }
  if (kind === 4) {
    // Compression pointers: into the header, at themselves, forward, in a loop.
    const at = 12 + Math.floor(rand() * (b.length - 12));
    b[at] = 0xc0 | Math.floor(rand() * 4);
    if (at + 1 < b.length) b[at + 1] = Math.floor(rand() * b.length);
    return b;
  }
  // Extra garbage records appended, counts raised to match or not.
  const extra = Buffer.alloc(Math.floor(rand() * 64));
  for (let i = 0; i < extra.length; i++) extra[i] = Math.floor(rand() * 256);
  const out = Buffer.concat([b, extra]);
  out.writeUInt16BE(out.readUInt16BE(10) + Math.floor(rand() * 3), 10);
  return out;
}

function setup() {
  const s = newStore('n1');
  s.put('node/n1', { addr: '10.0.0.1' });
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1', 'fd00::1'], { ports: { http: { port: 80, proto: 'tcp' } } }));
  return s;
}

t.test(`${N} hostile packets into the core: no throw, every answer readable, good queries still right`, async (t) => {
  const stats = new DnsStats();
  const zone = new Zone({ nodeName: 'n1' });
  zone.attach(setup());
  const fwd = new Forwarder<number>(
    { upstreams: [parseUpstream('127.0.0.1:1')], maxOutstanding: 64, timeoutMs: 100 },
    stats,
  );
  const r = new Responder<number>(zone, stats, fwd);
  const rand = rng(0x5eed);
  const seeds = corpus();
  let answered = 0;
  let checked = 0;
  let bad = 0;
  let now = 0;
  for (let i = 0; i < N; i++) {
    const pkt = hostile(rand, seeds);
    let out = r.handle(pkt, rand() < 0.2);
    if (out === undefined && r.wantsForward) out = r.forward(now, false, i);
    if (i % 100 === 0) {
      now += 50;
      fwd.tick(now);
      fwd.outbox.length = 0;
    }
    if (out === undefined) continue;
    answered++;
    if (i % 7 !== 0) continue;
    checked++;
    try {
      const d = dnsPacket.decode(out);
      if (d.id !== pkt.readUInt16BE(0) || d.type !== 'response') bad++;
    } catch {
      bad++;
    }
  }
  t.equal(bad, 0, `every checked answer (${checked} of ${answered}) decodes and carries the query's id`);
  const malformed = Object.values(stats.malformed).reduce((a, b) => a + b, 0);
  t.ok(malformed > N / 4, `malformed packets counted (${malformed}) by reason: ${JSON.stringify(stats.malformed)}`);
  const good = decode(r.handle(query('web.svc.weft.internal', 'A'), false));
  t.same(
    good.answers.map((a) => a.data),
    ['10.1.0.1'],
    'a good query is still answered right',
  );
});

t.test('hostile packets over real UDP and TCP: the server stays up and answers', async (t) => {
  const dns = await DnsServer.start({ source: setup(), listen: [{ addr: '127.0.7.1', port: 0 }], forward: false });
  t.teardown(() => dns.stop());
  const port = dns.addresses[0].port;
  const rand = rng(42);
  const seeds = corpus();

  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  for (let i = 0; i < 5000; i++) {
    await new Promise<void>((r) => sock.send(hostile(rand, seeds), port, '127.0.7.1', () => r()));
  }

  for (let c = 0; c < 20; c++) {
    const stream = Buffer.concat(
      Array.from({ length: 20 }, () => {
        const p = hostile(rand, seeds);
        const len = rand() < 0.9 ? p.length : Math.floor(rand() * 65536);
        return Buffer.concat([Buffer.from([len >> 8, len & 0xff]), p]);
      }),
    );
    await new Promise<void>((resolve) => {
      const conn = net.connect(port, '127.0.7.1', () => conn.end(stream));
      conn.on('data', () => {});
      conn.on('error', () => {});
      conn.on('close', () => resolve());
      setTimeout(() => conn.destroy(), 500);
    });
  }

  const answer = await new Promise<Buffer>((resolve) => {
    sock.removeAllListeners('message');
    sock.on('message', (m) => {
      if (m.readUInt16BE(0) === 999) resolve(m);
    });
    sock.send(query('web.svc.weft.internal', 'A', { id: 999 }), port, '127.0.7.1');
  });
  t.same(
    decode(answer).answers.map((a) => a.data),
    ['10.1.0.1'],
    'still answering over UDP',
  );
  const tcp = await new Promise<Buffer>((resolve, reject) => {
    const q = query('web.svc.weft.internal', 'A', { id: 1000 });
    const conn = net.connect(port, '127.0.7.1', () => conn.write(Buffer.concat([Buffer.from([0, q.length]), q])));
    let buf = Buffer.alloc(0);
    conn.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        conn.destroy();
        resolve(buf.subarray(2));
      }
    });
    conn.on('error', reject);
  });
  t.same(
    decode(tcp).answers.map((a) => a.data),
    ['10.1.0.1'],
    'and over TCP',
  );
  t.ok(Object.values(dns.stats.malformed).reduce((a, b) => a + b, 0) > 1000, 'the bad ones were counted');
});

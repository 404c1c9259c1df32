// The two honest parties of the DNS attacks in bench/hostile/dns.ts, each run as a process
// inside a network namespace of its own:
//   node dns-peers.js upstream '{"addr","port","delayMs","bigTxt"}'
//     a dns-packet resolver (dns/upstream.fixture.ts) that answers after delayMs, so a
//     spoofer has a window; it prints {"ready":true} and then one line per query it gets,
//     {"query": name, "port": source port} (the port only: what a side channel such as
//     SAD DNS can learn, never the id).
//   node dns-peers.js forwarder '{"listen":[...],"upstream","timeoutMs","bigService", ...}'
//     weft's DNS server (dns/server.ts) with its forwarder; prints {"ready":true,"ports":[...]}
//     then answers JSON commands on stdin, one per line: {"op":"ask","name"} asks it over
//     loopback and answers {"rcode","addrs"}; {"op":"stats"} answers its counters.
//   node dns-peers.js client
//     any DNS client (an attacker's, in the bench), driven by JSON commands on stdin:
//     {"op":"ask","server","port","name","type"} answers {"rcode","answers","tc","bytes"};
//     {"op":"flood","server","port","name","type","count"} sends count queries from one
//     socket as fast as it can, waits for stragglers, and answers the bytes each way and
//     how the responses were (full, truncated, refused).
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import dnsPacket from 'dns-packet';
import { LocalStore } from '../../crdt-store/index.js';
import { DnsServer } from '../../dns/index.js';
import { TestUpstream } from '../../dns/upstream.fixture.js';
import { endpointKey } from '../../records/schema.js';

const [role, optsText = '{}'] = process.argv.slice(2);
const opts = JSON.parse(optsText) as Record<string, unknown>;
const print = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');

/** A TXT answer of about `bytes` bytes (the record an amplifier wants). */
function bigTxt(name: string, bytes: number) {
  const strings: Buffer[] = [];
  for (let left = bytes; left > 0; left -= 255) strings.push(Buffer.alloc(Math.min(255, left), 'a'));
  return [{ type: 'TXT' as const, name, ttl: 300, data: strings }];
}

if (role === 'upstream') {
  const up = await TestUpstream.start(
    String(opts.addr),
    (q) =>
      q.type === 'TXT'
        ? { answers: bigTxt(q.name, Number(opts.bigTxt ?? 1000)) }
        : { answers: [{ type: 'A', name: q.name, ttl: 0, data: '192.0.2.1' }] },
    Number(opts.port ?? 53),
  );
  up.delayMs = Number(opts.delayMs ?? 0);
  up.onQuery = (name, port) => print({ query: name.toLowerCase(), port });
  print({ ready: true, port: up.port });
} else if (role === 'forwarder') {
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  store.put('node/n1', { addr: '10.0.0.1' });
  // A service with many endpoints: its answer is the biggest one the zone gives anyone.
  for (let i = 0; i < Number(opts.bigService ?? 0); i++) {
    store.put(endpointKey('big', 'n1', `e${i}`), {
      service: 'big',
      addrs: [`10.9.${i >> 8}.${(i & 255) + 1}`],
      ports: {},
      health: 'none',
      vips: [],
      source: 'api',
    });
  }
  const dns = await DnsServer.start({
    source: store,
    nodeName: 'n1',
    listen: opts.listen as { addr: string; port: number }[],
    upstreams: [String(opts.upstream)],
    upstreamTimeoutMs: Number(opts.timeoutMs ?? 1500),
    // The counters below are this process's (dns.stats, the rate limiter's): no worker
    // processes, which a flood would start (dns/workers.e2e.test.ts covers them under attack).
    workers: 0,
    ...((opts.server as object | undefined) ?? {}),
  });
  const self = dns.addresses[0];
  const ask = (name: string, type: 'A' | 'TXT' = 'A'): Promise<{ rcode: string; addrs: string[] }> =>
    new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      const done = (v: { rcode: string; addrs: string[] }): void => {
        clearTimeout(timer);
        s.close();
        resolve(v);
      };
      const timer = setTimeout(() => done({ rcode: 'TIMEOUT', addrs: [] }), 5000);
      s.on('message', (m) => {
        const p = dnsPacket.decode(m) as unknown as { rcode?: string; answers?: { type: string; data: unknown }[] };
        done({
          rcode: p.rcode ?? 'NOERROR',
          addrs: (p.answers ?? []).filter((a) => a.type === 'A').map((a) => String(a.data)),
        });
      });
      s.send(
        dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }),
        self.port,
        self.addr,
      );
    });
  createInterface({ input: process.stdin }).on('line', (line) => {
    const cmd = JSON.parse(line) as { op: string; name?: string };
    if (cmd.op === 'ask') void ask(String(cmd.name)).then(print);
    else if (cmd.op === 'stats') {
      const stats = JSON.parse(
        JSON.stringify(dns.stats, (_, v: unknown) =>
          v instanceof Map ? Object.fromEntries(v) : ArrayBuffer.isView(v) ? undefined : v,
        ),
      ) as Record<string, unknown>;
      // The rate limiter's counters (absent before it existed).
      const rrl = (dns as unknown as { rrl?: { dropped: number; slipped: number } }).rrl;
      print({ stats: { ...stats, rrlDropped: rrl?.dropped, rrlSlipped: rrl?.slipped } });
    }
  });
  print({ ready: true, ports: dns.addresses.map((a) => a.port) });
} else if (role === 'client') {
  type Reply = { rcode: string; answers: number; tc: boolean; bytes: number };
  let onReply: ((r: Reply) => void) | undefined;
  let sock: dgram.Socket;
  // A socket per command, so that late answers to the last one are not counted in the next.
  const fresh = async (): Promise<void> => {
    sock?.close();
    sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, () => r()));
    sock.setRecvBufferSize(4 << 20);
    sock.on('message', onMessage);
  };
  const onMessage = (m: Buffer): void => {
    let r: Reply = { rcode: 'garbled', answers: 0, tc: false, bytes: m.length };
    try {
      const p = dnsPacket.decode(m) as unknown as { rcode?: string; answers?: unknown[]; flag_tc?: boolean };
      r = { rcode: p.rcode ?? 'NOERROR', answers: p.answers?.length ?? 0, tc: p.flag_tc === true, bytes: m.length };
    } catch {
      // counted as garbled
    }
    onReply?.(r);
  };
  const q = (name: string, type: string, id: number): Buffer =>
    dnsPacket.encode({
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: type as 'A', name }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as never],
    });
  type Cmd = { op: string; server: string; port: number; name: string; type: string; count?: number };
  const ops: Record<string, (c: Cmd) => Promise<unknown>> = {
    ask: (c) =>
      new Promise((resolve) => {
        const timer = setTimeout(
          () => ((onReply = undefined), resolve({ rcode: 'TIMEOUT', answers: 0, tc: false, bytes: 0 })),
          3000,
        );
        onReply = (r) => {
          clearTimeout(timer);
          onReply = undefined;
          resolve(r);
        };
        sock.send(q(c.name, c.type, 7), c.port, c.server);
      }),
    flood: async (c) => {
      const out = { sent: 0, bytesIn: 0, bytesOut: 0, responses: 0, full: 0, truncated: 0, refused: 0 };
      onReply = (r) => {
        out.responses++;
        out.bytesOut += r.bytes;
        if (r.tc) out.truncated++;
        else if (r.rcode === 'REFUSED') out.refused++;
        else out.full++;
      };
      const msg = q(c.name, c.type, 1);
      for (let i = 0; i < (c.count ?? 1000); i++) {
        msg.writeUInt16BE(i & 0xffff, 0);
        await new Promise<void>((r) => sock.send(msg, c.port, c.server, () => r()));
        out.sent++;
        out.bytesIn += msg.length;
      }
      await new Promise((r) => setTimeout(r, 500));
      onReply = undefined;
      return out;
    },
  };
  let chain = Promise.resolve();
  createInterface({ input: process.stdin }).on('line', (line) => {
    const cmd = JSON.parse(line) as Cmd;
    chain = chain.then(fresh).then(() => ops[cmd.op](cmd).then(print));
  });
  print({ ready: true });
} else {
  console.error('usage: dns-peers.js upstream|forwarder|client JSON');
  process.exit(2);
}

// Part of `npm run bench -- dns`: checks answers while dnsperf loads the server, so that a
// wrong answer cannot count as speed (dnsperf counts any response). A sample of the bench's
// names must come back NOERROR with exactly the service's addresses; names that do not exist
// (weft only: dnsmasq without upstreams refuses them) must come back NXDOMAIN with no answer.
// Queries go out paced, from one socket, while the load runs; unanswered ones are counted
// apart (lost under load is dnsperf's figure, not a wrong answer).
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { benchAddr } from './dns-data.js';

export interface CheckResult {
  checked: number;
  wrong: number;
  unanswered: number;
  /** The first few wrong answers, said in words. */
  examples: string[];
}

interface Expect {
  name: string;
  rcode: 'NOERROR' | 'NXDOMAIN';
  addrs: string[];
}

function expectation(i: number, services: number, per: number, nx: boolean): Expect {
  if (nx && i % 10 === 9) return { name: `nx${i}.svc.weft.internal`, rcode: 'NXDOMAIN', addrs: [] };
  const s = (i * 7919) % services;
  const addrs = Array.from({ length: per }, (_, e) => benchAddr(s, e)).sort();
  return { name: `s${s}.svc.weft.internal`, rcode: 'NOERROR', addrs };
}

function judge(reply: Buffer, want: Expect): string | undefined {
  let p: dnsPacket.Packet;
  try {
    p = dnsPacket.decode(reply);
  } catch {
    return `${want.name}: undecodable reply`;
  }
  const rcode = (p as { rcode?: string }).rcode ?? 'NOERROR';
  const got = (p.answers ?? [])
    .filter((a) => a.type === 'A')
    .map((a) => String((a as { data: string }).data))
    .sort();
  if (rcode !== want.rcode) return `${want.name}: ${rcode}, expected ${want.rcode}`;
  if (got.join() !== want.addrs.join()) return `${want.name}: [${got.join(' ')}], expected [${want.addrs.join(' ')}]`;
  return undefined;
}

/** Sends `count` paced queries over about `ms` and judges the replies. */
export async function checkAnswers(
  server: string,
  port: number,
  o: { count: number; ms: number; services: number; per: number; nx: boolean },
): Promise<CheckResult> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const pending = new Map<number, Expect>();
  const r: CheckResult = { checked: 0, wrong: 0, unanswered: 0, examples: [] };
  sock.on('message', (msg) => {
    const want = msg.length >= 2 ? pending.get(msg.readUInt16BE(0)) : undefined;
    if (!want) return;
    pending.delete(msg.readUInt16BE(0));
    r.checked++;
    const bad = judge(msg, want);
    if (bad !== undefined) {
      r.wrong++;
      if (r.examples.length < 5) r.examples.push(bad);
    }
  });
  const batch = 10;
  const gapMs = (o.ms * batch) / o.count;
  for (let i = 0; i < o.count; i++) {
    const want = expectation(i, o.services, o.per, o.nx);
    const id = i & 0xffff;
    pending.set(id, want);
    const q = dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: 'A', name: want.name }] });
    sock.send(q, port, server);
    if (i % batch === batch - 1) await new Promise((res) => setTimeout(res, gapMs));
  }
  // Stragglers: dnsperf's own timeout is 2 s.
  for (let waited = 0; pending.size > 0 && waited < 2000; waited += 50) await new Promise((res) => setTimeout(res, 50));
  r.unanswered = pending.size;
  sock.close();
  return r;
}

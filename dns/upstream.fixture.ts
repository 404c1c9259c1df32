// A tiny upstream DNS server for tests and the bench (UDP and TCP, dns-packet based): it
// answers from a function, counts what it is asked, and can be told to stay silent, to be
// slow or to fail. It runs on loopback only; nothing here goes near the internet.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';

export interface UpstreamReply {
  rcode?: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
  answers?: Answer[];
  authorities?: Answer[];
  /** Set TC over UDP (and send no records) so the client must come back over TCP. */
  truncateUdp?: boolean;
}

/** The reply to a question; 'drop' answers nothing. */
export type UpstreamHandler = (q: { name: string; type: string }, tcp: boolean) => UpstreamReply | 'drop';

export class TestUpstream {
  readonly asked: { name: string; type: string; tcp: boolean }[] = [];
  delayMs = 0;
  /** Called with each question's name as received (0x20 case included) and the asker's source port. */
  onQuery: ((name: string, port: number) => void) | undefined = undefined;
  private readonly conns = new Set<net.Socket>();
  private constructor(
    readonly addr: string,
    readonly port: number,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    public handler: UpstreamHandler,
  ) {}

  get label(): string {
    return `${this.addr}:${this.port}`;
  }

  static async start(addr: string, handler: UpstreamHandler, port = 0): Promise<TestUpstream> {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, addr, () => resolve());
    });
    const bound = udp.address().port;
    const tcp = net.createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(bound, addr, () => resolve());
    });
    const up = new TestUpstream(addr, bound, udp, tcp, handler);
    udp.on('message', (msg, rinfo) => {
      const out = up.answer(msg, false, rinfo.port);
      if (out) up.later(() => udp.send(out, rinfo.port, rinfo.address));
    });
    tcp.on('connection', (c) => {
      up.conns.add(c);
      c.on('close', () => up.conns.delete(c));
      c.on('error', () => {});
      let buf = Buffer.alloc(0);
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          const out = up.answer(msg, true, c.remotePort ?? 0);
          if (out) up.later(() => c.write(Buffer.concat([Buffer.from([out.length >> 8, out.length & 0xff]), out])));
        }
      });
    });
    return up;
  }

  private later(f: () => void): void {
    if (this.delayMs > 0) setTimeout(f, this.delayMs);
    else f();
  }

  private answer(msg: Buffer, tcp: boolean, port: number): Buffer | undefined {
    let q: Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question) return undefined;
    this.asked.push({ name: question.name, type: question.type, tcp });
    this.onQuery?.(question.name, port);
    const r = this.handler({ name: question.name, type: question.type }, tcp);
    if (r === 'drop') return undefined;
    const tc = r.truncateUdp === true && !tcp;
    return dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags:
        (tc ? dnsPacket.TRUNCATED_RESPONSE : 0) |
        dnsPacket.RECURSION_DESIRED |
        dnsPacket.RECURSION_AVAILABLE |
        rcodeBits(r.rcode ?? 'NOERROR'),
      questions: q.questions,
      answers: tc ? [] : (r.answers ?? []),
      authorities: tc ? [] : (r.authorities ?? []),
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as Answer],
    });
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await Promise.all([
      new Promise<void>((r) => this.udp.close(() => r())),
      new Promise<void>((r) => this.tcp.close(() => r())),
    ]);
  }
}

const rcodeBits = (r: string): number => ({ NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 })[r] ?? 0;

/** An SOA for negative answers of a test zone. */
export function testSoa(zone: string, ttl: number, minimum: number): Answer {
  return {
    type: 'SOA',
    name: zone,
    ttl,
    data: { mname: `ns.${zone}`, rname: `admin.${zone}`, serial: 1, refresh: 60, retry: 60, expire: 60, minimum },
  };
}

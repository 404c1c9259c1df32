// A tiny statsd listener for serf's go-metrics telemetry: one UDP socket on 127.0.0.1 per
// agent, so each agent's counters stay apart. memberlist increments `memberlist.udp.sent` by
// the payload length once per datagram and `memberlist.tcp.sent` once per stream write, so
// the sum of values is bytes and the number of samples is packets (UDP) or writes (TCP).
import { createSocket, type Socket } from 'node:dgram';

export interface StatsdTotals {
  udpBytes: number;
  udpPackets: number;
  tcpBytes: number;
  tcpWrites: number;
}

export interface StatsdSink {
  /** One port per agent, in agent order. */
  readonly ports: number[];
  totals(agent: number): StatsdTotals;
  sum(): StatsdTotals;
  /** Datagrams received that did not parse (should stay 0). */
  readonly malformed: number;
  close(): Promise<void>;
}

const zero = (): StatsdTotals => ({ udpBytes: 0, udpPackets: 0, tcpBytes: 0, tcpWrites: 0 });

export async function startStatsd(agents: number): Promise<StatsdSink> {
  const sockets: Socket[] = [];
  const totals: StatsdTotals[] = [];
  let malformed = 0;
  try {
    for (let i = 0; i < agents; i++) {
      const t = zero();
      totals.push(t);
      const s = createSocket('udp4');
      s.on('message', (msg) => {
        for (const line of msg.toString('utf8').split('\n')) {
          if (!line) continue;
          // key:value|type[|@rate]
          const m = /^([^:]+):([-0-9.eE+]+)\|([a-z]+)/.exec(line);
          if (!m) {
            malformed++;
            continue;
          }
          if (m[3] !== 'c') continue;
          const v = Number(m[2]);
          if (m[1].endsWith('memberlist.udp.sent')) {
            t.udpBytes += v;
            t.udpPackets++;
          } else if (m[1].endsWith('memberlist.tcp.sent')) {
            t.tcpBytes += v;
            t.tcpWrites++;
          }
        }
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, '127.0.0.1', () => {
          s.off('error', reject);
          resolve();
        });
      });
      s.on('error', () => {});
      sockets.push(s);
    }
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  return {
    ports: sockets.map((s) => s.address().port),
    totals: (i) => ({ ...totals[i] }),
    sum: () =>
      totals.reduce(
        (a, t) => ({
          udpBytes: a.udpBytes + t.udpBytes,
          udpPackets: a.udpPackets + t.udpPackets,
          tcpBytes: a.tcpBytes + t.tcpBytes,
          tcpWrites: a.tcpWrites + t.tcpWrites,
        }),
        zero(),
      ),
    get malformed() {
      return malformed;
    },
    close: () => Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {}),
  };
}

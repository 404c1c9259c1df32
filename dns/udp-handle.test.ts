// serveUdp (udp-handle.ts): datagrams in and answers out on the socket's handle, the same
// as through dgram, for IPv4 and IPv6; and nothing sent once the socket is closed.
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { handlePathAvailable, serveUdp, type UdpPath } from './udp-handle.js';

const bound = (s: dgram.Socket, addr: string) => new Promise<void>((r) => s.bind(0, addr, () => r()));

/** An echo server on `addr` that answers each datagram with its bytes reversed. */
async function echo(
  t: Test,
  type: 'udp4' | 'udp6',
  addr: string,
  viaHandle: boolean,
): Promise<[dgram.Socket, UdpPath]> {
  const sock = dgram.createSocket(type);
  await bound(sock, addr);
  t.teardown(() => new Promise<void>((r) => sock.close(() => r())));
  const path: UdpPath = serveUdp(sock, (msg, address, port) => path.send(Buffer.from(msg).reverse(), port, address), {
    viaHandle,
  });
  return [sock, path];
}

/** Sends `n` numbered datagrams one at a time, each after the last one's answer; returns the answers. */
async function ask(type: 'udp4' | 'udp6', addr: string, port: number, n: number): Promise<string[]> {
  const c = dgram.createSocket(type);
  await bound(c, addr);
  const answers: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const got = new Promise<Buffer>((r) => c.once('message', r));
      c.send(Buffer.from(`query ${i}`), port, addr);
      answers.push(
        Buffer.from(await got)
          .reverse()
          .toString(),
      );
    }
  } finally {
    c.close();
  }
  return answers;
}

const want = Array.from({ length: 50 }, (_, i) => `query ${i}`);

for (const [type, addr] of [
  ['udp4', '127.0.0.1'],
  ['udp6', '::1'],
] as const) {
  for (const viaHandle of [true, false]) {
    t.test(
      `${type} through ${viaHandle ? 'the handle' : 'dgram'}: every datagram answered to its sender`,
      async (t) => {
        const [sock, path] = await echo(t, type, addr, viaHandle);
        t.equal(path.viaHandle, viaHandle && handlePathAvailable, 'served as asked');
        t.same(await ask(type, addr, sock.address().port, want.length), want);
      },
    );
  }
}

t.test('this node has the handle path (else the fallback is all that runs here)', async (t) => {
  t.ok(handlePathAvailable);
  const sock = dgram.createSocket('udp4');
  await bound(sock, '127.0.0.1');
  t.ok(serveUdp(sock, () => {}).viaHandle, 'a bound socket is served on its handle by default');
  sock.close();
});

t.test('WEFT_DNS_UDP=dgram serves through dgram', async (t) => {
  const sock = dgram.createSocket('udp4');
  await bound(sock, '127.0.0.1');
  process.env.WEFT_DNS_UDP = 'dgram';
  t.teardown(() => {
    delete process.env.WEFT_DNS_UDP;
    sock.close();
  });
  t.notOk(serveUdp(sock, () => {}).viaHandle);
});

for (const viaHandle of [true, false]) {
  t.test(
    `through ${viaHandle ? 'the handle' : 'dgram'}: a send on a closed socket is dropped, not thrown`,
    async (t) => {
      const sock = dgram.createSocket('udp4');
      await bound(sock, '127.0.0.1');
      const path = serveUdp(sock, () => {}, { viaHandle });
      sock.close();
      t.doesNotThrow(() => path.send(Buffer.from('late'), 9, '127.0.0.1'), 'at once');
      await new Promise<void>((r) => sock.once('close', () => r()));
      t.doesNotThrow(() => path.send(Buffer.from('later'), 9, '127.0.0.1'), 'once closed');
    },
  );
}

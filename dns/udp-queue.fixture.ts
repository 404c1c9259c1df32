// For dns/udp-handle.system.test.ts, run inside a namespace whose loopback is slowed (tc tbf),
// so the kernel's send buffer fills and libuv queues sends: sends a burst of numbered
// datagrams through serveUdp's send, collecting garbage on the way, and prints one JSON
// line: how many were queued, and how many arrived whole.
//   node --expose-gc dist/dns/udp-queue.fixture.js <handle|dgram> <count>
import dgram from 'node:dgram';
import { serveUdp } from './udp-handle.js';

const [mode = 'handle', countArg = '1000'] = process.argv.slice(2);
const count = Number(countArg);
const SIZE = 1000;

const bound = (s: dgram.Socket) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
const from = dgram.createSocket('udp4');
const to = dgram.createSocket('udp4');
await Promise.all([bound(from), bound(to)]);
from.setSendBufferSize(16 * 1024);

/** Datagram i: its number, then SIZE - 4 bytes of i's low byte. */
const datagram = (i: number): Buffer => {
  const b = Buffer.alloc(SIZE, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
};
const whole = new Set<number>();
let broken = 0;
const done = new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, 15_000);
  to.on('message', (m) => {
    const i = m.readUInt32BE(0);
    if (m.length === SIZE && i < count && m.subarray(4).every((b) => b === (i & 0xff))) whole.add(i);
    else broken++;
    if (whole.size === count) {
      clearTimeout(timer);
      resolve();
    }
  });
});
const path = serveUdp(from, () => {}, { viaHandle: mode === 'handle' });
const gc = (globalThis as { gc?: () => void }).gc;
for (let i = 0; i < count; i++) {
  path.send(datagram(i), to.address().port, '127.0.0.1');
  // Collected while queued: only the request's hold keeps an answer's bytes alive.
  if (i % 50 === 49) gc?.();
}
const queued = path.queued();
await done;
process.stdout.write(JSON.stringify({ viaHandle: path.viaHandle, queued, whole: whole.size, broken, gc: !!gc }) + '\n');
from.close();
to.close();

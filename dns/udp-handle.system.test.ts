// System test (root, ip, tc): answers the kernel cannot take at once. On a loopback slowed by
// tc's token bucket the send buffer fills, libuv queues the sends with their requests, and
// every datagram must still leave whole, with garbage collected meanwhile: the request holds
// the answer's bytes, and a queued request is never reused (udp-handle.ts).
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { NetLab } from '../test/helpers/netns.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ root: true, commands: ['ip', 'tc'] });
const FIXTURE = fileURLToPath(new URL('../dist/dns/udp-queue.fixture.js', import.meta.url));
const COUNT = 1000;

t.test('sends queued by libuv leave whole, through the handle and through dgram', { skip }, async (t) => {
  const lab = await NetLab.create(t, { tag: 'u', subnet: '10.79.0' });
  const host = await lab.addHost(2);
  // 8 Mbit/s: 1,000 datagrams of 1,000 bytes take about a second to drain.
  await lab.exec(host.ns, [
    'tc',
    'qdisc',
    'add',
    'dev',
    'lo',
    'root',
    'tbf',
    'rate',
    '8mbit',
    'burst',
    '16kb',
    'latency',
    '5s',
  ]);
  for (const mode of ['handle', 'dgram']) {
    const p = lab.spawn(host.ns, [process.execPath, '--expose-gc', FIXTURE, mode, String(COUNT)]);
    const line = await new Promise<string>((resolve, reject) => {
      let err = '';
      p.stderr?.on('data', (d) => (err += d));
      createInterface({ input: p.stdout! }).once('line', resolve);
      p.once('exit', (code) => reject(new Error(`fixture exited ${code}: ${err}`)));
    });
    const r = JSON.parse(line) as { viaHandle: boolean; queued: number; whole: number; broken: number; gc: boolean };
    t.equal(r.viaHandle, mode === 'handle', `${mode}: served as asked`);
    t.ok(r.gc, `${mode}: garbage collected during the burst`);
    if (mode === 'handle') t.ok(r.queued > COUNT / 2, `handle: most sends were queued by libuv (${r.queued})`);
    t.equal(r.whole, COUNT, `${mode}: every datagram arrived whole`);
    t.equal(r.broken, 0, `${mode}: none arrived damaged`);
  }
});

// The Outbox on its own: datagrams filled to the budget and no further, oversized messages
// as streams, gossip piggybacked on the last datagram only where allowed, and the traffic
// counters (issue 18's mutation survivors; swim.ts's tests see it only through whole cores).
import t from 'tap';
import type { PacketMessage } from '../messages.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { makeConfig } from './config.js';
import { Outbox, type TrafficCounters } from './outbox.js';
import type { Output, PacketOutput } from './outputs.js';

// budget = 200 - 48 = 152 bytes of messages; each message costs its size + 2.
const config = makeConfig('lan', { udpPayload: 200 });
const A = { addr: '10.0.0.1', port: 7946 };
const B = { addr: '10.0.0.2', port: 7946 };

/** A ping whose measured size is `size` (the seq carries it). */
const ping = (size: number): PacketMessage => ({
  t: 'ping',
  seq: size,
  target: `s${size}`,
  source: { name: 'x', addr: '10.0.0.9', port: 7946 },
});
const sizeOf = (m: object): number => (m as { seq?: number }).seq ?? 0;
const news = (node: string): PacketMessage => ({ t: 'suspect', incarnation: 1, node, from: 'x' });

function setup(piggybackTo?: (to: { addr: string; port: number }) => boolean) {
  const queue = new BroadcastQueue(100);
  const counters: TrafficCounters = { packetsOut: 0, bytesOut: 0, streamsOut: 0, oversizeToStream: 0 };
  const limit = { n: 3 };
  const box = new Outbox(config, queue, sizeOf as never, () => limit.n, counters, piggybackTo);
  return { queue, counters, box, limit };
}

const packetsOf = (out: Output[]): PacketOutput[] => out.filter((o): o is PacketOutput => o.kind === 'packet');

t.test('budget is the payload less the packet overhead', async (t) => {
  t.equal(setup().box.budget, 152);
});

t.test('messages fill a datagram up to the budget exactly, then start the next', async (t) => {
  const { box, counters } = setup();
  box.send(A, [ping(70), ping(80)]); // 72 + 82 = 154 > 152: two datagrams
  box.send(A, [ping(68)]); // 70: fits after 82, exactly 152
  box.flush();
  const out = packetsOf(box.take());
  t.same(
    out.map((p) => p.msgs.map((m) => (m as { seq: number }).seq)),
    [[70], [80, 68]],
  );
  t.same(
    out.map((p) => p.bytes),
    [48 + 72, 48 + 152],
    'bytes: overhead plus messages and their per-message overheads',
  );
  t.equal(counters.packetsOut, 2);
  t.equal(counters.bytesOut, 48 + 72 + 48 + 152);
  t.same(box.take(), [], 'take empties');
  box.flush();
  t.same(box.take(), [], 'flush with nothing queued sends nothing');
});

t.test('a message larger than any datagram goes as a stream, the rest as packets', async (t) => {
  const { box, counters } = setup();
  box.send(A, [ping(10), ping(151), ping(150), ping(20)]); // 151 + 2 > 152: stream; 150 + 2 fits alone
  box.flush();
  const out = box.take();
  t.same(
    out.map((o) =>
      o.kind === 'packet'
        ? o.msgs.map((m) => (m as { seq: number }).seq)
        : ['stream', (o as { msg: { seq: number } }).msg.seq],
    ),
    [['stream', 151], [10], [150], [20]],
  );
  t.equal(counters.oversizeToStream, 1);
  t.equal(counters.streamsOut, 1);
  t.equal(counters.packetsOut, 3);
  const s = out[0] as { to: unknown };
  t.same(s.to, A);
  t.not(s.to, A, 'a copy of the endpoint');
});

t.test('one destination’s messages share datagrams; destinations do not', async (t) => {
  const { box } = setup();
  box.send(A, [ping(10)]);
  box.send(B, [ping(11)]);
  box.send({ ...A }, [ping(12)]);
  t.same(
    box.queuedFor(A).map((m) => (m as { seq: number }).seq),
    [10, 12],
  );
  t.same(box.queuedFor({ addr: '10.0.0.3', port: 1 }), []);
  box.flush();
  const out = packetsOf(box.take());
  t.same(
    out.map((p) => [p.to, p.msgs.length]),
    [
      [A, 2],
      [B, 1],
    ],
  );
  t.same(box.queuedFor(A), [], 'nothing queued after the flush');
});

t.test('gossip rides on the last datagram only, in the room left, where allowed', async (t) => {
  const { box, queue } = setup((to) => to.addr !== B.addr);
  queue.enqueue('n1', news('n1'), 40);
  queue.enqueue('n2', news('n2'), 40);
  box.send(A, [ping(100), ping(60)]); // 102, then 62: the second datagram has 90 left: two 42s fit
  box.flush();
  const [first, second] = packetsOf(box.take());
  t.equal(first.msgs.length, 1, 'the full datagram carries no gossip');
  t.same(
    second.msgs.map((m) => m.t),
    ['ping', 'suspect', 'suspect'],
  );
  t.equal(second.bytes, 48 + 62 + 84, 'the gossip counted in the bytes');
  box.send(B, [ping(10)]);
  box.flush();
  t.same(
    packetsOf(box.take())[0].msgs.map((m) => m.t),
    ['ping'],
    'no gossip to a destination piggybackTo refuses',
  );
  t.equal(queue.size, 2, 'nothing taken from the queue for it');
});

t.test('gossip already in the batch is not added twice', async (t) => {
  const { box, queue } = setup();
  const n1 = news('n1');
  queue.enqueue('n1', n1, 40);
  box.send(A, [n1]);
  box.flush();
  const [p] = packetsOf(box.take());
  t.equal(p.msgs.length, 1);
});

t.test('the transmit limit is asked at each send', async (t) => {
  const { box, queue, limit } = setup();
  limit.n = 1;
  queue.enqueue('n1', news('n1'), 40);
  box.send(A, [ping(10)]);
  box.flush();
  t.equal(queue.size, 0, 'sent once, the limit: gone');
});

t.test('a gossip-only datagram takes the first-named news first, and nothing when the queue is empty', async (t) => {
  const { box, queue, counters } = setup();
  t.notOk(box.gossip(A), 'nothing to send');
  t.same(box.take(), []);
  for (const n of ['n1', 'n2', 'n3', 'n4']) queue.enqueue(n, news(n), 48); // 50 each: three fit in 152
  t.ok(box.gossip(A, ['n4']));
  const [p] = packetsOf(box.take());
  t.same(
    p.msgs.map((m) => (m as { node: string }).node),
    ['n4', 'n1', 'n2'],
  );
  t.equal(p.bytes, 48 + 150);
  t.equal(counters.packetsOut, 1);
  t.equal(counters.bytesOut, 198);
});

t.test('push keeps other outputs in order with the traffic', async (t) => {
  const { box } = setup();
  box.stream(A, ping(1));
  box.push({ kind: 'left' });
  t.same(
    box.take().map((o) => o.kind),
    ['stream', 'left'],
  );
});

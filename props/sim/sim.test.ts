// The simulated world itself: if it lies about time, loss or pauses, every property
// built on it is worthless.
import t from 'tap';
import type { Endpoint } from '../../membership/core/outputs.js';
import { Xoshiro128 } from '../../base/rng.js';
import { SimHost, type SimApp } from './host.js';
import { constant } from './latency.js';
import { SimNetwork } from './network.js';
import { Scheduler } from './scheduler.js';

/** An app that records what reaches it and can echo streams. */
class Recorder implements SimApp {
  readonly got: { now: number; from: Endpoint; payload: unknown }[] = [];
  readonly replies: unknown[] = [];
  wakes: number[] = [];
  deadline = Infinity;
  datagram(now: number, from: Endpoint, payload: unknown): void {
    this.got.push({ now, from, payload });
  }
  stream(now: number, from: Endpoint, payload: unknown): unknown {
    this.got.push({ now, from, payload });
    return { echo: payload };
  }
  streamReply(_now: number, _from: Endpoint, payload: unknown): void {
    this.replies.push(payload);
  }
  wake(now: number): void {
    this.wakes.push(now);
    this.deadline = Infinity;
  }
  nextDeadline(): number {
    return this.deadline;
  }
}

function world(profile = {}) {
  const s = new Scheduler();
  const net = new SimNetwork(s, new Xoshiro128(1), { latency: constant(10), ...profile });
  const a = new SimHost('a', '10.0.0.1', s);
  const b = new SimHost('b', '10.0.0.2', s);
  net.attach(a);
  net.attach(b);
  const ra = new Recorder();
  const rb = new Recorder();
  a.bind(1, ra);
  b.bind(1, rb);
  return { s, net, a, b, ra, rb };
}

t.test('scheduler runs events in time order, ties in insertion order', async (t) => {
  const s = new Scheduler();
  const log: string[] = [];
  s.at(20, () => log.push('c'));
  s.at(10, () => log.push('a'));
  s.at(10, () => log.push('b'));
  const x = s.at(15, () => log.push('x'));
  x.cancelled = true;
  s.runUntil(15);
  t.same(log, ['a', 'b']);
  t.equal(s.now, 15);
  s.runUntil(100);
  t.same(log, ['a', 'b', 'c']);
  t.equal(s.now, 100);
});

t.test('datagrams arrive after the link latency', async (t) => {
  const { s, net, a, rb } = world();
  net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, 'hi', 2);
  s.runUntil(9);
  t.equal(rb.got.length, 0);
  s.runUntil(10);
  t.same(rb.got, [{ now: 10, from: { addr: '10.0.0.1', port: 1 }, payload: 'hi' }]);
  t.equal(net.counters('a').bytesOut, 2);
  t.equal(net.counters('b').bytesIn, 2);
});

t.test('loss drops about the configured fraction', async (t) => {
  const { s, net, a, rb } = world({ loss: 0.2 });
  for (let i = 0; i < 5000; i++) net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, i, 1);
  s.runUntil(1000);
  const rate = 1 - rb.got.length / 5000;
  t.ok(rate > 0.17 && rate < 0.23, `loss ${rate.toFixed(3)}`);
});

t.test('duplication and reordering', async (t) => {
  const { s, net, a, rb } = world({ duplicate: 0.5, reorder: 0.5, reorderDelayMs: 50 });
  for (let i = 0; i < 200; i++) net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, i, 1);
  s.runUntil(1000);
  t.ok(rb.got.length > 250, `duplicates delivered (${rb.got.length})`);
  const order = rb.got.map((g) => g.payload as number);
  t.ok(
    order.some((v, i) => i > 0 && v < order[i - 1]),
    'some arrive out of order',
  );
});

t.test('partitions block both ways until healed; one-way blocks only one', async (t) => {
  const { s, net, a, b, ra, rb } = world();
  net.partition([['a'], ['b']]);
  net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, 1, 1);
  net.sendDatagram(b, 1, { addr: '10.0.0.1', port: 1 }, 2, 1);
  s.runUntil(100);
  t.equal(ra.got.length + rb.got.length, 0);
  net.heal();
  net.block('a', 'b');
  net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, 3, 1);
  net.sendDatagram(b, 1, { addr: '10.0.0.1', port: 1 }, 4, 1);
  s.runUntil(200);
  t.same(
    rb.got.map((g) => g.payload),
    [],
  );
  t.same(
    ra.got.map((g) => g.payload),
    [4],
  );
});

t.test('a partition starting while a packet is in flight drops it', async (t) => {
  const { s, net, a, rb } = world();
  net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, 1, 1);
  s.runUntil(5);
  net.partition([['a'], ['b']]);
  s.runUntil(100);
  t.equal(rb.got.length, 0);
});

t.test('a paused host queues deliveries and wake-ups, then runs them in arrival order', async (t) => {
  const { s, net, a, b, rb } = world();
  b.pause(1000);
  rb.deadline = 500;
  b.touch(1);
  net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, 'early', 1); // arrives at 10
  s.at(600, () => net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, 'late', 1)); // arrives at 610
  s.runUntil(999);
  t.equal(rb.got.length, 0, 'nothing processed while paused');
  t.same(rb.wakes, []);
  s.runUntil(1000);
  t.same(
    rb.got.map((g) => [g.payload, g.now]),
    [
      ['early', 1000],
      ['late', 1000],
    ],
  );
  t.same(rb.wakes, [1000], 'the overdue timer fires at resume');
});

t.test('a crashed host drops everything; replies to a former life are discarded', async (t) => {
  const { s, net, a, b, ra, rb } = world();
  net.openStream(a, 1, { addr: '10.0.0.2', port: 1 }, 'req', 3, () => 3);
  s.runUntil(35); // handshake (2 x 10) + request (10) = 30: delivered; reply lands at 40
  t.equal(rb.got.length, 1);
  a.crash();
  a.restart();
  a.bind(1, ra);
  s.runUntil(100);
  t.same(ra.replies, [], 'the reply was for the previous life');
  b.crash();
  net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, 'x', 1);
  s.runUntil(200);
  t.equal(rb.got.length, 1);
});

t.test('streams deliver request and reply reliably, despite loss', async (t) => {
  const { s, net, a, ra, rb } = world({ loss: 0.9 });
  net.openStream(a, 1, { addr: '10.0.0.2', port: 1 }, 'req', 3, () => 5);
  s.runUntil(100);
  t.same(
    rb.got.map((g) => g.payload),
    ['req'],
  );
  t.same(ra.replies, [{ echo: 'req' }]);
  t.equal(net.counters('b').streamBytesOut, 5);
});

t.test('a host restarted at a new address receives what is sent there, not what goes to the old one', async (t) => {
  const { s, net, a, b, rb } = world();
  b.crash();
  b.restart();
  net.move(b, '10.0.0.3');
  b.bind(1, rb);
  net.sendDatagram(a, 1, { addr: '10.0.0.2', port: 1 }, 'old', 1);
  net.sendDatagram(a, 1, { addr: '10.0.0.3', port: 1 }, 'new', 1);
  s.runUntil(100);
  t.same(
    rb.got.map((g) => g.payload),
    ['new'],
  );
});

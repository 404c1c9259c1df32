import t from 'tap';
import type { PacketMessage } from '../messages.js';
import { BroadcastQueue } from './broadcast-queue.js';

const msg = (node: string, incarnation = 1): PacketMessage => ({ t: 'suspect', incarnation, node, from: 'x' });

t.test('least transmitted first, each up to the limit', async (t) => {
  const q = new BroadcastQueue(100);
  q.enqueue('a', msg('a'), 40);
  q.take(1000, 2, 3); // a: 1 transmit
  q.enqueue('b', msg('b'), 40);
  const first: PacketMessage[] = [];
  t.equal(q.take(50, 2, 3, first), 42, 'bytes used, overhead included');
  t.same(
    first.map((m) => (m as { node: string }).node),
    ['b'],
    'the fresher (never sent) goes first when only one fits',
  );
  const both: PacketMessage[] = [];
  q.take(1000, 2, 3, both);
  t.equal(both.length, 2);
  q.take(1000, 2, 3);
  t.equal(q.size, 0, 'both dropped after 3 transmissions');
  const none: PacketMessage[] = [];
  t.equal(q.take(1000, 2, 3, none), 0);
  t.same(none, []);
});

t.test('a newer update about a node replaces the queued one', async (t) => {
  const q = new BroadcastQueue(100);
  let doneOld = 0;
  q.enqueue('a', msg('a', 1), 40, () => doneOld++);
  q.enqueue('a', msg('a', 2), 40);
  t.equal(q.size, 1);
  t.equal(doneOld, 1, 'the replaced entry is finished');
  const out: PacketMessage[] = [];
  q.take(1000, 2, 5, out);
  t.same(out, [msg('a', 2)]);
});

t.test('user payloads (no key) never replace each other', async (t) => {
  const q = new BroadcastQueue(100);
  q.enqueue(undefined, { t: 'user', data: new Uint8Array([1]) }, 10);
  q.enqueue(undefined, { t: 'user', data: new Uint8Array([2]) }, 10);
  t.equal(q.size, 2);
});

t.test('respects the byte budget including per-message overhead', async (t) => {
  const q = new BroadcastQueue(100);
  for (let i = 0; i < 10; i++) q.enqueue(`n${i}`, msg(`n${i}`), 98);
  const five: PacketMessage[] = [];
  t.equal(q.take(500, 2, 5, five), 500);
  t.equal(five.length, 5, '5 x (98 + 2) = 500');
  const zero: PacketMessage[] = [];
  q.take(99, 2, 5, zero);
  t.equal(zero.length, 0, 'nothing fits in 99');
});

t.test('onDone fires when the transmit limit is reached', async (t) => {
  const q = new BroadcastQueue(100);
  let done = 0;
  q.enqueue('a', msg('a'), 10, () => done++);
  q.take(100, 2, 2);
  t.equal(done, 0);
  q.take(100, 2, 2);
  t.equal(done, 1);
});

t.test('over capacity, the most transmitted entries are pruned first', async (t) => {
  const q = new BroadcastQueue(2);
  q.enqueue('old', msg('old'), 10);
  q.take(100, 2, 10);
  q.enqueue('b', msg('b'), 10);
  q.enqueue('c', msg('c'), 10);
  t.equal(q.size, 2);
  t.equal(q.peek('old'), undefined, 'the already-sent entry went');
  t.ok(q.peek('b') && q.peek('c'));
});

t.test('a flood of news: with 4,096 updates queued a packet costs about what it costs with 64', async (t) => {
  // Each packet takes ~33 updates of 40 bytes and as many new ones arrive, so the queue
  // stays full and the most transmitted are pruned. take() used to walk every entry that
  // no longer fit, thousands per packet. The cost is the slots a take examines, counted:
  // timing it failed CI three times, since under CI's load a large queue's cache misses
  // alone made its takes x3 slower.
  const m = msg('n');
  const perTake = (size: number): number => {
    const q = new BroadcastQueue(size);
    let key = 0;
    const flood = (takes: number): number => {
      const before = q.slotsExamined;
      for (let i = 0; i < takes; i++) {
        for (let j = 0; j < 33; j++) q.enqueue(`n${key++}`, m, 40);
        q.take(1400, 2, 8);
      }
      return (q.slotsExamined - before) / takes;
    };
    flood(3 * size); // full, and past the compactions that follow filling
    return flood(2000);
  };
  const small = perTake(64);
  const large = perTake(4096);
  t.ok(small > 0, `a take examines ${small.toFixed(1)} slots at 64`);
  t.ok(large < 1.5 * small, `slots per take: ${small.toFixed(1)} at 64, ${large.toFixed(1)} at 4,096`);
});

// The gossip queue at its byte boundaries (issue 18's mutation survivors in broadcast-queue.ts):
// an update that fills the budget exactly is still sent, the walk goes on while the smallest
// message still fits, and shutting down calls the onDone callbacks there are.
import t from 'tap';
import type { PacketMessage } from '../messages.js';
import { BroadcastQueue } from './broadcast-queue.js';

const msg = (label: string): PacketMessage => ({ t: 'user', data: new TextEncoder().encode(label) });
const label = (m: PacketMessage) => (m.t === 'user' ? new TextDecoder().decode(m.data) : '?');

t.test('a fresh verdict that fills the budget exactly goes first', async (t) => {
  const q = new BroadcastQueue(100);
  q.enqueue('a', msg('a'), 20);
  q.enqueue('b', msg('b'), 20);
  const out: PacketMessage[] = [];
  // Room for one: the update about `b` is flooded ahead of the older one about `a`.
  const used = q.take(20 + 3, 3, 5, out, ['b']);
  t.same(out.map(label), ['b']);
  t.equal(used, 23);
});

t.test('the walk goes on while exactly the smallest message (12 bytes) still fits', async (t) => {
  const q = new BroadcastQueue(100);
  q.enqueue('a', msg('a'), 30);
  q.enqueue('b', msg('b'), 12);
  const out: PacketMessage[] = [];
  // After a, 12 + 2 bytes are left: b (12 bytes and 2 of overhead) fits to the byte.
  const used = q.take(30 + 2 + 12 + 2, 2, 5, out);
  t.same(out.map(label), ['a', 'b']);
  t.equal(used, 46, 'the whole budget');
});

t.test('clear() calls the onDone there is, for entries with and without one', async (t) => {
  const q = new BroadcastQueue(100);
  const done: string[] = [];
  q.enqueue('a', msg('a'), 20, () => done.push('a'));
  q.enqueue('b', msg('b'), 20);
  q.enqueue(undefined, msg('user'), 20);
  q.enqueue('c', msg('c'), 20, () => done.push('c'));
  q.take(40 + 2, 1, 5); // a and b move to the next transmit count
  t.doesNotThrow(() => q.clear());
  t.same(done.sort(), ['a', 'c']);
  t.equal(q.size, 0);
  t.equal(q.peek('a'), undefined);
});

// onDone may queue news itself (a node that finished announcing its leave may announce
// something else). When that news replaces an update taken into the same packet, the
// replaced update has left the queue: it must not be sent, counted or finished twice.
t.test('an onDone that replaces an update taken into the same packet: the replaced one leaves once', async (t) => {
  const q = new BroadcastQueue(100);
  const done: string[] = [];
  q.enqueue('x', msg('x'), 20, () => {
    done.push('x');
    q.enqueue('z', msg('z2'), 20, () => done.push('z2'));
  });
  q.enqueue('z', msg('z1'), 20, () => done.push('z1'));
  const out: PacketMessage[] = [];
  const used = q.take(1000, 1, 1, out);
  t.same(out.map(label), ['x'], 'z1 was replaced before the packet left');
  t.equal(used, 21, 'the bytes of what is sent');
  t.same(done, ['x', 'z1'], 'each finished once');
  t.equal(q.size, 1, 'z2 is queued');
  t.equal(label(q.peek('z')!), 'z2');
  const next: PacketMessage[] = [];
  q.take(1000, 1, 1, next);
  t.same(next.map(label), ['z2']);
  t.equal(q.size, 0);
  t.same(done, ['x', 'z1', 'z2']);
});

t.test(
  'an onDone that replaces an update taken into the same packet: the replaced one is not queued again',
  async (t) => {
    const q = new BroadcastQueue(100);
    q.enqueue('x', msg('x'), 20, () => q.enqueue('z', msg('z2'), 20));
    q.take(1000, 1, 2); // x sent once
    q.enqueue('z', msg('z1'), 20);
    const out: PacketMessage[] = [];
    q.take(1000, 1, 2, out, ['x']); // x first, its second and last send; then z1
    t.same(out.map(label), ['x'], 'z1 was replaced before the packet left');
    t.equal(q.size, 1, 'only z2 is queued');
    const next: PacketMessage[] = [];
    q.take(1000, 1, 2, next);
    t.same(next.map(label), ['z2'], 'the stale z1 is not sent after the newer z2');
  },
);

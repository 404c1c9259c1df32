import t from 'tap';
import { MinHeap } from './heap.js';
import { TimerQueue } from './timers.js';
import { Xoshiro128, shuffle } from '../../base/rng.js';

t.test('heap pops in order', async (t) => {
  const h = new MinHeap<number>((a, b) => a < b);
  const xs = Array.from({ length: 200 }, (_, i) => i);
  shuffle(new Xoshiro128(3), xs);
  for (const x of xs) h.push(x);
  const out: number[] = [];
  for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
  t.same(
    out,
    [...xs].sort((a, b) => a - b),
  );
});

t.test('timers fire in deadline order, ties in order set, cancelled never', async (t) => {
  const q = new TimerQueue();
  const fired: string[] = [];
  q.set(20, () => fired.push('b'));
  q.set(10, () => fired.push('a'));
  q.set(20, () => fired.push('c'));
  const x = q.set(15, () => fired.push('x'));
  q.cancel(x);
  t.equal(q.next(), 10);
  q.runDue(19);
  t.same(fired, ['a']);
  t.equal(q.next(), 20, 'cancelled timers do not count as deadlines');
  q.runDue(20);
  t.same(fired, ['a', 'b', 'c']);
  t.equal(q.next(), Infinity);
});

t.test('a timer set by a handler for an already-due time fires in the same run', async (t) => {
  const q = new TimerQueue();
  const fired: number[] = [];
  q.set(5, (now) => {
    fired.push(now);
    q.set(3, (n) => fired.push(n));
  });
  q.runDue(10);
  t.same(fired, [10, 10]);
});

t.test('seeded generator is deterministic and split streams differ', async (t) => {
  const a = new Xoshiro128(7);
  const b = new Xoshiro128(7);
  const xs = Array.from({ length: 5 }, () => a.next());
  t.same(
    xs,
    Array.from({ length: 5 }, () => b.next()),
  );
  for (const x of xs) t.ok(x >= 0 && x < 1);
  const c = new Xoshiro128(7).split();
  t.not(c.next(), new Xoshiro128(7).next());
});

// The heap and timer queue at their edges: ties, clearing, cancelling the earliest timer,
// and a heap's right child (issue 18's mutation survivors).
import t from 'tap';
import { MinHeap } from './heap.js';
import { TimerQueue } from './timers.js';

t.test('heap: size, peek and clear', async (t) => {
  const h = new MinHeap<number>((a, b) => a < b);
  t.equal(h.size, 0);
  t.equal(h.peek(), undefined);
  t.equal(h.pop(), undefined);
  for (const x of [5, 3, 8, 1]) h.push(x);
  t.equal(h.size, 4);
  t.equal(h.peek(), 1);
  t.equal(h.size, 4, 'peek takes nothing');
  h.clear();
  t.equal(h.size, 0);
  t.equal(h.pop(), undefined);
});

t.test('heap: every small order of pushes pops sorted', async (t) => {
  // All permutations of 1..6, so every sift path (left child, right child, equal keys) is taken.
  const perms = (xs: number[]): number[][] =>
    xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  let bad = 0;
  for (const p of perms([1, 2, 3, 4, 5, 6])) {
    const h = new MinHeap<number>((a, b) => a < b);
    for (const x of [...p, 3]) h.push(x);
    const out: number[] = [];
    for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
    if (out.join() !== '1,2,3,3,4,5,6') bad++;
  }
  t.equal(bad, 0, 'of 720 orders');
});

t.test('timers: ties keep the order set, after pops and pushes in between', async (t) => {
  const q = new TimerQueue();
  const fired: number[] = [];
  for (let i = 0; i < 10; i++) q.set(100, () => fired.push(i));
  q.set(50, () => fired.push(-1));
  q.runDue(99);
  for (let i = 10; i < 20; i++) q.set(100, () => fired.push(i));
  q.runDue(100);
  t.same(fired, [-1, ...Array.from({ length: 20 }, (_, i) => i)]);
});

t.test('timers: a fired timer is spent; cancelling undefined is harmless; clear drops all', async (t) => {
  const q = new TimerQueue();
  let n = 0;
  const a = q.set(10, () => n++);
  q.runDue(10);
  t.ok(a.cancelled, 'a fired timer counts as cancelled');
  t.equal(a.at, 10);
  q.runDue(20);
  t.equal(n, 1, 'fired once');
  q.cancel(undefined);
  const first = q.set(30, () => n++);
  q.set(40, () => n++);
  q.cancel(first);
  t.equal(q.next(), 40, 'a cancelled earliest timer is skipped');
  q.clear();
  t.equal(q.next(), Infinity);
  q.runDue(100);
  t.equal(n, 1, 'nothing fires after clear');
});

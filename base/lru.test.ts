import t from 'tap';
import { LruMap } from './lru.js';
import { costGrowth } from '../test/helpers/cost.js';

t.test('getOrAdd makes a value once, adds it as the newest, and does not refresh a key it finds', async (t) => {
  const m = new LruMap<string, { n: number }>(2);
  let made = 0;
  const make = () => ({ n: ++made });
  const a = m.getOrAdd('a', make);
  t.equal(m.getOrAdd('a', make), a, 'the same value, not made again');
  m.getOrAdd('b', make);
  m.getOrAdd('a', make);
  m.getOrAdd('c', make);
  t.equal(made, 3);
  t.notOk(m.has('a'), 'finding a did not refresh it: the oldest went');
  t.ok(m.has('b') && m.has('c'));
});

t.test('a map refreshes a key it sets again', async (t) => {
  const m = new LruMap<string, number>(2);
  m.set('a', 1);
  m.set('b', 2);
  m.set('a', 3);
  m.set('c', 4);
  t.equal(m.get('a'), 3);
  t.notOk(m.has('b'));
  t.equal(m.size, 2);
});

t.test('replace keeps the age of a key it finds, and adds one it does not as the newest', async (t) => {
  const m = new LruMap<string, number>(2);
  m.set('a', 1);
  m.set('b', 2);
  m.replace('a', 3);
  t.equal(m.get('a'), 3, 'the new value');
  m.replace('c', 4);
  t.notOk(m.has('a'), 'a kept its age: the oldest, it went');
  t.same([m.get('b'), m.get('c')], [2, 4]);
  t.equal(m.size, 2);
});

t.test('the fast path window at its default size costs no more per new id than a tiny one', async (t) => {
  // A flood of changes with new ids keeps the window of ids (16,384) full.
  const map = costGrowth(
    { small: 64, large: 16_384 },
    (n) => new LruMap<number, number>(n),
    (w, i) => w.set(i, i),
  );
  t.ok(
    map.ratio < 6,
    `LruMap, ns per id: ${map.small.toFixed(0)} at 64, ${map.large.toFixed(0)} at 16,384 (x${map.ratio.toFixed(1)})`,
  );
});

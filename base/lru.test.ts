import t from 'tap';
import { LruMap, LruSet } from './lru.js';
import { costGrowth } from '../test/helpers/cost.js';

t.test('a set holds at most its capacity, forgetting the oldest first', async (t) => {
  const s = new LruSet<string>(3);
  t.ok(s.add('a'));
  t.ok(s.add('b'));
  t.notOk(s.add('a'), 'held already');
  t.ok(s.add('c'));
  t.ok(s.add('d'));
  t.equal(s.size, 3);
  t.notOk(s.has('a'), 'the oldest went: adding it again did not refresh it');
  t.ok(s.has('b') && s.has('c') && s.has('d'));
});

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

t.test('the fast path windows at their default sizes cost no more per new id than tiny ones', async (t) => {
  // A flood of changes with new ids keeps seen (16,384) and recent (4,096) full.
  const sizes = { small: 64, large: 16_384 };
  const show = (name: string, g: { small: number; large: number; ratio: number }) =>
    `${name}, ns per id: ${g.small.toFixed(0)} at 64, ${g.large.toFixed(0)} at 16,384 (x${g.ratio.toFixed(1)})`;
  const set = costGrowth(
    sizes,
    (n) => new LruSet<number>(n),
    (w, i) => w.add(i),
  );
  t.ok(set.ratio < 6, show('LruSet', set));
  const map = costGrowth(
    sizes,
    (n) => new LruMap<number, number>(n),
    (w, i) => w.set(i, i),
  );
  t.ok(map.ratio < 6, show('LruMap', map));
});

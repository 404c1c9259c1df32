import t from 'tap';
import { LruMap, LruSet } from './lru.js';

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

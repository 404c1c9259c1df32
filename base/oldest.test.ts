import t from 'tap';
import fc from 'fast-check';
import { OldestCursor } from './oldest.js';
import { costGrowth } from '../test/helpers/cost.js';
import { memoryAfterGc } from '../test/helpers/heap.js';
import { LruMap } from './lru.js';

t.test('evicts in insertion order, from a Map or a Set', async (t) => {
  const m = new Map([
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ]);
  const c = new OldestCursor(m);
  t.equal(c.evictOldest(), 'a');
  m.set('d', 4);
  t.equal(c.evictOldest(), 'b');
  t.same([...m.keys()], ['c', 'd']);
  const s = new Set([5, 6]);
  const cs = new OldestCursor(s);
  t.equal(cs.evictOldest(), 5);
  t.same([...s], [6]);
});

t.test('a key deleted and set again is as new as its last setting', async (t) => {
  const m = new Map<string, number>();
  const c = new OldestCursor(m);
  m.set('a', 1).set('b', 2);
  m.delete('a');
  m.set('a', 3);
  t.equal(c.evictOldest(), 'b');
  t.equal(c.evictOldest(), 'a');
});

t.test('an empty table gives undefined, and the cursor works again once it is refilled', async (t) => {
  const s = new Set<number>();
  const c = new OldestCursor(s);
  t.equal(c.evictOldest(), undefined, 'empty from the start');
  s.add(1);
  t.equal(c.evictOldest(), 1);
  t.equal(c.evictOldest(), undefined, 'emptied');
  s.add(2).add(3);
  t.equal(c.evictOldest(), 2, 'refilled after running off the end');
  s.clear();
  s.add(4);
  t.equal(c.evictOldest(), 4, 'after clear()');
});

t.test('matches a list kept in insertion order, whatever else is done to the table', async () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('set' as const), key: fc.integer({ min: 0, max: 20 }) }),
    fc.record({ k: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 20 }) }),
    fc.record({ k: fc.constant('evict' as const) }),
    fc.record({ k: fc.constant('clear' as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const m = new Map<number, number>();
      const c = new OldestCursor(m);
      let model: number[] = [];
      for (const o of ops) {
        if (o.k === 'set') {
          // A Map keeps a key's place when it is set again: only delete-then-set moves it.
          if (!m.has(o.key)) model.push(o.key);
          m.set(o.key, 0);
          c.wrote();
        } else if (o.k === 'delete') {
          m.delete(o.key);
          c.wrote();
          model = model.filter((x) => x !== o.key);
        } else if (o.k === 'clear') {
          m.clear();
          model = [];
        } else if (c.evictOldest() !== model.shift()) return false;
      }
      return [...m.keys()].join() === model.join();
    }),
    { numRuns: 500 },
  );
});

t.test('a table kept full by a flood of new keys costs the same per key at 16,384 entries as at 64', async (t) => {
  const g = costGrowth(
    { small: 64, large: 16_384 },
    (size) => ({ size, map: new Map<number, true>(), cursor: undefined as OldestCursor<number> | undefined }),
    (tb, i) => {
      tb.cursor ??= new OldestCursor(tb.map);
      tb.map.set(i, true);
      if (tb.map.size > tb.size) tb.cursor.evictOldest();
    },
  );
  // map.keys().next() for the oldest: ~25x here (every deleted slot before it walked again each time).
  t.ok(
    g.ratio < 6,
    `ns per key: ${g.small.toFixed(0)} at 64, ${g.large.toFixed(0)} at 16,384 (x${g.ratio.toFixed(1)})`,
  );
});

t.test('oldest() names the oldest without deleting it; evictOldest() then deletes that one', async (t) => {
  const m = new Map([
    ['a', 1],
    ['b', 2],
  ]);
  const c = new OldestCursor(m);
  t.equal(c.oldest(), 'a');
  t.equal(c.oldest(), 'a', 'again: nothing moved');
  t.equal(m.size, 2, 'left in place');
  t.equal(c.evictOldest(), 'a');
  t.equal(c.oldest(), 'b');
  m.delete('b');
  m.set('c', 3);
  t.equal(c.oldest(), 'c', 'the named key was deleted elsewhere: the next one');
  t.equal(c.evictOldest(), 'c');
  t.equal(c.oldest(), undefined, 'empty');
  m.set('d', 4);
  t.equal(c.oldest(), 'd', 'refilled');
});

t.test('with keys that never come back, oldest() and evictOldest() match a list kept in insertion order', async () => {
  const op = fc.oneof(
    fc.constant({ k: 'add' as const }),
    fc.record({ k: fc.constant('delete' as const), at: fc.nat() }),
    fc.constant({ k: 'oldest' as const }),
    fc.constant({ k: 'evict' as const }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const s = new Set<number>();
      const c = new OldestCursor(s);
      let model: number[] = [];
      let next = 0;
      for (const o of ops) {
        if (o.k === 'add') {
          s.add(next);
          model.push(next++);
        } else if (o.k === 'delete') {
          const key = model[o.at % Math.max(1, model.length)];
          if (key === undefined) continue;
          s.delete(key);
          model = model.filter((x) => x !== key);
        } else if (o.k === 'oldest') {
          if (c.oldest() !== model[0]) return false;
        } else if (c.evictOldest() !== model.shift()) return false;
      }
      return [...s].join() === model.join();
    }),
    { numRuns: 500 },
  );
});

// V8 keeps every table a live iterator outlived (a rehash leaves the old one linked for
// it): a table kept under its bound while its keys are deleted and set again, as an LRU
// cache's hits do, never evicts, so the cursor's iterator never moved and the chain grew
// with every compaction.
t.test('a table under its bound whose keys are set again and again keeps no old tables', async (t) => {
  const m = new Map<string, number>();
  const c = new OldestCursor(m);
  const lru = new LruMap<string, number>(65_536);
  const key = (i: number) => `${'k'.repeat(100)}${i}`; // built anew each time, as from a packet
  const before = memoryAfterGc().heap;
  for (let round = 0; round < 300; round++) {
    for (let i = 0; i < 900; i++) {
      m.delete(key(i));
      m.set(key(i), round);
      c.wrote();
      lru.set(key(i), round);
    }
  }
  const grew = memoryAfterGc().heap - before;
  t.ok(grew < 8e6, `the heap grew ${(grew / 1e6).toFixed(1)} MB over 270,000 writes to each of two tables of 900 keys`);
  t.equal(c.evictOldest(), key(0), 'the cursor still finds the oldest');
});

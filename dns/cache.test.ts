import t from 'tap';
import { AnswerCache, type CachedAnswer } from './cache.js';
import { DEFAULTS } from './defaults.js';
import { costGrowth } from '../test/helpers/cost.js';
import { memoryAfterGc } from '../test/helpers/heap.js';

const answer = (expires: number): CachedAnswer => ({
  rcode: 0,
  ad: false,
  sections: Buffer.alloc(0),
  an: 0,
  ns: 0,
  ar: 0,
  ttlAt: [],
  ttls: [],
  stored: 0,
  expires,
});

t.test('bounded: the least recently used answer goes first; a read counts as use', async (t) => {
  const c = new AnswerCache(2);
  c.set('a', answer(1000));
  c.set('b', answer(1000));
  t.ok(c.get('a', 0), 'a read: a is now the most recent');
  c.set('c', answer(1000));
  t.equal(c.size, 2);
  t.notOk(c.get('b', 0), 'b went');
  t.ok(c.get('a', 0) && c.get('c', 0));
  t.notOk(c.get('a', 1000), 'expired at its time');
  t.equal(c.size, 1, 'and dropped');
  const off = new AnswerCache(0);
  off.set('a', answer(1000));
  t.equal(off.size, 0, 'size 0 holds nothing');
});

t.test('a client asking for ever new names costs the same per answer stored at 10,000 entries as at 64', async (t) => {
  // Random subdomains under a zone that answers them all ("water torture") fill the cache with one-offs.
  const g = costGrowth(
    { small: 64, large: DEFAULTS.cacheSize },
    (n) => new AnswerCache(n),
    (c, i) => c.set(`r${i}.example.com`, answer(60_000)),
  );
  t.ok(
    g.ratio < 6,
    `ns per answer: ${g.small.toFixed(0)} at 64, ${g.large.toFixed(0)} at 10,000 (x${g.ratio.toFixed(1)})`,
  );
});

// A hit moves the answer to the end of the cache's order (delete, then set), and so does
// storing a name's answer again: under its bound the cache never evicts, and its cursor's
// idle iterator kept every table V8 compacted since (base/oldest.ts), so the heap grew
// with every hit and every answer stored.
t.test('a cache under its bound does not grow with hits and answers stored again', async (t) => {
  const c = new AnswerCache(DEFAULTS.cacheSize);
  const name = (i: number) => `name-${i}.example.com/1`;
  for (let i = 0; i < 900; i++) c.set(name(i), answer(Infinity));
  const before = memoryAfterGc().heap;
  let hits = 0;
  for (let round = 0; round < 300; round++) {
    for (let i = 0; i < 900; i++) {
      if (c.get(name(i), 0)) hits++;
      c.set(name(i), answer(Infinity));
    }
  }
  const grew = memoryAfterGc().heap - before;
  t.equal(hits, 270_000);
  t.equal(c.size, 900);
  t.ok(grew < 8e6, `the heap grew ${(grew / 1e6).toFixed(1)} MB over 270,000 hits and stores on 900 answers`);
});

import t from 'tap';
import { Awareness } from './awareness.js';
import { Suspicion } from './suspicion.js';

t.test('suspicion starts at max and shrinks with each new confirmation', async (t) => {
  const s = new Suspicion('a', 3, 1000, 2000, 30_000);
  t.equal(s.deadline(), 31_000, 'no confirmations: start + max');
  t.ok(s.confirm('b'));
  t.equal(s.deadline(), 1000 + 16_000, 'one of three: log-scaled');
  t.ok(s.confirm('c'));
  t.ok(s.confirm('d'));
  t.equal(s.deadline(), 3000, 'k confirmations: start + min');
  t.ok(s.confirm('e'), 'one past k is new evidence, gossiped on');
  t.equal(s.deadline(), 1000 + 1600, 'k + 1 confirmations: start + min * (k + 1) / (k + 2)');
  t.notOk(s.confirm('f'), 'beyond k + 1 nothing changes, nothing to re-gossip');
  t.equal(s.deadline(), 1000 + 1600);
  t.equal(s.count, 4);
});

t.test('duplicate confirmations and the originator do not count', async (t) => {
  const s = new Suspicion('a', 3, 0, 2000, 30_000);
  t.notOk(s.confirm('a'), 'our own suspicion echoed back');
  t.ok(s.confirm('b'));
  t.notOk(s.confirm('b'), 'same peer twice');
  t.equal(s.count, 1);
});

t.test('k = 0 (tiny cluster) means the minimum timeout from the start', async (t) => {
  const s = new Suspicion('a', 0, 500, 4000, 24_000);
  t.equal(s.deadline(), 4500);
  t.notOk(s.confirm('b'));
});

t.test('awareness scales timeouts and is clamped to [0, max-1]', async (t) => {
  const a = new Awareness(8);
  t.equal(a.scale(500), 500);
  a.applyDelta(3);
  t.equal(a.score, 3);
  t.equal(a.scale(500), 2000);
  a.applyDelta(100);
  t.equal(a.score, 7, 'capped at max-1');
  t.equal(a.scale(1000), 8000, 'timeouts stretch at most max times');
  a.applyDelta(-100);
  t.equal(a.score, 0, 'never below healthy');
});

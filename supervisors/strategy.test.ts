import t from 'tap';
import { restartScope, shouldRestart } from './strategy.js';

t.test('restart types follow OTP', async (t) => {
  t.equal(shouldRestart('permanent', true), true, 'permanent after normal exit');
  t.equal(shouldRestart('permanent', false), true, 'permanent after crash');
  t.equal(shouldRestart('transient', true), false, 'transient after normal exit');
  t.equal(shouldRestart('transient', false), true, 'transient after crash');
  t.equal(shouldRestart('temporary', true), false, 'temporary after normal exit');
  t.equal(shouldRestart('temporary', false), false, 'temporary after crash');
});

t.test('restart scope per strategy', async (t) => {
  const order = ['a', 'b', 'c', 'd'];
  t.same(restartScope('one_for_one', order, 'b'), ['b']);
  t.same(restartScope('one_for_all', order, 'b'), ['a', 'b', 'c', 'd']);
  t.same(restartScope('rest_for_one', order, 'b'), ['b', 'c', 'd']);
  t.same(restartScope('rest_for_one', order, 'd'), ['d']);
  t.same(restartScope('rest_for_one', order, 'a'), order);
  t.throws(() => restartScope('one_for_one', order, 'x'), 'unknown child');
});

// force-leave/<node> records are deleted once they can change nothing (src/components/force-leave.ts),
// so the shared document does not keep one record per failed node forever.
import t from 'tap';
import { forceLeaveExpired } from './components/force-leave.js';

const DAY = 24 * 3600_000;

t.test('a record goes once it is older than reapAfter, not before', async (t) => {
  const at = 1_000_000;
  t.notOk(forceLeaveExpired({ node: 'b', incarnation: 1, at }, at + DAY, DAY, true), 'exactly reapAfter old: kept');
  t.ok(forceLeaveExpired({ node: 'b', incarnation: 1, at }, at + DAY + 1, DAY, true), 'older: every node reaped b');
  t.notOk(
    forceLeaveExpired({ node: 'b', incarnation: 1, at }, at + 1, DAY, false),
    'young: kept even if b is unknown here',
  );
});

t.test('a record without a time (older agents) goes once its member is forgotten here', async (t) => {
  t.notOk(forceLeaveExpired({ node: 'b', incarnation: 1 }, 5, DAY, true));
  t.ok(forceLeaveExpired({ node: 'b', incarnation: 1 }, 5, DAY, false));
  t.ok(forceLeaveExpired({ node: 'b', incarnation: 1, at: 'yesterday' }, 5, DAY, false), 'a bad time counts as none');
  t.ok(forceLeaveExpired(undefined, 5, DAY, false));
});

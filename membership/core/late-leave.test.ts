// A graceful leave that loses the race against failure detection still ends as left: a member
// held dead that says itself it left becomes left (membership/core/swim.ts, takeLateLeave).
// membership/cluster.e2e.test.ts failed on a loaded machine because one node kept the leaver dead.
import t from 'tap';
import { dead, endpointOf, events, makeCore, withPeers } from './test-harness.js';

t.test('dead, then its own leave at the same incarnation: left, with a leave event', async (t) => {
  const core = makeCore();
  withPeers(core, ['b', 'c']);
  core.receive(1, endpointOf('c'), dead('b', 1, 'c'));
  core.takeOutputs();
  t.equal(core.member('b')?.state, 'dead');
  core.receive(2, endpointOf('c'), dead('b', 1, 'b'));
  t.equal(core.member('b')?.state, 'left');
  t.same(
    events(core.takeOutputs()).map((e) => [e.type, e.member.name]),
    [['leave', 'b']],
  );
  core.receive(3, endpointOf('c'), dead('b', 1, 'b'));
  t.same(events(core.takeOutputs()), [], 'once is enough');
});

t.test('a leave from an older life, or a death claim by another node, does not make it left', async (t) => {
  const core = makeCore();
  withPeers(core, ['b', 'c']);
  core.receive(1, endpointOf('c'), dead('b', 3, 'c'));
  core.receive(2, endpointOf('c'), dead('b', 2, 'b'));
  t.equal(core.member('b')?.state, 'dead', 'an older incarnation is ignored');
  core.receive(3, endpointOf('c'), dead('b', 3, 'c'));
  t.equal(core.member('b')?.state, 'dead', 'only the node itself can say it left');
});

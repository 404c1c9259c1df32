// weft force-leave in the core: a dead member becomes left here, nothing else does.
import t from 'tap';
import { alive, dead, endpointOf, events, makeCore, withPeers } from './test-harness.js';

t.test('a dead member becomes left, with a leave event; later news of its death changes nothing', async (t) => {
  const core = makeCore();
  withPeers(core, ['b', 'c']);
  core.receive(1, endpointOf('c'), dead('b', 1, 'c'));
  core.takeOutputs();
  t.equal(core.member('b')?.state, 'dead');
  t.ok(core.forceLeave(2, 'b', 1));
  t.equal(core.member('b')?.state, 'left');
  t.same(
    events(core.takeOutputs()).map((e) => [e.type, e.member.name]),
    [['leave', 'b']],
  );
  core.receive(3, endpointOf('c'), dead('b', 1, 'c'));
  t.equal(core.member('b')?.state, 'left', 'a dead claim at the same incarnation does not undo it');
  t.notOk(core.forceLeave(4, 'b', 1), 'once is enough');
});

t.test('alive, suspect, unknown, self, or dead again since: untouched', async (t) => {
  const core = makeCore();
  withPeers(core, ['b', 'c', 'd']);
  t.notOk(core.forceLeave(1, 'b', 1), 'alive: it would refute');
  core.receive(1, endpointOf('c'), { t: 'suspect', incarnation: 1, node: 'c', from: 'b' });
  t.notOk(core.forceLeave(2, 'c', 1), 'suspect: it may refute');
  t.notOk(core.forceLeave(2, 'nobody', 1));
  t.notOk(core.forceLeave(2, 'self', 99));
  core.receive(3, endpointOf('b'), dead('d', 4, 'b'));
  t.equal(core.member('d')?.state, 'dead');
  t.notOk(core.forceLeave(4, 'd', 3), 'it came back and died again after the operator asked');
  t.same(
    events(core.takeOutputs()).filter((e) => e.type === 'leave'),
    [],
  );
});

t.test('a force-left member that comes back joins again', async (t) => {
  const core = makeCore();
  withPeers(core, ['b', 'c']);
  core.receive(1, endpointOf('c'), dead('b', 1, 'c'));
  core.forceLeave(2, 'b', 1);
  core.takeOutputs();
  core.receive(3, endpointOf('b'), alive('b', 2));
  t.equal(core.member('b')?.state, 'alive');
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['join'],
  );
});

// A graceful leave that loses the race against failure detection still ends as left: a member
// held dead that says itself it left becomes left (membership/core/swim.ts, takeLateLeave).
// membership/cluster.e2e.test.ts failed on a loaded machine because one node kept the leaver dead.
import t from 'tap';
import type { SwimCore } from './swim.js';
import { dead, endpointOf, events, isTo, makeCore, packets, suspect, withPeers } from './test-harness.js';

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

/** The leaves for `name` that `core` sent to `to` in `outputs`. */
function leavesTo(outputs: ReturnType<SwimCore['takeOutputs']>, to: string, name: string) {
  return packets(outputs)
    .filter((p) => isTo(p, to))
    .flatMap((p) => p.msgs)
    .filter((m) => m.t === 'dead' && m.node === name && m.from === name);
}

// A node that missed a leave suspects the leaver once its probe finds it gone; the others
// relay no claims about a member they hold left, so they answer it with the leave
// (swim.ts passOnLeave; props/membership.test.ts has it in a cluster).
t.test(
  'a claim about a member we hold left is answered with its leave, to a member, once per probe interval',
  async (t) => {
    const core = makeCore();
    withPeers(core, ['b', 'c']);
    core.receive(1, endpointOf('b'), dead('b', 1, 'b'));
    core.takeOutputs();
    t.equal(core.member('b')?.state, 'left');
    const P = core.config.probeIntervalMs;

    core.receive(10, endpointOf('c'), suspect('b', 1, 'c'));
    t.same(leavesTo(core.takeOutputs(), 'c', 'b'), [dead('b', 1, 'b')], 'a suspicion: answered with the leave');
    core.receive(20, endpointOf('c'), suspect('b', 1, 'c'));
    t.same(leavesTo(core.takeOutputs(), 'c', 'b'), [], 'not again within a probe interval');
    core.receive(10 + P, endpointOf('c'), dead('b', 1, 'c'));
    t.same(leavesTo(core.takeOutputs(), 'c', 'b'), [dead('b', 1, 'b')], 'a death claim: answered too');
    core.receive(10 + 3 * P, endpointOf('c'), dead('b', 1, 'b'));
    t.same(leavesTo(core.takeOutputs(), 'c', 'b'), [], 'the leave itself, relayed: no answer');
    core.receive(10 + 5 * P, { addr: '10.250.0.9', port: 7946 }, suspect('b', 1, 'c'));
    t.same(
      packets(core.takeOutputs()).flatMap((p) => p.msgs),
      [],
      'a claim from an address that is no member: nothing sent (no reflection)',
    );
    t.equal(core.member('b')?.state, 'left', 'and b stays left throughout');
  },
);

t.test('a node that suspects a leaver takes the answer and ends at left', async (t) => {
  const holder = makeCore('c');
  withPeers(holder, ['b', 'd']);
  holder.receive(1, endpointOf('b'), dead('b', 1, 'b'));
  const missed = makeCore('d');
  withPeers(missed, ['b', 'c']);
  missed.receive(5, endpointOf('c'), suspect('b', 1, 'x')); // it suspects b (as its own probe would)
  missed.takeOutputs();
  t.equal(missed.member('b')?.state, 'suspect');
  holder.takeOutputs();
  holder.receive(6, endpointOf('d'), suspect('b', 1, 'd'));
  for (const p of packets(holder.takeOutputs()).filter((p) => isTo(p, 'd'))) missed.receive(7, endpointOf('c'), p.msgs);
  t.equal(missed.member('b')?.state, 'left', 'left, without passing through dead');
  t.same(
    events(missed.takeOutputs()).map((e) => [e.type, e.member.name]),
    [['leave', 'b']],
  );
});

t.test('leaving, we answer a suspicion of ourselves with our own leave', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b', 'c']);
  core.leave(1);
  core.takeOutputs();
  const own = core.member('self')!.incarnation;
  core.receive(2, endpointOf('c'), suspect('self', own, 'c'));
  t.same(leavesTo(core.takeOutputs(), 'c', 'self'), [dead('self', own, 'self')]);
});

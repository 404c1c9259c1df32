// The incarnation window at its exact edges: the clock's lead (whole seconds, floored),
// the accusation slack above a member's known incarnation, and the refutation that would
// leave the window (issue 18's mutation survivors; incarnation.test.ts tests far outside).
import t from 'tap';
import { MAX_INCARNATION } from '../messages.js';
import { alive, endpointOf, isTo, makeCore, messages, packets, suspect, withPeers } from './test-harness.js';

const DAY_S = 24 * 3600;
const NOW = 1_800_000_000_999; // 999 ms into a second: the limit counts whole seconds
const LIMIT = Math.floor(NOW / 1000) + DAY_S;

function core(incarnation = LIMIT - DAY_S) {
  const c = makeCore('self', { now: NOW, incarnation });
  withPeers(c, ['b', 'c'], NOW);
  return c;
}

t.test('an alive at the limit is taken; one second beyond is not', async (t) => {
  const c = core();
  c.receive(NOW, endpointOf('b'), alive('b', LIMIT));
  t.equal(c.member('b')?.incarnation, LIMIT);
  t.equal(c.stats().implausibleIncarnations, 0);
  c.receive(NOW, endpointOf('c'), alive('c', LIMIT + 1));
  t.equal(c.member('c')?.incarnation, 1, 'beyond the limit: ignored');
  t.equal(c.stats().implausibleIncarnations, 1, 'and counted');
});

t.test('with the lead check off, anything up to the maximum is taken', async (t) => {
  const c = makeCore('self', { now: NOW, config: { incarnationLeadS: 0 } });
  withPeers(c, ['b'], NOW);
  c.receive(NOW, endpointOf('b'), alive('b', MAX_INCARNATION));
  t.equal(c.member('b')?.incarnation, MAX_INCARNATION);
  t.equal(c.stats().implausibleIncarnations, 0);
});

t.test('the limit never passes the maximum incarnation', async (t) => {
  const late = 2 ** 32 * 1000; // a clock whose seconds already exceed uint32
  const c = makeCore('self', { now: late });
  withPeers(c, ['b'], late);
  c.receive(late, endpointOf('b'), suspect('self', MAX_INCARNATION, 'b'));
  t.equal(c.stats().refutations, 0, 'no refutation past the maximum');
  t.equal(c.stats().implausibleIncarnations, 1);
  t.equal(c.localMember().incarnation, 0);
});

t.test('an accusation may be up to 16 above the incarnation we know, not 17', async (t) => {
  const c = core();
  c.receive(NOW, endpointOf('c'), suspect('b', 1 + 16, 'c'));
  t.equal(c.member('b')?.state, 'suspect');
  t.equal(c.member('b')?.incarnation, 17);
  const d = core();
  d.receive(NOW, endpointOf('c'), suspect('b', 1 + 17, 'c'));
  t.equal(d.member('b')?.state, 'alive', '17 above: a forged lead, ignored');
  t.equal(d.stats().implausibleIncarnations, 1);
});

t.test('an alive is no accusation: no slack applies to it', async (t) => {
  const c = core();
  c.receive(NOW, endpointOf('b'), alive('b', 1000));
  t.equal(c.member('b')?.incarnation, 1000);
  t.equal(c.stats().implausibleIncarnations, 0);
});

t.test('an accusation of an unknown member is plausible, and ignored', async (t) => {
  const c = core();
  c.receive(NOW, endpointOf('c'), suspect('ghost', 500, 'c'));
  const s = c.stats();
  t.equal(s.implausibleIncarnations, 0);
  t.equal(s.rejectedMessages, 0);
  t.equal(c.member('ghost'), undefined);
});

t.test('an accusation of ourselves far above what we hold is refuted (no slack for self)', async (t) => {
  const c = core(10);
  c.receive(NOW, endpointOf('b'), suspect('self', 5000, 'b'));
  t.equal(c.localMember().incarnation, 5001);
  t.equal(c.stats().refutations, 1);
  t.equal(c.healthScore(), 1, 'having to refute counts against our own health');
  const toB = packets(c.takeOutputs()).filter((p) => isTo(p, 'b'));
  t.ok(
    toB.some((p) => p.msgs.some((m) => m.t === 'alive' && m.node.name === 'self' && m.incarnation === 5001)),
    'the refutation goes straight to the accuser',
  );
});

t.test('refuting to the limit is allowed; an accusation at the limit waits', async (t) => {
  const c = core();
  c.receive(NOW, endpointOf('b'), suspect('self', LIMIT - 1, 'b'));
  t.equal(c.localMember().incarnation, LIMIT, 'outbid to exactly the limit');
  t.equal(c.stats().refutations, 1);
  const d = core();
  d.receive(NOW, endpointOf('b'), suspect('self', LIMIT, 'b'));
  t.equal(d.localMember().incarnation, LIMIT - DAY_S, 'not outbid: +1 would leave the window');
  t.equal(d.stats().refutations, 0);
  t.equal(d.stats().implausibleIncarnations, 1);
  t.same(
    messages(d.takeOutputs()).filter((m) => m.t === 'alive'),
    [],
    'and nothing announced',
  );
});

t.test('an accusation of our own incarnation is outbid by exactly one', async (t) => {
  const c = core(40);
  c.receive(NOW, endpointOf('b'), suspect('self', 40, 'b'));
  t.equal(c.localMember().incarnation, 41);
  c.receive(NOW, endpointOf('c'), suspect('self', 40, 'c'));
  t.equal(c.localMember().incarnation, 41, 'a stale accusation is not refuted again');
  t.equal(c.stats().refutations, 1);
});

// Bounded incarnations (issue 12): a forged accusation or alive with a huge incarnation
// must neither make the accused raise past what the wire can carry nor be believed.
import t from 'tap';
import { MAX_INCARNATION } from '../messages.js';
import { alive, dead, endpointOf, makeCore, messages, suspect, withPeers } from './test-harness.js';

const DAY_S = 24 * 3600;
const NOW = 1_800_000_000_000; // wall clock in ms, as the daemon's driver gives it
const NOW_S = NOW / 1000;

t.test('an accusation far ahead of the clock is believed by no third party', async (t) => {
  const core = makeCore('self', { now: NOW, incarnation: NOW_S });
  withPeers(core, ['b', 'c'], NOW);
  core.receive(NOW, endpointOf('c'), dead('b', MAX_INCARNATION, 'c'));
  core.receive(NOW, endpointOf('c'), suspect('b', NOW_S + DAY_S + 1, 'c'));
  t.equal(core.member('b')?.state, 'alive', 'b stays alive');
  t.equal(core.member('b')?.incarnation, 1, 'and keeps the incarnation it announced');
  t.equal(core.stats().implausibleIncarnations, 2, 'both counted');
  t.same(
    messages(core.takeOutputs()).filter((m) => m.t === 'dead' || m.t === 'suspect'),
    [],
    'and not gossiped on',
  );
});

t.test('a forged alive far ahead of the clock does not take over a member', async (t) => {
  const core = makeCore('self', { now: NOW, incarnation: NOW_S });
  withPeers(core, ['b'], NOW);
  core.receive(NOW, endpointOf('c'), alive('b', MAX_INCARNATION, new Uint8Array([6, 6, 6])));
  t.equal(core.member('b')?.incarnation, 1);
  t.same([...core.member('b')!.meta], []);
});

t.test('the accused does not try to outbid an implausible accusation', async (t) => {
  const core = makeCore('self', { now: NOW, incarnation: NOW_S });
  withPeers(core, ['b'], NOW);
  core.receive(NOW, endpointOf('b'), dead('self', MAX_INCARNATION, 'b'));
  core.receive(
    NOW,
    endpointOf('b'),
    alive('self', MAX_INCARNATION, new Uint8Array([1]), { name: 'self', addr: '10.9.9.9', port: 1 }),
  );
  t.equal(core.localMember().incarnation, NOW_S);
  t.equal(core.stats().refutations, 0);
});

t.test('a plausible accusation is outbid by one, within the valid range', async (t) => {
  const core = makeCore('self', { now: NOW, incarnation: NOW_S });
  withPeers(core, ['b'], NOW);
  const accused = NOW_S + DAY_S - 10;
  core.receive(NOW, endpointOf('b'), suspect('self', accused, 'b'));
  t.equal(core.localMember().incarnation, accused + 1);
  const refutation = messages(core.takeOutputs()).find((m) => m.t === 'alive');
  t.equal(refutation?.t === 'alive' && refutation.incarnation, accused + 1, 'and says so');
});

t.test('with the lead check off, an accusation at the top cannot push the incarnation past it', async (t) => {
  const core = makeCore('self', { now: 0, incarnation: 5, config: { incarnationLeadS: 0 } });
  withPeers(core, ['b']);
  core.receive(0, endpointOf('b'), dead('self', MAX_INCARNATION, 'b'));
  t.ok(core.localMember().incarnation <= MAX_INCARNATION);
  core.receive(0, endpointOf('b'), dead('self', MAX_INCARNATION - 1, 'b'));
  t.equal(core.localMember().incarnation, MAX_INCARNATION, 'refuted to the top');
  core.updateMeta(1, new Uint8Array([1]));
  t.equal(core.localMember().incarnation, MAX_INCARNATION, 'a metadata change stays at the top');
  const sent = messages(core.takeOutputs()).filter((m) => m.t === 'alive');
  t.ok(
    sent.every((m) => m.t === 'alive' && m.incarnation <= MAX_INCARNATION),
    'nothing unencodable is sent',
  );
});

t.test('a start incarnation above the bound is clamped', async (t) => {
  const core = makeCore('self', { incarnation: Number.MAX_SAFE_INTEGER, config: { incarnationLeadS: 0 } });
  t.equal(core.localMember().incarnation, MAX_INCARNATION);
});

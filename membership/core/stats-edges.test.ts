// stats() against what the core actually sent: each counter /metrics shows equals the
// traffic or the verdicts seen in the outputs, and news from others is not counted as our
// own (issue 18's mutation survivors: most counters were read by no test).
import t from 'tap';
import type { Output } from './outputs.js';
import {
  dead,
  endpointOf,
  events,
  isTo,
  makeCore,
  messages,
  packets,
  runTimers,
  streams,
  suspect,
  withPeers,
} from './test-harness.js';

t.test('a silent member: probes, failures, indirect probes, suspicion and death counted as sent', async (t) => {
  const core = makeCore('self', { now: 0 });
  withPeers(core, ['b', 'c', 'd', 'e']);
  const out: Output[] = runTimers(core, 120_000, new Set(['b']));
  const s = core.stats();
  t.equal(core.member('b')?.state, 'dead');
  const ours = messages(out);
  t.equal(s.probes, ours.filter((m) => m.t === 'ping').length, 'probes = pings sent');
  t.ok(s.probes > 10);
  t.equal(s.indirectProbes, ours.filter((m) => m.t === 'ping-req').length, 'indirect probes = ping-reqs sent');
  t.ok(s.probeFailures >= 1);
  t.equal(s.indirectProbes, 3 * s.probeFailures, 'every failed probe asked the other three');
  t.equal(s.suspicionsRaised, 1, 'one suspicion of b, raised by us');
  t.equal(s.deathsDeclared, 1, 'one death, declared by us');
  t.same(
    events(out).map((e) => `${e.type} ${e.member.name}`),
    ['suspect b', 'dead b'],
  );
  t.equal(s.packetsOut, packets(out).length, 'packets counted');
  t.equal(
    s.bytesOut,
    packets(out).reduce((n, p) => n + p.bytes, 0),
    'bytes counted',
  );
  t.equal(s.streamsOut, streams(out).length, 'streams counted');
  const pushPulls = streams(out).filter((o) => o.msg.t === 'push-pull');
  t.equal(s.pushPulls + s.healAttempts, pushPulls.length, 'every push-pull is a sync or a heal');
  t.ok(s.pushPulls >= 3, `${s.pushPulls} syncs in 120 s at one per 30 s`);
  t.ok(s.healAttempts >= 1, 'the dead member is retried');
  const toB = pushPulls.filter((o) => isTo(o, 'b'));
  t.ok(toB.length >= s.healAttempts, 'heals go to the dead member');
  t.equal(s.staleAcks, 0);
  t.equal(s.rejectedMessages, 0);
  t.equal(s.healthScore, core.healthScore());

  // News from others is not ours to count.
  core.receive(120_001, endpointOf('d'), suspect('c', 1, 'd'));
  core.receive(120_002, endpointOf('d'), dead('e', 1, 'd'));
  core.takeOutputs();
  t.equal(core.member('c')?.state, 'suspect');
  t.equal(core.member('e')?.state, 'dead');
  t.equal(core.stats().suspicionsRaised, 1, 'a suspicion heard is not one raised');
  t.equal(core.stats().deathsDeclared, 1, 'a death heard is not one declared');
});

t.test('no peers: no probes, syncs or heals are counted', async (t) => {
  const core = makeCore('self', { now: 0 });
  runTimers(core, 60_000);
  const s = core.stats();
  t.equal(s.probes, 0);
  t.equal(s.pushPulls, 0);
  t.equal(s.healAttempts, 0);
  t.equal(s.probeFailures, 0);
});

t.test('stats() is a copy: changing it changes nothing', async (t) => {
  const core = makeCore('self', { now: 0 });
  const s = core.stats();
  s.rejectedMessages = 99;
  s.authRejects.unsigned = 99;
  t.equal(core.stats().rejectedMessages, 0);
  t.equal(core.stats().authRejects.unsigned, 0);
});

// Probing at its edges, from the survivors of `npm run mutation -- membership/core:swim2`
// (issue 18): who a ping-req for ourselves is answered by, pings without a target name,
// relays asked for no nack, the relay's wait, what our pings carry, whom we ask to probe
// indirectly, and what a failed probe gossips.
import t from 'tap';
import type { IndirectPing, Ping } from '../messages.js';
import {
  addrOf,
  dead,
  endpointOf,
  events,
  isTo,
  makeCore,
  messages,
  packets,
  runTimers,
  suspect,
  withPeers,
} from './test-harness.js';

const PEERS = ['b', 'c', 'd', 'e'];

t.test('a ping-req for ourselves is answered by our own ack, no relay', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  core.receive(1, endpointOf('b'), { t: 'ping-req', seq: 42, target: addrOf('self'), nack: true, source: addrOf('b') });
  const out = packets(core.takeOutputs());
  t.same(
    out.map((p) => [isTo(p, 'b'), p.msgs[0]]),
    [[true, { t: 'ack', seq: 42 }]],
  );
});

t.test('a ping with no target name is answered', async (t) => {
  const core = makeCore('self');
  core.receive(1, endpointOf('b'), { t: 'ping', seq: 5, target: '', source: addrOf('b') });
  t.same(
    messages(core.takeOutputs()).filter((m) => m.t === 'ack'),
    [{ t: 'ack', seq: 5 }],
  );
  t.equal(core.stats().rejectedMessages, 0);
});

t.test('a relay nacks only when asked, at 80 % of the shorter probe phase', async (t) => {
  // probeTimeout 700 of a 1000 ms interval: the indirect phase is 300 ms, so the nack is due at 240 ms.
  const core = makeCore('self', { config: { probeTimeoutMs: 700 } });
  withPeers(core, PEERS);
  const req = (seq: number, nack: boolean): IndirectPing => ({
    t: 'ping-req',
    seq,
    target: addrOf('d'),
    nack,
    source: addrOf('c'),
  });
  core.receive(1000, endpointOf('c'), req(7, true));
  const ping = packets(core.takeOutputs()).find((p) => isTo(p, 'd'))!.msgs[0] as Ping;
  t.same(ping.source, addrOf('self'), 'the relayed ping names us as its source');
  t.equal(ping.target, 'd');
  const nacks = (until: number) =>
    messages(runTimers(core, until, new Set(PEERS))).filter((m) => m.t === 'nack' && m.seq === 7);
  t.same(nacks(1239), [], 'not before 240 ms');
  t.same(nacks(1240), [{ t: 'nack', seq: 7 }]);
  core.receive(2000, endpointOf('c'), req(8, false));
  core.takeOutputs();
  t.same(
    messages(runTimers(core, 3000, new Set(PEERS))).filter((m) => m.t === 'nack' && m.seq === 8),
    [],
    'no nack when none was asked for',
  );
});

t.test(
  'our probes: a ping with our source, the suspicion only to a suspect, ping-reqs only to alive others',
  async (t) => {
    const core = makeCore('self');
    withPeers(core, ['b', 'c', 'd', 'e', 'f']);
    core.receive(1, endpointOf('x'), suspect('d', 1, 'x'));
    core.receive(1, endpointOf('x'), dead('e', 1, 'x'));
    core.takeOutputs();
    const out = runTimers(core, 30_000, new Set(['b']));
    const pings = packets(out).filter((p) => p.msgs[0]?.t === 'ping');
    t.ok(pings.length > 5);
    for (const p of pings) {
      const ping = p.msgs[0] as Ping;
      t.same(ping.source, addrOf('self'));
      const buddy = p.msgs.some((m) => m.t === 'suspect' && m.from === 'self' && m.node === ping.target);
      if (ping.target === 'c' || ping.target === 'f')
        t.notOk(buddy, `no suspicion rides on the probe of ${ping.target}`);
    }
    const reqs = packets(out).filter((p) => p.msgs[0]?.t === 'ping-req');
    t.ok(reqs.length > 0);
    for (const p of reqs) {
      const r = p.msgs[0] as IndirectPing;
      t.same(r.source, addrOf('self'), 'ping-req source');
      t.notOk(isTo(p, r.target.name), `not asked of the target itself (${r.target.name})`);
      t.notOk(isTo(p, 'e'), 'nor of a dead member');
    }
  },
);

t.test('a failed probe gossips its suspicion, but not after we left', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b', 'c']);
  const out = runTimers(core, 5000, new Set(['b']));
  t.equal(core.member('b')?.state, 'suspect');
  t.ok(
    packets(out).some(
      (p) => isTo(p, 'c') && p.msgs.some((m) => m.t === 'suspect' && m.node === 'b' && m.from === 'self'),
    ),
    'the suspicion is gossiped to c',
  );

  const gone = makeCore('self');
  withPeers(gone, ['b']);
  // Start a probe of b, then leave before it expires.
  let pinged = false;
  while (!pinged) {
    const now = gone.nextDeadline();
    gone.tick(now);
    pinged = packets(gone.takeOutputs()).some((p) => p.msgs[0]?.t === 'ping');
    if (pinged) gone.leave(now);
  }
  const after = runTimers(gone, 10_000, new Set(['b']));
  t.notOk(
    events(after).some((e) => e.type === 'suspect'),
    'the probe that expires after our leave raises nothing',
  );
  t.equal(gone.member('b')?.state, 'alive');
});

t.test('an alive member answering our probe is no event', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  t.same(events(runTimers(core, 10_000)), []);
});

t.test('aligned probing visits every member once per cycle', async (t) => {
  const core = makeCore('self', { alignedProbing: true, now: 0 });
  withPeers(core, PEERS);
  const byCycle = new Map<number, string[]>();
  for (let now = core.nextDeadline(); now <= 12_000; now = core.nextDeadline()) {
    core.tick(now);
    for (const p of packets(core.takeOutputs())) {
      if (p.msgs[0]?.t !== 'ping') continue;
      const cycle = Math.floor(Math.floor(now / 1000) / PEERS.length);
      byCycle.set(cycle, [...(byCycle.get(cycle) ?? []), (p.msgs[0] as Ping).target]);
      core.receive(now, p.to, { t: 'ack', seq: (p.msgs[0] as Ping).seq });
      core.takeOutputs();
    }
  }
  t.same([...(byCycle.get(1) ?? [])].sort(), PEERS, 'cycle 1: each once');
  t.same([...(byCycle.get(2) ?? [])].sort(), PEERS, 'cycle 2: each once');
});

// Gossip rounds pause while nothing is queued (swim.ts, gossipRound/wakeGossip): an idle
// node is woken for its probes, not five times a second for an empty queue (issue 17, idle
// CPU), and an update queued during the pause still goes out at the next round of the grid
// the rounds kept before, so dissemination is as fast as with rounds that never stop.
import t from 'tap';
import type { PacketMessage } from '../messages.js';
import type { SwimConfig } from './config.js';
import type { Output, PacketOutput } from './outputs.js';
import { alive, endpointOf, makeCore, packets, runTimers, withPeers } from './test-harness.js';
import type { SwimCore } from './swim.js';

const GOSSIP = new Set<PacketMessage['t']>(['alive', 'suspect', 'dead', 'user']);
const gossipPackets = (out: readonly Output[]): PacketOutput[] =>
  packets(out).filter((p) => p.msgs.every((m) => GOSSIP.has(m.t)));

/** Runs the timers (probes answered) up to `until`, with the time each gossip packet went out. */
function timedGossip(core: SwimCore, until: number): { at: number; p: PacketOutput }[] {
  const sent: { at: number; p: PacketOutput }[] = [];
  for (let d = core.nextDeadline(); d <= until; d = core.nextDeadline())
    for (const p of gossipPackets(runTimers(core, d))) sent.push({ at: d, p });
  return sent;
}

// Push/pull and maintenance far apart, so that the wake-ups left are the probes' and gossip's.
const CONFIG: Partial<SwimConfig> = { pushPullIntervalMs: 0, healIntervalMs: 600_000 };

/** The deadlines the core asks its driver to wake it at, from `from` to `to`. */
function wakeUps(core: SwimCore, from: number, to: number): number[] {
  const at: number[] = [];
  for (let d = core.nextDeadline(); d <= to; d = core.nextDeadline()) {
    core.tick(d);
    core.takeOutputs();
    if (d >= from) at.push(d);
  }
  return at;
}

t.test('an idle node is woken for its probes, not for gossip rounds with nothing to send', async (t) => {
  const core = makeCore('self', { config: CONFIG });
  withPeers(core, ['b', 'c', 'd', 'e']);
  // Until the announcements have been sent their transmit limit; answered, so nobody is suspected.
  runTimers(core, 30_000);
  t.equal(core.peekBroadcast('self'), undefined, 'nothing queued any more');
  const at = wakeUps(core, 30_000, 40_000);
  const interval = core.config.probeIntervalMs;
  // Each probe round and the two timers of its probe (ping-req, expiry), unanswered here.
  t.ok(at.length <= 3 * (10_000 / interval) + 3, `${at.length} wake-ups in 10 s`);
  t.ok(at.length < 10_000 / core.config.gossipIntervalMs, 'fewer than one per gossip interval');
});

t.test('an update queued while rounds are paused goes out at the next round of the same grid', async (t) => {
  const core = makeCore('self', { config: CONFIG });
  withPeers(core, ['b', 'c', 'd', 'e']);
  const early = timedGossip(core, 30_000);
  t.ok(early.length > 0, 'the announcements were gossiped');
  const i = core.config.gossipIntervalMs;
  const phase = early[0]!.at % i;
  t.ok(
    early.every((g) => g.at % i === phase),
    'every round so far on one grid',
  );
  // Paused now; news arrives between two grid points.
  const t1 = 31_000 + phase + 37;
  runTimers(core, t1);
  core.receive(t1, endpointOf('b'), alive('z', 1));
  t.same(gossipPackets(core.takeOutputs()), [], 'not sent within the input itself');
  const out = timedGossip(core, t1 + 5 * i);
  const first = out.find((g) => g.p.msgs.some((m) => m.t === 'alive' && m.node.name === 'z'));
  t.ok(first, 'the news is gossiped');
  t.equal(first?.at, t1 - 37 + i, 'at the first round of the grid after it was queued');
  t.ok(
    out.every((g) => g.at % i === phase),
    'and the rounds after it stay on the grid',
  );
});

// Gossip at its edges, from the survivors of `npm run mutation -- membership/core:swim4`
// (issue 18): gossip rounds that keep coming, a death flood only for a verdict still
// queued, whom gossip goes to (left members never, the recently dead up to the window's
// last millisecond), and the size at which an update goes by stream instead of a packet.
import t from 'tap';
import type { Alive, PacketMessage } from '../messages.js';
import { makeConfig, type SwimConfig } from './config.js';
import type { Output, PacketOutput } from './outputs.js';
import { msgpackSize } from './size.js';
import { SwimCore } from './swim.js';
import { Xoshiro128 } from '../../base/rng.js';
import {
  addrOf,
  alive,
  dead,
  endpointOf,
  isTo,
  makeCore,
  packets,
  runTimers,
  streams,
  withPeers,
} from './test-harness.js';

const GOSSIP = new Set<PacketMessage['t']>(['alive', 'suspect', 'dead', 'user']);

/** Packets of gossip alone (a gossip round or a flood), not replies or probes carrying it. */
function gossipPackets(out: readonly Output[]): PacketOutput[] {
  return packets(out).filter((p) => p.msgs.every((m) => GOSSIP.has(m.t)));
}

// Probes out of the way (the first comes at a random time within ten minutes, the harness
// answers it anyway): what is left is gossip.
const QUIET: Partial<SwimConfig> = { probeIntervalMs: 600_000, pushPullIntervalMs: 0 };

t.test('gossip rounds go on: an update learnt long after the first round still goes out', async (t) => {
  const core = makeCore('self', { config: QUIET });
  withPeers(core, ['b', 'c', 'd']);
  runTimers(core, 10_000); // the announcements are sent out their transmit limit
  core.receive(10_000, endpointOf('z'), alive('z', 1));
  t.same(gossipPackets(core.takeOutputs()), [], 'nothing sent in the input itself');
  const out = gossipPackets(runTimers(core, 10_000 + core.config.gossipIntervalMs));
  t.ok(
    out.some((p) => p.msgs.some((m) => m.t === 'alive' && m.node.name === 'z')),
    'the next gossip round carries it',
  );
});

t.test('a death refuted within the same packet is not flooded', async (t) => {
  const core = makeCore('self', { config: QUIET });
  withPeers(core, ['b', 'c', 'd', 'e']);
  runTimers(core, 5_000);
  core.receive(5_000, endpointOf('c'), [dead('b', 1, 'c'), alive('b', 2)]);
  const out = core.takeOutputs();
  t.equal(core.member('b')?.state, 'alive');
  t.same(gossipPackets(out), [], 'the refutation waits for the next gossip round, no flood');
  t.equal(core.peekBroadcast('b')?.t, 'alive');
});

t.test('a death too large for a packet goes by stream, and nothing is flooded', async (t) => {
  // A measure that makes every dead too large for a datagram.
  const core = new SwimCore({
    self: addrOf('self'),
    config: makeConfig('lan', QUIET),
    rng: new Xoshiro128(42),
    now: 0,
    measure: (m) => (m.t === 'dead' ? 10_000 : msgpackSize(m)),
  });
  withPeers(core, ['b', 'c', 'd', 'e']);
  runTimers(core, 5_000);
  let out: Output[] = [];
  t.doesNotThrow(() => {
    core.receive(5_000, endpointOf('c'), dead('b', 1, 'c'));
    out = core.takeOutputs();
  });
  t.equal(core.member('b')?.state, 'dead');
  t.equal(core.peekBroadcast('b'), undefined, 'not queued');
  t.ok(
    streams(out).some((s) => s.msg.t === 'dead'),
    'sent by stream',
  );
  t.same(gossipPackets(out), [], 'no flood of a verdict that is not queued');
});

t.test('gossip never goes to a member that left', async (t) => {
  const core = makeCore('self', { config: QUIET });
  withPeers(core, ['b', 'c']);
  runTimers(core, 5_000);
  core.receive(5_000, endpointOf('b'), dead('b', 1, 'b'));
  t.equal(core.member('b')?.state, 'left');
  const out = gossipPackets([...core.takeOutputs(), ...runTimers(core, 8_000)]);
  t.ok(
    out.some((p) => isTo(p, 'c')),
    'the leave is gossiped to c',
  );
  t.notOk(
    out.some((p) => isTo(p, 'b')),
    'and never to b',
  );
});

t.test('the recently dead get gossip until gossipToTheDeadTime has passed, to the millisecond', async (t) => {
  const core = makeCore('self', {
    config: { ...QUIET, gossipIntervalMs: 1, gossipToTheDeadTimeMs: 5 },
  });
  withPeers(core, ['b', 'c']);
  runTimers(core, 1_000);
  core.receive(1_000, endpointOf('c'), dead('b', 1, 'c'));
  core.takeOutputs();
  const toB = (now: number) => {
    core.broadcastUser(now, Uint8Array.of(now & 255)); // something to gossip
    core.takeOutputs();
    core.tick(now);
    return gossipPackets(core.takeOutputs()).some((p) => isTo(p, 'b'));
  };
  t.ok(toB(1_001), '1 ms after the death');
  t.ok(toB(1_004), '4 ms after');
  t.notOk(toB(1_005), 'not once the 5 ms have passed');
});

/** An alive of `name` whose encoded size plus the per-message overhead is `target` bytes. */
function aliveOfSize(name: string, target: number, overhead: number): Alive {
  for (let n = 0; n <= 512; n++) {
    const a = alive(name, 1, new Uint8Array(n).fill(7));
    if (msgpackSize(a) + overhead === target) return a;
  }
  throw new Error(`no alive of ${target} bytes`);
}

t.test('an update that just fits a packet is queued; one byte more goes by stream', async (t) => {
  const config: Partial<SwimConfig> = { ...QUIET, udpPayload: 400 };
  const core = makeCore('self', { config });
  withPeers(core, ['b', 'c']);
  const budget = core.config.udpPayload - core.config.packetOverhead;
  const per = core.config.messageOverhead;

  const fits = aliveOfSize('y', budget, per);
  core.receive(10, endpointOf('y'), fits);
  t.equal(core.peekBroadcast('y'), fits, 'exactly the budget: queued for gossip');
  t.same(streams(core.takeOutputs()), []);
  t.equal(core.stats().oversizeToStream, 0);

  const over = aliveOfSize('z', budget + 1, per);
  core.receive(20, endpointOf('z'), over);
  t.equal(core.peekBroadcast('z'), undefined, 'one byte over: not queued');
  const sent = streams(core.takeOutputs());
  t.ok(sent.length > 0 && sent.every((s) => s.msg === over), 'sent by stream instead');
  t.equal(core.stats().oversizeToStream, sent.length);
});

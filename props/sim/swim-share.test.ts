// MembershipClusterOptions.shareRegistry (membership/core/member-registry.ts) must not change
// what the nodes do: for one seed, every member event (time, observer, member, state,
// incarnation, address), every node's traffic and every final view the same as with a
// registry per node, through joins, crashes, a leave, loss, a pause, a partition and its
// healing, and unaligned probing with late timers. The shared registry hands the tables
// shared places, push/pull entries and probe rings; a ring or entry handed to the wrong
// table would show here.
import { createHash } from 'node:crypto';
import t from 'tap';
import { makeConfig } from '../../membership/core/config.js';
import { MembershipCluster, type MembershipClusterOptions } from './membership-cluster.js';

type Scenario = { opts: Omit<MembershipClusterOptions, 'shareRegistry'>; act: (c: MembershipCluster) => void };

function run(s: Scenario, shareRegistry: boolean): { events: number; digest: string } {
  const c = new MembershipCluster({ config: makeConfig('lan'), ...s.opts, shareRegistry });
  const h = createHash('sha256');
  let events = 0;
  c.onEvent((e) => {
    events++;
    const m = e.member;
    h.update(`${e.at}|${e.observer}|${e.type}|${m.name}|${m.incarnation}|${m.state}|${m.addr}:${m.port}\n`);
  });
  s.act(c);
  for (const n of c.names()) {
    const tr = c.traffic(n);
    h.update(`${n}:${tr.bytesOut}/${tr.packetsOut}/${tr.streamBytesOut}/${tr.streamsOut}\n`);
  }
  for (const n of c.upNodes()) h.update(n + JSON.stringify(c.view(n)?.map((m) => [m.name, m.state, m.incarnation])));
  return { events, digest: h.digest('hex') };
}

const SCENARIOS: Record<string, Scenario> = {
  'joins, crashes, a leave, loss, a restart': {
    opts: { nodes: 60, seed: 3, form: 'join' },
    act: (c) => {
      c.run(20_000);
      c.crash('node-5');
      c.crash('node-9');
      c.run(15_000);
      c.leave('node-11');
      c.setLoss(0.05);
      c.run(20_000);
      c.setLoss(0);
      c.restart('node-5');
      c.run(40_000);
    },
  },
  'a pause, a crash, a partition and its healing': {
    opts: { nodes: 80, seed: 7 },
    act: (c) => {
      c.run(10_000);
      c.pause('node-3', 6_000);
      c.crash('node-20');
      c.run(30_000);
      c.partition([c.names().slice(0, 30), c.names().slice(30)]);
      c.run(20_000);
      c.heal();
      c.run(60_000);
    },
  },
  'unaligned probing, late timers, five crashes and a newcomer': {
    opts: { nodes: 40, seed: 11, alignedProbing: false, timerLateMs: 30 },
    act: (c) => {
      c.run(5_000);
      for (let i = 0; i < 5; i++) c.crash(`node-${i * 7 + 1}`);
      c.run(30_000);
      c.addNode('fresh-1');
      c.run(40_000);
    },
  },
};

for (const [name, s] of Object.entries(SCENARIOS)) {
  t.test(name, async (t) => {
    const shared = run(s, true);
    const own = run(s, false);
    t.ok(shared.events > 100, `${shared.events} events`);
    t.same(shared, own, 'the same events, traffic and views with one registry as with one per node');
  });
}

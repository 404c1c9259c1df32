// One test per state transition, covering what memberlist's state_test.go checks.
import t from 'tap';
import { MAX_META_BYTES } from '../messages.js';
import {
  addrOf,
  isTo,
  packets,
  alive,
  dead,
  endpointOf,
  events,
  makeCore,
  messages,
  runTimers,
  streams,
  suspect,
  withPeers,
} from './test-harness.js';
import type { SwimCore } from './swim.js';

const PEERS = ['b', 'c', 'd', 'e', 'f'];

t.test('alive about an unknown node: join event, and re-gossiped', async (t) => {
  const core = makeCore();
  core.receive(0, endpointOf('b'), alive('b', 1, new Uint8Array([7])));
  const ev = events(core.takeOutputs());
  t.equal(ev.length, 1);
  t.equal(ev[0].type, 'join');
  t.equal(ev[0].member.name, 'b');
  t.same([...ev[0].member.meta], [7]);
  t.same(core.member('b')?.state, 'alive');
  t.same(core.peekBroadcast('b'), alive('b', 1, new Uint8Array([7])));
});

t.test('alive with an old or equal incarnation changes nothing', async (t) => {
  const core = makeCore();
  core.receive(0, endpointOf('b'), alive('b', 5));
  core.takeOutputs();
  core.receive(1, endpointOf('b'), alive('b', 4, new Uint8Array([1])));
  core.receive(2, endpointOf('b'), alive('b', 5, new Uint8Array([1])));
  t.same(events(core.takeOutputs()), []);
  t.equal(core.member('b')?.incarnation, 5);
  t.same([...core.member('b')!.meta], []);
});

t.test('alive with new metadata: update event', async (t) => {
  const core = makeCore();
  core.receive(0, endpointOf('b'), alive('b', 1));
  core.takeOutputs();
  core.receive(10, endpointOf('b'), alive('b', 2, new Uint8Array([1, 2])));
  const ev = events(core.takeOutputs());
  t.equal(ev.length, 1);
  t.equal(ev[0].type, 'update');
  t.equal(ev[0].member.lastChange, 10);
  core.receive(20, endpointOf('b'), alive('b', 3, new Uint8Array([1, 2])));
  t.same(events(core.takeOutputs()), [], 'a higher incarnation with the same data is no event');
});

t.test('alive metadata over 512 bytes is rejected', async (t) => {
  const core = makeCore();
  core.receive(0, endpointOf('b'), alive('b', 1, new Uint8Array(MAX_META_BYTES + 1)));
  t.equal(core.member('b'), undefined);
  t.equal(core.stats().rejectedMessages, 1);
});

t.test('suspect: suspect event, re-gossiped; dead on the dynamic timeout', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(1000, endpointOf('c'), suspect('b', 1, 'c'));
  const out = core.takeOutputs();
  t.same(
    events(out).map((e) => e.type),
    ['suspect'],
  );
  t.same(core.peekBroadcast('b'), suspect('b', 1, 'c'));
  // n = 6 live: log10(6) < 1 is floored at 1, so min = 4 s, max = 6 * min = 24 s; k = 2.
  // b is silent, so our own probe of it fails: one confirmation, which brings the
  // timeout to max - log(2)/log(3) * (max - min) = 11.38 s.
  const silent = new Set(['b']);
  t.notOk(
    events(runTimers(core, 1000 + 4000, silent)).some((e) => e.type === 'dead'),
    'not at min',
  );
  const until = runTimers(core, 1000 + 11_381 + 1000, silent);
  const deadEvent = events(until).find((e) => e.type === 'dead' && e.member.name === 'b');
  t.ok(deadEvent, 'dead well before max');
  t.ok(
    deadEvent!.member.lastChange >= 1000 + 11_381,
    `not before the one-confirmation timeout (${deadEvent!.member.lastChange})`,
  );
  t.equal(core.member('b')?.state, 'dead');
  const gossiped = [...messages(until), ...messages(runTimers(core, 1000 + 11_381 + 2000, silent))];
  t.ok(
    gossiped.some((m) => m.t === 'dead' && m.node === 'b' && m.from === 'self'),
    'our verdict is gossiped',
  );
});

t.test(
  'a suspect that answers our probe is no longer suspected here, even if its refutation never reached us',
  async (t) => {
    const core = makeCore();
    withPeers(core, PEERS);
    core.receive(1000, endpointOf('c'), suspect('b', 1, 'c'));
    core.takeOutputs();
    const out = runTimers(core, 60_000); // b acks pings but never refutes
    t.ok(
      events(out).some((e) => e.type === 'alive' && e.member.name === 'b'),
      'cleared when our probe of b was acked',
    );
    t.notOk(events(out).some((e) => e.type === 'dead'));
    t.equal(core.member('b')?.state, 'alive');
    t.equal(core.member('b')?.incarnation, 1, 'locally: no incarnation invented');
  },
);

/** Runs the core's timers until its own probe of `name` (kept silent) fails: when it suspected it, or -1. */
function ownSuspicionOf(core: SwimCore, name: string, silent: Set<string>): number {
  for (let until = 1000; until < 60_000; until += 100) {
    const ev = events(runTimers(core, until, silent)).find((e) => e.type === 'suspect' && e.member.name === name);
    if (ev) return ev.member.lastChange;
  }
  return -1;
}

t.test('first-hand evidence: our own failed probe plus k confirmations → dead exactly at min', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  const silent = new Set(['b']);
  const start = ownSuspicionOf(core, 'b', silent);
  t.ok(start > 0, 'our probe of silent b failed');
  core.receive(start, endpointOf('c'), suspect('b', 1, 'c'));
  core.receive(start, endpointOf('d'), suspect('b', 1, 'd'));
  t.notOk(events(runTimers(core, start + 4000 - 1, silent)).some((e) => e.type === 'dead'));
  t.ok(
    events(runTimers(core, start + 4000, silent)).some((e) => e.type === 'dead' && e.member.name === 'b'),
    'no grace for a verdict we saw ourselves',
  );
});

t.test('first-hand evidence and one confirmation past k → dead at 3/4 of min, and the last one gossiped', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  const silent = new Set(['b']);
  const start = ownSuspicionOf(core, 'b', silent);
  t.ok(start > 0, 'our probe of silent b failed');
  for (const from of ['c', 'd', 'e']) core.receive(start, endpointOf(from), suspect('b', 1, from));
  t.same(core.peekBroadcast('b'), suspect('b', 1, 'e'), 'the third confirmation is news, gossiped on');
  t.notOk(events(runTimers(core, start + 3000 - 1, silent)).some((e) => e.type === 'dead'));
  t.ok(
    events(runTimers(core, start + 3000, silent)).some((e) => e.type === 'dead' && e.member.name === 'b'),
    'min 4 s * (k + 1) / (k + 2) = 3 s',
  );
});

t.test('second-hand only: one probe of our own first; a silent suspect is declared when the grace ends', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(0, endpointOf('c'), [suspect('b', 1, 'c')]);
  core.receive(0, endpointOf('d'), [suspect('b', 1, 'd')]);
  core.receive(0, endpointOf('e'), [suspect('b', 1, 'e')]);
  core.takeOutputs();
  const silent = new Set(['b']);
  t.notOk(
    events(runTimers(core, 3999, silent)).some((e) => e.type === 'dead'),
    'not before min = 4 s',
  );
  const out = runTimers(core, 6000, silent);
  t.ok(
    events(out).some((e) => e.type === 'dead' && e.member.name === 'b'),
    'by min + the 2-interval grace',
  );
});

t.test('a refutation during the grace saves the suspect', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(0, endpointOf('c'), [suspect('b', 1, 'c'), suspect('b', 1, 'd'), suspect('b', 1, 'e')]);
  core.takeOutputs();
  const silent = new Set(['b']);
  const atMin = runTimers(core, 4000, silent);
  t.ok(
    packets(atMin).some(
      (p) => isTo(p, 'b') && p.msgs.some((m) => m.t === 'suspect' && m.node === 'b') && p.msgs[0].t === 'ping',
    ),
    'second-hand news: a grace probe (with the suspicion) at min instead of a verdict',
  );
  t.equal(core.member('b')?.state, 'suspect');
  // b was stalled (a GC pause): our probe fails at 5 s, its answer arrives at 5.5 s.
  t.notOk(
    events(runTimers(core, 5499, silent)).some((e) => e.type === 'dead'),
    'a failed grace probe does not cut the grace short',
  );
  core.receive(5500, endpointOf('b'), alive('b', 2));
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['alive'],
  );
  t.notOk(events(runTimers(core, 60_000)).some((e) => e.type === 'dead'));
});

t.test('a suspicion of a higher incarnation restarts the timer instead of confirming', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(0, endpointOf('c'), [suspect('b', 1, 'c'), suspect('b', 1, 'd'), suspect('b', 1, 'e')]);
  core.takeOutputs();
  // b refuted to 2 (we missed it) and was suspected again at 2, 3 s later.
  core.receive(3000, endpointOf('c'), suspect('b', 2, 'c'));
  t.equal(core.member('b')?.incarnation, 2);
  t.same(core.peekBroadcast('b'), suspect('b', 2, 'c'));
  const silent = new Set(['b']);
  t.notOk(
    events(runTimers(core, 3000 + 4000 - 1, silent)).some((e) => e.type === 'dead'),
    'not at the old deadline (4 s)',
  );
  core.receive(3001, endpointOf('d'), [suspect('b', 2, 'd')]);
  core.receive(3001, endpointOf('e'), [suspect('b', 2, 'e')]);
  t.ok(
    events(runTimers(core, 3000 + 4000, silent)).some((e) => e.type === 'dead'),
    'a fresh timer from the new suspicion',
  );
});

t.test('old suspect (lower incarnation) is ignored', async (t) => {
  const core = makeCore();
  core.receive(0, endpointOf('b'), alive('b', 10));
  core.takeOutputs();
  core.receive(1, endpointOf('c'), suspect('b', 9, 'c'));
  t.equal(core.member('b')?.state, 'alive');
  t.same(events(core.takeOutputs()), []);
  t.same(core.peekBroadcast('b'), alive('b', 10), 'nothing new queued');
});

t.test('double suspect: same accuser is not re-gossiped; a new one confirms and shortens the timeout', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(0, endpointOf('c'), suspect('b', 1, 'c'));
  core.takeOutputs();
  core.receive(1, endpointOf('d'), alive('zz', 1)); // unrelated traffic, replaces nothing about b
  core.receive(1, endpointOf('c'), suspect('b', 1, 'c'));
  t.same(core.peekBroadcast('b'), suspect('b', 1, 'c'));
  t.same(
    events(core.takeOutputs()).filter((e) => e.member.name === 'b'),
    [],
    'no second suspect event',
  );

  core.receive(2, endpointOf('d'), suspect('b', 1, 'd'));
  t.same(core.peekBroadcast('b'), suspect('b', 1, 'd'), 'the confirmation is gossiped on');
  core.receive(3, endpointOf('e'), suspect('b', 1, 'e'));
  // k = 2 confirmations reached: deadline = start + min = 4 s instead of max = 24 s (plus
  // at most one probe interval of our own check, the news being second-hand).
  const silent = new Set(['b']);
  t.notOk(
    events(runTimers(core, 3999, silent)).some((e) => e.type === 'dead'),
    'not before min',
  );
  const out = runTimers(core, 6000, silent);
  t.ok(
    events(out).some((e) => e.type === 'dead' && e.member.name === 'b'),
    'dead at the minimum timeout (plus the grace, if the news was second-hand)',
  );
});

t.test('suspect about ourselves: refute with a higher incarnation, health score rises', async (t) => {
  const core = makeCore('self', { incarnation: 3 });
  withPeers(core, PEERS);
  core.receive(0, endpointOf('d'), suspect('self', 7, 'b'));
  const direct = packets(core.takeOutputs()).filter((p) => isTo(p, 'b'));
  t.ok(
    direct.some((p) => p.msgs.some((m) => m.t === 'alive' && m.node.name === 'self' && m.incarnation === 8)),
    'the accuser b is told directly, even though the rumour came from d',
  );
  t.equal(core.localMember().incarnation, 8);
  t.equal(core.localMember().state, 'alive');
  t.same(core.peekBroadcast('self'), alive('self', 8));
  t.equal(core.healthScore(), 1);
  t.equal(core.stats().refutations, 1);
  core.receive(1, endpointOf('b'), suspect('self', 2, 'b'));
  t.equal(core.localMember().incarnation, 8, 'a stale accusation needs no refutation');
});

t.test('a stale accusation about ourselves is answered directly with our current incarnation', async (t) => {
  const core = makeCore('self', { incarnation: 5 });
  withPeers(core, PEERS);
  core.receive(0, endpointOf('b'), [suspect('self', 3, 'x'), dead('self', 4, 'y')]);
  const direct = packets(core.takeOutputs()).filter((p) => isTo(p, 'b'));
  const alives = direct.flatMap((p) => p.msgs).filter((m) => m.t === 'alive' && m.node.name === 'self');
  t.equal(alives.length, 1, 'once per packet, not once per stale message');
  t.equal(alives[0].t === 'alive' && alives[0].incarnation, 5, 'no new incarnation needed');
  t.equal(core.stats().refutations, 0);
});

t.test('dead about ourselves: refute', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(0, endpointOf('b'), dead('self', 0, 'b'));
  t.equal(core.localMember().incarnation, 1);
  t.equal(core.localMember().state, 'alive');
  t.same(core.peekBroadcast('self'), alive('self', 1));
});

t.test('dead: dead event; a replayed alive of the same incarnation does not resurrect', async (t) => {
  const core = makeCore();
  core.receive(0, endpointOf('b'), alive('b', 10));
  core.takeOutputs();
  core.receive(5, endpointOf('c'), dead('b', 10, 'c'));
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['dead'],
  );
  core.receive(6, endpointOf('c'), alive('b', 10));
  t.equal(core.member('b')?.state, 'dead', 'alive-replay ignored');
  t.same(events(core.takeOutputs()), []);
  core.receive(7, endpointOf('b'), alive('b', 11));
  t.equal(core.member('b')?.state, 'alive', 'a refutation brings it back');
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['join'],
  );
});

t.test(
  'a member we hold dead or suspect that talks to us is told of our verdict, at most once per probe interval',
  async (t) => {
    const core = makeCore();
    withPeers(core, PEERS);
    core.receive(0, endpointOf('c'), dead('b', 1, 'c'));
    core.takeOutputs();
    const hello = { t: 'ack' as const, seq: 12345 };
    core.receive(100, endpointOf('b'), hello);
    const told = packets(core.takeOutputs()).filter((p) => isTo(p, 'b'));
    t.ok(
      told.some((p) =>
        p.msgs.some((m) => m.t === 'dead' && m.node === 'b' && m.incarnation === 1 && m.from === 'self'),
      ),
    );
    core.receive(600, endpointOf('b'), hello);
    t.same(
      packets(core.takeOutputs()).filter((p) => isTo(p, 'b')),
      [],
      'not again within the interval',
    );
    core.receive(1100, endpointOf('b'), hello);
    t.equal(packets(core.takeOutputs()).filter((p) => isTo(p, 'b')).length, 1);
    core.receive(1200, endpointOf('c'), hello);
    t.same(
      packets(core.takeOutputs()).filter((p) => isTo(p, 'c')),
      [],
      'live members are not bothered',
    );
    core.receive(1300, endpointOf('e'), suspect('d', 1, 'e'));
    core.takeOutputs();
    core.receive(1400, endpointOf('d'), hello);
    const toD = packets(core.takeOutputs()).filter((p) => isTo(p, 'd'));
    t.ok(
      toD.some((p) => p.msgs.some((m) => m.t === 'suspect' && m.node === 'd' && m.from === 'self')),
      'a suspect is told it is suspected',
    );
  },
);

t.test('double dead is not re-gossiped; old dead is ignored', async (t) => {
  const core = makeCore();
  core.receive(0, endpointOf('b'), alive('b', 10));
  core.receive(0, endpointOf('e'), alive('e', 1));
  core.receive(1, endpointOf('c'), dead('b', 9, 'c'));
  t.equal(core.member('b')?.state, 'alive', 'old dead ignored');
  core.receive(2, endpointOf('c'), dead('b', 10, 'c'));
  core.takeOutputs();
  core.receive(3, endpointOf('d'), dead('b', 10, 'd'));
  t.same(core.peekBroadcast('b'), dead('b', 10, 'c'), 'the second verdict is not queued');
  t.same(events(core.takeOutputs()), []);
});

t.test('suspect → alive by refutation: alive event and the suspicion timer is gone', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(0, endpointOf('c'), suspect('b', 1, 'c'));
  core.takeOutputs();
  core.receive(10, endpointOf('b'), alive('b', 2));
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['alive'],
  );
  const later = runTimers(core, 60_000);
  t.notOk(
    events(later).some((e) => e.type === 'dead'),
    'no stale timer fires',
  );
  t.equal(core.member('b')?.state, 'alive');
});

t.test('dead from the node itself means left', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(0, endpointOf('b'), dead('b', 1, 'b'));
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['leave'],
  );
  t.equal(core.member('b')?.state, 'left');
});

t.test('leave(): we turn left, gossip it, and report when it has gone out enough', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.leave(100);
  const out = core.takeOutputs();
  t.equal(core.localMember().state, 'left');
  t.ok(events(out).some((e) => e.type === 'leave' && e.member.name === 'self'));
  t.ok(
    messages(out).some((m) => m.t === 'dead' && m.node === 'self' && m.from === 'self'),
    'sent at once, not at the next gossip round',
  );
  t.notOk(
    out.some((o) => o.kind === 'left'),
    'not done after one round',
  );
  const rest = runTimers(core, 10_000);
  t.ok(
    rest.some((o) => o.kind === 'left'),
    'done once transmitted retransmit-limit times',
  );
  t.notOk(
    rest.some((o) => o.kind === 'packet' && o.msgs[0]?.t === 'ping'),
    'a leaving node stops probing',
  );
  core.receive(20_000, endpointOf('b'), suspect('self', 5, 'b'));
  t.equal(core.localMember().state, 'left', 'a leaving node does not refute');
  core.receive(20_001, endpointOf('b'), { t: 'ping', seq: 9, target: 'self', source: addrOf('b') });
  const answer = messages(core.takeOutputs());
  t.notOk(
    answer.some((m) => m.t === 'ack'),
    'a probe of a leaving node is not acked...',
  );
  t.ok(
    answer.some((m) => m.t === 'dead' && m.node === 'self' && m.from === 'self'),
    '...but answered with the leave',
  );
});

t.test('leave() alone is done at once', async (t) => {
  const core = makeCore();
  core.leave(0);
  t.ok(core.takeOutputs().some((o) => o.kind === 'left'));
});

t.test('reap: dead and left members are forgotten after reapAfterMs', async (t) => {
  const core = makeCore('self', { config: { reapAfterMs: 60_000, healIntervalMs: 10_000 } });
  withPeers(core, PEERS);
  core.receive(0, endpointOf('c'), dead('b', 1, 'c'));
  core.receive(0, endpointOf('d'), dead('d', 1, 'd'));
  core.takeOutputs();
  const early = runTimers(core, 59_000);
  t.notOk(events(early).some((e) => e.type === 'reap'));
  const late = runTimers(core, 71_000);
  t.same(
    events(late)
      .filter((e) => e.type === 'reap')
      .map((e) => e.member.name)
      .sort(),
    ['b', 'd'],
  );
  t.equal(core.member('b'), undefined);
  t.equal(core.member('c')?.state, 'alive', 'live members stay');
});

t.test('updateMeta: new incarnation, gossiped, update event; over 512 bytes throws', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.updateMeta(5, new Uint8Array([9]));
  t.equal(core.localMember().incarnation, 1);
  t.same(core.peekBroadcast('self'), alive('self', 1, new Uint8Array([9])));
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['update'],
  );
  t.throws(() => core.updateMeta(6, new Uint8Array(MAX_META_BYTES + 1)), RangeError);
  t.throws(() => makeCore('x', { meta: new Uint8Array(MAX_META_BYTES + 1) }), RangeError);
});

t.test('a message too large for any datagram goes out as stream outputs, not dropped', async (t) => {
  const core = makeCore('self', { config: { udpPayload: 300, packetOverhead: 40 } });
  withPeers(core, PEERS);
  core.updateMeta(0, new Uint8Array(400));
  const out = core.takeOutputs();
  const s = streams(out);
  t.ok(s.length > 0, 'sent by stream');
  for (const o of s) t.equal(o.msg.t, 'alive');
  t.equal(core.stats().oversizeToStream, s.length);
  core.broadcastUser(1, new Uint8Array(1000));
  const u = streams(core.takeOutputs());
  t.ok(u.length > 0 && u.every((o) => o.msg.t === 'user'), 'oversized user payloads too');
  for (const p of runTimers(core, 5000).filter((o) => o.kind === 'packet')) {
    t.ok((p as { bytes: number }).bytes <= 300, 'no datagram exceeds udpPayload');
  }
});

t.test('restart at a new address (memberlist#157, #222, PR #345)', async (t) => {
  const moved = { ...addrOf('b'), addr: '10.9.9.9' };
  t.test('same incarnation at a new address while the old one is alive: conflict, ignored', async (t) => {
    const core = makeCore();
    core.receive(0, endpointOf('b'), alive('b', 3));
    core.receive(1, { addr: moved.addr, port: moved.port }, alive('b', 3, undefined, moved));
    t.equal(core.member('b')?.addr, addrOf('b').addr);
    t.equal(core.stats().addressConflicts, 1);
  });
  t.test('a higher incarnation at a new address: accepted, update event', async (t) => {
    const core = makeCore();
    core.receive(0, endpointOf('b'), alive('b', 3));
    core.takeOutputs();
    core.receive(1, { addr: moved.addr, port: moved.port }, alive('b', 4, undefined, moved));
    t.equal(core.member('b')?.addr, '10.9.9.9');
    t.same(
      events(core.takeOutputs()).map((e) => e.type),
      ['update'],
    );
  });
  t.test('the old life is dead: any incarnation at a new address rejoins', async (t) => {
    const core = makeCore();
    core.receive(0, endpointOf('b'), alive('b', 3));
    core.receive(1, endpointOf('c'), dead('b', 3, 'c'));
    core.takeOutputs();
    core.receive(2, { addr: moved.addr, port: moved.port }, alive('b', 0, undefined, moved));
    t.equal(core.member('b')?.state, 'alive');
    t.equal(core.member('b')?.addr, '10.9.9.9');
    t.same(
      events(core.takeOutputs()).map((e) => e.type),
      ['join'],
    );
  });
  t.test('hearing an old life of ourselves (other address, higher incarnation) makes us outbid it', async (t) => {
    const core = makeCore('self');
    withPeers(core, PEERS);
    const old = { ...addrOf('self'), addr: '10.8.8.8' };
    core.receive(0, endpointOf('b'), alive('self', 12, undefined, old));
    t.equal(core.localMember().incarnation, 13);
    t.equal(core.localMember().addr, addrOf('self').addr, 'we keep our own address');
    t.same(core.peekBroadcast('self'), alive('self', 13));
  });
  t.test('our own alive echoed back is not refuted', async (t) => {
    const core = makeCore('self');
    core.receive(0, endpointOf('b'), alive('self', 0));
    t.equal(core.localMember().incarnation, 0);
    t.equal(core.stats().refutations, 0);
  });
});

t.test('messages about unknown nodes are ignored', async (t) => {
  const core = makeCore();
  core.receive(0, endpointOf('b'), [suspect('ghost', 1, 'b'), dead('ghost', 1, 'b')]);
  t.equal(core.member('ghost'), undefined);
  t.same(events(core.takeOutputs()), []);
});

// SwimCore's public calls at their edges: construction checks and first deadlines, join
// with odd seeds, leave and updateMeta at their limits, user payloads on both sides of the
// datagram budget, the views, and a clock that steps back (issue 18's mutation survivors).
import t from 'tap';
import { MAX_INCARNATION, MAX_META_BYTES } from '../messages.js';
import { makeConfig } from './config.js';
import { Xoshiro128 } from '../../base/rng.js';
import { SwimCore } from './swim.js';
import { addrOf, alive, endpointOf, events, makeCore, packets, runTimers, streams, withPeers } from './test-harness.js';

t.test('construction: checked inputs, lan by default, incarnation clamped', async (t) => {
  const rng = new Xoshiro128(1);
  t.throws(() => new SwimCore({ self: addrOf('a'), rng, now: 0, meta: new Uint8Array(MAX_META_BYTES + 1) }), {
    name: 'RangeError',
    message: `node metadata is ${MAX_META_BYTES + 1} bytes, at most ${MAX_META_BYTES} allowed`,
  });
  t.doesNotThrow(() => new SwimCore({ self: addrOf('a'), rng, now: 0, meta: new Uint8Array(MAX_META_BYTES) }));
  t.throws(() => new SwimCore({ self: { name: 'a', addr: '', port: 1 }, rng, now: 0 }), {
    name: 'TypeError',
    message: 'self must be a NodeAddress {name, addr, port}',
  });
  t.throws(
    () => new SwimCore({ self: addrOf('a'), rng, now: 0, config: { ...makeConfig(), probeIntervalMs: 0 } }),
    RangeError,
    'the config is validated',
  );
  const core = new SwimCore({ self: addrOf('a'), rng, now: 500 });
  t.same(core.config, makeConfig('lan'));
  t.same(core.localMember(), {
    ...addrOf('a'),
    state: 'alive',
    incarnation: 0,
    meta: new Uint8Array(0),
    lastChange: 500,
  });
  t.equal(
    new SwimCore({ self: addrOf('a'), rng, now: 0, incarnation: MAX_INCARNATION + 5 }).localMember().incarnation,
    MAX_INCARNATION,
  );
  t.equal(new SwimCore({ self: addrOf('a'), rng, now: 0, incarnation: 7 }).localMember().incarnation, 7);
  t.same(core.peekBroadcast('a'), alive('a', 0), 'it announces itself');
  t.equal(core.queuedBroadcasts(), 1);
});

t.test('first deadlines fall within one interval of creation, each kind in its own', async (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const core = makeCore('self', { now: 10_000, seed });
    const d = core.nextDeadline();
    t.ok(d >= 10_000 && d < 10_200, `seed ${seed}: first deadline ${d} within the gossip interval`);
  }
  const quiet = makeCore('self', {
    now: 10_000,
    config: { gossipNodes: 0, gossipIntervalMs: 0, pushPullIntervalMs: 0 },
  });
  const d = quiet.nextDeadline();
  t.ok(d >= 10_000 && d < 11_000, `without gossip or sync the first is the probe round (${d})`);
  const aligned = makeCore('self', {
    now: 10_000,
    alignedProbing: true,
    config: { gossipNodes: 0, gossipIntervalMs: 0, pushPullIntervalMs: 0 },
  });
  t.equal(aligned.nextDeadline(), 11_000, 'aligned: the first round boundary after now');
  const alignedOff = makeCore('self', {
    now: 10_001,
    alignedProbing: true,
    config: { gossipNodes: 0, gossipIntervalMs: 0, pushPullIntervalMs: 0 },
  });
  t.equal(alignedOff.nextDeadline(), 11_000, 'aligned, off a boundary: the next one');
});

t.test('join skips malformed seeds and ourselves, remembers each seed once, and not while leaving', async (t) => {
  const core = makeCore('self');
  core.join(0, [
    null as never,
    { addr: 7, port: 1 } as never,
    { addr: '10.1.1.1', port: 1.5 },
    endpointOf('self'),
    endpointOf('b'),
    { ...endpointOf('b') },
  ]);
  const s = streams(core.takeOutputs());
  t.same(
    s.map((o) => o.to),
    [endpointOf('b'), endpointOf('b')],
    'one push-pull per valid seed given',
  );
  t.same(
    streams(runTimers(core, 10_001))
      .filter((o) => o.msg.t === 'push-pull')
      .map((o) => o.to),
    [endpointOf('b')],
    'the seed retried once by the first heal round, not twice',
  );
  const gone = makeCore('self');
  withPeers(gone, ['b']);
  gone.leave(0);
  gone.takeOutputs();
  gone.join(1, [endpointOf('c')]);
  t.same(streams(gone.takeOutputs()), [], 'no join while leaving');
});

t.test('a seed given twice is retried as often as one given once', async (t) => {
  // Heal chance per round = candidates / live peers: 1/4 here; a seed counted twice would be 2/4.
  const heals = (seeds: number): number => {
    const core = makeCore('self', {
      config: { healIntervalMs: 1000, pushPullIntervalMs: 0, gossipNodes: 0, gossipIntervalMs: 0 },
    });
    withPeers(core, ['c', 'd', 'e', 'f']);
    core.join(
      0,
      Array.from({ length: seeds }, () => endpointOf('b')),
    );
    core.takeOutputs();
    return streams(runTimers(core, 400_000)).filter((o) => o.msg.t === 'push-pull').length;
  };
  const once = heals(1);
  t.ok(once > 60 && once < 140, `${once} heals in 400 rounds at 1/4`);
  t.equal(heals(2), once, 'the same draws: the duplicate is not a second candidate');
});

t.test('leave: once; alone it is done at once; with peers when the news has gone out', async (t) => {
  const alone = makeCore('self');
  alone.leave(5);
  const out = alone.takeOutputs();
  t.same(
    out.filter((o) => o.kind !== 'packet').map((o) => (o.kind === 'event' ? `${o.type} ${o.member.name}` : o.kind)),
    ['leave self', 'left'],
  );
  t.equal(alone.localMember().state, 'left');
  t.equal(alone.localMember().lastChange, 5);
  t.equal(alone.queuedBroadcasts(), 0);
  alone.leave(6);
  t.same(alone.takeOutputs(), [], 'a second leave does nothing');

  const core = makeCore('self');
  withPeers(core, ['b', 'c', 'd']);
  core.leave(10);
  const first = core.takeOutputs();
  t.notOk(
    first.some((o) => o.kind === 'left'),
    'not done before the leave was gossiped enough',
  );
  t.equal(packets(first).length, 3, 'the leave goes to gossipNodes members at once');
  t.ok(packets(first).every((p) => p.msgs.some((m) => m.t === 'dead' && m.node === 'self' && m.from === 'self')));
  const later = runTimers(core, 20_000);
  t.equal(later.filter((o) => o.kind === 'left').length, 1, 'left once it was sent often enough');
});

t.test('updateMeta: bytes only, at most 512; the incarnation stops at the maximum', async (t) => {
  const core = makeCore('self', { incarnation: MAX_INCARNATION });
  t.throws(() => core.updateMeta(0, [1] as never), {
    name: 'RangeError',
    message: `node metadata must be a Uint8Array of at most ${MAX_META_BYTES} bytes`,
  });
  core.updateMeta(3, new Uint8Array(MAX_META_BYTES));
  t.equal(core.localMember().incarnation, MAX_INCARNATION);
  t.equal(core.localMember().meta.byteLength, MAX_META_BYTES);
  t.equal(core.localMember().lastChange, 3);
});

t.test('user payloads: queued when they fit a datagram, streamed to as many members when not', async (t) => {
  // budget = 300 - 40 = 260; a user message is its data plus a few bytes of framing.
  const core = makeCore('self', { config: { udpPayload: 300, packetOverhead: 40 } });
  withPeers(core, ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm']);
  const before = core.queuedBroadcasts();
  core.broadcastUser(1, new Uint8Array(200));
  t.equal(core.queuedBroadcasts(), before + 1, 'fits: queued');
  t.same(streams(core.takeOutputs()), []);
  core.broadcastUser(2, new Uint8Array(300));
  const s = streams(core.takeOutputs());
  // retransmitLimit(4, 13 live) = 4 * ceil(log10(14)) = 8
  t.equal(s.length, 8, 'streamed to retransmitMult * ceil(log10(N+1)) members');
  t.equal(new Set(s.map((o) => o.to.addr)).size, 8, 'distinct members');
  t.equal(core.stats().oversizeToStream, 8);
  t.equal(core.queuedBroadcasts(), before + 1, 'not queued');
});

t.test('views: members() holds self and others; member() of an unknown name is undefined', async (t) => {
  const core = makeCore('self', { now: 0 });
  withPeers(core, ['b'], 7);
  t.same(
    core
      .members()
      .map((m) => m.name)
      .sort(),
    ['b', 'self'],
  );
  t.same(core.member('b'), { ...addrOf('b'), state: 'alive', incarnation: 1, meta: new Uint8Array(0), lastChange: 7 });
  t.equal(core.member('nobody'), undefined);
  t.equal(core.numLive(), 2);
  core.leave(8);
  t.equal(core.numLive(), 1, 'self left: not live');
});

t.test('a clock stepping back does not rewind the core', async (t) => {
  const core = makeCore('self', { now: 0 });
  core.receive(5000, endpointOf('b'), alive('b', 1));
  core.receive(100, endpointOf('c'), alive('c', 1));
  t.equal(core.member('c')?.lastChange, 5000, 'stamped with the latest time seen');
  core.receive(NaN, endpointOf('d'), alive('d', 1));
  t.equal(core.member('d')?.lastChange, 5000, 'a NaN clock is ignored');
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['join', 'join', 'join'],
  );
});

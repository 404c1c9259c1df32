// Dissemination, push/pull, healing, and robustness against odd input.
import t from 'tap';
import type { PushPull } from '../messages.js';
import { makeConfig } from './config.js';
import { Xoshiro128 } from '../../base/rng.js';
import { SwimCore } from './swim.js';
import {
  addrOf,
  alive,
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

const PEERS = ['b', 'c', 'd', 'e', 'f'];

function stateOf(pp: PushPull, name: string) {
  return pp.states.find((s) => s.node.name === name);
}

t.test('join: a full-state push-pull to every seed, and the reply is merged', async (t) => {
  const core = makeCore('self');
  core.join(0, [endpointOf('b'), endpointOf('c'), endpointOf('self')]);
  const s = streams(core.takeOutputs());
  t.equal(s.length, 2, 'not to ourselves');
  t.ok(s.every((o) => o.msg.t === 'push-pull' && o.msg.join === true));
  const reply: PushPull = {
    t: 'push-pull',
    join: false,
    states: [
      { node: addrOf('b'), incarnation: 1, state: 'alive', meta: new Uint8Array() },
      { node: addrOf('c'), incarnation: 2, state: 'suspect', meta: new Uint8Array() },
      { node: addrOf('d'), incarnation: 1, state: 'dead', meta: new Uint8Array() },
      { node: addrOf('e'), incarnation: 1, state: 'left', meta: new Uint8Array() },
    ],
  };
  core.receiveStreamReply(5, endpointOf('b'), reply);
  t.equal(core.member('b')?.state, 'alive');
  t.equal(core.member('c')?.state, 'suspect', 'a suspect is still a member: learnt, with its suspicion');
  t.equal(core.member('d'), undefined, 'the dead we never knew stay unknown');
  t.equal(core.member('e'), undefined);
  t.equal(core.queuedBroadcasts(), 1, 'a node that knew nobody re-gossips nothing it learnt (only its own alive)');
});

t.test('a push-pull is answered with our state after merging theirs, refutations included', async (t) => {
  const core = makeCore('self', { incarnation: 4 });
  withPeers(core, PEERS);
  const theirs: PushPull = {
    t: 'push-pull',
    join: true,
    states: [
      { node: addrOf('self'), incarnation: 4, state: 'dead', meta: new Uint8Array() },
      { node: addrOf('new'), incarnation: 1, state: 'alive', meta: new Uint8Array([1]) },
      { node: addrOf('b'), incarnation: 1, state: 'dead', meta: new Uint8Array() },
      { node: addrOf('c'), incarnation: 1, state: 'left', meta: new Uint8Array() },
    ],
  };
  const reply = core.receiveStream(10, endpointOf('new'), theirs);
  t.ok(reply);
  t.equal(stateOf(reply!, 'self')?.incarnation, 5, 'refuted before replying');
  t.equal(stateOf(reply!, 'self')?.state, 'alive');
  t.equal(stateOf(reply!, 'new')?.state, 'alive');
  t.equal(core.member('b')?.state, 'suspect', 'a remote death is only a suspicion here (memberlist rule)');
  t.equal(core.member('c')?.state, 'left');
  t.same(core.peekBroadcast('new'), alive('new', 1, new Uint8Array([1])), 'a node with peers passes news on');
  const ev = events(core.takeOutputs()).map((e) => `${e.type}:${e.member.name}`);
  t.same(ev.sort(), ['join:new', 'leave:c', 'suspect:b']);
});

t.test('a suspicion learnt from a push-pull is second-hand: probed once before any verdict', async (t) => {
  // Find a seed whose probe order does not reach b before the timeout, so that the only
  // evidence is the push-pull's (deterministic per seed).
  for (let seed = 1; seed < 50; seed++) {
    const core = makeCore('self', { seed });
    withPeers(core, PEERS);
    const pp: PushPull = {
      t: 'push-pull',
      join: false,
      states: [{ node: addrOf('b'), incarnation: 1, state: 'suspect', meta: new Uint8Array() }],
    };
    core.receiveStream(0, endpointOf('c'), pp);
    core.receive(0, endpointOf('d'), [suspect('b', 1, 'd'), suspect('b', 1, 'e')]); // k confirmations: min = 4 s
    core.takeOutputs();
    const silent = new Set(['b']);
    const before = runTimers(core, 3999, silent);
    if (packets(before).some((p) => isTo(p, 'b') && p.msgs[0].t === 'ping')) continue; // we probed b ourselves
    const atMin = runTimers(core, 4000, silent);
    t.notOk(
      events(atMin).some((e) => e.type === 'dead'),
      `seed ${seed}: no verdict at min on push-pull news alone`,
    );
    t.ok(
      packets(atMin).some((p) => isTo(p, 'b') && p.msgs[0].t === 'ping'),
      'a probe of our own instead',
    );
    t.notOk(
      events(runTimers(core, 5999, silent)).some((e) => e.type === 'dead'),
      'the grace runs two probe intervals',
    );
    t.ok(
      events(runTimers(core, 6000, silent)).some((e) => e.type === 'dead' && e.member.name === 'b'),
      'and then the verdict',
    );
    return;
  }
  t.fail('no seed met the premise');
});

t.test('periodic push-pull to one live member', async (t) => {
  const core = makeCore('self', { config: { pushPullIntervalMs: 5000 } });
  withPeers(core, PEERS);
  const s = streams(runTimers(core, 20_000)).filter((o) => o.msg.t === 'push-pull');
  t.ok(s.length >= 3 && s.length <= 5, `about every 5 s (${s.length} in 20 s)`);
  for (const o of s) t.ok(PEERS.some((p) => isTo(o, p)));
});

t.test('gossip: queued updates go to gossipNodes members per round, recently dead included', async (t) => {
  const core = makeCore('self', { config: { gossipToTheDeadTimeMs: 5000 } });
  withPeers(core, ['b', 'c']);
  core.receive(0, endpointOf('x'), dead('b', 1, 'x'));
  core.takeOutputs();
  const early = runTimers(core, 1000);
  t.ok(
    packets(early).some((p) => isTo(p, 'b') && p.msgs[0].t !== 'ping'),
    'dead b still gets gossip, so it could refute',
  );
  t.notOk(
    packets(early).some((p) => isTo(p, 'b') && p.msgs[0].t === 'ping'),
    'but is not probed',
  );
  core.broadcastUser(6000, new Uint8Array([1]));
  const late = runTimers(core, 9000);
  t.notOk(
    packets(late).some((p) => isTo(p, 'b')),
    'not after gossipToTheDeadTime',
  );
  t.ok(packets(late).some((p) => isTo(p, 'c') && p.msgs.some((m) => m.t === 'user')));
});

t.test('piggyback: gossip rides on probe traffic within the datagram budget', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  for (let i = 0; i < 60; i++) core.receive(0, endpointOf('b'), alive(`n${i}`, 1, new Uint8Array(40)));
  core.takeOutputs();
  const out = runTimers(core, 3000);
  const pings = packets(out).filter((p) => p.msgs[0].t === 'ping');
  t.ok(pings.length > 0);
  t.ok(
    pings.every((p) => p.msgs.length > 1),
    'every ping carries gossip',
  );
  for (const p of packets(out)) t.ok(p.bytes <= 1400, `packet of ${p.bytes} bytes fits udpPayload`);
  t.ok(
    packets(out).some((p) => p.bytes > 1000),
    'and packets are filled, not sent one message at a time',
  );
});

t.test('no gossip rides on packets to a member we suspect: those copies would likely be lost', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  for (let i = 0; i < 20; i++) core.receive(0, endpointOf('c'), alive(`n${i}`, 1));
  core.receive(0, endpointOf('c'), suspect('b', 1, 'c'));
  core.takeOutputs();
  const toB = packets(runTimers(core, 10_000, new Set(['b']))).filter((p) => isTo(p, 'b') && p.msgs[0].t === 'ping');
  t.ok(toB.length > 0, 'b is probed');
  for (const p of toB)
    t.same(
      p.msgs.map((m) => m.t),
      ['ping', 'suspect'],
      'the probe and the buddy suspicion only',
    );
});

t.test('retransmit limit: each update is sent retransmitMult * ceil(log10(n+1)) times', async (t) => {
  const core = makeCore('self', { config: { gossipNodes: 1 } });
  withPeers(core, PEERS); // n = 6 → limit 4 * 1 = 4
  core.broadcastUser(0, new Uint8Array([42]));
  const sent = messages(runTimers(core, 20_000)).filter((m) => m.t === 'user').length;
  t.equal(sent, 4);
});

t.test('user payloads are delivered, not relayed', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  const queued = core.queuedBroadcasts();
  core.receive(0, endpointOf('b'), { t: 'user', data: new Uint8Array([1, 2]) });
  const out = core.takeOutputs();
  t.same(
    out.filter((o) => o.kind === 'user'),
    [{ kind: 'user', from: endpointOf('b'), data: new Uint8Array([1, 2]) }],
  );
  t.equal(core.queuedBroadcasts(), queued, 'nothing queued for relaying');
});

t.test('healing: an isolated node retries its seeds; a partitioned one retries dead members', async (t) => {
  t.test('isolated', async (t) => {
    const core = makeCore('self', { config: { healIntervalMs: 10_000 } });
    core.join(0, [endpointOf('b')]);
    core.takeOutputs(); // the seed never answers
    const retries = streams(runTimers(core, 35_000)).filter((o) => isTo(o, 'b'));
    t.ok(retries.length >= 3, `seed retried every heal interval (${retries.length})`);
  });
  t.test('partitioned', async (t) => {
    const core = makeCore('self', { config: { healIntervalMs: 10_000 } });
    withPeers(core, ['b', 'c']);
    core.receive(0, endpointOf('x'), [dead('b', 1, 'x'), dead('c', 1, 'x')]);
    core.takeOutputs();
    const retries = streams(runTimers(core, 35_000)).filter((o) => isTo(o, 'b') || isTo(o, 'c'));
    t.ok(retries.length >= 3, `dead members retried (${retries.length})`);
    t.ok(retries.every((o) => o.msg.t === 'push-pull'));
  });
  t.test('a healthy node with one dead peer in a big cluster rarely retries', async (t) => {
    const core = makeCore('self', { config: { healIntervalMs: 10_000 } });
    const many = Array.from({ length: 100 }, (_, i) => `p${i}`);
    withPeers(core, many);
    core.receive(0, endpointOf('x'), dead('p0', 1, 'x'));
    core.takeOutputs();
    const retries = streams(runTimers(core, 100_000, new Set())).filter((o) => isTo(o, 'p0'));
    t.ok(retries.length <= 2, `chance 1/99 per round (${retries.length} in 10 rounds)`);
  });
});

t.test('same seed, same inputs: identical outputs (determinism)', async (t) => {
  const run = () => {
    const core = makeCore('self', { seed: 9 });
    withPeers(core, PEERS);
    core.receive(0, endpointOf('c'), suspect('b', 1, 'c'));
    return JSON.stringify(runTimers(core, 30_000), (_k, v) => (v instanceof Uint8Array ? [...v] : v));
  };
  t.equal(run(), run());
});

t.test('handlers never throw on odd input', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  const junk: unknown[] = [
    null,
    undefined,
    42,
    'ping',
    [],
    {},
    { t: 'nope' },
    { t: 'ping' },
    { t: 'ping', seq: -1, target: 'self' },
    { t: 'ping', seq: 1.5, target: 'self' },
    { t: 'ping-req', seq: 1, target: 'd' },
    { t: 'ack', seq: 'x' },
    { t: 'nack' },
    { t: 'alive', incarnation: 1, node: { name: '', addr: 'x', port: 1 }, meta: new Uint8Array() },
    { t: 'alive', incarnation: 1, node: { name: 'z', addr: '1.2.3.4', port: 1 }, meta: 'not bytes' },
    { t: 'alive', incarnation: Infinity, node: { name: 'z', addr: '1.2.3.4', port: 1 }, meta: new Uint8Array() },
    { t: 'suspect', incarnation: 1, node: 5, from: 'b' },
    { t: 'dead', incarnation: 1, node: 'b' },
    { t: 'user', data: [1, 2] },
    { t: 'push-pull', join: false, states: 'no' },
    { t: 'alive', incarnation: 1, node: null, meta: new Uint8Array() },
  ];
  const rng = new Xoshiro128(5);
  t.doesNotThrow(() => {
    for (const j of junk) core.receive(1, endpointOf('b'), j as never);
    core.receive(1, endpointOf('b'), junk as never);
    core.receiveStream(1, endpointOf('b'), {
      t: 'push-pull',
      join: false,
      states: [null, 1, { node: {} }, ...junk],
    } as never);
    core.receiveStream(1, endpointOf('b'), null as never);
    core.receiveStreamReply(1, endpointOf('b'), { t: 'push-pull' } as never);
    core.receiveStreamReply(1, endpointOf('b'), 7 as never);
    // random field soup
    for (let i = 0; i < 2000; i++) {
      const pick = <T>(xs: T[]): T => xs[Math.floor(rng.next() * xs.length)];
      const msg: Record<string, unknown> = {
        t: pick(['ping', 'ping-req', 'ack', 'nack', 'alive', 'suspect', 'dead', 'user', 'push-pull']),
      };
      for (const f of ['seq', 'incarnation', 'node', 'from', 'target', 'meta', 'source', 'nack', 'data', 'states']) {
        if (rng.next() < 0.5)
          msg[f] = pick<unknown>([
            0,
            1,
            -1,
            2 ** 60,
            NaN,
            'b',
            'self',
            '',
            null,
            {},
            [],
            new Uint8Array(3),
            addrOf('b'),
            true,
          ]);
      }
      core.receive(2 + i, endpointOf('b'), msg as never);
    }
    runTimers(core, 60_000);
  });
  t.ok(core.stats().rejectedMessages > 20, 'rejections are counted');
  t.equal(core.localMember().state, 'alive');
});

t.test('config presets carry memberlist values', async (t) => {
  const lan = makeConfig('lan');
  t.match(lan, {
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    retransmitMult: 4,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    gossipIntervalMs: 200,
    gossipNodes: 3,
    pushPullIntervalMs: 30_000,
    awarenessMaxMultiplier: 8,
    gossipToTheDeadTimeMs: 30_000,
    udpPayload: 1400,
  });
  t.match(makeConfig('wan'), {
    probeIntervalMs: 5000,
    probeTimeoutMs: 3000,
    suspicionMult: 6,
    gossipNodes: 4,
    gossipIntervalMs: 500,
    pushPullIntervalMs: 60_000,
    gossipToTheDeadTimeMs: 60_000,
  });
  t.match(makeConfig('local'), {
    probeTimeoutMs: 200,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    gossipIntervalMs: 100,
    pushPullIntervalMs: 15_000,
    gossipToTheDeadTimeMs: 15_000,
  });
  t.equal(makeConfig('lan', { probeIntervalMs: 2000 }).probeIntervalMs, 2000);
  t.throws(() => makeConfig('lan', { probeTimeoutMs: 5000 }), RangeError);
  t.throws(() => makeConfig('lan', { gossipNodes: -1 }), RangeError);
  t.throws(() => new SwimCore({ self: { name: '', addr: '', port: 0 }, rng: new Xoshiro128(1), now: 0 }), TypeError);
});

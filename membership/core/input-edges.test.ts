// The core's inputs at their edges, from the survivors of `npm run mutation --
// membership/core:swim1` (issue 18): streams that carry other messages, replies that are
// not push-pulls or come from a refused member, odd senders and clocks, a message that
// throws when read, the datagram budget to the byte, two different seeds, a dead claim's
// slack, and a suspect that talked to us since it was suspected.
import t from 'tap';
import { aliveBytes, toyAuth, toyPki, type ToyPki } from './member-auth.js';
import { msgpackSize } from './size.js';
import type { SwimCore } from './swim.js';
import {
  addrOf,
  alive,
  dead,
  endpointOf,
  events,
  isTo,
  makeCore,
  packets,
  runTimers,
  streams,
  suspect,
  withPeers,
} from './test-harness.js';

const enc = new TextEncoder();

function signed(pki: ToyPki, name: string, incarnation: number) {
  const a = alive(name, incarnation);
  return { ...a, sig: toyAuth(pki, name).sign('alive', aliveBytes(a)), cert: enc.encode(name) };
}

t.test('a stream may carry any message: an alive over a stream is taken', async (t) => {
  const core = makeCore('self');
  t.equal(core.receiveStream(1, endpointOf('b'), alive('b', 3)), undefined, 'no reply to it');
  t.equal(core.member('b')?.incarnation, 3);
  t.equal(core.stats().rejectedMessages, 0);
});

t.test('a push-pull is answered with a reply, not a join', async (t) => {
  const core = makeCore('self');
  const reply = core.receiveStream(1, endpointOf('b'), { t: 'push-pull', join: true, states: [] });
  t.equal(reply?.join, false);
  t.ok(reply?.states.some((s) => s.node.name === 'self'));
});

t.test('a stream reply that is not a push-pull, even null, is counted and changes nothing', async (t) => {
  const core = makeCore('self');
  t.doesNotThrow(() => core.receiveStreamReply(1, endpointOf('b'), null as never));
  t.doesNotThrow(() => core.receiveStreamReply(1, endpointOf('b'), { t: 'ack', seq: 1 } as never));
  t.equal(core.stats().rejectedMessages, 2);
  t.equal(core.members().length, 1);
});

t.test('a stream reply with states but another type is not merged', async (t) => {
  const core = makeCore('self');
  core.receiveStreamReply(1, endpointOf('b'), {
    t: 'ping',
    states: [{ node: addrOf('c'), incarnation: 1, state: 'alive', meta: new Uint8Array() }],
  } as never);
  t.equal(core.member('c'), undefined);
  t.equal(core.stats().rejectedMessages, 1);
});

t.test('the reply of a member in no standing is refused whole', async (t) => {
  const pki = toyPki(['self', 'b', 'c']);
  const core = makeCore('self', { auth: toyAuth(pki, 'self') });
  core.receive(0, endpointOf('b'), signed(pki, 'b', 1));
  core.takeOutputs();
  pki.revoked.add('b');
  core.receiveStreamReply(1, endpointOf('b'), {
    t: 'push-pull',
    join: false,
    states: [{ ...signed(pki, 'c', 1), state: 'alive' }],
  });
  t.equal(core.member('c'), undefined, 'nothing merged from it');
  t.equal(core.stats().authRejects.refused_sender, 1);
});

t.test('a datagram from no endpoint, or a malformed one, is handled without throwing', async (t) => {
  for (const auth of [undefined, toyAuth(toyPki(['self']), 'self')]) {
    const core = makeCore('self', { auth });
    t.doesNotThrow(() => core.receive(1, undefined as never, { t: 'ack', seq: 5 }), `from undefined, auth ${!!auth}`);
    t.equal(core.stats().staleAcks, 1, 'the ack was read');
  }
});

t.test('a message that throws when read is rejected, and the node stays up', async (t) => {
  const core = makeCore('self');
  const booby = {
    get t(): string {
      throw new Error('boom');
    },
  };
  t.doesNotThrow(() => core.receive(1, endpointOf('b'), booby as never));
  t.equal(core.stats().rejectedMessages, 1);
});

t.test('a clock that is not a number is ignored', async (t) => {
  const core = makeCore('self', { now: 0 });
  core.receive(5000, endpointOf('b'), alive('b', 1));
  core.receive('9000' as never, endpointOf('c'), alive('c', 1));
  t.equal(core.member('c')?.lastChange, 5000);
});

t.test('no gossip rides on a packet to a member we hold suspect', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b', 'c', 'd']);
  core.receive(1, endpointOf('c'), suspect('b', 1, 'c'));
  core.takeOutputs();
  core.broadcastUser(2, new Uint8Array([7]));
  t.ok(core.queuedBroadcasts() > 0, 'gossip is waiting');
  core.receive(3, endpointOf('b'), { t: 'ack', seq: 999 }); // b talks: it is told of our verdict
  const toB = packets(core.takeOutputs()).filter((p) => isTo(p, 'b'));
  t.equal(toB.length, 1);
  t.same(
    toB[0].msgs.map((m) => m.t),
    ['suspect'],
    'the verdict alone',
  );
  core.receive(4, endpointOf('c'), { t: 'ping', seq: 1, target: 'self', source: addrOf('c') });
  const toC = packets(core.takeOutputs()).filter((p) => isTo(p, 'c'));
  t.ok(
    toC[0].msgs.some((m) => m.t === 'user'),
    'while an alive member gets it',
  );
});

t.test('a user payload that fills a datagram to the byte is queued; one byte more is streamed', async (t) => {
  const config = { udpPayload: 300, packetOverhead: 40 }; // 260 bytes of messages, 2 per message
  const fits = (bytes: number): number => {
    // The data length whose message measures `bytes` (msgpack's bin header grows past 255).
    for (let n = 0; n < 400; n++) if (msgpackSize({ t: 'user', data: new Uint8Array(n) }) === bytes) return n;
    throw new Error(`no data length measures ${bytes}`);
  };
  const core = makeCore('self', { config });
  withPeers(core, ['b', 'c']);
  const before = core.queuedBroadcasts();
  core.broadcastUser(1, new Uint8Array(fits(258)));
  t.equal(core.queuedBroadcasts(), before + 1, '258 + 2 = 260: queued');
  t.same(streams(core.takeOutputs()), []);
  core.broadcastUser(2, new Uint8Array(fits(259)));
  t.equal(core.queuedBroadcasts(), before + 1, '259 + 2 = 261: not queued');
  t.ok(streams(core.takeOutputs()).length > 0, 'streamed');
});

t.test('two different seeds are both remembered and retried', async (t) => {
  const core = makeCore('self', { config: { healIntervalMs: 1000 } });
  core.join(0, [endpointOf('b'), endpointOf('c')]);
  core.takeOutputs();
  const retried = streams(runTimers(core, 30_000)).filter((o) => o.msg.t === 'push-pull');
  t.ok(
    retried.some((o) => isTo(o, 'b')),
    'the first seed',
  );
  t.ok(
    retried.some((o) => isTo(o, 'c')),
    'and the second',
  );
});

t.test('a dead claim, like a suspicion, may be at most 16 above the incarnation we know', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b', 'c']);
  core.receive(1, endpointOf('c'), dead('b', 1 + 17, 'c'));
  t.equal(core.member('b')?.state, 'alive');
  t.equal(core.stats().implausibleIncarnations, 1);
  core.receive(2, endpointOf('c'), dead('b', 1 + 16, 'c'));
  t.equal(core.member('b')?.state, 'dead');
});

/** Tick until `name` has the state, or `limit`; returns the time. Nobody answers `silent`. */
function until(core: SwimCore, name: string, state: string, limit: number, silent: Set<string>): number {
  for (let now = core.nextDeadline(); now <= limit; now = core.nextDeadline()) {
    runTimers(core, now, silent);
    if (core.member(name)?.state === state) return now;
  }
  return Infinity;
}

t.test('a suspect that talked to us since it was suspected gets a grace probe, even first-hand', async (t) => {
  const silent = new Set(['b']);
  const run = (talks: boolean): { dead: number; pingsToB: number } => {
    const core = makeCore('self', { seed: 9 });
    withPeers(core, ['b', 'c', 'd', 'e']);
    const suspected = until(core, 'b', 'suspect', 60_000, silent);
    if (talks) core.receive(suspected + 1, endpointOf('b'), { t: 'ack', seq: 99_999 });
    core.takeOutputs();
    let pingsToB = 0;
    for (let now = core.nextDeadline(); now <= 200_000; now = core.nextDeadline()) {
      const out = runTimers(core, now, silent);
      pingsToB += packets(out).filter((p) => isTo(p, 'b') && p.msgs[0].t === 'ping').length;
      if (events(out).some((e) => e.type === 'dead')) return { dead: now - suspected, pingsToB };
    }
    return { dead: Infinity, pingsToB };
  };
  const quiet = run(false);
  const talked = run(true);
  t.ok(quiet.dead < Infinity && talked.dead < Infinity, `both declared (${quiet.dead} ms, ${talked.dead} ms)`);
  t.ok(talked.dead >= quiet.dead + 2000, 'the one that talked waited out two more probe intervals');
});

// Each message type with one field out of bounds: counted as rejected exactly once, and
// nothing sent, learnt or announced. The same message with the field in bounds is taken.
// (issue 18's mutation survivors: sync.test.ts's junk feed checks only that nothing throws.)
import t from 'tap';
import { MAX_CERT_BYTES, MAX_INCARNATION, MAX_META_BYTES } from '../messages.js';
import { addrOf, endpointOf, makeCore, withPeers } from './test-harness.js';

const big = new Uint8Array(MAX_CERT_BYTES + 1);

const valid: Record<string, Record<string, unknown>> = {
  ping: { t: 'ping', seq: 1, target: 'self', source: addrOf('b') },
  'ping-req': { t: 'ping-req', seq: 1, target: addrOf('c'), nack: true, source: addrOf('b') },
  ack: { t: 'ack', seq: 1 },
  nack: { t: 'nack', seq: 1 },
  alive: { t: 'alive', incarnation: 2, node: addrOf('d'), meta: new Uint8Array(MAX_META_BYTES) },
  suspect: { t: 'suspect', incarnation: 1, node: 'c', from: 'b' },
  dead: { t: 'dead', incarnation: 1, node: 'c', from: 'b' },
  user: { t: 'user', data: new Uint8Array(1) },
};

const bad: [string, Record<string, unknown>][] = [
  ['ping', { seq: -1 }],
  ['ping', { seq: 1.5 }],
  ['ping', { target: 7 }],
  ['ping-req', { seq: -1 }],
  ['ping-req', { target: { ...addrOf('c'), port: 70_000 } }],
  ['ping-req', { target: 'c' }],
  ['ack', { seq: -1 }],
  ['ack', { seq: '1' }],
  ['nack', { seq: -1 }],
  ['nack', { seq: 2 ** 60 }],
  ['alive', { incarnation: MAX_INCARNATION + 1 }],
  ['alive', { incarnation: -1 }],
  ['alive', { node: { ...addrOf('d'), addr: '' } }],
  ['alive', { meta: new Uint8Array(MAX_META_BYTES + 1) }],
  ['alive', { sig: big }],
  ['alive', { cert: big }],
  ['suspect', { incarnation: MAX_INCARNATION + 1 }],
  ['suspect', { node: '' }],
  ['suspect', { from: '' }],
  ['dead', { incarnation: -1 }],
  ['dead', { node: '' }],
  ['dead', { from: 7 }],
  ['dead', { sig: big }],
  ['dead', { cert: big }],
  ['user', { data: [1] }],
];

function fresh() {
  const core = makeCore('self', { now: 0 });
  withPeers(core, ['b', 'c']);
  core.tick(0);
  core.takeOutputs();
  return core;
}

function snapshot(core: ReturnType<typeof makeCore>) {
  return JSON.stringify(core.members().map((m) => [m.name, m.state, m.incarnation, m.addr, m.port]));
}

t.test('each message type in bounds is taken, not rejected', async (t) => {
  for (const [type, msg] of Object.entries(valid)) {
    const core = fresh();
    core.receive(1, endpointOf('b'), msg as never);
    const s = core.stats();
    t.equal(s.rejectedMessages, 0, type);
    t.equal(s.implausibleIncarnations, 0, type);
  }
});

t.test('one field out of bounds: rejected once, nothing else happens', async (t) => {
  for (const [type, change] of bad) {
    const what = `${type} ${JSON.stringify(change, (_k, v: unknown) => (v instanceof Uint8Array ? `bytes(${v.length})` : v))}`;
    const core = fresh();
    const before = snapshot(core);
    const stats = core.stats();
    core.receive(1, endpointOf('b'), { ...valid[type], ...change } as never);
    const after = core.stats();
    t.equal(after.rejectedMessages, 1, `${what}: rejected once`);
    t.equal(after.staleAcks, stats.staleAcks, `${what}: not taken as a stale ack`);
    t.same(core.takeOutputs(), [], `${what}: nothing sent or announced`);
    t.equal(snapshot(core), before, `${what}: no member changed`);
  }
});

t.test('not a message at all: rejected', async (t) => {
  for (const junk of [null, 7, 'ping', { t: 'gossip' }, { t: 'push-pull', join: false, states: [] }]) {
    const core = fresh();
    core.receive(1, endpointOf('b'), junk as never);
    t.equal(core.stats().rejectedMessages, 1, JSON.stringify(junk));
  }
  const core = fresh();
  core.receiveStreamReply(1, endpointOf('b'), { t: 'ping' } as never);
  t.equal(core.stats().rejectedMessages, 1, 'a stream reply that is no push-pull');
  core.receiveStream(1, endpointOf('b'), { t: 'ack', seq: -1 } as never);
  t.equal(core.stats().rejectedMessages, 2, 'a stream message goes through the same checks');
});

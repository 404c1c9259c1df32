import t from 'tap';
import fc from 'fast-check';
import { checkMessage, checkPacketMessage, isMessage, isPacketMessage } from './validate.js';
import { arbMessage, arbPacketMessage } from './wire-arbitraries.js';

const node = { name: 'a', addr: '10.0.0.1', port: 7946 };

t.test('every generated valid message passes', async (t) => {
  fc.assert(
    fc.property(arbMessage, (m) => checkMessage(m) === undefined),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(arbPacketMessage, (m) => isPacketMessage(m)),
    { numRuns: 1000 },
  );
  t.pass('2000 generated messages accepted');
});

t.test('push-pull is a message but not a packet message', async (t) => {
  const pp = {
    t: 'push-pull',
    join: true,
    states: [{ node, incarnation: 1, state: 'suspect', meta: new Uint8Array(0) }],
  };
  t.ok(isMessage(pp));
  t.equal(checkPacketMessage(pp), 'message: unknown type');
});

t.test('records with extra fields, exotic prototypes or wrong bounds are rejected', async (t) => {
  const cases: [unknown, string][] = [
    [{ t: 'nack', seq: 1, extra: 1 }, 'nack: unexpected field'],
    [
      { t: 'alive', incarnation: 1, node: { ...node, zone: 'x' }, meta: new Uint8Array(0) },
      'alive.node: unexpected field',
    ],
    [Object.assign(new (class Nack {})(), { t: 'nack', seq: 1 }), 'message: not a record'],
    [new Map([['t', 'nack']]), 'message: not a record'],
    [{ t: 'ack', seq: 1, payload: new Uint8Array(513) }, 'ack.payload: longer than 512 bytes'],
    [{ t: 'ack', seq: 1, payload: null }, 'ack.payload: not binary'],
    [
      { t: 'ping', seq: 1, target: 'b', source: { ...node, addr: 'fe80::1%' + 'x'.repeat(80) } },
      'ping.source.addr: not an IP address literal',
    ],
    [
      { t: 'ping', seq: 1, target: 'b', source: { ...node, port: 7946.5 } },
      'ping.source.port: not an integer in 1..65535',
    ],
    [{ t: 'dead', incarnation: Infinity, node: 'a', from: 'a' }, 'dead.incarnation: not a non-negative safe integer'],
    // issue 12: refuting 2^53-1 (+1) gave an unencodable value and the encoder threw
    [{ t: 'dead', incarnation: Number.MAX_SAFE_INTEGER, node: 'a', from: 'b' }, 'dead.incarnation: above 4294967295'],
    [{ t: 'alive', incarnation: 2 ** 32, node, meta: new Uint8Array(0) }, 'alive.incarnation: above 4294967295'],
    [{ t: 'push-pull', join: true, states: 'all' }, 'push-pull.states: not a list'],
    [{ t: 'push-pull', join: 1, states: [] }, 'push-pull.join: not a boolean'],
    [{ t: '__proto__' }, 'message: unknown type'],
    [null, 'message: not a record'],
  ];
  for (const [v, problem] of cases) t.equal(checkMessage(v), problem, problem);
  t.equal(
    checkMessage({ t: 'ping', seq: 1, target: 'b', source: { ...node, addr: 'fe80::1%eth0' } }),
    undefined,
    'IPv6 with a zone is an address',
  );
  t.equal(
    checkMessage({ t: 'user', data: new Uint8Array(100_000) }),
    undefined,
    'user data is bounded by its carrier, not here',
  );
});

// The core's structural guards at their edges: each bound accepted on one side and refused
// on the other, so a driver bug or an unvalidated path cannot reach a handler (issue 18's
// mutation survivors; membership/never-throws.test.ts feeds junk through whole cores).
import t from 'tap';
import { MAX_CERT_BYTES, MAX_INCARNATION, MAX_META_BYTES } from '../messages.js';
import {
  bytesEqual,
  isCounter,
  isIncarnation,
  isMeta,
  isName,
  isNodeAddress,
  isProofBytes,
  isPushNodeState,
} from './guards.js';

t.test('counters and incarnations: safe non-negative integers, incarnations up to uint32', async (t) => {
  t.ok(isCounter(0));
  t.ok(isCounter(Number.MAX_SAFE_INTEGER));
  t.notOk(isCounter(-1));
  t.notOk(isCounter(1.5));
  t.notOk(isCounter(Number.MAX_SAFE_INTEGER + 1));
  t.notOk(isCounter('1'));
  t.ok(isIncarnation(0));
  t.ok(isIncarnation(MAX_INCARNATION));
  t.notOk(isIncarnation(MAX_INCARNATION + 1));
  t.notOk(isIncarnation(-1));
});

t.test('names: 1 to 255 characters of string', async (t) => {
  t.ok(isName('a'));
  t.ok(isName('x'.repeat(255)));
  t.notOk(isName(''));
  t.notOk(isName('x'.repeat(256)));
  t.notOk(isName(7));
});

const good = { name: 'n', addr: '10.0.0.1', port: 7946 };

t.test('node addresses: a name, a non-empty address, a port in 0..65535', async (t) => {
  t.ok(isNodeAddress(good));
  t.ok(isNodeAddress({ ...good, port: 0 }));
  t.ok(isNodeAddress({ ...good, port: 65535 }));
  t.notOk(isNodeAddress({ ...good, port: 65536 }));
  t.notOk(isNodeAddress({ ...good, port: -1 }));
  t.notOk(isNodeAddress({ ...good, port: 1.5 }));
  t.notOk(isNodeAddress({ ...good, port: '7946' }));
  t.notOk(isNodeAddress({ ...good, addr: '' }));
  t.notOk(isNodeAddress({ ...good, addr: 1 }));
  t.notOk(isNodeAddress({ ...good, name: '' }));
  t.notOk(isNodeAddress(null));
  t.notOk(isNodeAddress('n'));
});

t.test('meta and proofs: byte arrays within their limits; proofs may be absent', async (t) => {
  t.ok(isMeta(new Uint8Array(MAX_META_BYTES)));
  t.notOk(isMeta(new Uint8Array(MAX_META_BYTES + 1)));
  t.notOk(isMeta([1, 2]));
  t.ok(isProofBytes(undefined));
  t.ok(isProofBytes(new Uint8Array(MAX_CERT_BYTES)));
  t.notOk(isProofBytes(new Uint8Array(MAX_CERT_BYTES + 1)));
  t.notOk(isProofBytes(null));
  t.notOk(isProofBytes('sig'));
});

t.test('push/pull entries: every field checked, every state name known', async (t) => {
  const entry = { node: good, incarnation: 3, state: 'alive', meta: new Uint8Array(0) };
  for (const state of ['alive', 'suspect', 'dead', 'left']) t.ok(isPushNodeState({ ...entry, state }), state);
  t.notOk(isPushNodeState({ ...entry, state: 'gone' }));
  t.notOk(isPushNodeState({ ...entry, state: undefined }));
  t.ok(isPushNodeState({ ...entry, sig: new Uint8Array(64), cert: new Uint8Array(8), leave: new Uint8Array(64) }));
  const big = new Uint8Array(MAX_CERT_BYTES + 1);
  t.notOk(isPushNodeState({ ...entry, sig: big }), 'sig');
  t.notOk(isPushNodeState({ ...entry, cert: big }), 'cert');
  t.notOk(isPushNodeState({ ...entry, leave: big }), 'leave');
  t.notOk(isPushNodeState({ ...entry, node: { ...good, port: -1 } }), 'node');
  t.notOk(isPushNodeState({ ...entry, incarnation: MAX_INCARNATION + 1 }), 'incarnation');
  t.notOk(isPushNodeState({ ...entry, meta: 'm' }), 'meta');
  t.notOk(isPushNodeState(null));
  t.notOk(isPushNodeState(3));
});

t.test('bytesEqual compares length and every byte', async (t) => {
  const a = Uint8Array.of(1, 2, 3);
  t.ok(bytesEqual(a, a));
  t.ok(bytesEqual(a, Uint8Array.of(1, 2, 3)));
  t.notOk(bytesEqual(a, Uint8Array.of(1, 2)));
  t.notOk(bytesEqual(Uint8Array.of(1, 2), a));
  t.notOk(bytesEqual(a, Uint8Array.of(1, 2, 4)));
  t.notOk(bytesEqual(a, Uint8Array.of(0, 2, 3)));
  t.ok(bytesEqual(new Uint8Array(0), new Uint8Array(0)));
});

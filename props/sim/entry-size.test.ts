// entrySize must give the default measure of a push/pull entry exactly, or the simulator's
// stream byte counts (bench `scale`, issue 17) would drift from what they were when each
// entry was encoded.
import t from 'tap';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import type { PushNodeState } from '../../membership/messages.js';
import { entrySize } from './entry-size.js';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });

const entry = fc.record(
  {
    node: fc.record({
      name: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 300 })),
      addr: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ unit: 'binary', maxLength: 40 })),
      port: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 65536, max: 2 ** 32 - 1 })),
    }),
    incarnation: fc.oneof(
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 0, max: 2 ** 32 + 5 }),
      fc.integer({ min: -40_000, max: -1 }),
      fc.double({ noNaN: true }),
    ),
    state: fc.constantFrom('alive', 'suspect', 'dead', 'left'),
    meta: fc.oneof(bytes(40), bytes(600), fc.constant(new Uint8Array(70_000))),
    sig: bytes(64),
    cert: fc.oneof(bytes(16), bytes(400)),
    leave: bytes(64),
  },
  { requiredKeys: ['node', 'incarnation', 'state', 'meta'] },
) as fc.Arbitrary<PushNodeState>;

t.test('entrySize is the packed length of any entry', async (t) => {
  fc.assert(
    fc.property(entry, (e) => entrySize(e) === pack(e).length),
    { numRuns: 3000 },
  );
  t.pass('3,000 entries');
});

t.test('around each header boundary', async (t) => {
  const base = (): PushNodeState => ({
    node: { name: 'n', addr: '10.0.0.1', port: 7946 },
    incarnation: 0,
    state: 'alive',
    meta: new Uint8Array(0),
  });
  for (const n of [0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000]) {
    const e = { ...base(), incarnation: n };
    t.equal(entrySize(e), pack(e).length, `incarnation ${n}`);
  }
  for (const n of [0x1f, 0x20, 0xff, 0x100, 0xffff, 0x10000]) {
    const e = base();
    e.node = { ...e.node, name: 'x'.repeat(n) };
    t.equal(entrySize(e), pack(e).length, `a name of ${n} bytes`);
    e.node = { ...e.node, name: 'é'.repeat(n >> 1) };
    t.equal(entrySize(e), pack(e).length, `a name of ${n >> 1} two-byte characters`);
  }
  for (const n of [0xff, 0x100, 0xffff, 0x10000]) {
    const e = { ...base(), meta: new Uint8Array(n) };
    t.equal(entrySize(e), pack(e).length, `meta of ${n} bytes`);
    const s = { ...base(), sig: new Uint8Array(n) };
    t.equal(entrySize(s), pack(s).length, `sig of ${n} bytes`);
  }
});

t.test('an entry of another shape is measured by encoding it', async (t) => {
  const odd = [
    { node: { name: 'n', addr: 'a', port: 1, extra: 1 }, incarnation: 1, state: 'alive', meta: new Uint8Array(1) },
    { node: { name: 'n', addr: 'a' }, incarnation: 1, state: 'alive', meta: new Uint8Array(1) },
    { node: { name: 'n', addr: 'a', port: 1 }, incarnation: 1, state: 'alive', meta: [1, 2] },
    {
      node: { name: 'n', addr: 'a', port: 1 },
      incarnation: 1,
      state: 'alive',
      meta: new Uint8Array(1),
      sig: undefined,
    },
    { node: { name: 'n', addr: 'a', port: 1 }, incarnation: 1, state: 'alive', meta: new Uint8Array(1), other: 'x' },
    {
      sig: new Uint8Array(2),
      node: { name: 'n', addr: 'a', port: 1 },
      incarnation: 1,
      state: 'alive',
      meta: new Uint8Array(1),
    },
    { node: { name: 'n', addr: 'a', port: 1 }, incarnation: 1, state: 7, meta: new Uint8Array(1) },
    { node: { name: 1, addr: 'a', port: 1 }, incarnation: 1, state: 'alive', meta: new Uint8Array(1) },
    { node: null, incarnation: 1, state: 'alive', meta: new Uint8Array(1) },
    { node: { name: 'n', addr: 'a', port: 1 }, incarnation: 1, state: 'alive' },
  ];
  for (const e of odd)
    t.equal(entrySize(e as unknown as PushNodeState), pack(e).length, JSON.stringify(Object.keys(e)));
});

t.test('keys that objects inherit are not taken for entry keys', async (t) => {
  const base = { node: { name: 'n', addr: 'a', port: 1 }, incarnation: 1, state: 'alive', meta: new Uint8Array(1) };
  for (const k of ['constructor', 'toString', '__proto__x']) {
    const e = { ...base, [k]: new Uint8Array(2) };
    t.equal(entrySize(e as unknown as PushNodeState), pack(e).length, k);
  }
});

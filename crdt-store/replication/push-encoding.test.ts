// A push is encoded from its change list's msgpack, kept per list (wire.ts encodePush).
// Its bytes must be exactly those of packing the whole message, as before: agents of both
// kinds read each other's pushes, and the simulator's byte counts stay comparable. A list
// sent again with another limit, other announcements or certificates must not come back
// with the first message's fields. encodedSize, which a simulator that hands messages on whole
// counts instead of making their bytes, must be their length, for a push and for every other
// message it counts rather than packs.
import t from 'tap';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { encode, encodedSize, NO_FORWARD, type Message, type WireChange } from './wire.js';

// wire.ts's Packr options, and its positional form of a push.
const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });
type Push = Extract<Message, { t: 'push' }>;
function packedWhole(m: Push): Uint8Array {
  const fields: unknown[] = [
    1,
    m.origin,
    m.limit,
    m.changes.map((c) => {
      const id = Buffer.from(c.id, 'hex');
      return c.auth ? [c.docId, c.epoch, id, c.change, c.auth] : [c.docId, c.epoch, id, c.change];
    }),
  ];
  const ann = m.ann && m.ann.length > 0 ? m.ann : undefined;
  if (ann)
    fields.push(
      m.certs ?? [],
      ann.map((i) => Buffer.from(i, 'hex')),
    );
  else if (m.certs && m.certs.length > 0) fields.push(m.certs);
  return packr.pack(fields);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const id = fc.uint8Array({ minLength: 8, maxLength: 8 }).map(hex);
const change: fc.Arbitrary<WireChange> = fc.record(
  {
    docId: fc.constantFrom('n/node-1', 's/0', 'n/a-much-longer-node-name-than-most-of-them-0042'),
    epoch: fc.oneof(fc.nat({ max: 200 }), fc.nat({ max: 2 ** 40 })),
    id,
    change: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    auth: fc.uint8Array({ minLength: 1, maxLength: 80 }),
  },
  { requiredKeys: ['docId', 'epoch', 'id', 'change'] },
);
// What differs between the pushes of one list: the receiver's range, announcements, certificates.
const fields = fc.record(
  {
    origin: fc.string({ minLength: 1, maxLength: 40 }),
    limit: fc.oneof(fc.constant(NO_FORWARD), fc.nat({ max: 127 }), fc.nat({ max: 2 ** 52 - 1 })),
    certs: fc.array(fc.uint8Array({ minLength: 1, maxLength: 60 }), { maxLength: 3 }),
    ann: fc.array(id, { maxLength: 16 }),
  },
  { requiredKeys: ['origin', 'limit'] },
);

t.test('a push is byte for byte the whole message packed, however often its list is sent', async (t) => {
  fc.assert(
    fc.property(
      fc.array(change, { maxLength: 20 }),
      fc.array(fields, { minLength: 1, maxLength: 4 }),
      (changes, sends) => {
        for (const f of sends) {
          const m: Push = { t: 'push', changes, ...f };
          const got = hex(encode(m));
          const want = hex(packedWhole(m));
          if (got !== want) throw new Error(`differs:\n${got}\n${want}`);
          // What a simulator that shares its messages counts instead of making the bytes.
          const size = encodedSize(m);
          if (size !== want.length / 2) throw new Error(`size ${size}, bytes ${want.length / 2}`);
        }
        return true;
      },
    ),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 1000) },
  );
  t.pass();
});

t.test('a list of 16 changes or more (a longer array header) and one of none', async (t) => {
  const c = (i: number): WireChange => ({
    docId: 'n/node-1',
    epoch: 1,
    id: i.toString(16).padStart(16, '0'),
    change: Uint8Array.of(i),
  });
  for (const changes of [
    [],
    Array.from({ length: 16 }, (_, i) => c(i)),
    Array.from({ length: 70_000 }, (_, i) => c(i)),
  ]) {
    const m: Push = { t: 'push', origin: 'node-2', limit: 2 ** 40, changes, ann: ['00000000000000ff'] };
    t.equal(hex(encode(m)), hex(packedWhole(m)), `${changes.length} changes`);
    t.equal(encodedSize(m), packedWhole(m).length, `${changes.length} changes, counted`);
  }
});

// The other messages a simulator counts without packing: lazy announcements and anti-entropy.
const docId = fc.constantFrom('n/node-1', 's/0', 'n/' + 'x'.repeat(40), 'n/' + 'é'.repeat(20));
const epoch = fc.oneof(fc.nat({ max: 200 }), fc.nat({ max: 2 ** 40 }));
const int32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -40, max: 300 }));
const counted: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    t: fc.constant('ihave' as const),
    items: fc.array(fc.record({ docId, epoch, id }), { maxLength: 40 }),
  }),
  fc.record({ t: fc.constant('graft' as const), ids: fc.array(id, { maxLength: 40 }) }),
  fc.record({ t: fc.constant('digest' as const), root: int32 }),
  fc.record({ t: fc.constant('groups' as const), root: int32, groups: fc.array(int32, { maxLength: 40 }) }),
);

t.test('an announcement, a graft, a digest and its groups are counted as long as they are encoded', async (t) => {
  fc.assert(
    fc.property(counted, (m) => {
      const want = encode(m).length;
      if (encodedSize(m) !== want) throw new Error(`${m.t}: counted ${encodedSize(m)}, encoded ${want}`);
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 1000) },
  );
  t.pass();
});

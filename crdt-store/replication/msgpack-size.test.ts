// msgpack-size.ts counts what msgpackr writes, with wire.ts's options: every kind of value a
// message holds, drawn across each size class's edges, is packed and its length compared.
import t from 'tap';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { arrayHeaderSize, binSize, numberSize, stringSize } from './msgpack-size.js';

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

type Value = number | string | Uint8Array | Value[];

function sizeOf(v: Value): number {
  if (typeof v === 'number') return numberSize(v);
  if (typeof v === 'string') return stringSize(v);
  if (v instanceof Uint8Array) return binSize(v.length);
  return v.reduce((n: number, e) => n + sizeOf(e), arrayHeaderSize(v.length));
}

// Lengths and values at and around each class's edges.
const edges = (limits: number[]) => fc.constantFrom(...limits.flatMap((l) => [l - 1, l, l + 1]));
const number = fc.oneof(
  edges([0x20, 0x40, 0x80, 0x100, 0x10000, 2 ** 32]),
  edges([-0x20, -0x80, -0x8000, -(2 ** 31)]),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-0, 2 ** 52, -(2 ** 53), Number.MAX_SAFE_INTEGER),
);
const length = fc.oneof(edges([0x20, 0x40, 0x100]), fc.nat({ max: 300 }));
const unit = fc.oneof(
  fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\udc00', 'x\ud83d'),
  fc.string({ unit: 'binary', maxLength: 3 }),
);
const string = fc.oneof(
  length.map((n) => 'k'.repeat(n)),
  fc.tuple(length, fc.array(unit, { maxLength: 40 })).map(([n, us]) => 'k'.repeat(n) + us.join('')),
  fc.constantFrom('k'.repeat(0xffff), 'é'.repeat(0x8000)),
);
const bin = fc.oneof(
  length.map((n) => new Uint8Array(n)),
  fc.constantFrom(new Uint8Array(0xffff), new Uint8Array(0x10000)),
);
const { value } = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    number,
    string,
    bin,
    fc.array(tie('value'), { maxLength: 20 }),
    fc.integer({ min: 0x0f, max: 0x11 }).map((n): Value[] => new Array<number>(n).fill(1)),
  ),
}));

t.test('each value is as long as msgpackr packs it', async (t) => {
  fc.assert(
    fc.property(value, (v) => {
      const want = packr.pack(v).length;
      const got = sizeOf(v);
      if (got !== want) throw new Error(`counted ${got}, packed ${want}`);
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 1000) },
  );
  t.equal(sizeOf(new Array<number>(0x10000).fill(0)), packr.pack(new Array<number>(0x10000).fill(0)).length);
});

// Fuzz of the replication decoder and of the core's inputs: any bytes from the network
// yield a validated message or a counted reject, never a throw, and never touch the store.
import t from 'tap';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decode, encode, REJECT_REASONS, NO_FORWARD, type Message } from './wire.js';
import { DIGEST_GROUPS } from './digest.js';
import { StoreCore } from './core.js';
import { LocalStore } from '../local-store.js';
import { Xoshiro128 } from '../../base/rng.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

const docId = fc.oneof(
  fc.constantFrom('n/node-1', 's/0', 's/15'),
  // eslint-disable-next-line no-control-regex -- document ids may not hold control characters, so the generator replaces them
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `n/${s.replace(/[\u0000-\u001f\u007f*]/g, 'x')}`),
);
const epoch = fc.nat({ max: 2 ** 40 });
const id = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex'));
const bytes = fc.uint8Array({ minLength: 1, maxLength: 50 });
const u32 = fc.nat({ max: 0xffffffff });

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record(
    {
      t: fc.constant('push' as const),
      origin: fc.string({ minLength: 1, maxLength: 10 }),
      limit: fc.oneof(fc.constant(NO_FORWARD), fc.nat({ max: 2 ** 52 - 1 })),
      changes: fc.array(fc.record({ docId, epoch, id, change: bytes }), { maxLength: 4 }),
      ann: fc.array(id, { minLength: 1, maxLength: 4 }),
    },
    { requiredKeys: ['t', 'origin', 'limit', 'changes'] },
  ),
  fc.record({ t: fc.constant('ihave' as const), items: fc.array(fc.record({ docId, epoch, id }), { maxLength: 4 }) }),
  fc.record({ t: fc.constant('graft' as const), ids: fc.array(id, { maxLength: 4 }) }),
  fc.record({ t: fc.constant('digest' as const), root: u32 }),
  fc.record({
    t: fc.constant('groups' as const),
    root: u32,
    groups: fc.array(u32, { minLength: DIGEST_GROUPS, maxLength: DIGEST_GROUPS }),
  }),
  fc.record({
    t: fc.constant('sync' as const),
    session: u32,
    round: fc.oneof(fc.constant(0), u32),
    groups: fc.array(fc.nat({ max: DIGEST_GROUPS - 1 }), { maxLength: 5 }),
    entries: fc.array(fc.record({ docId, epoch, hash: u32 }), { maxLength: 4 }),
    items: fc.array(fc.record({ docId, epoch, msg: bytes }), { maxLength: 3 }),
  }),
  fc.record({
    t: fc.constant('sync-reply' as const),
    session: u32,
    items: fc.array(fc.record({ docId, epoch, msg: bytes }), { maxLength: 3 }),
    more: fc.boolean(),
  }),
);

/** Bytes as hex (a decoded Buffer and the Uint8Array it came from compare equal), everything else as is. */
const normalise = (v: unknown): unknown =>
  v instanceof Uint8Array
    ? Buffer.from(v).toString('hex')
    : Array.isArray(v)
      ? v.map(normalise)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]))
        : v;

t.test('valid messages round-trip', async (t) => {
  fc.assert(
    fc.property(message, (m) => {
      const r = decode(encode(m));
      if (!r.ok) throw new Error(`rejected ${r.reason}: ${JSON.stringify(normalise(m))}`);
      if (JSON.stringify(normalise(r.msg)) !== JSON.stringify(normalise(m))) throw new Error('changed in transit');
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

const anyPackr = new Packr({ useRecords: false, moreTypes: true, structuredClone: true });
const anything = fc.anything({
  withBigInt: true,
  withMap: true,
  withSet: true,
  withDate: true,
  withTypedArray: true,
  withNullPrototype: true,
  maxDepth: 3,
});

t.test('garbage never throws and always has a reason', async (t) => {
  const reasons = new Map<string, number>();
  const check = (buf: Uint8Array) => {
    const r = decode(buf);
    if (!r.ok) {
      if (!REJECT_REASONS.includes(r.reason)) throw new Error(`unknown reason ${r.reason}`);
      reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
    }
  };
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc
          .tuple(fc.integer({ min: -1, max: 9 }), fc.array(anything, { maxLength: 6 }))
          .map(([code, rest]) => anyPackr.pack([code, ...rest])),
        fc.tuple(message, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([m, at, x]) => {
          const b = Buffer.from(encode(m));
          b[at % b.length] ^= x;
          return b;
        }),
        fc.tuple(message, fc.nat()).map(([m, cut]) => {
          const b = encode(m);
          return b.subarray(0, cut % b.length);
        }),
      ),
      (buf) => {
        check(buf);
        return true;
      },
    ),
    { numRuns: RUNS * 3 },
  );
  t.comment(`rejects: ${JSON.stringify(Object.fromEntries(reasons))}`);
  t.ok((reasons.get('malformed') ?? 0) > 0 && (reasons.get('invalid_field') ?? 0) > 0);
});

t.test('the core takes any input without throwing; the store only changes through valid changes', async (t) => {
  let now = 1;
  const store = new LocalStore({ name: 'me', clock: () => now });
  store.put('mine', 1);
  const core = new StoreCore({ store, rng: new Xoshiro128(5), now });
  core.setMembers(now, [{ name: 'peer', addr: '10.0.0.2', port: 7947 }]);
  const before = JSON.stringify(store.entries('', { view: 'all' }));
  const from = { addr: '10.0.0.2', port: 7947 };
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 200 }), message.map(encode)),
      fc.constantFrom('packet', 'stream', 'reply'),
      (buf, how) => {
        now += 7;
        if (how === 'packet') core.receivePacket(now, from, buf);
        else if (how === 'stream') core.receiveStream(now, from, buf);
        else core.receiveStreamReply(now, from, buf);
        core.tick(now);
        core.takeOutputs(now);
        return true;
      },
    ),
    { numRuns: RUNS },
  );
  t.equal(JSON.stringify(store.entries('', { view: 'all' })), before, 'random input changed no record');
  const s = core.stats();
  t.ok(
    s.rejects.malformed > 0 && s.rejects.bad_change > 0 && s.rejects.bad_sync > 0,
    `rejects counted: ${JSON.stringify(s.rejects)}`,
  );
});

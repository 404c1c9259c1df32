import t from 'tap';
import fc from 'fast-check';
import { BroadcastRing } from './ring.js';
import { Digest, DIGEST_GROUPS } from './digest.js';

/** Runs one broadcast from `origin` over rings built from each node's `view`; returns receipts per node and the depth. */
function broadcast(names: string[], origin: string, view: (node: string) => string[], fanout = 2) {
  const rings = new Map<string, BroadcastRing>();
  for (const n of names) {
    const r = new BroadcastRing(0, fanout);
    r.setMembers(view(n));
    rings.set(n, r);
  }
  const received = new Map<string, number>();
  let depth = 0;
  let frontier: { node: string; limit: number | undefined }[] = [{ node: origin, limit: undefined }];
  while (frontier.length > 0) {
    const next: typeof frontier = [];
    for (const f of frontier) {
      for (const c of rings.get(f.node)!.children(f.node, f.limit)) {
        received.set(c.name, (received.get(c.name) ?? 0) + 1);
        next.push({ node: c.name, limit: c.limit });
      }
    }
    if (next.length) depth++;
    frontier = next;
  }
  return { received, depth };
}

t.test('with one view everywhere, every node gets a broadcast exactly once within ceil(log2 N) hops', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), (n, o) => {
      const names = Array.from({ length: n }, (_, i) => `node-${i}`);
      const origin = names[o % n];
      const { received, depth } = broadcast(names, origin, () => names);
      for (const x of names) {
        const k = received.get(x) ?? 0;
        if (x === origin ? k !== 0 : k !== 1) throw new Error(`${x} received ${k} copies (n=${n})`);
      }
      if (depth > Math.ceil(Math.log2(n))) throw new Error(`depth ${depth} for n=${n}`);
      return true;
    }),
    { numRuns: 200 },
  );
  t.pass();
});

t.test('with fan-out F, every node gets a broadcast exactly once within ceil(log_F N) hops', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 2, max: 16 }), fc.nat(), (n, f, o) => {
      const names = Array.from({ length: n }, (_, i) => `node-${i}`);
      const origin = names[o % n];
      const { received, depth } = broadcast(names, origin, () => names, f);
      for (const x of names) {
        const k = received.get(x) ?? 0;
        if (x === origin ? k !== 0 : k !== 1) throw new Error(`${x} received ${k} copies (n=${n}, f=${f})`);
      }
      // log_F N computed with a little slack for floating point (log(8)/log(2) is not exactly 3).
      if (depth > Math.ceil(Math.log(n) / Math.log(f) - 1e-9)) throw new Error(`depth ${depth} for n=${n}, f=${f}`);
      return true;
    }),
    { numRuns: 100 },
  );
  t.pass();
});

t.test('views that differ by a few members: no duplicates, only the unknown ones missed', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 5, max: 120 }), fc.array(fc.nat(), { maxLength: 4 }), (n, holes) => {
      const names = Array.from({ length: n }, (_, i) => `node-${i}`);
      // Each node misses a few members from its view (stale membership).
      const missing = new Set(holes.map((h) => names[1 + (h % (n - 1))]));
      const { received } = broadcast(
        names,
        names[0],
        (node) => names.filter((x) => x === node || !missing.has(x) || node.length % 2 === 0),
        1 + (n % 9),
      );
      for (const [x, k] of received) if (k > 1) throw new Error(`${x} received ${k} copies`);
      return true;
    }),
    { numRuns: 200 },
  );
  t.pass();
});

t.test('digest: equal contents give equal roots whatever the order; differing groups are found', async (t) => {
  const a = new Digest();
  const b = new Digest();
  const docs = Array.from({ length: 200 }, (_, i) => `n/node-${i}`);
  docs.forEach((d, i) => a.set(d, 1, i * 7919));
  [...docs].reverse().forEach((d, i) => b.set(d, 1, (docs.length - 1 - i) * 7919));
  t.equal(a.root(), b.root());
  t.same(a.differingGroups(b.groups()), []);
  b.set('n/node-7', 1, 1);
  t.not(a.root(), b.root());
  const diff = a.differingGroups(b.groups());
  t.equal(diff.length, 1);
  t.ok(a.docsIn(diff).some((d) => d.docId === 'n/node-7'));
  t.same(Object.keys(a.docsIn(diff)[0]).sort(), ['docId', 'epoch', 'hash'], 'what a sync message lists, no more');
  t.equal(a.docsIn(diff).length, a.groupSize(diff[0]), 'as many as the group holds');
  b.set('n/node-7', 1, 7 * 7919);
  t.equal(a.root(), b.root(), 'XOR undoes an update exactly');
  b.remove('n/node-3');
  t.not(a.root(), b.root());
  t.equal(a.groups().length, DIGEST_GROUPS);
});

// The digest keeps hashes as int32s (unboxed in V8); what it lists is what the wire carries, uint32s.
t.test('digest: hashes past 2^31 come back as the same uint32', async (t) => {
  const d = new Digest();
  d.set('n/a', 3, 0xfedcba98);
  d.set('n/b', 4, 0x12345678);
  t.same(d.get('n/a'), { epoch: 3, hash: 0xfedcba98 });
  const listed = [...Array(DIGEST_GROUPS).keys()].flatMap((g) => d.docsIn([g]));
  t.same(
    listed.sort((x, y) => x.docId.localeCompare(y.docId)),
    [
      { docId: 'n/a', epoch: 3, hash: 0xfedcba98 },
      { docId: 'n/b', epoch: 4, hash: 0x12345678 },
    ],
  );
  d.set('n/a', 3, 0xfedcba98);
  const root = d.root();
  d.remove('n/a');
  d.set('n/a', 3, 0xfedcba98);
  t.equal(d.root(), root, 'the same hash set again is the same digest');
});

t.test("digest: a removed document's slot is taken by the next one, and nothing of it shows", async (t) => {
  const d = new Digest();
  d.set('n/a', 1, 11);
  d.set('n/b', 2, 22);
  d.remove('n/a');
  t.equal(d.get('n/a'), undefined);
  d.set('n/c', 3, 33);
  d.set('n/d', 4, 44);
  t.same(
    [d.get('n/a'), d.get('n/b'), d.get('n/c'), d.get('n/d')],
    [undefined, { epoch: 2, hash: 22 }, { epoch: 3, hash: 33 }, { epoch: 4, hash: 44 }],
  );
  t.equal(d.size, 3);
  const all = [...Array(DIGEST_GROUPS).keys()];
  t.same(
    d
      .docsIn(all)
      .map((e) => e.docId)
      .sort(),
    ['n/b', 'n/c', 'n/d'],
    'listed once each, a not at all',
  );
  t.equal(
    all.reduce((n, g) => n + d.groupSize(g), 0),
    3,
    'the groups hold three',
  );
  const fresh = new Digest();
  fresh.set('n/b', 2, 22);
  fresh.set('n/c', 3, 33);
  fresh.set('n/d', 4, 44);
  t.equal(d.root(), fresh.root(), 'the same digest as one that never held a');
});

// DocPool (doc-pool.ts): stores sharing read-only documents must each still see only what
// reached them, and the pool must stay within its bound.
import t from 'tap';
import { DocPool } from './doc-pool.js';
import { LocalStore, type LocalChange } from './local-store.js';
import { ownDocId, sharedDocId, bucketOf } from './names.js';

const NOW = 1_700_000_000_000;
/** A store that holds every writer of these tests alive (the live view shows only their records). */
function store(name: string, docPool?: DocPool): LocalStore {
  const s = new LocalStore({ name, clock: () => NOW, docPool });
  s.setAlive(['a', 'b', 'c', 'w', ...Array.from({ length: 6 }, (_, i) => `w${i}`)]);
  return s;
}

/** What `s` writes from now on, as its peers would receive it. */
function record(s: LocalStore): LocalChange[] {
  const out: LocalChange[] = [];
  s.observe({ localChange: (c) => out.push(c) });
  return out;
}

/** `s`'s own document as a peer first receives it: its whole history. */
function ownDoc(s: LocalStore) {
  const d = s.doc(ownDocId(s.name))!;
  return { id: d.id, epoch: d.epoch, bytes: d.save() };
}

t.test('two stores share a document until one of them receives a change the other did not', async (t) => {
  const pool = new DocPool();
  const [a, b] = [store('a', pool), store('b', pool)];
  const c = store('c');
  const sent = record(c);
  c.put('svc/web/c/1', { port: 80 });
  const d = ownDoc(c);
  t.equal(a.applyRemote(d.id, d.epoch, [d.bytes]), 'applied');
  t.equal(b.applyRemote(d.id, d.epoch, [d.bytes]), 'applied');
  t.ok(a.doc(d.id)!.shared && b.doc(d.id)!.shared, 'both read the pooled document');
  const before = pool.stats();
  // The digest's hash of a history, which the pool keeps for its sharers: each replica's is the writer's.
  const hashes = () => [a, b, c].map((s) => s.doc(d.id)!.headsHash());
  t.equal(new Set(hashes()).size, 1, 'one history, one hash');

  c.put('svc/web/c/2', { port: 81 });
  const x = sent.at(-1)!;
  t.equal(a.applyRemote(x.docId, x.epoch, [x.change]), 'applied');
  t.same(a.get('svc/web/c/2')?.value, { port: 81 }, 'a has the change');
  t.equal(b.get('svc/web/c/2'), undefined, 'b does not: it never received it');
  t.same(b.keys(), ['svc/web/c/1']);
  t.not(a.doc(d.id)!.heads()[0], b.doc(d.id)!.heads()[0], 'different heads');
  const [ha, hb, hc] = hashes();
  t.ok(ha === hc && hb !== ha, "a's hash is the writer's, b's still the first history's");

  // b receives the same bytes: it follows a's transition, without applying them itself.
  const events: string[] = [];
  b.watch('svc/', (e) => {
    if (!e.initial) events.push(e.key);
  });
  t.equal(b.applyRemote(x.docId, x.epoch, [x.change]), 'applied');
  t.same(b.get('svc/web/c/2')?.value, { port: 81 });
  t.same(events, ['svc/web/c/2'], 'b sees the change as its own event');
  t.equal(pool.stats().hits, before.hits + 1, 'followed from the pool');
  t.same(a.doc(d.id)!.heads(), b.doc(d.id)!.heads());
  t.equal(new Set(hashes()).size, 1, "b's hash follows it");
  t.equal(b.applyRemote(x.docId, x.epoch, [x.change]), 'unchanged', 'a duplicate changes nothing');
  for (const s of [a, b, c]) s.close();
  t.equal(pool.stats().unreferenced, pool.stats().docs, 'closed stores hold nothing');
});

t.test('a local write to a shared document stays with its writer', async (t) => {
  const pool = new DocPool();
  const [a, b] = [store('a', pool), store('b', pool)];
  const w = store('w');
  const key = 'kv/x';
  const id = sharedDocId(bucketOf(key));
  w.put(key, 1, { shared: true });
  const bytes = w.doc(id)!.save();
  a.applyRemote(id, 0, [bytes]);
  b.applyRemote(id, 0, [bytes]);
  t.ok(a.doc(id)!.shared && b.doc(id)!.shared);

  const fromA = record(a);
  a.put(key, 2, { shared: true });
  t.notOk(a.doc(id)!.shared, "a writes its own copy, not the pool's");
  t.equal(a.get(key)?.value, 2);
  t.equal(b.get(key)?.value, 1, 'b still reads 1');
  t.ok(b.doc(id)!.shared);

  // Concurrent writes at a and b: each holds its own until they exchange changes.
  const fromB = record(b);
  b.put(key, 3, { shared: true });
  t.equal(a.get(key)?.value, 2);
  t.equal(b.get(key)?.value, 3);
  const ca = fromA.at(-1)!;
  const cb = fromB.at(-1)!;
  a.applyRemote(cb.docId, cb.epoch, [cb.change]);
  b.applyRemote(ca.docId, ca.epoch, [ca.change]);
  t.equal(a.get(key)?.value, b.get(key)?.value, 'they agree once both have both');
  t.same(a.doc(id)!.heads().sort(), b.doc(id)!.heads().sort());
  t.equal(a.doc(id)!.save().length > 0, true);
  for (const s of [a, b, w]) s.close();
});

t.test('a change that waits for a missing one is shared only with replicas that got the same bytes', async (t) => {
  const pool = new DocPool();
  const [a, b, e] = [store('a', pool), store('b', pool), store('e', pool)];
  const c = store('c');
  const d0 = ownDoc(c);
  for (const s of [a, b, e]) s.applyRemote(d0.id, d0.epoch, [d0.bytes]);
  const sent = record(c);
  c.put('node/c', { addr: '10.0.0.1' });
  c.put('svc/web/c/1', { port: 80 });
  const [first, second] = sent;
  t.equal(a.applyRemote(second!.docId, second!.epoch, [second!.change]), 'unchanged', 'waits for the first');
  t.equal(b.applyRemote(first!.docId, first!.epoch, [first!.change]), 'applied');
  t.same(b.keys(), ['node/c'], 'b has only the first: nothing of what waits at a');
  const hits = pool.stats().hits;
  t.equal(e.applyRemote(second!.docId, second!.epoch, [second!.change]), 'unchanged', 'e waits likewise');
  t.equal(pool.stats().hits, hits + 1, "e follows a's history, the waiting change inside");
  t.equal(a.applyRemote(first!.docId, first!.epoch, [first!.change]), 'applied');
  t.same(a.keys(), ['node/c', 'svc/web/c/1'], 'a has both once the first came');
  t.equal(e.applyRemote(first!.docId, first!.epoch, [first!.change]), 'applied');
  t.same(e.keys(), ['node/c', 'svc/web/c/1'], 'so does e');
  t.notOk(b.get('svc/web/c/1'), 'b still lacks the second');
  t.equal(b.applyRemote(second!.docId, second!.epoch, [second!.change]), 'applied');
  t.same(b.doc(d0.id)!.heads(), a.doc(d0.id)!.heads());
  for (const s of [a, b, c, e]) s.close();
});

t.test("a new epoch's last change first, then its first, at two replicas", async (t) => {
  const pool = new DocPool();
  const [a, e] = [store('a', pool), store('e', pool)];
  const c = store('c');
  const d = c.doc(ownDocId('c'))!;
  const first = { docId: d.id, epoch: d.epoch, change: d.getChange(d.heads()[0]!)! };
  const sent = record(c);
  c.put('node/c', { addr: '10.0.0.1' });
  c.put('svc/web/c/1', { port: 80 });
  const order = [sent[1]!, first, sent[0]!];
  for (const s of [a, e]) {
    const outcomes = order.map((x) => s.applyRemote(x.docId, x.epoch, [x.change]));
    t.same(outcomes, ['incomplete', 'applied', 'applied'], `${s.name}: adopted with the first change`);
    t.same(s.keys(), ['node/c', 'svc/web/c/1'], `${s.name} has every change`);
  }
  t.ok(pool.stats().hits >= 3, 'e followed a');
  t.same(a.doc(d.id)!.heads(), c.doc(d.id)!.heads());
  for (const s of [a, e, c]) s.close();
});

t.test('the pool frees unreferenced documents beyond its capacity, never one in use', async (t) => {
  const pool = new DocPool(2);
  const a = store('a', pool);
  const writers = Array.from({ length: 6 }, (_, i) => store(`w${i}`));
  for (const w of writers) {
    const sent = record(w);
    const d = ownDoc(w);
    a.applyRemote(d.id, d.epoch, [d.bytes]);
    for (let i = 0; i < 3; i++) {
      w.put(`svc/web/${w.name}/${i}`, i);
      const c = sent.at(-1)!;
      a.applyRemote(c.docId, c.epoch, [c.change]);
    }
  }
  const s = pool.stats();
  t.ok(s.unreferenced <= 2, `unreferenced ${s.unreferenced} <= capacity`);
  t.ok(s.freed > 0, 'older histories were freed');
  t.equal(s.docs - s.unreferenced, 6, 'the six documents a reads are kept');
  for (const w of writers) {
    t.same(a.keys(`svc/web/${w.name}/`).length, 3);
    t.equal(a.doc(ownDocId(w.name))!.save().length > 0, true, 'readable after the evictions');
  }
  a.close();
  t.throws(() => new DocPool(0), /capacity/);
});

t.test('stores with other value limits cannot share a pool', async (t) => {
  const pool = new DocPool();
  store('a', pool);
  t.throws(
    () => new LocalStore({ name: 'b', clock: () => NOW, docPool: pool, limits: { maxBytes: 10 } }),
    /same value limits/,
  );
});

t.test('a transition to a document the pool freed since is not followed', async (t) => {
  // b still reads w's first history S when a has moved S -> T -> U, and T was freed.
  const pool = new DocPool(1);
  const [a, b] = [store('a', pool), store('b', pool)];
  const w = store('w');
  const sent = record(w);
  const d = ownDoc(w);
  a.applyRemote(d.id, d.epoch, [d.bytes]);
  b.applyRemote(d.id, d.epoch, [d.bytes]);
  w.put('svc/web/w/1', 1);
  const x = sent.at(-1)!;
  w.put('svc/web/w/2', 2);
  const y = sent.at(-1)!;
  a.applyRemote(x.docId, x.epoch, [x.change]); // S -> T, remembered
  a.applyRemote(y.docId, y.epoch, [y.change]); // T -> U: T unreferenced
  // a lets go of everything it reads: T and U are unreferenced, past the capacity of 1.
  a.close();
  t.ok(pool.stats().freed > 0, 'the pool freed documents');
  t.equal(b.applyRemote(x.docId, x.epoch, [x.change]), 'applied');
  t.equal(b.get('svc/web/w/1')?.value, 1, 'b reads what x wrote');
  t.equal(b.doc(x.docId)!.save().length > 0, true, 'from a document that is not freed');
});

t.test('a document remembers a bounded number of transitions', async (t) => {
  // Twelve writers each make a first change to the same shared bucket: twelve transitions
  // from its empty history, one per reader.
  const pool = new DocPool();
  const keys: string[] = [];
  for (let i = 0; keys.length < 12; i++)
    if (bucketOf(`shared/k${i}`) === bucketOf('shared/k0')) keys.push(`shared/k${i}`);
  const changes = keys.map((key, i) => {
    const w = store(`w${i % 6}`);
    const sent = record(w);
    w.put(key, i, { shared: true });
    return sent.at(-1)!;
  });
  t.equal(new Set(changes.map((c) => c.docId)).size, 1, 'one shared document');
  const readers = changes.map((c, i) => {
    const r = store(`r${i}`, pool);
    t.equal(r.applyRemote(c.docId, c.epoch, [c.change]), 'applied');
    return r;
  });
  t.ok(pool.stats().transitions <= 8, `transitions kept: ${pool.stats().transitions}`);
  readers.forEach((r, i) => t.equal(r.get(keys[i]!)?.value, i, `reader ${i} reads its own change`));
});

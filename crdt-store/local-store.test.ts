import t from 'tap';
import { LocalStore, MAX_WAITING_DOCS, type LocalChange } from './local-store.js';
import { StoreValueError } from './json-value.js';
import { SHARED_OWNER, ownDocId } from './names.js';
import type { WatchEvent } from './views.js';

function clock() {
  const c = { now: 1_000, fn: () => c.now };
  return c;
}

function store(
  name: string,
  c = clock(),
  extra: Partial<ConstructorParameters<typeof LocalStore>[0]> = {},
): LocalStore {
  return new LocalStore({ name, clock: c.fn, ...extra });
}

/** Every change `from` makes from now on is applied at `to` (one direction), after what it holds already. */
function pipe(from: LocalStore, to: LocalStore): LocalChange[] {
  copyAll(from, to);
  const seen: LocalChange[] = [];
  from.observe({
    localChange: (c) => {
      seen.push(c);
      to.applyRemote(c.docId, c.epoch, [c.change]);
    },
  });
  return seen;
}

/** Replays everything `from` holds into `to` as full documents. */
function copyAll(from: LocalStore, to: LocalStore): void {
  for (const d of from.documents()) to.applyRemote(d.id, d.epoch, [d.save()]);
}

function events(s: LocalStore, prefix = '', view: 'live' | 'all' = 'live') {
  const out: WatchEvent[] = [];
  const stop = s.watch(prefix, (e) => out.push(e), { view });
  return { out, stop, changes: () => out.filter((e) => !e.initial) };
}

t.test('get, put, update, delete, keys', async (t) => {
  const s = store('a');
  t.equal(s.get('x'), undefined);
  t.same(s.put('svc/web/1', { port: 80 }), {
    changed: true,
    record: { key: 'svc/web/1', value: { port: 80 }, owner: 'a' },
  });
  s.put('svc/web/2', 'two');
  s.put('svc/db/1', [1, 2]);
  s.put('other', null);
  t.same(s.get('svc/web/1'), { key: 'svc/web/1', value: { port: 80 }, owner: 'a' });
  t.same(s.keys('svc/'), ['svc/db/1', 'svc/web/1', 'svc/web/2']);
  t.same(s.keys(), ['other', 'svc/db/1', 'svc/web/1', 'svc/web/2']);
  t.same(
    s.update('svc/web/1', (v) => ({ ...(v as { port: number }), port: 81 })),
    { changed: true, record: { key: 'svc/web/1', value: { port: 81 }, owner: 'a' } },
  );
  t.equal(s.update('svc/web/1', () => ({ port: 81 })).changed, false, 'an equal value is no change');
  t.equal(s.update('svc/web/1', () => undefined).changed, false, 'undefined writes nothing');
  t.equal(s.delete('svc/web/2'), true);
  t.equal(s.delete('svc/web/2'), false);
  t.same(s.keys('svc/web'), ['svc/web/1']);
  t.ok(Object.isFrozen(s.get('svc/web/1')!.value), 'values handed out are frozen');
  t.equal(s.stats().localChanges, 6, 'no-op updates made no change');
});

t.test('values are JSON only, with a clear error', async (t) => {
  const s = store('a');
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cases: [unknown, RegExp][] = [
    [() => 1, /function/],
    [{ f: () => 1 }, /value\.f is a function/],
    [Number.NaN, /NaN/],
    [{ n: [1, Infinity] }, /value\.n\[1\] is Infinity/],
    [10n, /bigint/],
    [undefined, /undefined/],
    [{ u: undefined }, /value\.u is a undefined/],
    [Symbol('x'), /symbol/],
    [cyclic, /value\.self refers back/],
    [new Date(), /Date/],
    [new Map(), /Map/],
    [[1, , 3], /sparse/], // eslint-disable-line no-sparse-arrays
    ['x'.repeat(70_000), /over 65536 bytes/],
    [JSON.parse('['.repeat(40) + ']'.repeat(40)), /deeper than 32/],
  ];
  for (const [v, re] of cases) {
    let caught: unknown;
    try {
      s.put('k', v as never);
    } catch (e) {
      caught = e;
    }
    t.ok(
      caught instanceof StoreValueError && re.test((caught as Error).message),
      `${String(re)}: ${(caught as Error)?.message}`,
    );
  }
  t.throws(() => s.put('', 1), StoreValueError);
  t.throws(() => s.put('a\nb', 1), StoreValueError);
  t.throws(() => s.put('k'.repeat(600), 1), StoreValueError);
  t.throws(() => new LocalStore({ name: '*', clock: () => 0 }), StoreValueError);
  t.same(s.keys(), [], 'nothing was written');
  const shared = { a: [1, 2] };
  s.put('ok', { x: shared, y: shared, big: 1e300, neg: -0.5, s: 'ü\u2028' });
  t.same(
    s.get('ok')!.value,
    { x: { a: [1, 2] }, y: { a: [1, 2] }, big: 1e300, neg: -0.5, s: 'ü\u2028' },
    'a repeated (acyclic) object is fine',
  );
});

t.test('watch: current entries first, then one event per real change', async (t) => {
  const s = store('a');
  s.put('a/1', 1);
  s.put('b/1', 1);
  const w = events(s, 'a/');
  t.same(w.out, [{ key: 'a/1', before: undefined, after: { key: 'a/1', value: 1, owner: 'a' }, initial: true }]);
  s.put('a/1', 1);
  s.put('b/1', 2);
  t.equal(w.changes().length, 0, 'no event for an equal write or another prefix');
  s.put('a/1', 2);
  s.delete('a/1');
  s.put('a/2', { x: 1 });
  t.same(
    w.changes().map((e) => [e.key, e.before?.value, e.after?.value]),
    [
      ['a/1', 1, 2],
      ['a/1', 2, undefined],
      ['a/2', undefined, { x: 1 }],
    ],
  );
  w.stop();
  s.put('a/3', 3);
  t.equal(w.changes().length, 3, 'stopped');
});

t.test('watch handlers may write to the store and may throw', async (t) => {
  const errors: string[] = [];
  const s = store('a', clock(), { onError: (_e, ctx) => errors.push(ctx) });
  const seen: string[] = [];
  s.watch('in/', (e) => {
    if (!e.initial && e.after) s.put(`out/${e.key.slice(3)}`, e.after.value);
  });
  s.watch('', (e) => seen.push(e.key));
  s.watch('in/', () => {
    throw new Error('boom');
  });
  s.put('in/x', 5);
  t.same(s.get('out/x')?.value, 5);
  t.same(seen, ['in/x', 'out/x'], 'events of a write made by a handler come after, in order');
  t.equal(s.stats().watchErrors, 1);
  t.same(errors, ['watch handler']);
});

t.test('batch: one change per document, one event per key', async (t) => {
  const s = store('a');
  const seen = pipe(s, store('b'));
  const w = events(s);
  s.batch(() => {
    for (let i = 0; i < 10; i++) s.put(`k/${i}`, i);
    s.put('k/0', 'again');
    s.put('shared/x', 1, { shared: true });
  });
  t.equal(seen.length, 2, 'own document and one shared bucket');
  t.equal(w.changes().length, 11);
  t.same(s.get('k/0')?.value, 'again');
});

t.test('replicas converge; merges that change nothing are silent', async (t) => {
  const a = store('a');
  const b = store('b');
  a.setAlive(['b']);
  b.setAlive(['a']);
  pipe(a, b);
  pipe(b, a);
  const wa = events(a);
  const wb = events(b);
  a.put('a/x', 1);
  b.put('b/y', 2);
  t.same(a.keys(), ['a/x', 'b/y']);
  t.same(b.keys(), ['a/x', 'b/y']);
  t.same(b.get('a/x'), { key: 'a/x', value: 1, owner: 'a' }, 'the owner travels with the record');
  // Re-delivering everything changes nothing and says nothing.
  const before = wb.changes().length;
  copyAll(a, b);
  copyAll(b, a);
  t.equal(wb.changes().length, before);
  t.same(
    wa.changes().map((e) => e.key),
    ['a/x', 'b/y'],
  );
});

t.test('concurrent shared writes: one winner everywhere; a write beats a concurrent delete', async (t) => {
  const a = store('a');
  const b = store('b');
  a.put('cfg', 'from-a', { shared: true });
  b.put('cfg', 'from-b', { shared: true });
  copyAll(a, b);
  copyAll(b, a);
  t.same(a.get('cfg'), b.get('cfg'));
  t.equal(a.get('cfg')!.owner, SHARED_OWNER);
  // delete at a, concurrent write at b
  a.delete('cfg', { shared: true });
  b.put('cfg', 'again', { shared: true });
  copyAll(a, b);
  copyAll(b, a);
  t.same(a.get('cfg')?.value, 'again');
  t.same(b.get('cfg')?.value, 'again');
});

t.test('one key in several documents: shared first, then owner name order', async (t) => {
  const a = store('a');
  const b = store('b');
  a.setAlive(['b']);
  pipe(b, a);
  b.put('k', 'b-own');
  a.put('k', 'a-own');
  t.same(a.get('k'), { key: 'k', value: 'a-own', owner: 'a' });
  a.put('k', 'shared', { shared: true });
  t.same(a.get('k'), { key: 'k', value: 'shared', owner: SHARED_OWNER });
  a.delete('k', { shared: true });
  a.delete('k');
  t.same(a.get('k'), { key: 'k', value: 'b-own', owner: 'b' });
});

t.test('live view hides records of owners not alive; events on liveness changes', async (t) => {
  const a = store('a');
  const b = store('b');
  pipe(b, a);
  b.put('svc/1', 'b1');
  t.equal(a.get('svc/1'), undefined, 'b not known alive yet');
  t.same(a.get('svc/1', { view: 'all' })?.value, 'b1');
  const live = events(a, 'svc/');
  const all = events(a, 'svc/', 'all');
  a.setAlive(['b']);
  t.same(a.get('svc/1')?.value, 'b1');
  a.setAlive(['b', 'c']);
  a.setAlive([]);
  t.equal(a.get('svc/1'), undefined);
  t.same(
    live.changes().map((e) => [e.before?.value, e.after?.value]),
    [
      [undefined, 'b1'],
      ['b1', undefined],
    ],
  );
  t.equal(all.changes().length, 0, 'the all view did not change');
  t.same(a.keys('', { view: 'all' }), ['svc/1']);
});

t.test('reaping: same rule everywhere, refused until the owner is back', async (t) => {
  const c = clock();
  const a = store('a', c, { reapAfterMs: 60_000 });
  const b = store('b', c);
  pipe(b, a);
  a.setAlive(['b']);
  b.put('k', 1);
  a.setAlive([]);
  c.now += 59_999;
  t.same(a.reap(), []);
  c.now += 1;
  const all = events(a, '', 'all');
  t.same(a.reap(), ['b']);
  t.equal(a.doc(ownDocId('b')), undefined);
  t.same(
    all.changes().map((e) => [e.key, e.after]),
    [['k', undefined]],
  );
  t.equal(
    a.applyRemote(ownDocId('b'), b.ownEpoch, [b.doc(ownDocId('b'))!.save()]),
    'refused',
    'a straggler copy is refused',
  );
  a.setAlive(['b']);
  t.equal(
    a.applyRemote(ownDocId('b'), b.ownEpoch, [b.doc(ownDocId('b'))!.save()]),
    'applied',
    'accepted once b is alive again',
  );
  t.same(a.get('k')?.value, 1);
  t.equal(a.stats().docsReaped, 1);
});

t.test('own document: compacted by new epochs, peers follow without spurious events', async (t) => {
  const c = clock();
  const a = store('a', c, { compaction: { minChanges: 20, factor: 2 } });
  const b = store('b', c);
  b.setAlive(['a']);
  pipe(a, b);
  const w = events(b);
  const e0 = a.ownEpoch;
  for (let i = 0; i < 200; i++) a.put(`k/${i % 5}`, i);
  t.ok(a.ownEpoch > e0, 'a new epoch was started');
  t.ok(a.doc(ownDocId('a'))!.changeCount <= 21, `history bounded (${a.doc(ownDocId('a'))!.changeCount} changes)`);
  t.equal(b.doc(ownDocId('a'))!.epoch, a.ownEpoch, 'peer follows the epoch');
  t.same(b.entries(), a.entries());
  t.equal(w.changes().length, 200, 'exactly one event per write at the peer, none for epoch switches');
  t.equal(b.applyRemote(ownDocId('a'), e0, [new Uint8Array(0)]), 'stale', 'an old epoch is ignored');
});

t.test("a change that arrives before its epoch's first change waits for it", async (t) => {
  const a = store('a', clock(), { compaction: { minChanges: 3, factor: 1 } });
  const b = store('b');
  const changes = pipe(a, store('sink'));
  for (let i = 0; i < 8; i++) a.put('k', i);
  const last = changes[changes.length - 1]!;
  const epoch = changes.filter((c) => c.epoch === last.epoch);
  t.ok(epoch.length > 1, "the last change is not its epoch's first");
  t.equal(b.applyRemote(last.docId, last.epoch, [last.change]), 'incomplete');
  t.equal(b.get('k', { view: 'all' }), undefined, 'nothing shows before the first change');
  t.equal(b.applyRemote(epoch[0]!.docId, epoch[0]!.epoch, [epoch[0]!.change]), 'applied');
  for (const c of epoch.slice(1, -1)) b.applyRemote(c.docId, c.epoch, [c.change]);
  t.equal(b.get('k', { view: 'all' })?.value, 7, 'the change that came early is applied once it can be');
  t.same(b.doc(last.docId)!.heads(), [last.hash]);
});

t.test('documents waiting for their first change are bounded', async (t) => {
  const b = store('b');
  const owners = Array.from({ length: MAX_WAITING_DOCS + 2 }, (_, i) => store(`w${i}`));
  const firsts = owners.map((w) => {
    const d = w.doc(ownDocId(w.name))!;
    return { id: d.id, epoch: d.epoch, change: d.getChange(d.heads()[0]!)! };
  });
  for (const w of owners) {
    const sent = pipe(w, store('sink'));
    w.put(`node/${w.name}`, 1);
    const c = sent[0];
    t.equal(b.applyRemote(c!.docId, c!.epoch, [c!.change]), 'incomplete');
  }
  for (const f of firsts) t.equal(b.applyRemote(f.id, f.epoch, [f.change]), 'applied');
  const held = owners.filter((w) => b.get(`node/${w.name}`, { view: 'all' }) !== undefined).map((w) => w.name);
  t.same(
    held,
    owners.slice(2).map((w) => w.name),
    'the oldest two waiting documents were dropped (left to repair), the rest kept',
  );
});

t.test("live members' documents wait beyond the bound; others' stay bounded", async (t) => {
  const b = store('b');
  const members = Array.from({ length: MAX_WAITING_DOCS + 2 }, (_, i) => store(`m${i}`));
  const strangers = Array.from({ length: MAX_WAITING_DOCS + 1 }, (_, i) => store(`x${i}`));
  b.setAlive(members.map((m) => m.name));
  const firstOf = (w: LocalStore) => {
    const d = w.doc(ownDocId(w.name))!;
    return { id: d.id, epoch: d.epoch, change: d.getChange(d.heads()[0]!)! };
  };
  const firsts = new Map([...members, ...strangers].map((w) => [w.name, firstOf(w)]));
  // Members and strangers interleaved: a stranger's flood must not push members' documents out.
  for (const w of [...members, ...strangers].sort((p, q) => (p.name.slice(1) < q.name.slice(1) ? -1 : 1))) {
    const sent = pipe(w, store('sink'));
    w.put(`node/${w.name}`, 1);
    t.equal(b.applyRemote(sent[0]!.docId, sent[0]!.epoch, [sent[0]!.change]), 'incomplete');
  }
  for (const f of firsts.values()) b.applyRemote(f.id, f.epoch, [f.change]);
  const held = (ws: LocalStore[]) => ws.filter((w) => b.get(`node/${w.name}`, { view: 'all' }) !== undefined).length;
  t.equal(held(members), members.length, 'every member document waited and was adopted whole');
  t.equal(held(strangers), MAX_WAITING_DOCS, 'of the others, the oldest went beyond the bound');

  // A member that died while its document waits counts like the others from then on.
  const c = store('c');
  const late = Array.from({ length: MAX_WAITING_DOCS + 1 }, (_, i) => store(`y${i}`));
  c.setAlive(['y0']);
  const early = new Map(late.map((w) => [w.name, firstOf(w)]));
  for (const w of late) {
    const sent = pipe(w, store('sink'));
    w.put(`node/${w.name}`, 1);
    c.applyRemote(sent[0]!.docId, sent[0]!.epoch, [sent[0]!.change]);
    if (w.name === 'y0') c.setAlive([]);
  }
  for (const f of early.values()) c.applyRemote(f.id, f.epoch, [f.change]);
  t.equal(c.get('node/y0', { view: 'all' }), undefined, 'y0, dead and oldest, was dropped (left to repair)');
});

t.test('bad input from peers is rejected and counted, the store intact', async (t) => {
  const a = store('a');
  const b = store('b');
  a.put('k', 1);
  const epoch = a.ownEpoch;
  t.equal(b.applyRemote(ownDocId('a'), epoch, [new Uint8Array([1, 2, 3])]), 'invalid');
  t.equal(b.applyRemote('x/bad', 0, []), 'invalid');
  t.equal(b.applyRemote(ownDocId('a'), -1, []), 'invalid');
  t.equal(b.applyRemote(ownDocId('a'), 1.5, []), 'invalid');
  t.equal(b.stats().remoteRejected, 4);
  t.equal(b.applyRemote(ownDocId('a'), epoch, [a.doc(ownDocId('a'))!.save()]), 'applied');
  t.same(b.get('k', { view: 'all' })?.value, 1);
});

t.test('a peer writing a non-JSON value into a document: hidden and counted', async (t) => {
  const a = store('a');
  const b = store('b');
  b.setAlive(['a']);
  a.put('good', 1);
  // Forge a change the way a buggy peer would: raw Automerge writes of text that is not JSON, and of JSON nested too deep.
  const doc = a.doc(ownDocId('a'))!;
  const am = (doc as unknown as { am: { put: (o: string, k: string, v: unknown, t?: string) => void } }).am;
  am.put('_root', 'bad', '{not json', 'str');
  am.put('_root', 'deep', '['.repeat(40) + ']'.repeat(40), 'str');
  am.put('_root', 'number', 42, 'int');
  const change = doc.commit()!;
  t.equal(b.applyRemote(ownDocId('a'), doc.epoch, [doc.save(), change.change]), 'applied');
  t.same(b.keys(), ['good']);
  t.equal(b.stats().badValues, 3);
});

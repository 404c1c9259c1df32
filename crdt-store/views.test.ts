// Holders and Views on their own, over real ReplicaDocs: which document a key resolves to
// (shared first, then owners in code-point order), what each view shows, and that a watch
// hears exactly one event per visible difference.
import t from 'tap';
import { Holders, Views, type WatchEvent } from './views.js';
import { docOf } from './replica-doc.fixture.js';
import { SHARED_OWNER } from './names.js';

/** A Views over `holders`, with a liveness set the test changes, and the events it heard. */
function viewsOf(
  holders: Holders,
  opts: { live?: Set<string>; mayHold?: (key: string, owner: string) => boolean } = {},
) {
  const live = opts.live ?? new Set<string>([SHARED_OWNER]);
  const views = new Views(holders, opts.mayHold ?? (() => true), (owner) => owner === SHARED_OWNER || live.has(owner));
  return { views, live };
}

const owners = (h: Holders, key: string) => {
  const seen: string[] = [];
  h.first(key, (o) => {
    seen.push(o);
    return false;
  });
  return seen;
};

t.test('Holders: one holder bare, several in resolution order, removal back down to one', async (t) => {
  const h = new Holders();
  const [b, a, s, c] = [
    docOf('b', { k: 1 }),
    docOf('a', { k: 2 }),
    docOf(SHARED_OWNER, { k: 3 }),
    docOf('c', { k: 4 }),
  ];
  t.equal(
    h.first('k', () => true),
    undefined,
    'nothing held',
  );
  h.add('k', b);
  t.equal(h.size, 1);
  t.equal(
    h.first('k', () => true),
    b,
  );
  t.equal(
    h.first('k', () => false),
    undefined,
    'a single holder refused',
  );
  h.add('k', a);
  h.add('k', c);
  h.add('k', s);
  t.same(owners(h, 'k'), [SHARED_OWNER, 'a', 'b', 'c'], 'shared first, then owners in order');
  t.equal(
    h.first('k', (o) => o !== SHARED_OWNER && o !== 'a'),
    b,
    'the first accepted',
  );
  t.equal(h.size, 1, 'one key');

  const b2 = docOf('b', { k: 5 });
  h.add('k', b2);
  t.same(owners(h, 'k'), [SHARED_OWNER, 'a', 'b', 'c'], 'a new epoch of a held document replaces it in place');
  t.equal(
    h.first('k', (o) => o === 'b'),
    b2,
  );

  h.remove('k', docOf('zz'));
  t.same(owners(h, 'k'), [SHARED_OWNER, 'a', 'b', 'c'], 'removing a document that does not hold it is a no-op');
  h.remove('k', s);
  h.remove('k', c);
  t.same(owners(h, 'k'), ['a', 'b']);
  h.remove('k', a);
  t.same(owners(h, 'k'), ['b']);
  t.equal(
    h.first('k', () => true),
    b2,
    'back to one holder',
  );
  h.add('k', a);
  t.same(owners(h, 'k'), ['a', 'b'], 'a list again after going bare');
  h.remove('k', a);
  h.remove('k', docOf('other'));
  h.remove('k', b2);
  t.equal(
    h.first('k', () => true),
    undefined,
  );
  t.equal(h.size, 0);
  h.remove('k', b2);
  t.equal(h.size, 0, 'removing from an absent key is a no-op');
});

t.test('Holders: a new epoch of the single holder replaces it; another document joins it', async (t) => {
  const h = new Holders();
  const a1 = docOf('a', { k: 1 });
  const a2 = docOf('a', { k: 2 });
  h.add('k', a1);
  h.add('k', a2);
  t.same(owners(h, 'k'), ['a']);
  t.equal(
    h.first('k', () => true),
    a2,
  );
  h.remove('k', docOf('b'));
  t.equal(
    h.first('k', () => true),
    a2,
    'a different document does not remove the single holder',
  );
});

t.test('Views: all shows every holder, live only live owners; shared records are always live', async (t) => {
  const h = new Holders();
  const { views, live } = viewsOf(h);
  const a = docOf('a', { k: 'from a', only: 'a' });
  const b = docOf('b', { k: 'from b' });
  for (const d of [a, b]) for (const k of d.keys()) h.add(k, d);
  for (const k of ['k', 'only']) views.refresh(k);
  t.same(views.get('k', 'all'), { key: 'k', value: 'from a', owner: 'a' });
  t.equal(views.get('k', 'live'), undefined, 'no owner alive');
  t.equal(views.count('all'), 2);
  t.equal(views.count('live'), 0);

  live.add('b');
  views.refresh('k');
  t.same(views.get('k', 'live'), { key: 'k', value: 'from b', owner: 'b' }, 'the first live owner');
  live.add('a');
  views.refresh('k');
  t.equal(views.get('k', 'live')?.owner, 'a');

  const s = docOf(SHARED_OWNER, { k: 'shared' });
  h.add('k', s);
  live.clear();
  views.refresh('k');
  t.same(views.get('k', 'live'), { key: 'k', value: 'shared', owner: SHARED_OWNER });
  t.equal(views.get('k', 'all')?.owner, SHARED_OWNER);
});

t.test('Views: a document that may not hold a key is never shown', async (t) => {
  const h = new Holders();
  const { views } = viewsOf(h, { live: new Set(['a', 'b']), mayHold: (key, owner) => key !== 'k' || owner === 'b' });
  const a = docOf('a', { k: 1 });
  const b = docOf('b', { k: 2 });
  h.add('k', a);
  h.add('k', b);
  views.refresh('k');
  t.equal(views.get('k', 'all')?.owner, 'b');
  t.equal(views.get('k', 'live')?.owner, 'b');
});

t.test('entries: by prefix, sorted by key', async (t) => {
  const h = new Holders();
  const { views } = viewsOf(h);
  const d = docOf(SHARED_OWNER, { 'p/b': 2, 'p/a': 1, 'q/x': 0, 'p/c': 3, p: 9 });
  for (const k of d.keys()) {
    h.add(k, d);
    views.refresh(k);
  }
  t.same(
    views.entries('p/', 'all').map((r) => r.key),
    ['p/a', 'p/b', 'p/c'],
  );
  t.same(
    views.entries('', 'live').map((r) => r.key),
    ['p', 'p/a', 'p/b', 'p/c', 'q/x'],
  );
});

t.test('watches: initial entries, one event per visible difference, with before and after', async (t) => {
  const h = new Holders();
  const { views, live } = viewsOf(h, { live: new Set(['a']) });
  const a = docOf('a', { 'w/1': 1 });
  h.add('w/1', a);
  views.refresh('w/1');
  const heard: { all: WatchEvent[]; live: WatchEvent[]; other: WatchEvent[] } = { all: [], live: [], other: [] };
  const stopAll = views.watch('w/', (e) => heard.all.push(e), 'all');
  views.watch('w/', (e) => heard.live.push(e), 'live');
  views.watch('x/', (e) => heard.other.push(e), 'all');
  t.equal(views.watchCount, 3);
  t.same(heard.all, [{ key: 'w/1', before: undefined, after: { key: 'w/1', value: 1, owner: 'a' }, initial: true }]);
  t.equal(heard.live.length, 1);

  views.refresh('w/1');
  t.equal(heard.all.length, 1, 'a refresh that changes nothing is no event');
  views.flush();
  t.equal(heard.all.length, 1);

  // A new epoch of the same document with the same text: a new object, no change.
  const a2 = docOf('a', { 'w/1': 1 });
  h.add('w/1', a2);
  views.refresh('w/1');
  views.flush();
  t.equal(heard.all.length + heard.live.length, 2, 'same text and owner: no event');
  t.equal(views.get('w/1', 'all'), a2.record('w/1'), 'but the view holds the new record');

  live.delete('a');
  views.refresh('w/1');
  t.equal(heard.live.length, 1, 'queued until flush');
  views.flush();
  t.same(heard.live.slice(1), [
    { key: 'w/1', before: { key: 'w/1', value: 1, owner: 'a' }, after: undefined, initial: false },
  ]);
  t.equal(heard.all.length, 1, 'the all view did not change');

  const b = docOf('b', { 'w/1': 1 });
  h.remove('w/1', a2);
  h.add('w/1', b);
  views.refresh('w/1');
  views.flush();
  t.same(
    heard.all.slice(1),
    [
      {
        key: 'w/1',
        before: { key: 'w/1', value: 1, owner: 'a' },
        after: { key: 'w/1', value: 1, owner: 'b' },
        initial: false,
      },
    ],
    'same text, other owner: an event',
  );

  stopAll();
  t.equal(views.watchCount, 2);
  h.remove('w/1', b);
  views.refresh('w/1');
  views.flush();
  t.equal(heard.all.length, 2, 'a stopped watch hears nothing more');
  t.same(heard.other, [], 'another prefix hears nothing');
  t.equal(views.get('w/1', 'all'), undefined);
});

t.test('a handler that writes is delivered to in order after it returns; one that throws is counted', async (t) => {
  const h = new Holders();
  const errors: unknown[] = [];
  const views = new Views(
    h,
    () => true,
    () => true,
    (err) => errors.push(err),
  );
  const d = docOf(SHARED_OWNER, {});
  const order: string[] = [];
  views.watch(
    '',
    (e) => {
      order.push(`begin ${e.key}`);
      if (e.key === 'a') {
        d.put('b', '2');
        h.add('b', d);
        views.refresh('b');
        views.flush(); // nested: delivered by the outer flush, after this handler
      }
      order.push(`end ${e.key}`);
      if (e.key === 'b') throw new Error('handler bug');
    },
    'all',
  );
  d.put('a', '1');
  h.add('a', d);
  views.refresh('a');
  views.flush();
  t.same(order, ['begin a', 'end a', 'begin b', 'end b']);
  t.equal(views.handlerErrors, 1);
  t.match(errors, [{ message: 'handler bug' }]);
  d.put('c', '3');
  h.add('c', d);
  views.refresh('c');
  views.flush();
  t.same(order.slice(-2), ['begin c', 'end c'], 'the queue was emptied and delivery goes on after a throw');
  t.equal(views.handlerErrors, 1);
});

t.test('a handler throwing does not swallow the events after it, and the default error sink is quiet', async (t) => {
  const h = new Holders();
  const views = new Views(
    h,
    () => true,
    () => true,
  );
  const d = docOf(SHARED_OWNER, { a: 1, b: 2 });
  h.add('a', d);
  h.add('b', d);
  views.refresh('a');
  views.refresh('b');
  const seen: string[] = [];
  views.watch(
    '',
    (e) => {
      seen.push(e.key);
      throw new Error('always');
    },
    'live',
  );
  t.same(seen, ['a', 'b']);
  t.equal(views.handlerErrors, 2);
});

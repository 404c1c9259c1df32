// Views at their edges: a watch stopped by another handler hears nothing already queued
// for it, a refresh of a key nobody holds is silent, and a new text from the same owner
// is an event with both records.
import t from 'tap';
import { Holders, Views, type WatchEvent } from './views.js';
import { ReplicaDoc } from './replica-doc.js';
import { DEFAULT_VALUE_LIMITS } from './json-value.js';
import { actorId } from './names.js';

let epochs = 0;
function docOf(owner: string, values: Record<string, unknown>): ReplicaDoc {
  const epoch = ++epochs;
  const doc = ReplicaDoc.create(
    `n/${owner}`,
    { kind: 'own', owner },
    epoch,
    actorId(owner, epoch),
    DEFAULT_VALUE_LIMITS,
  );
  for (const [k, v] of Object.entries(values)) doc.put(k, JSON.stringify(v));
  doc.commit();
  return doc;
}

const everyone = () => true;

t.test('a watch stopped by an earlier handler hears nothing already queued for it', async (t) => {
  const h = new Holders();
  const views = new Views(h, everyone, everyone);
  const heard: string[] = [];
  let stopSecond = () => {};
  views.watch(
    '',
    (e) => {
      heard.push(`first ${e.key}`);
      stopSecond();
    },
    'all',
  );
  stopSecond = views.watch('', (e) => heard.push(`second ${e.key}`), 'all');
  const d = docOf('a', { k: 1 });
  h.add('k', d);
  views.refresh('k'); // one event queued for each watch
  views.flush();
  t.same(heard, ['first k'], 'the second watch was stopped before its event was delivered');
  t.equal(views.watchCount, 1);
});

t.test('a refresh of a key nobody holds is no event', async (t) => {
  const h = new Holders();
  const views = new Views(h, everyone, everyone);
  const heard: WatchEvent[] = [];
  views.watch('', (e) => heard.push(e), 'all');
  views.watch('', (e) => heard.push(e), 'live');
  views.refresh('nobody/has/it');
  views.flush();
  t.same(heard, []);
  t.equal(views.count('all'), 0);
});

t.test('a new text from the same owner is an event with the records before and after', async (t) => {
  const h = new Holders();
  const views = new Views(h, everyone, everyone);
  const heard: WatchEvent[] = [];
  const a1 = docOf('a', { k: 1 });
  h.add('k', a1);
  views.refresh('k');
  views.watch('k', (e) => heard.push(e), 'live');
  const a2 = docOf('a', { k: 2 });
  h.add('k', a2);
  views.refresh('k');
  views.flush();
  t.same(heard.slice(1), [
    { key: 'k', before: { key: 'k', value: 1, owner: 'a' }, after: { key: 'k', value: 2, owner: 'a' }, initial: false },
  ]);
  t.same(views.get('k', 'live')?.value, 2);
});

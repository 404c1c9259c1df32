// ReplicaDoc on its own: what each way of changing a document reports, hibernation, the
// persistence cursor, and hidden bad values.
import t from 'tap';
import { ReplicaDoc, changeHash, textOf } from './replica-doc.js';
import { DEFAULT_VALUE_LIMITS } from './json-value.js';
import { actorId } from './names.js';
import { amCreate, amInitSyncState } from './automerge.js';

const kindOf = (owner: string) => ({ kind: 'own', owner }) as const;
const create = (owner = 'a', epoch = 1) =>
  ReplicaDoc.create(`n/${owner}`, kindOf(owner), epoch, actorId(owner, epoch), DEFAULT_VALUE_LIMITS);
/** A second replica of `doc`'s document (same id and epoch, another actor). */
const replicaOf = (doc: ReplicaDoc, actorNode: string) =>
  ReplicaDoc.load(doc.id, doc.kind, doc.epoch, doc.save(), actorId(actorNode, doc.epoch), DEFAULT_VALUE_LIMITS);

t.test('put, remove and commit report exactly what reads differently', async (t) => {
  const d = create();
  t.equal(d.owner, 'a');
  t.ok(d.empty, 'no change yet');
  t.equal(d.commit(), undefined, 'nothing staged: no change');
  t.same(d.put('k', '1'), { key: 'k', before: undefined, after: '1' });
  t.equal(d.put('k', '1'), undefined, 'the same text again is no change');
  t.same(d.put('k', '2'), { key: 'k', before: '1', after: '2' });
  t.equal(d.remove('absent'), undefined);
  const first = d.commit();
  t.ok(first && typeof first.hash === 'string' && first.change.length > 0);
  t.equal(changeHash(first!.change), first!.hash);
  t.equal(changeHash(new Uint8Array([1, 2, 3])), undefined);
  t.equal(d.changeCount, 1);
  t.notOk(d.empty);
  t.same(d.heads(), [first!.hash]);
  t.ok(d.hasChange(first!.hash));
  t.same(d.getChange(first!.hash), first!.change);
  t.notOk(d.hasChange('00'.repeat(32)));
  t.equal(d.getChange('00'.repeat(32)), undefined);

  t.same(d.remove('k'), { key: 'k', before: '2', after: undefined });
  t.equal(d.text('k'), undefined);
  t.equal(d.size, 0);
  const second = d.commit();
  t.ok(second);
  t.equal(d.changeCount, 2);
  t.same(d.heads(), [second!.hash], 'heads follow the commit');
});

t.test('an empty change only when asked (the first change of an epoch)', async (t) => {
  const d = create();
  t.equal(d.commit(false), undefined);
  const c = d.commit(true);
  t.ok(c);
  t.equal(d.changeCount, 1);
  t.notOk(d.empty);
});

t.test('values and records: parsed once, one frozen record per text, the text remembered', async (t) => {
  const d = create('n1');
  d.put('k', '{"a":[1,2]}');
  d.commit();
  t.same(d.value('k'), { a: [1, 2] });
  t.equal(d.value('k'), d.value('k'), 'decoded once and shared');
  const r = d.record('k');
  t.same(r, { key: 'k', value: { a: [1, 2] }, owner: 'n1' });
  t.ok(Object.isFrozen(r));
  t.equal(d.record('k'), r, 'the same object while the text stays');
  t.equal(textOf(r!), '{"a":[1,2]}');
  t.equal(d.record('none'), undefined);
  t.equal(d.value('none'), undefined);
  d.put('k', '3');
  t.not(d.record('k'), r, 'a new text: a new record');
  t.equal(d.record('k')?.value, 3);
});

t.test('changes from a peer: applied, the changed keys reported with before and after', async (t) => {
  const a = create('a');
  a.put('x', '1');
  a.put('y', '1');
  a.commit();
  const b = replicaOf(a, 'b');
  t.same([...b.keys()].sort(), ['x', 'y'], 'loaded with its keys');
  b.put('x', '2');
  b.remove('y');
  b.put('z', '"new"');
  const change = b.commit()!.change;
  const reported = a.applyChanges([change]);
  t.same(
    reported.sort((p, q) => (p.key < q.key ? -1 : 1)),
    [
      { key: 'x', before: '1', after: '2' },
      { key: 'y', before: '1', after: undefined },
      { key: 'z', before: undefined, after: '"new"' },
    ],
  );
  t.equal(a.changeCount, 2);
  t.same(a.applyChanges([change]), [], 'again: nothing new');
  t.equal(a.changeCount, 2);
  t.same(a.heads(), b.heads());
  t.equal(a.headsHash(), b.headsHash(), 'same history, same digest');
});

t.test('a change that waited for its dependency is reported when the dependency arrives', async (t) => {
  const a = create('a');
  a.put('k', '0');
  a.commit();
  const b = replicaOf(a, 'b');
  b.put('k', '1');
  const c1 = b.commit()!.change;
  b.put('j', '1');
  const c2 = b.commit()!.change;
  t.same(a.applyChanges([c2]), [], 'c2 waits for c1');
  t.equal(a.text('j'), undefined);
  const reported = a.applyChanges([c1]);
  t.same(
    reported.sort((p, q) => (p.key < q.key ? -1 : 1)),
    [
      { key: 'j', before: undefined, after: '1' },
      { key: 'k', before: '0', after: '1' },
    ],
    'both: the released change is found by the diff',
  );
});

t.test('headsHash: cached, changed by a commit, depends on id and epoch', async (t) => {
  const a = create('a', 1);
  a.put('k', '1');
  a.commit();
  const h1 = a.headsHash();
  t.equal(a.headsHash(), h1);
  a.put('k', '2');
  a.commit();
  t.not(a.headsHash(), h1, 'a commit invalidates it');
  const e1 = create('e', 1);
  const e2 = create('e', 2);
  t.not(e1.headsHash(), e2.headsHash(), 'the epoch is part of it');
  t.not(create('f', 1).headsHash(), e1.headsHash(), 'the id is part of it');
});

t.test('winnerOp: the greater Lamport counter, then the greater actor', async (t) => {
  const a = create('a');
  a.put('k', '0');
  a.commit();
  t.equal(a.winnerOp('none'), undefined);
  t.same(a.winnerOp('k'), { counter: 1, actor: actorId('a', 1) });
  const b = replicaOf(a, 'b');
  const c = replicaOf(a, 'c');
  b.put('k', '"b"');
  const fromB = b.commit()!.change;
  c.put('j', '1');
  const fromC1 = c.commit()!.change;
  c.put('k', '"c"');
  const fromC2 = c.commit()!.change;
  a.applyChanges([fromB, fromC1, fromC2]);
  t.same(a.winnerOp('k'), { counter: 3, actor: actorId('c', 1) }, "c's later write wins whatever the actor order");
  t.equal(a.text('k'), '"c"');
  // Equal counters: the greater actor id.
  const x = replicaOf(a, 'x');
  const y = replicaOf(a, 'y');
  x.put('k', '"x"');
  y.put('k', '"y"');
  a.applyChanges([x.commit()!.change, y.commit()!.change]);
  const winner = [actorId('x', 1), actorId('y', 1)].sort()[1];
  t.same(a.winnerOp('k'), { counter: 4, actor: winner });
  t.equal(a.winnerActor('k'), winner);
  t.equal(a.text('k'), winner === actorId('x', 1) ? '"x"' : '"y"');
});

t.test('hibernation: a second chance, back on use, the heads kept, an error once freed', async (t) => {
  const d = create();
  d.put('k', '1');
  d.commit();
  const heads = d.heads();
  t.notOk(d.hibernateIfIdle(), 'used since the last call: it gets a second chance');
  t.notOk(d.hibernating);
  t.ok(d.hibernateIfIdle(), 'idle since: hibernates');
  t.ok(d.hibernating);
  t.notOk(d.hibernateIfIdle(), 'already hibernating');
  t.same(d.heads(), heads, 'heads without waking it');
  t.ok(d.hibernating);
  t.equal(d.text('k'), '1', 'reads without waking it');
  const saved = d.save();
  t.ok(saved.length > 0, 'save while hibernating gives the saved bytes');
  t.same(ReplicaDoc.load(d.id, d.kind, d.epoch, saved, actorId('z', 1), DEFAULT_VALUE_LIMITS).text('k'), '1');
  t.equal(d.winnerActor('k'), actorId('a', 1), 'a use wakes it');
  t.notOk(d.hibernating);
  d.hibernate();
  t.ok(d.hibernating);
  d.hibernate();
  d.put('k', '2');
  t.notOk(d.hibernating);
  d.commit();
  d.free();
  d.free();
  t.throws(() => d.put('k', '3'), /document n\/a was freed/);
  t.notOk(d.hibernateIfIdle(), 'a freed document does not hibernate');
});

t.test('saveIncremental: everything first, then only what is new, nothing when nothing is', async (t) => {
  const d = create();
  d.put('a', '1');
  d.commit();
  const first = d.saveIncremental();
  t.ok(first.length > 0);
  t.equal(d.saveIncremental().length, 0, 'nothing new');
  d.put('b', '2');
  d.commit();
  const second = d.saveIncremental();
  t.ok(second.length > 0);
  t.ok(second.length < d.save().length, 'an increment, not the whole document');
  const back = ReplicaDoc.load(
    d.id,
    d.kind,
    d.epoch,
    Buffer.concat([first, second]),
    actorId('z', 1),
    DEFAULT_VALUE_LIMITS,
  );
  t.same([...back.keys()].sort(), ['a', 'b'], 'the chunks together are the document');

  const loaded = ReplicaDoc.load(d.id, d.kind, d.epoch, d.save(), actorId('a', 1), DEFAULT_VALUE_LIMITS);
  loaded.markPersisted();
  t.equal(loaded.saveIncremental().length, 0, 'loaded from the journal: nothing to write');
  const fresh = ReplicaDoc.load(d.id, d.kind, d.epoch, d.save(), actorId('a', 1), DEFAULT_VALUE_LIMITS);
  t.ok(fresh.saveIncremental().length > 0, 'not marked: everything');
  const c = create('c');
  const chunk = c.loadIncremental(first);
  t.same(
    chunk.map((x) => x.key),
    ['a'],
    'loadIncremental reports what it brought',
  );
});

t.test('bad values from a peer are hidden and counted; a later good one shows', async (t) => {
  const a = create('a');
  a.commit(true);
  // A peer writing raw Automerge values: a number, and text that is not JSON.
  const raw = amCreate(actorId('evil', 1));
  raw.loadIncremental(a.save());
  raw.put('_root', 'num', 5, 'int');
  raw.put('_root', 'txt', 'not json', 'str');
  raw.put('_root', 'ok', '"fine"', 'str');
  raw.commit(null, 0);
  const reported = a.applyChanges([raw.getLastLocalChange()!]);
  t.same(reported, [{ key: 'ok', before: undefined, after: '"fine"' }]);
  t.equal(a.badValues, 2);
  t.equal(a.text('num'), undefined);
  t.equal(a.text('txt'), undefined);
  raw.put('_root', 'txt', '7', 'str');
  raw.commit(null, 0);
  t.same(a.applyChanges([raw.getLastLocalChange()!]), [{ key: 'txt', before: undefined, after: '7' }]);
});

t.test('sync messages between two replicas', async (t) => {
  const a = create('a');
  a.put('k', '1');
  a.commit();
  const b = create('a');
  const [sa, sb] = [amInitSyncState(), amInitSyncState()];
  const seen: string[] = [];
  for (let round = 0; round < 10; round++) {
    const m1 = a.generateSync(sa);
    if (m1) for (const ch of b.receiveSync(sb, m1)) seen.push(ch.key);
    const m2 = b.generateSync(sb);
    if (m2) a.receiveSync(sa, m2);
    if (!m1 && !m2) break;
  }
  t.same(seen, ['k']);
  t.equal(b.text('k'), '1');
});

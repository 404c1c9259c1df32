// ReplicaDoc at its edges: a key hidden for a bad value can still be deleted, a peer's
// write of the text a key already has reports nothing and keeps the record readers hold,
// a loaded document counts its history, and a freed one keeps no signatures.
import t from 'tap';
import { ReplicaDoc } from './replica-doc.js';
import { DEFAULT_VALUE_LIMITS } from './json-value.js';
import { actorId } from './names.js';
import { amCreate } from './automerge.js';

const create = (owner = 'a', epoch = 1) =>
  ReplicaDoc.create(`n/${owner}`, { kind: 'own', owner }, epoch, actorId(owner, epoch), DEFAULT_VALUE_LIMITS);
const replicaOf = (doc: ReplicaDoc, actorNode: string) =>
  ReplicaDoc.load(doc.id, doc.kind, doc.epoch, doc.save(), actorId(actorNode, doc.epoch), DEFAULT_VALUE_LIMITS);

t.test('a key hidden for a bad value is deleted for every replica when the owner deletes it', async (t) => {
  const a = create('a');
  a.commit(true);
  const raw = amCreate(actorId('evil', 1));
  raw.loadIncremental(a.save());
  raw.put('_root', 'k', 5, 'int'); // not JSON text: hidden, but held
  raw.commit(null, 0);
  a.applyChanges([raw.getLastLocalChange()!]);
  t.equal(a.text('k'), undefined, 'hidden');
  t.equal(a.badValues, 1);

  t.same(a.remove('k'), { key: 'k', before: undefined, after: undefined }, 'the delete is staged');
  const c = a.commit();
  t.ok(c, 'and committed as a change');
  const peer = ReplicaDoc.load(a.id, a.kind, a.epoch, raw.save(), actorId('p', 1), DEFAULT_VALUE_LIMITS);
  t.equal(peer.badValues, 1, 'the peer held the bad value too');
  peer.applyChanges([c!.change]);
  const back = amCreate(actorId('q', 1));
  back.loadIncremental(peer.save());
  t.equal(back.get('_root', 'k'), undefined, 'gone from the document itself, not just hidden');
});

t.test("a peer's write of the same text: nothing reported, the reader's record kept", async (t) => {
  const a = create('a');
  a.put('x', '{"v":1}');
  a.put('y', '1');
  a.commit();
  const record = a.record('x');
  const value = a.value('x');
  const b = replicaOf(a, 'b');
  b.put('y', '2'); // a real change beside it...
  const change1 = b.commit()!.change;
  const raw = amCreate(actorId('c', 1));
  raw.loadIncremental(a.save());
  // ...and two writes that leave the text as it was (Automerge itself drops a put of the same value).
  raw.put('_root', 'x', '{"v":2}', 'str');
  raw.commit(null, 0);
  const change2 = raw.getLastLocalChange()!;
  raw.put('_root', 'x', '{"v":1}', 'str');
  raw.commit(null, 0);
  const reported = a.applyChanges([change1, change2, raw.getLastLocalChange()!]);
  t.same(reported, [{ key: 'y', before: '1', after: '2' }], 'only the key that reads differently');
  t.equal(a.record('x'), record, 'the same record object: watchers and caches see no change');
  t.equal(a.value('x'), value);
  t.equal(a.changeCount, 4);
});

t.test('a loaded document counts the changes of its history', async (t) => {
  const a = create('a');
  for (let i = 0; i < 3; i++) {
    a.put('k', String(i));
    a.commit();
  }
  const b = replicaOf(a, 'b');
  t.equal(b.changeCount, 3);
  t.equal(b.text('k'), '2');
  t.same(b.heads(), a.heads());
});

t.test('freeing a document drops its signatures and those waiting to be written', async (t) => {
  const a = create('a');
  a.put('k', '1');
  const { hash } = a.commit()!;
  a.setAuth(hash, new Uint8Array([1]));
  a.noteUnpersistedAuth(hash);
  a.free();
  t.equal(a.auths.size, 0);
  t.same(a.unpersistedAuths, []);
});

// Without identity no document holds a signature, and a Map in each was 184 B of every
// (node, document) pair: 89.2 -> 85.0 MB of heap for a formed 150-node simulated cluster.
t.test('documents without signatures share one empty map of them, and one gets its own at its first', async (t) => {
  const a = create('a');
  const b = create('b');
  t.equal(a.auths.size, 0);
  t.equal(a.auths, b.auths, 'the same empty map, not one per document');
  a.setAuth('h', new Uint8Array([1]));
  t.not(a.auths, b.auths);
  t.same(a.auths.get('h'), new Uint8Array([1]));
  t.equal(b.auths.size, 0, 'the shared one stays empty');
});

t.test('a concurrent change after a save is in the next increment (two heads where there was one)', async (t) => {
  const a = create('a');
  a.put('base', '0');
  a.commit();
  const b = replicaOf(a, 'b');
  a.put('mine', '1');
  a.commit();
  const first = a.saveIncremental();
  b.put('theirs', '2'); // concurrent with a's last change
  a.applyChanges([b.commit()!.change]);
  t.equal(a.heads().length, 2);
  const second = a.saveIncremental();
  t.ok(second.length > 0, 'the new head is written');
  const back = ReplicaDoc.load(
    a.id,
    a.kind,
    a.epoch,
    Buffer.concat([first, second]),
    actorId('z', 1),
    DEFAULT_VALUE_LIMITS,
  );
  t.same([...back.keys()].sort(), ['base', 'mine', 'theirs'], 'the journal holds both branches');
});

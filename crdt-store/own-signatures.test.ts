// This node's changes are signed in batches at the first need (own-signatures.ts): each
// exactly once, every one before it leaves (its auth record is there when replication reads
// it), and on disk before a durable write returns.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LocalStore, type LocalChange } from './local-store.js';
import { SignedChanges } from './change-auth.js';
import { openStore } from './persist/open.js';
import { ownDocId } from './names.js';
import { recordOwner } from '../records/schema.js';
import { CountingSignedChanges, makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });

t.test(
  'own changes are signed once each, in a batch, when first needed, and verify everywhere',
  { skip },
  async (t) => {
    const pki = makePki(['a', 'b']);
    t.teardown(() => pki.cleanup());
    const auth = new CountingSignedChanges(pki.identity('a'));
    const a = new LocalStore({ name: 'a', clock: () => Date.now(), keyOwner: recordOwner, auth });
    const b = new LocalStore({
      name: 'b',
      clock: () => Date.now(),
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('b')),
    });
    t.teardown(() => (a.close(), b.close()));
    t.equal(auth.changes, 1, "the epoch's first change is signed at once");
    const seen: LocalChange[] = [];
    a.observe({ localChange: (c) => seen.push(c) });
    for (let i = 0; i < 10; i++) a.put(`node/a`, { n: i });
    t.equal(auth.changes, 1, 'ten writes, nothing read: nothing signed yet');
    t.ok(seen[9]!.auth, 'reading one record...');
    t.equal(auth.changes, 11, '...signs the whole batch');
    for (const c of seen) t.ok(c.auth, 'every record is there');
    t.equal(auth.changes, 11, 'each change signed once');
    const own = a.doc(ownDocId('a'))!;
    const first = [...own.auths.keys()].find((h) => !seen.some((c) => c.hash === h))!;
    b.learnCerts(a.certsFor([seen[0]!.auth]));
    t.equal(b.applyRemote(own.id, own.epoch, [own.getChange(first)!], [own.auths.get(first)]), 'applied');
    for (const c of seen) t.not(b.applyRemote(c.docId, c.epoch, [c.change], [c.auth]), 'invalid', 'verifies on b');
    t.same(b.get('node/a', { view: 'all' })?.value, { n: 9 });
    t.equal(b.stats().remoteRejected, 0);
  },
);

t.test('a durable write returns with its auth record on disk', { skip }, async (t) => {
  const pki = makePki(['a']);
  const dir = mkdtempSync(join(tmpdir(), 'weft-own-sig-'));
  t.teardown(() => (pki.cleanup(), rmSync(dir, { recursive: true, force: true })));
  const auth = () => new SignedChanges(pki.identity('a'));
  const first = openStore(dir, { name: 'a', clock: () => Date.now(), keyOwner: recordOwner, auth: auth() });
  first.store.put('kv/d', 'x', { shared: true });
  first.store.put('kv/d', 'y', { shared: true, durable: true });
  first.journal.close(); // a crash: no flushAuths
  const again = openStore(dir, { name: 'a', clock: () => Date.now(), keyOwner: recordOwner, auth: auth() });
  t.teardown(() => again.close());
  const docs = [...again.store.documents()].filter((d) => d.id.startsWith('s/'));
  t.equal(docs.length, 1);
  t.equal(docs[0]!.auths.size, 2, "both shared changes' records are on disk");
});

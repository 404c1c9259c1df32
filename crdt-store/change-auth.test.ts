// Signed changes on real stores (change-auth.ts): what is taken, what is refused and
// counted, and that the signatures a node holds survive its restart (it can still prove
// other writers' changes to a peer).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LocalStore, type LocalChange } from './local-store.js';
import { SignedChanges } from './change-auth.js';
import { amInitSyncState } from './automerge.js';
import { actorId, ownDocId, sharedDocId, bucketOf } from './names.js';
import { openStore } from './persist/open.js';
import { recordOwner } from '../records/schema.js';
import { forgedOwnDocPush } from '../bench/hostile/store-forge.js';
import { decode } from './replication/wire.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });

t.test(
  'a signed change is taken once verified; unsigned, foreign-signed and tampered ones are refused and counted',
  { skip },
  async (t) => {
    const pki = makePki(['a', 'b', 'm']);
    t.teardown(() => pki.cleanup());
    const now = Date.now();
    const auth = (n: string) => new SignedChanges(pki.identity(n, now));
    const mk = (n: string) =>
      new LocalStore({ name: n, clock: () => Date.now(), keyOwner: recordOwner, auth: auth(n) });
    const a = mk('a');
    const b = mk('b');
    // Records name certificates by reference: b learns them as a push or a sync would bring them.
    b.learnCerts(['a', 'm'].map((n) => pki.identity(n, now).cert.der));
    a.learnCerts([pki.identity('m', now).cert.der]);
    const seen: LocalChange[] = [];
    a.observe({ localChange: (c) => seen.push(c) });
    // Its own epoch's first change (made at start, before the observer).
    const own = a.doc(ownDocId('a'))!;
    const firstHash = own.heads()[0]!;
    const first = own.getChange(firstHash)!;
    t.equal(
      b.applyRemote(own.id, own.epoch, [first], [own.auths.get(firstHash)]),
      'applied',
      "the epoch's first change, signed at start",
    );
    a.put('node/a', { addr: '10.0.0.1' });
    a.put('kv/x', 1, { shared: true });
    t.equal(seen.length, 2);
    t.ok(
      seen.every((c) => c.auth && c.auth.length > 64),
      'every change a makes carries its auth record',
    );

    // Unsigned: refused.
    t.equal(b.applyRemote(seen[0]!.docId, seen[0]!.epoch, [seen[0]!.change]), 'invalid', 'unsigned');
    t.equal(b.stats().admitRejects.unsigned, 1);
    // Signed: taken, and shared changes too.
    for (const c of seen) t.not(b.applyRemote(c.docId, c.epoch, [c.change], [c.auth]), 'invalid', `${c.docId} taken`);
    t.same(b.get('kv/x')?.value, 1);
    // m signs a change claiming to be a's: refused.
    const mAuth = auth('m');
    const forged = decode(
      forgedOwnDocPush('a', a.ownEpoch, { 'node/a': { addr: '6.6.6.6' } }, actorId('a', a.ownEpoch), (d, ch) =>
        mAuth.sign(d, ch),
      ),
    );
    const fc = forged.ok && forged.msg.t === 'push' ? forged.msg.changes[0] : undefined;
    if (!fc) return t.fail('no push');
    t.equal(b.applyRemote(fc.docId, fc.epoch, [fc.change], [fc.auth]), 'invalid');
    t.equal(b.stats().admitRejects.wrong_signer, 1, 'signed by m, written as a: wrong_signer');
    // a's real auth record on m's change: the signature does not match.
    t.equal(b.applyRemote(fc.docId, fc.epoch, [fc.change], [seen[0]!.auth]), 'invalid');
    t.equal(b.stats().admitRejects.bad_signature, 1, 'a stolen signature: bad_signature');
    // m writes into a shared document with a's actor (spending a's sequence numbers): refused.
    const m = new LocalStore({ name: 'm', clock: () => Date.now(), keyOwner: recordOwner, auth: mAuth });
    const mseen: LocalChange[] = [];
    m.observe({ localChange: (c) => mseen.push(c) });
    m.put('kv/y', 2, { shared: true });
    t.equal(
      b.applyRemote(mseen[0]!.docId, mseen[0]!.epoch, [mseen[0]!.change], [mseen[0]!.auth]),
      'applied',
      'm writes the shared records as itself',
    );
    t.equal(b.get('kv/x')?.value, 1, 'a shared record of a is still there');
    t.equal(b.writerOf('kv/x'), 'a', 'shared records name their writer');
    t.equal(b.writerOf('kv/y'), 'm');
    t.equal(b.writerOf('node/a', { view: 'all' }), 'a', 'own records: the owner');
    // Forgeries of a's own document sent to a itself: counted, and no new epoch for a.
    const epochBefore = a.ownEpoch;
    const ahead = Date.now() + 60_000;
    const f2 = decode(
      forgedOwnDocPush('a', ahead, { 'node/a': { addr: '6.6.6.6' } }, actorId('a', ahead), (d, ch) =>
        mAuth.sign(d, ch),
      ),
    );
    const f2c = f2.ok && f2.msg.t === 'push' ? f2.msg.changes[0]! : undefined;
    t.equal(
      a.applyRemote(f2c!.docId, f2c!.epoch, [f2c!.change], [f2c!.auth]),
      'invalid',
      'a refuses a forgery of its own document',
    );
    t.equal(a.applyRemote(f2c!.docId, f2c!.epoch, [f2c!.change]), 'invalid', 'unsigned too');
    t.equal(a.ownEpoch, epochBefore, 'and starts no epoch for it');
    t.equal(a.stats().admitRejects.wrong_signer + a.stats().admitRejects.unsigned, 2);
    for (const s of [a, b, m]) s.close();
  },
);

t.test("a node restarted from its data directory still proves other writers' changes to peers", { skip }, async (t) => {
  const pki = makePki(['a', 'b', 'c']);
  const dir = mkdtempSync(join(tmpdir(), 'weft-auth-'));
  t.teardown(() => (pki.cleanup(), rmSync(dir, { recursive: true, force: true })));
  const now = Date.now();
  const auth = (n: string) => new SignedChanges(pki.identity(n, now));
  const a = new LocalStore({ name: 'a', clock: () => Date.now(), keyOwner: recordOwner, auth: auth('a') });
  const seen: LocalChange[] = [];
  a.observe({ localChange: (c) => seen.push(c) });
  a.put('kv/k', 'from a', { shared: true });
  const opened = openStore(dir, { name: 'b', clock: () => Date.now(), keyOwner: recordOwner, auth: auth('b') });
  opened.store.learnCerts(a.certsFor(seen.map((c) => c.auth)));
  for (const c of seen) opened.store.applyRemote(c.docId, c.epoch, [c.change], [c.auth]);
  t.equal(opened.store.get('kv/k')?.value, 'from a');
  opened.close();

  const again = openStore(dir, { name: 'b', clock: () => Date.now(), keyOwner: recordOwner, auth: auth('b') });
  t.teardown(() => again.close());
  t.equal(again.store.get('kv/k')?.value, 'from a', 'the record is back');
  // A new node c syncs the shared bucket from the restarted b: every change comes with its signature.
  const c = new LocalStore({ name: 'c', clock: () => Date.now(), keyOwner: recordOwner, auth: auth('c') });
  const docId = sharedDocId(bucketOf('kv/k'));
  const sb = amInitSyncState();
  const sc = amInitSyncState();
  for (let round = 0; round < 6; round++) {
    const m1 = c.generateSync(docId, 0, sc);
    if (m1) again.store.receiveSync(docId, 0, sb, m1, c.syncAuths(docId, 0, m1));
    const m2 = again.store.generateSync(docId, 0, sb);
    const auths2 = m2 && again.store.syncAuths(docId, 0, m2);
    // As a repair session does: the certificates of the records, from the sender's book.
    if (auths2) c.learnCerts(again.store.certsFor(auths2.values()));
    if (m2) t.not(c.receiveSync(docId, 0, sc, m2, auths2!), 'invalid', `round ${round}: taken`);
    if (!m1 && !m2) break;
  }
  t.equal(c.get('kv/k')?.value, 'from a', "c has a's record, proven by a's signature kept on b's disk");
  t.equal(c.stats().remoteRejected, 0);
  a.close();
  c.close();
});

t.test(
  'a writer whose auth records a crash lost signs its own changes again when a peer needs them',
  { skip },
  async (t) => {
    const pki = makePki(['a', 'c']);
    const dir = mkdtempSync(join(tmpdir(), 'weft-auth-crash-'));
    t.teardown(() => (pki.cleanup(), rmSync(dir, { recursive: true, force: true })));
    const now = Date.now();
    const auth = (n: string) => new SignedChanges(pki.identity(n, now));
    const first = openStore(dir, { name: 'a', clock: () => Date.now(), keyOwner: recordOwner, auth: auth('a') });
    first.store.put('kv/crash', 'kept', { shared: true });
    first.journal.flush(); // the change reached the disk, its auth record (batched) did not: a crash now
    first.journal.close();
    const again = openStore(dir, { name: 'a', clock: () => Date.now(), keyOwner: recordOwner, auth: auth('a') });
    t.teardown(() => again.close());
    t.equal(again.store.get('kv/crash')?.value, 'kept');
    const c = new LocalStore({ name: 'c', clock: () => Date.now(), keyOwner: recordOwner, auth: auth('c') });
    const docId = sharedDocId(bucketOf('kv/crash'));
    const sa = amInitSyncState();
    const sc = amInitSyncState();
    for (let round = 0; round < 6; round++) {
      const m1 = c.generateSync(docId, 0, sc);
      if (m1) again.store.receiveSync(docId, 0, sa, m1, c.syncAuths(docId, 0, m1));
      const m2 = again.store.generateSync(docId, 0, sa);
      const auths2 = m2 && again.store.syncAuths(docId, 0, m2);
      // As a repair session does: the certificates of the records, from the sender's book.
      if (auths2) c.learnCerts(again.store.certsFor(auths2.values()));
      if (m2) t.not(c.receiveSync(docId, 0, sc, m2, auths2!), 'invalid', `round ${round}: taken`);
      if (!m1 && !m2) break;
    }
    t.equal(c.get('kv/crash')?.value, 'kept', 're-signed and taken');
    c.close();
  },
);

t.test(
  'a node whose certificate expired is treated as failed: its records leave the live view',
  { skip },
  async (t) => {
    const pki = makePki([]);
    t.teardown(() => pki.cleanup());
    pki.node('a', 1);
    pki.node('b');
    const clock = { now: Date.now() };
    const a = new LocalStore({
      name: 'a',
      clock: () => Date.now(),
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('a')),
    });
    const b = new LocalStore({
      name: 'b',
      clock: () => clock.now,
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('b')),
    });
    const own = a.doc(ownDocId('a'))!;
    const h = own.heads()[0]!;
    b.learnCerts(a.certsFor(own.auths.values()));
    b.applyRemote(own.id, own.epoch, [own.getChange(h)!], [own.auths.get(h)]);
    const seen: LocalChange[] = [];
    a.observe({ localChange: (c) => seen.push(c) });
    a.put('node/a', { addr: '10.0.0.1' });
    for (const c of seen) b.applyRemote(c.docId, c.epoch, [c.change], [c.auth]);
    b.setAlive(['a']);
    t.ok(b.get('node/a'), "a's record is live while its certificate is valid");
    b.reap();
    t.ok(b.get('node/a'), 'still live after a check');
    clock.now += 2 * 86400_000;
    b.reap();
    t.equal(b.get('node/a'), undefined, "gone from the live view once a's certificate expired");
    t.ok(b.get('node/a', { view: 'all' }), 'kept in the all view');
    a.close();
    b.close();
  },
);

// Batch signatures (change-auth.ts signBatch, own-signatures.ts): a burst of a node's
// changes is signed once, every change still verifies alone wherever it goes, a record
// altered in any part is refused, and the records survive a restart (a whole batch is
// one row on disk, its paths rebuilt from the hashes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { LocalStore, type LocalChange } from './local-store.js';
import { AUTH_BYTES, MAX_BATCH, SignedChanges, authChunk, readAuthChunk } from './change-auth.js';
import { openStore } from './persist/open.js';
import { ownDocId } from './names.js';
import { recordOwner } from '../records/schema.js';
import { CountingSignedChanges, makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });

function pair(t: Test) {
  const pki = makePki(['a', 'b', 'm']);
  t.teardown(() => pki.cleanup());
  const auth = new CountingSignedChanges(pki.identity('a'));
  const mk = (n: string, a: SignedChanges) =>
    new LocalStore({ name: n, clock: () => Date.now(), keyOwner: recordOwner, auth: a });
  const a = mk('a', auth);
  const b = mk('b', new SignedChanges(pki.identity('b')));
  t.teardown(() => (a.close(), b.close()));
  b.learnCerts(['a', 'm'].map((n) => pki.identity(n).cert.der));
  const seen: LocalChange[] = [];
  a.observe({ localChange: (c) => seen.push(c) });
  return { pki, auth, a, b, seen };
}

t.test('a burst is signed once per MAX_BATCH changes, and each change verifies alone', { skip }, async (t) => {
  const { auth, a, b, seen } = pair(t);
  const before = auth.signatures;
  const n = 2 * MAX_BATCH + 3;
  for (let i = 0; i < n; i++) a.put('node/a', { n: i });
  for (const c of seen) t.ok(c.auth, 'every change has its record');
  t.equal(auth.signatures - before, Math.ceil(n / MAX_BATCH), `${n} changes, ${Math.ceil(n / MAX_BATCH)} signatures`);
  t.ok(
    seen.slice(0, MAX_BATCH).every((c) => c.auth!.length > AUTH_BYTES),
    'a full batch: records carry their place',
  );
  // Out of order and one at a time, as relays and repairs deliver them.
  const own = a.doc(ownDocId('a'))!;
  const first = [...own.auths.keys()].find((h) => !seen.some((c) => c.hash === h))!;
  t.equal(b.applyRemote(own.id, own.epoch, [own.getChange(first)!], [own.auths.get(first)]), 'applied');
  for (const c of [...seen].reverse()) t.not(b.applyRemote(c.docId, c.epoch, [c.change], [c.auth]), 'invalid');
  t.same(b.get('node/a', { view: 'all' })?.value, { n: n - 1 });
  t.equal(b.stats().remoteRejected, 0, 'nothing refused');
});

t.test('with batches off (a member cannot read them) each change is signed alone', { skip }, async (t) => {
  const { auth, a, seen } = pair(t);
  a.signsInBatches(false);
  const before = auth.signatures;
  for (let i = 0; i < 10; i++) a.put('node/a', { n: i });
  for (const c of seen) t.equal(c.auth!.length, AUTH_BYTES, 'a single record');
  t.equal(auth.signatures - before, 10);
});

t.test('a batch record altered in any part is refused as bad_signature', { skip }, async (t) => {
  const { pki, a, seen } = pair(t);
  for (let i = 0; i < 5; i++) a.put('node/a', { n: i });
  const own = a.doc(ownDocId('a'))!;
  const firstHash = [...own.auths.keys()].find((h) => !seen.some((c) => c.hash === h))!;
  const rec = (c: LocalChange) => c.auth!;
  const cases: [string, (c: LocalChange) => Uint8Array][] = [
    ['signature', (c) => flip(rec(c), 3)],
    ['tree size', (c) => set(rec(c), AUTH_BYTES, rec(c)[AUTH_BYTES]! + 1)],
    ['place', (c) => set(rec(c), AUTH_BYTES + 1, (rec(c)[AUTH_BYTES + 1]! + 1) % 5)],
    ['path', (c) => flip(rec(c), AUTH_BYTES + 2 + 5)],
    ['path cut short', (c) => rec(c).subarray(0, rec(c).length - 32)],
    ["another change's record", (c) => rec(seen[(seen.indexOf(c) + 1) % 5]!)],
  ];
  for (const [what, alter] of cases) {
    // A fresh receiver each time: the first verified record must not vouch for altered ones.
    const b = new LocalStore({
      name: 'b',
      clock: () => Date.now(),
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('b')),
    });
    b.learnCerts([pki.identity('a').cert.der]);
    t.equal(b.applyRemote(own.id, own.epoch, [own.getChange(firstHash)!], [own.auths.get(firstHash)]), 'applied');
    t.not(
      b.applyRemote(seen[0]!.docId, seen[0]!.epoch, [seen[0]!.change], [seen[0]!.auth]),
      'invalid',
      'an honest one',
    );
    const c = seen[2]!;
    t.equal(b.applyRemote(c.docId, c.epoch, [c.change], [alter(c)]), 'invalid', `${what} altered: refused`);
    t.equal(b.stats().admitRejects.bad_signature, 1, `${what}: counted`);
    t.not(b.applyRemote(c.docId, c.epoch, [c.change], [c.auth]), 'invalid', 'the honest record still passes');
    b.close();
  }
});

t.test('batch records survive a restart: whole batches and parts of one', { skip }, async (t) => {
  const pki = makePki(['a', 'b']);
  const dir = mkdtempSync(join(tmpdir(), 'weft-batch-sign-'));
  t.teardown(() => (pki.cleanup(), rmSync(dir, { recursive: true, force: true })));
  const open = () =>
    openStore(dir, {
      name: 'a',
      clock: () => Date.now(),
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('a')),
    });
  // A shared document: this node's own starts a new epoch at each start.
  const first = open();
  for (let i = 0; i < 40; i++) first.store.put('kv/x', i, { shared: true });
  const docId = [...first.store.documents()].find((d) => d.id.startsWith('s/'))!.id;
  first.store.flushAuths();
  const before = new Map(first.store.doc(docId)!.auths);
  first.close();
  const again = open();
  t.teardown(() => again.close());
  const after = again.store.doc(docId)!.auths;
  t.equal(after.size, before.size);
  t.same(hex([...after]), hex([...before]), 'the same records, rebuilt');

  // A chunk holding only part of a batch keeps the part's records as they are.
  const entries = [...before].filter(([, r]) => r.length > AUTH_BYTES);
  const part = entries.slice(1, 6);
  const read = readAuthChunk(
    authChunk(part, () => pki.identity('a').cert.der),
    docId,
  )!;
  t.same(hex(read.entries), hex(part));
  const whole = readAuthChunk(
    authChunk(entries, () => pki.identity('a').cert.der),
    docId,
  )!;
  t.same(hex(whole.entries), hex(entries));
  // Out of order, no batch is whole: one row per record.
  const der = () => pki.identity('a').cert.der;
  const rows = authChunk([...entries].reverse(), der).length;
  const batchRows = authChunk(entries, der).length;
  t.ok(batchRows < rows / 2, `whole batches take ${batchRows} bytes on disk, one row per record ${rows}`);
});

const hex = (es: [string, Uint8Array][]) => es.map(([h, r]) => `${h}:${Buffer.from(r).toString('hex')}`);
const flip = (b: Uint8Array, at: number) => set(b, at, b[at]! ^ 1);
function set(b: Uint8Array, at: number, v: number): Uint8Array {
  const out = Uint8Array.from(b);
  out[at] = v;
  return out;
}

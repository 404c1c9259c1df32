// Auth records that name the writer's certificate by reference (change-auth.ts): the attacks
// on references. A reference resolves only to a certificate this node checked against the
// CA and hashed itself, so borrowing another node's reference, offering a certificate that
// hashes to something else, or flooding unknown references gains nothing and costs no memory.
import t from 'tap';
import { LocalStore, type LocalChange } from './local-store.js';
import { SignedChanges } from './change-auth.js';
import { actorId } from './names.js';
import { StoreCore } from './replication/core.js';
import { decode, encode, type Message } from './replication/wire.js';
import { recordOwner } from '../records/schema.js';
import { forgedOwnDocPush } from '../bench/hostile/store-forge.js';
import { seededRng } from '../base/rng.js';
import { makePki, type TestPki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });

const SIG = 64;
const cat = (a: Uint8Array, b: Uint8Array) => new Uint8Array(Buffer.concat([a, b]));

function stores(pki: TestPki, names: string[]) {
  const now = Date.now();
  const auths = new Map(names.map((n) => [n, new SignedChanges(pki.identity(n, now))]));
  const mk = (n: string) =>
    new LocalStore({ name: n, clock: () => Date.now(), keyOwner: recordOwner, auth: auths.get(n) });
  return { auths, mk };
}

/** The one push change in forged bytes. */
function pushed(bytes: Uint8Array) {
  const d = decode(bytes);
  if (!d.ok || d.msg.t !== 'push') throw new Error('not a push');
  return d.msg.changes[0]!;
}

t.test(
  "a record borrowing another node's certificate reference with its own signature is refused: bad_signature",
  { skip },
  async (t) => {
    const pki = makePki(['a', 'b', 'm']);
    t.teardown(() => pki.cleanup());
    const { auths, mk } = stores(pki, ['a', 'b', 'm']);
    const [a, b] = [mk('a'), mk('b')];
    t.teardown(() => (a.close(), b.close()));
    const seen: LocalChange[] = [];
    a.observe({ localChange: (c) => seen.push(c) });
    a.put('node/a', { addr: '10.0.0.1' });
    const real = seen[0]!;
    t.equal(real.auth?.length, SIG + 16, 'an auth record is the signature and a 16-byte reference');
    b.learnCerts(a.certsFor([real.auth]));
    // The epoch's first change (made at start) goes first.
    const own = a.doc(real.docId)!;
    const first = own.heads().length === 1 ? [...own.auths.keys()].find((h) => h !== real.hash)! : '';
    t.equal(b.applyRemote(real.docId, real.epoch, [own.getChange(first)!], [own.auths.get(first)]), 'applied');
    t.equal(
      b.applyRemote(real.docId, real.epoch, [real.change], [real.auth]),
      'applied',
      "a's change, by reference, once b knows a's certificate",
    );

    // m signs a change of a's document with its own key, and names a's certificate.
    const aRef = real.auth!.subarray(SIG);
    const m = auths.get('m')!;
    const forged = pushed(
      forgedOwnDocPush('a', real.epoch, { 'node/a': { addr: '6.6.6.6' } }, actorId('a', real.epoch), (d, ch) =>
        cat(m.sign(d, ch).subarray(0, SIG), aRef),
      ),
    );
    t.equal(b.applyRemote(forged.docId, forged.epoch, [forged.change], [forged.auth]), 'invalid');
    t.equal(b.stats().admitRejects.bad_signature, 1, 'counted as bad_signature');
    t.same(b.get('node/a', { view: 'all' })?.value, { addr: '10.0.0.1' }, "a's record is as a wrote it");
  },
);

t.test(
  'a certificate offered for a reference it does not hash to resolves nothing: unknown_cert; one not from the CA is refused',
  { skip },
  async (t) => {
    const pki = makePki(['a', 'b', 'm']);
    const other = makePki(['a']); // another CA: a certificate for "a" the cluster never issued
    t.teardown(() => (pki.cleanup(), other.cleanup()));
    const { auths, mk } = stores(pki, ['a', 'b', 'm']);
    const a = mk('a');
    const b = mk('b');
    const core = new StoreCore({ store: b, rng: seededRng(1), now: 0 });
    t.teardown(() => (a.close(), b.close()));
    const mPeer = { addr: '127.0.0.9', port: 7947 };
    core.setMembers(0, [{ name: 'm', ...mPeer }]);
    const seen: LocalChange[] = [];
    a.observe({ localChange: (c) => seen.push(c) });
    a.put('node/a', { addr: '10.0.0.1' });
    const aRef = seen[0]!.auth!.subarray(SIG);
    const m = auths.get('m')!;
    const mCert = m.certOf(m.sign('n/m', new Uint8Array([1])))!;
    // m's push: a change of a's document signed by m, naming a's reference, with m's own
    // certificate and the other CA's "a" beside it, hoping one gets filed under a's reference.
    const ch = pushed(
      forgedOwnDocPush('a', seen[0]!.epoch, { 'node/a': { addr: '6.6.6.6' } }, actorId('a', seen[0]!.epoch), (d, c) =>
        cat(m.sign(d, c).subarray(0, SIG), aRef),
      ),
    );
    const fakeA = other.identity('a').cert.der;
    const msg: Message = { t: 'push', origin: 'm', limit: -1, changes: [ch], certs: [mCert, fakeA] };
    core.receivePacket(1, mPeer, encode(msg));
    t.equal(b.get('node/a', { view: 'all' }), undefined, 'nothing applied');
    t.equal(b.stats().admitRejects.unknown_cert, 1, "a's reference is still unknown: unknown_cert");
    t.equal(b.stats().admitRejects.bad_cert, 1, "the other CA's certificate is refused and counted");
    // a's real certificate, when it comes, is filed under a's reference; m's still signs nothing of a's.
    core.receivePacket(2, mPeer, encode({ ...msg, certs: a.certsFor([seen[0]!.auth]) }));
    t.equal(b.stats().admitRejects.bad_signature, 1, "with a's certificate known: bad_signature");
    t.equal(b.get('node/a', { view: 'all' }), undefined, 'still nothing applied');
  },
);

t.test('a flood of unknown references is refused and counted, and keeps nothing', { skip }, async (t) => {
  const pki = makePki(['b', 'm']);
  t.teardown(() => pki.cleanup());
  const { auths, mk } = stores(pki, ['b', 'm']);
  const b = mk('b');
  t.teardown(() => b.close());
  const bAuth = auths.get('b')!;
  const m = auths.get('m')!;
  const before = bAuth.certsKnown;
  const n = 2000;
  const change = pushed(forgedOwnDocPush('m', Date.now(), { 'node/m': { addr: '10.0.0.9' } }));
  const heap0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) {
    const ref = new Uint8Array(16);
    new DataView(ref.buffer).setUint32(0, i);
    const auth = cat(m.sign(change.docId, change.change).subarray(0, SIG), ref);
    b.applyRemote(change.docId, change.epoch, [change.change], [auth]);
  }
  t.equal(b.stats().admitRejects.unknown_cert, n, 'every one refused as unknown_cert');
  t.equal(bAuth.certsKnown, before, 'no certificate entry made');
  t.equal(b.get('node/m', { view: 'all' }), undefined, 'nothing applied');
  t.ok(process.memoryUsage().heapUsed - heap0 < 32 * 1024 * 1024, 'heap growth stays small');
});

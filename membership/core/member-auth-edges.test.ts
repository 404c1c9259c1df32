// The signed-membership stand-in at its edges (issue 18's mutation survivors in member-auth.ts).
// Simulations and the core's unit tests trust toyAuth to refuse what the Ed25519 signer refuses;
// a toy that accepts a replayed or cross-kind signature would let those tests pass against an
// attack they are meant to catch.
import t from 'tap';
import { aliveBytes, leaveBytes, toyAuth, toyPki } from './member-auth.js';

const enc = new TextEncoder();
const alive = (name: string, incarnation: number, over: { addr?: string; port?: number; meta?: string } = {}) =>
  aliveBytes({
    node: { name, addr: over.addr ?? '10.0.0.2', port: over.port ?? 7946 },
    incarnation,
    meta: enc.encode(over.meta ?? 'role=web'),
  });

t.test('a signature covers every signed field: changing one is a bad signature', async (t) => {
  const pki = toyPki(['a', 'b', 'c']);
  const b = toyAuth(pki, 'b');
  const verifier = toyAuth(pki, 'a');
  const cert = b.ownCert(true);
  const sig = b.sign('alive', alive('b', 1));
  t.equal(verifier.verify('alive', 'b', alive('b', 1), sig, cert, 0), undefined, 'the signed alive verifies');
  // Each changed field keeps the byte length, so only the content tells them apart.
  t.equal(verifier.verify('alive', 'b', alive('b', 2), sig, cert, 0), 'bad_signature', 'a raised incarnation');
  t.equal(verifier.verify('alive', 'b', alive('b', 1, { addr: '10.0.0.3' }), sig, cert, 0), 'bad_signature', 'addr');
  t.equal(verifier.verify('alive', 'b', alive('b', 1, { port: 7947 }), sig, cert, 0), 'bad_signature', 'port');
  t.equal(verifier.verify('alive', 'b', alive('b', 1, { meta: 'role=db!' }), sig, cert, 0), 'bad_signature', 'meta');

  const leave = b.sign('leave', leaveBytes('b', 3));
  t.equal(verifier.verify('leave', 'b', leaveBytes('b', 3), leave, cert, 0), undefined, 'the signed leave verifies');
  t.equal(
    verifier.verify('leave', 'b', leaveBytes('b', 4), leave, cert, 0),
    'bad_signature',
    'a leave signed at incarnation 3 does not end incarnation 4',
  );
});

t.test('an alive signature is not a leave signature over the same bytes, nor the reverse', async (t) => {
  const pki = toyPki(['a', 'b']);
  const b = toyAuth(pki, 'b');
  const verifier = toyAuth(pki, 'a');
  const bytes = leaveBytes('b', 5);
  const asAlive = b.sign('alive', bytes);
  const asLeave = b.sign('leave', bytes);
  t.equal(verifier.verify('alive', 'b', bytes, asAlive, b.ownCert(true), 0), undefined);
  t.equal(verifier.verify('leave', 'b', bytes, asLeave, b.ownCert(true), 0), undefined);
  t.equal(verifier.verify('leave', 'b', bytes, asAlive, b.ownCert(true), 0), 'bad_signature', 'alive used as leave');
  t.equal(verifier.verify('alive', 'b', bytes, asLeave, b.ownCert(true), 0), 'bad_signature', 'leave used as alive');
});

t.test('a node outside the PKI is refused, as itself or as a member', async (t) => {
  const pki = toyPki(['a', 'b', 'c']);
  const verifier = toyAuth(pki, 'a');
  const mallory = toyAuth(pki, 'mallory');
  const own = alive('mallory', 1);
  t.equal(
    verifier.verify('alive', 'mallory', own, mallory.sign('alive', own), mallory.ownCert(true), 0),
    'bad_cert',
    'no certificate from the CA',
  );
  // Every member's key differs from what a node without one signs with (each index of the
  // PKI, the second one included).
  for (const name of ['a', 'b', 'c']) {
    const bytes = alive(name, 9);
    t.equal(
      verifier.verify('alive', name, bytes, mallory.sign('alive', bytes), enc.encode(name), 0),
      'bad_signature',
      `a forged alive of ${name}`,
    );
  }
  const b = toyAuth(pki, 'b');
  t.equal(
    verifier.verify('alive', 'c', alive('c', 1), b.sign('alive', alive('c', 1)), b.ownCert(true), 0),
    'bad_cert',
    "b's certificate does not speak for c",
  );
});

t.test('a signature of the wrong length is refused, even one that is a prefix of the right one', async (t) => {
  const pki = toyPki(['a', 'b']);
  const b = toyAuth(pki, 'b');
  const verifier = toyAuth(pki, 'a');
  const bytes = alive('b', 1);
  const sig = b.sign('alive', bytes);
  const check = (s: Uint8Array) => verifier.verify('alive', 'b', bytes, s, b.ownCert(true), 0);
  t.equal(check(sig), undefined);
  t.equal(check(new Uint8Array()), 'bad_signature', 'empty');
  t.equal(check(sig.subarray(0, 32)), 'bad_signature', 'the first half');
  const longer = new Uint8Array(sig.byteLength + 1);
  longer.set(sig);
  t.equal(check(longer), 'bad_signature', 'one byte more');
});

t.test('a certificate reference gives back the certificate', async (t) => {
  const pki = toyPki(['a', 'b']);
  const b = toyAuth(pki, 'b');
  const der = b.ownCert(true);
  t.same(b.certificate(b.certRef(der)), der, 'from the reference');
  t.same(b.certificate(der), der, 'from the DER');
  t.equal(new TextDecoder().decode(b.certificate(der)), 'b');
});

t.test('a certificate is good through its expiry time and expired after it, as the Ed25519 signer', async (t) => {
  const pki = toyPki(['a', 'b']);
  pki.expiresAt.set('b', 1000);
  const b = toyAuth(pki, 'b');
  const verifier = toyAuth(pki, 'a');
  const bytes = alive('b', 1);
  const sig = b.sign('alive', bytes);
  t.equal(verifier.standing('b', 1000), undefined, 'at expiry');
  t.equal(verifier.verify('alive', 'b', bytes, sig, b.ownCert(true), 1000), undefined);
  t.equal(verifier.standing('b', 1001), 'expired', 'after');
  t.equal(verifier.verify('alive', 'b', bytes, sig, b.ownCert(true), 1001), 'expired');
  pki.revoked.add('b');
  t.equal(verifier.standing('b', 0), 'revoked', 'revocation first, whatever the time');
});

t.test('unsigned news is taken only in the migration window, and never once a node was seen signed', async (t) => {
  const pki = toyPki(['a', 'b']);
  const verifier = toyAuth(pki, 'a');
  t.equal(verifier.acceptUnsigned('b'), false, 'closed by default');
  pki.unsigned.accept = true;
  t.equal(verifier.acceptUnsigned('b'), true, 'open');
  const b = toyAuth(pki, 'b');
  t.equal(verifier.verify('alive', 'b', alive('b', 1), b.sign('alive', alive('b', 1)), b.ownCert(true), 0), undefined);
  t.equal(verifier.acceptUnsigned('b'), false, 'b signed once: its unsigned news is a downgrade');
  t.equal(verifier.acceptUnsigned('c'), true, 'others still may');
});

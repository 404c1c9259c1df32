import t from 'tap';
import fc from 'fast-check';
import { Envelope, ENVELOPE_REJECTS } from './envelope.js';
import { Keyring, generateKey } from '../membership/keyring.js';

t.test('plain and encrypted envelopes round-trip; the overhead is exact', async (t) => {
  const k = generateKey();
  for (const env of [
    new Envelope({ label: '' }),
    new Envelope({ label: 'prod-eu' }),
    new Envelope({ label: 'x', keyring: new Keyring([k]) }),
  ]) {
    const body = Buffer.from('hello store');
    const sealed = env.seal(body);
    t.equal(sealed.length, body.length + env.overhead);
    const opened = env.open(sealed);
    t.ok(opened.ok && Buffer.from(opened.body).equals(body));
  }
});

t.test('other clusters, wrong keys and damage are told apart', async (t) => {
  const k1 = generateKey();
  const plain = new Envelope({ label: 'a' });
  const sealed = plain.seal(Buffer.from('x'));
  t.same(new Envelope({ label: 'b' }).open(sealed), { ok: false, reason: 'wrong_label' });
  t.same(new Envelope({ label: 'a', keyring: new Keyring([k1]) }).open(sealed), {
    ok: false,
    reason: 'encryption_mismatch',
  });
  const bad = Buffer.from(sealed);
  bad[bad.length - 5] ^= 1;
  t.same(plain.open(bad), { ok: false, reason: 'bad_crc' });
  const enc = new Envelope({ label: 'a', keyring: new Keyring([k1]) }).seal(Buffer.from('secret'));
  t.same(new Envelope({ label: 'a', keyring: new Keyring([generateKey()]) }).open(enc), {
    ok: false,
    reason: 'decrypt_failed',
  });
  t.ok(
    new Envelope({ label: 'a', keyring: new Keyring([generateKey(), k1]) }).open(enc).ok,
    'any installed key opens it (rotation)',
  );
  t.same(plain.open(new Uint8Array([2, 0, 0, 1])), { ok: false, reason: 'bad_version' });
  t.same(plain.open(new Uint8Array([1])), { ok: false, reason: 'too_short' });
});

t.test('open never throws', async (t) => {
  const envs = [new Envelope({ label: 'a' }), new Envelope({ label: 'a', keyring: new Keyring([generateKey()]) })];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      for (const e of envs) {
        const r = e.open(b);
        if (!r.ok && !ENVELOPE_REJECTS.includes(r.reason)) return false;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

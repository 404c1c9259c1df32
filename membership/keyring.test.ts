import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Keyring, generateKey, parseKey } from './keyring.js';
import { decodePacket, encodePacket } from './codec.js';
import type { PacketMessage } from './messages.js';

const msgs: PacketMessage[] = [{ t: 'nack', seq: 1 }];
const outcome = (sender: Keyring, receiver: Keyring): string => {
  const r = decodePacket(encodePacket(msgs, { label: 'c', keyring: sender }), { label: 'c', keyring: receiver });
  return r.ok ? 'ok' : r.reason;
};

t.test('rotation: add new, use new, old still accepted until removed, then rejected', async (t) => {
  const oldKey = generateKey();
  const newKey = generateKey();
  const a = new Keyring([oldKey]);
  const b = new Keyring([oldKey]);
  const lagging = new Keyring([oldKey]); // a node still sending with the old key

  a.add(newKey);
  b.add(newKey);
  t.equal(a.primary(), oldKey, 'adding does not change the primary');
  t.equal(outcome(a, b), 'ok', 'after add');

  a.use(newKey);
  t.equal(a.primary(), newKey);
  t.same(a.keys(), [newKey, oldKey], 'primary first');
  t.equal(outcome(a, b), 'ok', 'new key accepted by a node that has it installed');
  t.equal(outcome(lagging, a), 'ok', 'old key still accepted');
  t.equal(outcome(a, lagging), 'decrypt_failed', 'a node without the new key cannot read it');

  a.remove(oldKey);
  t.same(a.keys(), [newKey]);
  t.equal(outcome(lagging, a), 'decrypt_failed', 'old key rejected once removed');
});

t.test('the primary cannot be removed, and only installed keys can be used', async (t) => {
  const k = generateKey();
  const ring = new Keyring([k]);
  t.throws(() => ring.remove(k), /cannot remove the primary/);
  t.throws(() => ring.use(generateKey()), /not installed/);
  ring.remove(generateKey()); // removing an unknown key is a no-op
  ring.add(k);
  t.same(ring.keys(), [k], 'adding an installed key does not duplicate it');
});

t.test('keys are 32 bytes of strict base64; errors say what is wrong without echoing the key', async (t) => {
  t.throws(() => parseKey(randomBytes(16).toString('base64')), {
    message: 'encryption key must be 32 bytes (base64 of 32 random bytes), got 16',
  });
  t.throws(() => parseKey('not base64 at all!'), { message: 'encryption key is not valid base64' });
  t.throws(() => new Keyring([]), /at least one key/);
  const raw = randomBytes(32);
  t.equal(parseKey(raw.toString('base64')).equals(raw), true);
  t.equal(parseKey(new Uint8Array(raw)).equals(raw), true, 'raw bytes accepted');
});

t.test('every packet gets a fresh nonce', async (t) => {
  const ring = new Keyring([generateKey()]);
  const aad = Buffer.from('x');
  const nonces = new Set<string>();
  for (let i = 0; i < 1000; i++) nonces.add(ring.seal(Buffer.from('same'), aad).subarray(0, 12).toString('hex'));
  t.equal(nonces.size, 1000);
});

t.test('open rejects tampering and short input without throwing', async (t) => {
  const ring = new Keyring([generateKey()]);
  const aad = Buffer.from('label');
  const sealed = ring.seal(Buffer.from('hello'), aad);
  t.equal(ring.open(sealed, aad)?.toString(), 'hello');
  t.equal(ring.open(sealed, Buffer.from('other')), undefined, 'different additional data');
  const flipped = Buffer.from(sealed);
  flipped[14]! ^= 1;
  t.equal(ring.open(flipped, aad), undefined, 'flipped ciphertext bit');
  t.equal(ring.open(sealed.subarray(0, 27), aad), undefined, 'shorter than nonce and tag');
});

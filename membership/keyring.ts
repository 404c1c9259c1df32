// The gossip encryption keyring: AES-256-GCM keys, one of them primary.
//
// Rotation works as in memberlist/serf: install the new key everywhere (`add`), switch
// every node to send with it (`use`), then drop the old one (`remove`). Receivers try
// every installed key, so the cluster keeps talking at each step.

import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes that sealing adds around the plaintext: nonce in front, tag behind. */
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

/** A key as configured (base64 of 32 bytes) or as raw bytes. */
export type KeyInput = string | Uint8Array;

/** Turns a configured key into its 32 bytes, or throws an Error whose message can be shown to the user. */
export function parseKey(key: KeyInput): Buffer {
  let bytes: Buffer;
  if (typeof key === 'string') {
    const trimmed = key.trim();
    // Buffer.from(…, 'base64') skips invalid characters silently; a typo must not yield a different key.
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)) throw new Error('encryption key is not valid base64');
    bytes = Buffer.from(trimmed, 'base64');
  } else {
    bytes = Buffer.from(key);
  }
  if (bytes.length !== KEY_BYTES) {
    throw new Error(
      `encryption key must be ${KEY_BYTES} bytes (base64 of ${KEY_BYTES} random bytes), got ${bytes.length}`,
    );
  }
  return bytes;
}

/** A fresh random key, base64, as a user would put it in the config. */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

export class Keyring {
  // Primary first: it is the key that succeeds on nearly every packet, so receive tries it first.
  #keys: Buffer[] = [];

  /** The first key becomes the primary. */
  constructor(keys: readonly KeyInput[]) {
    if (keys.length === 0) throw new Error('a keyring needs at least one key');
    for (const k of keys) this.add(k);
  }

  /** Installs a key for receiving. Adding a key that is already installed changes nothing. */
  add(key: KeyInput): void {
    const bytes = parseKey(key);
    if (this.#indexOf(bytes) === -1) this.#keys.push(bytes);
  }

  /** Makes an installed key the primary, used for everything sent from now on. */
  use(key: KeyInput): void {
    const bytes = parseKey(key);
    const i = this.#indexOf(bytes);
    if (i === -1) throw new Error('cannot use an encryption key that is not installed: add it first');
    this.#keys.splice(i, 1);
    this.#keys.unshift(bytes);
  }

  /** Uninstalls a key. The primary cannot be removed: `use` another key first. */
  remove(key: KeyInput): void {
    const bytes = parseKey(key);
    const i = this.#indexOf(bytes);
    if (i === 0) throw new Error('cannot remove the primary encryption key: use another key first');
    if (i > 0) this.#keys.splice(i, 1);
  }

  /** Installed keys as base64, primary first. */
  keys(): string[] {
    return this.#keys.map((k) => k.toString('base64'));
  }

  primary(): string {
    return this.#keys[0]!.toString('base64');
  }

  /**
   * Encrypts with the primary key: nonce ‖ ciphertext ‖ tag. `aad` is authenticated, not encrypted.
   * A random 96-bit nonce per message keeps the GCM nonce-reuse risk negligible for any realistic
   * gossip volume (2^32 messages per key gives a collision chance around 2^-33).
   */
  seal(plaintext: Uint8Array, aad: Uint8Array): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0]!, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    const final = cipher.final();
    return Buffer.concat([nonce, body, final, cipher.getAuthTag()], SEAL_OVERHEAD + plaintext.length);
  }

  /** Decrypts with whichever installed key authenticates `sealed`, or returns undefined. Never throws. */
  open(sealed: Uint8Array, aad: Uint8Array): Buffer | undefined {
    if (sealed.length < SEAL_OVERHEAD) return undefined;
    const nonce = sealed.subarray(0, NONCE_BYTES);
    const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    for (const key of this.#keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad);
        decipher.setAuthTag(tag);
        const out = decipher.update(body);
        const final = decipher.final(); // throws when the tag does not authenticate
        return final.length === 0 ? out : Buffer.concat([out, final]);
      } catch {
        // wrong key (or forged packet): try the next one
      }
    }
    return undefined;
  }

  #indexOf(bytes: Buffer): number {
    return this.#keys.findIndex((k) => timingSafeEqual(k, bytes));
  }
}

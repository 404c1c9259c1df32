// Certificates by reference (issue 13): a certificate travels whole once, then as its
// reference, the first CERT_REF_BYTES of its SHA-256 fingerprint. Membership (member-signer.ts)
// and the store (crdt-store/change-auth.ts) both keep a CertBook of the certificates they
// verified against the CA; a reference resolves only through it, so a reference proves
// nothing an attacker could not already prove with the certificate itself, and an unknown
// reference costs a failed lookup, never memory.

import { CERT_REF_BYTES } from './messages.js';
import { fingerprintOf, type TrustedCert } from './identity.js';
import { LruMap } from '../base/lru.js';

/** The reference of a certificate, from its fingerprint (hex). */
export const certRef = (fingerprintHex: string): Uint8Array =>
  Buffer.from(fingerprintHex.slice(0, CERT_REF_BYTES * 2), 'hex');

/** The reference of a certificate's DER bytes. */
export const certRefOfDer = (der: Uint8Array): Uint8Array => certRef(fingerprintOf(der));

/** Bytes as a map key (latin1: one char per byte, no copy of meaning lost). */
export const bytesKey = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** Verified certificates by reference; bounded (only CA-issued certificates ever enter). */
export class CertBook {
  private readonly certs: LruMap<string, TrustedCert>;

  constructor(capacity = 65_536) {
    this.certs = new LruMap(capacity);
  }

  /** Keeps a certificate that passed CertVerifier.check; returns its reference. */
  add(tc: TrustedCert): Uint8Array {
    const ref = certRef(tc.fingerprint);
    this.certs.set(bytesKey(ref), tc);
    return ref;
  }

  get(ref: Uint8Array): TrustedCert | undefined {
    return ref.byteLength === CERT_REF_BYTES ? this.certs.get(bytesKey(ref)) : undefined;
  }

  get size(): number {
    return this.certs.size;
  }
}

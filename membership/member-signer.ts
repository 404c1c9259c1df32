// Signed membership with the node's real identity (issue 13): the MemberAuth the core
// asks for (core/member-auth.ts), over the same CA, certificates and Ed25519 keys as the
// store's signed changes (identity.ts). Certificates travel whole once and by reference
// (the first CERT_REF_BYTES of the SHA-256 fingerprint) after; a reference resolves only
// to a certificate this node verified against the CA, so a reference proves nothing an
// attacker could not already prove with the certificate itself.

import { CERT_REF_BYTES } from './messages.js';
import { verifySignature, type CertVerifier, type Identity, type TrustedCert } from './identity.js';
import type { MemberAuth, MemberAuthReject, SignedKind } from './core/member-auth.js';
import { LruMap } from '../base/lru.js';
import { bytesKey as key, CertBook, certRef as refOf, certRefOfDer } from './cert-book.js';

const DOMAIN: Record<SignedKind, string> = { alive: 'member-alive', leave: 'member-leave' };

export interface SignedMembershipOptions {
  /** The migration window (tls.acceptUnsigned): unsigned news of nodes never seen with a certificate is taken. */
  acceptUnsigned?: () => boolean;
  /** Added to the core's clock to get wall-clock ms (the simulator's clock starts at 0). */
  clockOffsetMs?: number;
  /** Signatures remembered as verified (or refused). */
  cacheSize?: number;
}

export class SignedMembership implements MemberAuth {
  /** Certificates verified here, by reference. */
  private readonly certs = new CertBook();
  /** A DER's reference, per received copy: an old agent's push/pull names every certificate whole. */
  private readonly refsOfDer = new WeakMap<Uint8Array, Uint8Array>();
  /** (kind, signature, bytes) -> verdict: each (node, incarnation) is paid for once. */
  private readonly verdicts: LruMap<string, MemberAuthReject | 'ok'>;
  /** Latest notAfter of the certificates seen per node: a node's standing ends with it. */
  private readonly notAfter = new LruMap<string, number>(65_536);
  private readonly acceptUnsignedNow: () => boolean;
  private readonly clockOffsetMs: number;
  /** Signatures actually checked (not answered from the cache). */
  verifications = 0;

  constructor(
    private identity: Identity,
    opts: SignedMembershipOptions = {},
  ) {
    this.acceptUnsignedNow = opts.acceptUnsigned ?? (() => false);
    this.clockOffsetMs = opts.clockOffsetMs ?? 0;
    this.verdicts = new LruMap(opts.cacheSize ?? 16_384);
    this.remember(identity.cert);
  }

  /** How many certificates the book holds (bounded: only CA-issued ones enter). */
  get knownCertificates(): number {
    return this.certs.size;
  }

  get verifier(): CertVerifier {
    return this.identity.verifier;
  }

  /** A renewed certificate (SIGHUP): signs with it from now on; the core sends it whole once. */
  setIdentity(identity: Identity): void {
    this.identity = { ...identity, verifier: this.identity.verifier };
    this.remember(identity.cert);
  }

  sign(kind: SignedKind, bytes: Uint8Array): Uint8Array {
    return this.identity.sign(DOMAIN[kind], bytes);
  }

  ownCert(full: boolean): Uint8Array {
    return full ? this.identity.cert.der : refOf(this.identity.cert.fingerprint);
  }

  verify(
    kind: SignedKind,
    name: string,
    bytes: Uint8Array,
    sig: Uint8Array,
    cert: Uint8Array,
    now: number,
  ): MemberAuthReject | undefined {
    const standing = this.standing(name, now);
    if (standing) return standing;
    const k = `${kind}\0${name}\0${key(sig)}\0${key(cert)}\0${key(bytes)}`;
    let verdict = this.verdicts.get(k);
    if (verdict === undefined) {
      verdict = this.check(kind, name, bytes, sig, cert, now);
      // Unknown certificates are not final: the certificate may arrive by push/pull.
      if (verdict !== 'unknown_cert') this.verdicts.set(k, verdict);
    }
    return verdict === 'ok' ? undefined : verdict;
  }

  certificate(cert: Uint8Array): Uint8Array | undefined {
    if (cert.byteLength !== CERT_REF_BYTES) return cert;
    return this.certs.get(cert)?.der;
  }

  certRef(cert: Uint8Array): Uint8Array {
    if (cert.byteLength === CERT_REF_BYTES) return cert;
    let ref = this.refsOfDer.get(cert);
    if (!ref) this.refsOfDer.set(cert, (ref = certRefOfDer(cert)));
    return ref;
  }

  standing(name: string, now: number): 'revoked' | 'expired' | undefined {
    if (this.identity.verifier.isRevoked(name)) return 'revoked';
    const until = this.notAfter.get(name);
    return until !== undefined && now + this.clockOffsetMs > until ? 'expired' : undefined;
  }

  acceptUnsigned(name: string): boolean {
    return this.acceptUnsignedNow() && this.notAfter.get(name) === undefined;
  }

  private check(
    kind: SignedKind,
    name: string,
    bytes: Uint8Array,
    sig: Uint8Array,
    cert: Uint8Array,
    now: number,
  ): MemberAuthReject | 'ok' {
    let tc: TrustedCert | undefined;
    if (cert.byteLength === CERT_REF_BYTES) {
      tc = this.certs.get(cert);
      if (!tc) return 'unknown_cert';
      if (now + this.clockOffsetMs > tc.notAfter) return 'expired';
    } else {
      const c = this.identity.verifier.check(cert, now + this.clockOffsetMs);
      if (typeof c === 'string') return c === 'revoked' || c === 'expired' ? c : 'bad_cert';
      tc = c;
    }
    if (tc.name !== name) return 'bad_cert';
    this.verifications++;
    if (!verifySignature(tc.publicKey, DOMAIN[kind], bytes, sig)) return 'bad_signature';
    this.remember(tc);
    return 'ok';
  }

  private remember(tc: TrustedCert): void {
    this.certs.add(tc);
    if ((this.notAfter.get(tc.name) ?? -Infinity) < tc.notAfter) this.notAfter.set(tc.name, tc.notAfter);
  }
}

// Per-node identity (issue 13): a cluster CA, one Ed25519 certificate per node binding its
// name (the subject's CN) to its key, and signatures over bytes with that key. Shared by
// membership and the store, as keyring.ts is; nothing here creates certificates (that is
// `weft tls`, src/tls-files.ts) and nothing here is hand-written cryptography: keys,
// signatures and X.509 parsing and chain checks are node:crypto's.
//
// Time comes in as a parameter (milliseconds since the epoch), so the same checks run in
// the simulator with its clock.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OldestCursor } from '../base/oldest.js';

/** A problem with identity files or a certificate, said shortly for a person to fix. */
export class IdentityError extends Error {}

/** Why a certificate is not taken, as a metric label. */
export const CERT_REJECTS = [
  'bad_cert',
  'not_issued',
  'not_node_cert',
  'bad_name',
  'expired',
  'not_yet_valid',
  'revoked',
] as const;
export type CertReject = (typeof CERT_REJECTS)[number];

/** A node certificate that passed every check. */
export interface TrustedCert {
  name: string;
  publicKey: KeyObject;
  /** SHA-256 of the DER bytes, hex. */
  fingerprint: string;
  notBefore: number;
  notAfter: number;
  der: Uint8Array;
}

// Node names as config-schema's node.name allows them: nothing a subject string could escape.
const CN = /^CN=([A-Za-z0-9][A-Za-z0-9_.-]{0,62})$/;

export const fingerprintOf = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

/** The CA certificate from PEM; throws IdentityError unless it is a self-signed Ed25519 CA. */
export function parseCa(pem: string | Uint8Array, source = 'CA certificate'): X509Certificate {
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(pem);
  } catch {
    throw new IdentityError(`${source} is not a PEM or DER X.509 certificate`);
  }
  if (!ca.ca)
    throw new IdentityError(
      `${source} is not a CA certificate (basicConstraints CA:TRUE); create one with weft tls ca create`,
    );
  if (ca.publicKey.asymmetricKeyType !== 'ed25519')
    throw new IdentityError(
      `${source} has a ${ca.publicKey.asymmetricKeyType} key; weft uses Ed25519 (weft tls ca create)`,
    );
  if (!ca.verify(ca.publicKey)) throw new IdentityError(`${source} is not self-signed`);
  return ca;
}

/**
 * Checks node certificates against the CA: issued and signed by it, a leaf (not a CA),
 * Ed25519, one CN that is a node name, within its validity, not revoked. Parsing and the
 * chain check are paid once per certificate (cached by fingerprint, bounded); validity and
 * revocation are checked at every call, since time moves and revocations arrive.
 */
export class CertVerifier {
  private readonly cache = new Map<string, TrustedCert | CertReject>();
  private readonly oldest = new OldestCursor(this.cache);
  private readonly revoked = new Set<string>();

  constructor(
    readonly ca: X509Certificate,
    private readonly capacity = 4096,
  ) {}

  /** `allowExpired`: a certificate past its notAfter is still taken (history signed while it was valid). */
  check(der: Uint8Array, now: number, allowExpired = false): TrustedCert | CertReject {
    const fp = fingerprintOf(der);
    let c = this.cache.get(fp);
    if (c === undefined) {
      c = this.parse(der, fp);
      if (this.cache.size >= this.capacity) this.oldest.evictOldest();
      this.cache.set(fp, c);
    }
    if (typeof c === 'string') return c;
    if (now < c.notBefore) return 'not_yet_valid';
    if (now > c.notAfter && !allowExpired) return 'expired';
    if (this.revoked.has(c.name) || this.revoked.has(c.fingerprint)) return 'revoked';
    return c;
  }

  /** From now on certificates of this node name (or with this fingerprint) are refused. */
  revoke(nameOrFingerprint: string): void {
    this.revoked.add(nameOrFingerprint);
  }

  isRevoked(name: string): boolean {
    return this.revoked.has(name);
  }

  private parse(der: Uint8Array, fingerprint: string): TrustedCert | CertReject {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return 'bad_cert';
    }
    if (!cert.checkIssued(this.ca) || !cert.verify(this.ca.publicKey)) return 'not_issued';
    if (cert.ca || cert.publicKey.asymmetricKeyType !== 'ed25519') return 'not_node_cert';
    const m = CN.exec(cert.subject);
    if (!m) return 'bad_name';
    return {
      name: m[1]!,
      publicKey: cert.publicKey,
      fingerprint,
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
      der: new Uint8Array(cert.raw),
    };
  }
}

/** This node's identity: its certificate (checked against the CA) and its private key. */
export interface Identity {
  name: string;
  cert: TrustedCert;
  verifier: CertVerifier;
  /** Ed25519 over the domain and `bytes` (or its parts, in order: the same as over their concatenation). */
  sign(domain: string, bytes: Uint8Array | readonly Uint8Array[]): Uint8Array;
}

// The few domains' prefixes, encoded once: a store write signs on its path.
const prefixes = new Map<string, Buffer>();

/**
 * Ed25519 over a domain-separated message, so a signature made for one purpose means
 * nothing in another. Built in one copy from its parts (a change is signed as document id
 * and change bytes, not concatenated twice).
 */
function message(domain: string, bytes: Uint8Array | readonly Uint8Array[]): Buffer {
  let prefix = prefixes.get(domain);
  if (!prefix) prefixes.set(domain, (prefix = Buffer.from(`weft/${domain}\0`)));
  return Buffer.concat(bytes instanceof Uint8Array ? [prefix, bytes] : [prefix, ...bytes]);
}

export function verifySignature(
  key: KeyObject,
  domain: string,
  bytes: Uint8Array | readonly Uint8Array[],
  sig: Uint8Array,
): boolean {
  if (sig.length !== 64) return false;
  try {
    return verify(null, message(domain, bytes), key, sig);
  } catch {
    return false;
  }
}

/** The identity from PEM texts; throws IdentityError saying what is wrong and what to do. */
export function makeIdentity(opts: {
  caPem: string | Uint8Array;
  certPem: string | Uint8Array;
  keyPem: string | Uint8Array;
  name: string;
  now: number;
  sources?: { ca: string; cert: string; key: string };
}): Identity {
  const src = opts.sources ?? { ca: 'CA certificate', cert: 'node certificate', key: 'node key' };
  const verifier = new CertVerifier(parseCa(opts.caPem, src.ca));
  let der: Uint8Array;
  try {
    der = new Uint8Array(new X509Certificate(opts.certPem).raw);
  } catch {
    throw new IdentityError(`${src.cert} is not a PEM or DER X.509 certificate`);
  }
  const cert = verifier.check(der, opts.now);
  if (typeof cert === 'string') throw new IdentityError(`${src.cert}: ${certProblem(cert)}`);
  if (cert.name !== opts.name)
    throw new IdentityError(
      `${src.cert} is for node "${cert.name}", not "${opts.name}"; create one with weft tls cert create --node ${opts.name}`,
    );
  let key: KeyObject;
  try {
    key = createPrivateKey(typeof opts.keyPem === 'string' ? opts.keyPem : Buffer.from(opts.keyPem));
  } catch {
    throw new IdentityError(`${src.key} is not a PEM private key`);
  }
  if (
    createPublicKey(key)
      .export({ format: 'der', type: 'spki' })
      .equals(cert.publicKey.export({ format: 'der', type: 'spki' })) === false
  ) {
    throw new IdentityError(`${src.key} does not belong to ${src.cert}`);
  }
  return {
    name: cert.name,
    cert,
    verifier,
    // The KeyObject parsed once; OpenSSL's per-call setup was measured at well under 1 % of
    // a signature here (openssl speed, which reuses its context: the same 40 us of CPU).
    sign: (domain, bytes) => sign(null, message(domain, bytes), key),
  };
}

/** The identity from the agent's files (tls.caFile, tls.certFile, tls.keyFile). */
export function loadIdentity(
  files: { caFile: string; certFile: string; keyFile: string },
  name: string,
  now: number,
): Identity {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new IdentityError(
        `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  return makeIdentity({
    caPem: read(files.caFile, 'tls.caFile'),
    certPem: read(files.certFile, 'tls.certFile'),
    keyPem: read(files.keyFile, 'tls.keyFile'),
    name,
    now,
    sources: {
      ca: `tls.caFile ${files.caFile}`,
      cert: `tls.certFile ${files.certFile}`,
      key: `tls.keyFile ${files.keyFile}`,
    },
  });
}

export function certProblem(r: CertReject): string {
  switch (r) {
    case 'bad_cert':
      return 'not an X.509 certificate';
    case 'not_issued':
      return "not issued by this cluster's CA (tls.caFile)";
    case 'not_node_cert':
      return 'not a node certificate (a CA, or not Ed25519); create one with weft tls cert create';
    case 'bad_name':
      return 'its subject is not CN=<node name>';
    case 'expired':
      return 'expired; renew it with weft tls cert create and send the agent SIGHUP';
    case 'not_yet_valid':
      return 'not valid yet (check the clock)';
    case 'revoked':
      return 'revoked (weft tls revoke)';
  }
}

// Revocation: the CA's own signature over a node name. Anyone may carry it (it is written
// into the store's shared records); only the CA key can make one, and every node checks it.
const REVOKE_DOMAIN = 'revoke';

/** The CA's signature revoking `node` (by `weft tls revoke`, which holds the CA key). */
export function signRevocation(caKeyPem: string | Uint8Array, node: string): Uint8Array {
  let key: KeyObject;
  try {
    key = createPrivateKey(typeof caKeyPem === 'string' ? caKeyPem : Buffer.from(caKeyPem));
  } catch {
    throw new IdentityError('the CA key is not a PEM private key');
  }
  return new Uint8Array(sign(null, message(REVOKE_DOMAIN, Buffer.from(node)), key));
}

export function verifyRevocation(ca: X509Certificate, node: string, sig: Uint8Array): boolean {
  return verifySignature(ca.publicKey, REVOKE_DOMAIN, Buffer.from(node), sig);
}

// Signed membership (issue 13, step 3): what the core asks of identity, as an interface,
// so that the daemon plugs in Ed25519 certificates (membership/member-signer.ts) and the
// simulator either the same or a cheap stand-in with the same semantics (toyAuth below).
//
// The rules the core enforces with it (swim.ts):
//   - an alive counts only with its node's signature over (name, addr, port, incarnation,
//     meta): a refutation cannot be forged, and only the node can raise its incarnation;
//   - a suspect or dead claim about another node may name only an incarnation that node
//     signed (the receiver holds the signed alive, or the push/pull entry carries it);
//   - a leave (dead from the node itself) carries the node's own signature;
//   - a member whose certificate expired or was revoked is dead for good; its packets and
//     streams are refused.
// Verification is paid once per (node, incarnation): the core checks staleness first and
// the implementation caches what it verified.

import type { Alive } from '../messages.js';

export const MEMBER_AUTH_REJECTS = [
  'unsigned', // no signature, outside the migration window (or the node is known to have a certificate)
  'bad_signature', // the signature does not verify
  'bad_cert', // certificate not the cluster CA's, or issued to another name
  'unknown_cert', // a certificate reference we have not seen the certificate of yet
  'revoked', // the node's certificate was revoked
  'expired', // the node's certificate expired
  'unsigned_incarnation', // a suspect/dead claim about an incarnation the node never signed
  'refused_sender', // a packet or stream from a revoked or expired member
] as const;
export type MemberAuthReject = (typeof MEMBER_AUTH_REJECTS)[number];

export type SignedKind = 'alive' | 'leave';

export interface MemberAuth {
  /** Our signature over `bytes` (aliveBytes or leaveBytes of our own news). */
  sign(kind: SignedKind, bytes: Uint8Array): Uint8Array;
  /** Our certificate: its DER, or (full false) its short reference once peers know it. */
  ownCert(full: boolean): Uint8Array;
  /** undefined when `sig` is `name`'s signature over `bytes` under the certificate `cert` (DER or reference). */
  verify(
    kind: SignedKind,
    name: string,
    bytes: Uint8Array,
    sig: Uint8Array,
    cert: Uint8Array,
    now: number,
  ): MemberAuthReject | undefined;
  /** The DER of a certificate verified here, from its DER or its reference (push/pull sends it to peers that lack it). */
  certificate(cert: Uint8Array): Uint8Array | undefined;
  /** A certificate's short reference, from its DER or its reference (what push/pull entries name it by). */
  certRef(cert: Uint8Array): Uint8Array;
  /** Why `name` may no longer be a member ('revoked', 'expired'), or undefined. */
  standing(name: string, now: number): 'revoked' | 'expired' | undefined;
  /** May an unsigned alive or leave of `name` be taken (the migration window, for nodes without a certificate)? */
  acceptUnsigned(name: string): boolean;
}

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** Length-prefixed, so no two different field lists give the same bytes. */
function field(b: Uint8Array): Uint8Array[] {
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, b.byteLength);
  return [len, b];
}

function f64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, n);
  return b;
}

/** The bytes a node signs for its alive. */
export function aliveBytes(a: Pick<Alive, 'incarnation' | 'node' | 'meta'>): Uint8Array {
  return concat([
    ...field(enc.encode(a.node.name)),
    ...field(enc.encode(a.node.addr)),
    f64(a.node.port),
    f64(a.incarnation),
    ...field(a.meta),
  ]);
}

/** The bytes a node signs for its leave. */
export function leaveBytes(name: string, incarnation: number): Uint8Array {
  return concat([...field(enc.encode(name)), f64(incarnation)]);
}

// ------------------------------------------------------------------ a stand-in for tests

/**
 * A deterministic stand-in with the semantics of the real thing and none of its cost:
 * a "certificate" is the node's name, a "signature" a keyed FNV-1a hash under a secret
 * only that node's ToyAuth holds (the shared `secrets` map stands for the CA). Not
 * cryptography: for unit tests and simulations where the attacker code never reads the
 * map. `revoked` and `expiresAt` are the CA's revocations and certificate lifetimes.
 */
export interface ToyPki {
  secrets: Map<string, number>;
  revoked: Set<string>;
  expiresAt: Map<string, number>;
  unsigned: { accept: boolean };
}

export function toyPki(names: readonly string[]): ToyPki {
  const secrets = new Map<string, number>();
  names.forEach((n, i) => secrets.set(n, (0x9e3779b1 * (i + 1)) >>> 0));
  return { secrets, revoked: new Set(), expiresAt: new Map(), unsigned: { accept: false } };
}

function toySig(secret: number, kind: SignedKind, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  // Stryker disable next-line EqualityOperator: which kind gets the constant is the toy's choice; swapped, sign and verify (both toySig) still keep alive and leave apart
  let h = (0x811c9dc5 ^ secret ^ (kind === 'leave' ? 0x5bd1e995 : 0)) >>> 0;
  for (let round = 0; round < 16; round++) {
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    h = Math.imul(h ^ round ^ secret, 0x01000193) >>> 0;
    // Stryker disable next-line ArithmeticOperator: the layout of the 64 bytes is the toy's own, shared by sign and verify, so any offsets accept and refuse alike
    new DataView(out.buffer).setUint32(round * 4, h);
  }
  return out;
}

export function toyAuth(pki: ToyPki, name: string): MemberAuth & { verified: number } {
  const seen = new Set<string>();
  const auth = {
    verified: 0,
    sign: (kind: SignedKind, bytes: Uint8Array) => toySig(pki.secrets.get(name) ?? 0, kind, bytes),
    ownCert: () => enc.encode(name),
    verify(
      kind: SignedKind,
      subject: string,
      bytes: Uint8Array,
      sig: Uint8Array,
      cert: Uint8Array,
      now: number,
    ): MemberAuthReject | undefined {
      const certName = new TextDecoder().decode(cert);
      const secret = pki.secrets.get(certName);
      if (secret === undefined || certName !== subject) return 'bad_cert';
      const standing = auth.standing(subject, now);
      if (standing) return standing;
      auth.verified++;
      const want = toySig(secret, kind, bytes);
      if (sig.byteLength !== want.byteLength || sig.some((b, i) => b !== want[i])) return 'bad_signature';
      seen.add(subject);
      return undefined;
    },
    certificate: (cert: Uint8Array) => cert,
    certRef: (cert: Uint8Array) => cert,
    standing: (subject: string, now: number): 'revoked' | 'expired' | undefined =>
      pki.revoked.has(subject) ? 'revoked' : now > (pki.expiresAt.get(subject) ?? Infinity) ? 'expired' : undefined,
    acceptUnsigned: (subject: string) => pki.unsigned.accept && !seen.has(subject),
  };
  return auth;
}

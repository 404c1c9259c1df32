// Signed changes (issue 13): with identity on, every change carries its writer's
// signature, and a receiver checks it before the change touches a replica, whoever
// relayed it. This fills what admission.ts cannot check alone: an actor is a name's hash,
// a signature is a proof.
//
// How signatures travel. A signature is over the change's exact bytes (and the document
// id, so a change signed for one document means nothing in another); it cannot live in
// the change itself, whose hash covers every byte. So each replica keeps a side table,
// change hash -> auth record, next to the Automerge document (ReplicaDoc.auths), and the
// auth records travel beside the changes:
//   push        each change with its auth record (wire.ts WireChange.auth)
//   sync        each sync message with the auth records of the changes in it
//               (SyncItem.auths), looked up in the sender's side table
// An auth record is the signature (64 bytes) followed by the writer's certificate (DER).
//
// What is checked, per change:
//   - a record is there (else 'unsigned', unless the migration window accepts unsigned);
//   - the certificate is issued by the cluster CA and names a node, and is not revoked
//     ('bad_cert', 'revoked'); for a node's own document also within its validity: an
//     expired node writes nothing. Shared documents keep history written by nodes long
//     gone, whose certificates may have expired since; that history stays readable;
//   - the writer may write it ('wrong_signer'): n/X only by X, and in any document the
//     change's Automerge actor must be the writer's (its name half, names.ts actorId), so
//     no one can spend another node's sequence numbers;
//   - the Ed25519 signature over (document id, change bytes) ('bad_signature').
// A change that passed is remembered by (document, hash) in a bounded cache, so the
// signature is paid once per change, not once per receipt.

import { DEFAULTS } from './defaults.js';
import { Packr } from 'msgpackr';
import { verifySignature, type Identity, type CertVerifier } from '../membership/identity.js';
import { LruMap } from '../base/lru.js';
import { actorId, parseDocId, type DocId } from './names.js';

export const AUTH_REJECTS = ['unsigned', 'bad_signature', 'bad_cert', 'wrong_signer', 'revoked'] as const;
export type AuthReject = (typeof AUTH_REJECTS)[number];

/** What the store needs of identity: sign its own changes, check everyone's. */
export interface ChangeAuth {
  /** The auth record of a change this node made in `docId`. */
  sign(docId: DocId, change: Uint8Array): Uint8Array;
  /** The writer's node name, or why the change is refused. `actor` is the change's Automerge actor. */
  verify(
    docId: DocId,
    change: Uint8Array,
    hash: string,
    actor: string,
    auth: Uint8Array | undefined,
    now: number,
  ): string | AuthReject;
  /** The writer of a change already verified here (for records to name their writer). */
  writerOfActor(actor: string): string | undefined;
  /** Has every certificate seen for node `name` expired by `now` (the store's clock)? False if none was seen. */
  expired(name: string, now: number): boolean;
}

const DOMAIN = 'store-change';
const SIG_BYTES = 64;
const packr = new Packr({ useRecords: false, moreTypes: false });

const signedBytes = (docId: DocId, change: Uint8Array): Buffer =>
  Buffer.concat([Buffer.from(docId), Buffer.from([0]), change]);
/** The name half of an actor (names.ts actorId): 16 hex digits of the name's hash. */
const actorName = (actor: string): string => actor.slice(0, 16);

export interface SignedChangesOptions {
  /** Accept changes without an auth record (the migration window, see README "Identity"). */
  acceptUnsigned?: () => boolean;
  /** Verified changes remembered. */
  cacheSize?: number;
  /** Added to the store's clock to get wall-clock ms for certificate validity (the simulator's clock starts at 0). */
  clockOffsetMs?: number;
}

/** ChangeAuth over this node's identity and the cluster CA. */
export class SignedChanges implements ChangeAuth {
  private readonly verified: LruMap<string, string>;
  /** Actor name half -> node name, from verified changes (bounded: one per node seen). */
  private readonly writers = new LruMap<string, string>(65_536);
  private readonly acceptUnsigned: () => boolean;
  private ownCert: Uint8Array;
  /** Latest notAfter among the certificates seen per node (a renewal extends it). */
  private readonly notAfter = new LruMap<string, number>(65_536);
  private readonly clockOffsetMs: number;

  constructor(
    private identity: Identity,
    opts: SignedChangesOptions = {},
  ) {
    this.verified = new LruMap(opts.cacheSize ?? DEFAULTS.changeAuthCacheSize);
    this.acceptUnsigned = opts.acceptUnsigned ?? (() => false);
    this.ownCert = identity.cert.der;
    this.clockOffsetMs = opts.clockOffsetMs ?? 0;
    this.writers.set(actorName(actorId(identity.name, 0)), identity.name);
  }

  get verifier(): CertVerifier {
    return this.identity.verifier;
  }

  /** Told of revocations and renewals (membership signs with the same identity, issue 13). */
  readonly listeners = new Set<{ revoked?(node: string): void; renewed?(identity: Identity): void }>();

  /** The identity this node signs with now. */
  get current(): Identity {
    return this.identity;
  }

  /** From now on `node`'s changes are refused, even those verified before ('revoked'). */
  revoke(node: string): void {
    this.identity.verifier.revoke(node);
    for (const l of this.listeners) l.revoked?.(node);
  }

  get certFingerprint(): string {
    return this.identity.cert.fingerprint;
  }

  /** A renewed certificate (SIGHUP): signs with it from now on. */
  setIdentity(identity: Identity): void {
    // The same CA and its revocations: only the signing key and certificate change.
    this.identity = { ...identity, verifier: this.identity.verifier };
    this.ownCert = identity.cert.der;
    for (const l of this.listeners) l.renewed?.(this.identity);
  }

  sign(docId: DocId, change: Uint8Array): Uint8Array {
    return Buffer.concat([this.identity.sign(DOMAIN, signedBytes(docId, change)), this.ownCert]);
  }

  verify(
    docId: DocId,
    change: Uint8Array,
    hash: string,
    actor: string,
    auth: Uint8Array | undefined,
    now: number,
  ): string | AuthReject {
    const key = `${docId}\0${hash}`;
    const known = this.verified.get(key);
    if (known !== undefined) return this.identity.verifier.isRevoked(known) ? 'revoked' : known;
    if (!auth) return this.acceptUnsigned() ? (this.writers.get(actorName(actor)) ?? '?') : 'unsigned';
    if (auth.length <= SIG_BYTES) return 'bad_signature';
    const sig = auth.subarray(0, SIG_BYTES);
    const der = auth.subarray(SIG_BYTES);
    const kind = parseDocId(docId);
    const cert = this.identity.verifier.check(der, now + this.clockOffsetMs, kind?.kind === 'shared');
    if (typeof cert === 'string') return cert === 'revoked' ? 'revoked' : 'bad_cert';
    const writer = cert.name;
    if (kind?.kind === 'own' && kind.owner !== writer) return 'wrong_signer';
    if (actorName(actor) !== actorName(actorId(writer, 0))) return 'wrong_signer';
    if (!verifySignature(cert.publicKey, DOMAIN, signedBytes(docId, change), sig)) return 'bad_signature';
    if ((this.notAfter.get(writer) ?? -Infinity) < cert.notAfter) this.notAfter.set(writer, cert.notAfter);
    this.verified.set(key, writer);
    this.writers.set(actorName(actor), writer);
    return writer;
  }

  expired(name: string, now: number): boolean {
    const until = this.notAfter.get(name);
    return until !== undefined && now + this.clockOffsetMs > until;
  }

  writerOfActor(actor: string): string | undefined {
    return this.writers.get(actorName(actor));
  }
}

// Auth records on disk: a chunk of the document's journal entry that Automerge would never
// write (its chunks start with its own magic bytes), so the loader tells them apart.
const AUTH_MAGIC = Buffer.from('WEFTAUTH');

export const isAuthChunk = (chunk: Uint8Array): boolean =>
  chunk.length >= AUTH_MAGIC.length && AUTH_MAGIC.equals(chunk.subarray(0, AUTH_MAGIC.length));

/**
 * On disk an auth chunk holds each certificate once: [certificates, [hash, signature,
 * certificate index]...]; a record per change would repeat the same ~340 bytes and make
 * the journal compact several times as often.
 */
export function authChunk(entries: Iterable<[string, Uint8Array]>): Uint8Array {
  const certs: Uint8Array[] = [];
  const index = new Map<string, number>();
  const rows: [Buffer, Uint8Array, number][] = [];
  for (const [h, a] of entries) {
    const sig = a.subarray(0, SIG_BYTES);
    const der = a.subarray(SIG_BYTES);
    const k = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
    let i = index.get(k);
    if (i === undefined) index.set(k, (i = certs.push(der) - 1));
    rows.push([Buffer.from(h, 'hex'), sig, i]);
  }
  return Buffer.concat([AUTH_MAGIC, packr.pack([certs, rows])]);
}

/** The (hash, auth record) pairs of an auth chunk, or undefined if it is damaged. */
export function readAuthChunk(chunk: Uint8Array): [string, Uint8Array][] | undefined {
  try {
    const v = packr.unpack(chunk.subarray(AUTH_MAGIC.length)) as unknown;
    if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || !Array.isArray(v[1])) return undefined;
    const certs = v[0] as unknown[];
    const out: [string, Uint8Array][] = [];
    for (const e of v[1] as unknown[]) {
      if (!Array.isArray(e) || !(e[0] instanceof Uint8Array) || e[0].length !== 32 || !(e[1] instanceof Uint8Array))
        return undefined;
      const der = certs[e[2] as number];
      if (!(der instanceof Uint8Array)) return undefined;
      if (e[1].length !== SIG_BYTES) return undefined;
      out.push([Buffer.from(e[0]).toString('hex'), Buffer.concat([e[1], der])]);
    }
    return out;
  } catch {
    return undefined;
  }
}

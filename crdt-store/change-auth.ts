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
// An auth record is the signature (64 bytes) followed by the writer's certificate's
// reference (16 bytes, membership/cert-book.ts): a whole certificate (~600 bytes) in every
// record made signed writes cost as much in copying, memory and bytes as the change.
// A burst of a node's own changes to one document is signed once (signBatch): the
// signature is over the tree's size and the root of a Merkle tree (merkle.ts) whose
// leaves are (document id, change hash), and each change's record adds the size, its
// place and its audit path (at most MAX_BATCH changes, so at most 4 hashes). Ed25519 was
// about 80 % of what signing cost a write, and a receiver pays the signature once per
// burst too. A change's hash is SHA-256 over its bytes, computed by whoever decodes it
// (Automerge), so a leaf binds the bytes as a single signature does. A batch record's
// tail is under 147 bytes, a whole certificate's always more: the length tells the three
// forms apart. On disk a whole batch is one row: its hashes rebuild the paths.
// The certificates themselves travel beside the records that need them, and each is
// checked against the CA before it is kept (learnCerts, a bounded book):
//   push        the writer's, with its first pushes (and again every little while), and
//               always in the answer to a graft (a node that could not check a change
//               leaves it unseen, so its lazy peer's announcement brings it back with them)
//   sync        those of the records in the session, once per session
//   journal     each auth chunk holds each certificate it references once
// A record whose certificate is unknown here is refused and counted ('unknown_cert'), never
// applied or kept; an unknown reference costs a failed lookup, never memory. A record
// holding the whole certificate (an agent from before references) is still taken.
//
// What is checked, per change:
//   - a record is there (else 'unsigned', unless the migration window accepts unsigned);
//   - the certificate is known here ('unknown_cert'), was issued by the cluster CA and
//     names a node, and is not revoked ('bad_cert', 'revoked'); for a node's own document
//     also within its validity: an expired node writes nothing. Shared documents keep
//     history written by nodes long gone, whose certificates may have expired since; that
//     history stays readable;
//   - the writer may write it ('wrong_signer'): n/X only by X, and in any document the
//     change's Automerge actor must be the writer's (its name half, names.ts actorId), so
//     no one can spend another node's sequence numbers;
//   - the Ed25519 signature over (document id, change bytes) ('bad_signature').
// A change that passed is remembered by (document, hash) in a bounded cache, so the
// signature is paid once per change, not once per receipt.

import { DEFAULTS } from './defaults.js';
import { Packr } from 'msgpackr';
import { verifySignature, type Identity, type CertVerifier, type TrustedCert } from '../membership/identity.js';
import { bytesKey, CertBook, certRefOfDer } from '../membership/cert-book.js';
import { CERT_REF_BYTES } from '../membership/messages.js';
import { LruMap } from '../base/lru.js';
import { actorId, parseDocId, type DocId } from './names.js';
import { HASH_BYTES, leafHash, rootFromPath, treeOf } from './merkle.js';

export const AUTH_REJECTS = [
  'unsigned',
  'bad_signature',
  'bad_cert',
  'wrong_signer',
  'revoked',
  'unknown_cert',
] as const;
export type AuthReject = (typeof AUTH_REJECTS)[number];

/** What the store needs of identity: sign its own changes, check everyone's. */
export interface ChangeAuth {
  /** The auth record of a change this node made in `docId`. */
  sign(docId: DocId, change: Uint8Array): Uint8Array;
  /** The auth records of 2 to MAX_BATCH changes this node made in `docId` (by hash, hex), signed together. */
  signBatch(docId: DocId, hashes: readonly string[]): Uint8Array[];
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
  /** Keeps the certificates that pass the CA's check (for the records that reference them); returns how many did not. */
  learnCerts(ders: readonly Uint8Array[], now: number): number;
  /** The certificate (DER) an auth record references, if known here. */
  certOf(auth: Uint8Array): Uint8Array | undefined;
}

const DOMAIN = 'store-change';
const BATCH_DOMAIN = 'store-batch';
const SIG_BYTES = 64;
/** Signature and certificate reference. */
export const AUTH_BYTES = SIG_BYTES + CERT_REF_BYTES;
/** Changes signed together at most: a batch record's path is then at most 4 hashes. */
export const MAX_BATCH = 16;
/** A batch record: signature, certificate reference, tree size, leaf index, path. */
const BATCH_HEAD = AUTH_BYTES + 2;
const MAX_BATCH_RECORD = BATCH_HEAD + Math.ceil(Math.log2(MAX_BATCH)) * HASH_BYTES;
const isBatchRecord = (auth: Uint8Array): boolean =>
  auth.byteLength > AUTH_BYTES && auth.byteLength <= MAX_BATCH_RECORD;
/** The part of a record naming its certificate: a reference, or a whole certificate (an older agent's). */
const certTail = (auth: Uint8Array): Uint8Array =>
  isBatchRecord(auth) ? auth.subarray(SIG_BYTES, AUTH_BYTES) : auth.subarray(SIG_BYTES);
/** What an auth record's certificate is known by: its reference (or the whole certificate, from an older agent). */
export const certKey = (auth: Uint8Array): string => bytesKey(certTail(auth));

interface BatchPlace {
  size: number;
  index: number;
  path: Uint8Array[];
}

/** A batch record's place in its tree, or undefined if it is not one that fits. */
function batchPlace(auth: Uint8Array): BatchPlace | undefined {
  if ((auth.byteLength - BATCH_HEAD) % HASH_BYTES !== 0) return undefined;
  const size = auth[AUTH_BYTES]!;
  const index = auth[AUTH_BYTES + 1]!;
  if (size < 2 || size > MAX_BATCH || index >= size) return undefined;
  const path: Uint8Array[] = [];
  for (let at = BATCH_HEAD; at < auth.byteLength; at += HASH_BYTES) path.push(auth.subarray(at, at + HASH_BYTES));
  return { size, index, path };
}
/** Larger is no certificate (weft's are ~600 bytes): not worth parsing. */
const MAX_CERT_BYTES = 4096;
const packr = new Packr({ useRecords: false, moreTypes: false });

const ZERO = Uint8Array.of(0);
/** Document ids as bytes: few (own documents and shared buckets), and each write or check needs one. */
const docIdBytes = new LruMap<string, Buffer>(4096);
/** What a change's signature covers: the document id, a zero, the change's bytes (as parts, copied once by the signer). */
function signedParts(docId: DocId, change: Uint8Array): Uint8Array[] {
  let id = docIdBytes.get(docId);
  if (!id) docIdBytes.set(docId, (id = Buffer.from(docId)));
  return [id, ZERO, change];
}
/** A batch's tree over its changes in `docId`, by hash (hex or bytes). */
function batchTree(
  docId: DocId,
  hashes: readonly (string | Uint8Array)[],
): { root: Uint8Array; paths: Uint8Array[][] } {
  return treeOf(hashes.map((h) => batchLeaf(docId, h)));
}
const batchLeaf = (docId: DocId, hash: string | Uint8Array): Uint8Array =>
  leafHash(signedParts(docId, typeof hash === 'string' ? Buffer.from(hash, 'hex') : hash));

/** What a batch's signature covers: the tree's size and root. */
const batchSigned = (size: number, root: Uint8Array): Uint8Array[] => [Uint8Array.of(size), root];

/** The records of a batch of `paths.length` changes under one signature. */
function batchRecords(sig: Uint8Array, ref: Uint8Array, paths: readonly Uint8Array[][]): Uint8Array[] {
  return paths.map((path, index) => {
    const out = new Uint8Array(BATCH_HEAD + path.length * HASH_BYTES);
    out.set(sig, 0);
    out.set(ref, SIG_BYTES);
    out[AUTH_BYTES] = paths.length;
    out[AUTH_BYTES + 1] = index;
    path.forEach((h, i) => out.set(h, BATCH_HEAD + i * HASH_BYTES));
    return out;
  });
}

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
  /** Batch signatures verified here (with their certificate reference) -> the size and root they cover. */
  private readonly batchRoots = new LruMap<string, string>(4096);
  /** Actor name half -> node name, from verified changes (bounded: one per node seen). */
  private readonly writers = new LruMap<string, string>(65_536);
  private readonly acceptUnsigned: () => boolean;
  /** Certificates checked against the CA, by reference (this node's own included). */
  private readonly book = new CertBook();
  private ownRef: Uint8Array;
  /** Latest notAfter among the certificates seen per node (a renewal extends it). */
  private readonly notAfter = new LruMap<string, number>(65_536);
  private readonly clockOffsetMs: number;

  constructor(
    private identity: Identity,
    opts: SignedChangesOptions = {},
  ) {
    this.verified = new LruMap(opts.cacheSize ?? DEFAULTS.changeAuthCacheSize);
    this.acceptUnsigned = opts.acceptUnsigned ?? (() => false);
    this.ownRef = this.book.add(identity.cert);
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

  /** Certificates known by reference here (bounded; only CA-issued ones enter). */
  get certsKnown(): number {
    return this.book.size;
  }

  get certFingerprint(): string {
    return this.identity.cert.fingerprint;
  }

  /** A renewed certificate (SIGHUP): signs with it from now on. */
  setIdentity(identity: Identity): void {
    // The same CA and its revocations: only the signing key and certificate change.
    this.identity = { ...identity, verifier: this.identity.verifier };
    this.ownRef = this.book.add(identity.cert);
    for (const l of this.listeners) l.renewed?.(this.identity);
  }

  sign(docId: DocId, change: Uint8Array): Uint8Array {
    // Not from Buffer's shared pool: a record lives as long as its change, and would pin a slab.
    const out = new Uint8Array(AUTH_BYTES);
    out.set(this.identity.sign(DOMAIN, signedParts(docId, change)), 0);
    out.set(this.ownRef, SIG_BYTES);
    return out;
  }

  signBatch(docId: DocId, hashes: readonly string[]): Uint8Array[] {
    const size = hashes.length;
    if (size < 2 || size > MAX_BATCH) throw new RangeError(`a batch is 2 to ${MAX_BATCH} changes, not ${size}`);
    const { root, paths } = batchTree(docId, hashes);
    return batchRecords(this.identity.sign(BATCH_DOMAIN, batchSigned(size, root)), this.ownRef, paths);
  }

  learnCerts(ders: readonly Uint8Array[], now: number): number {
    let refused = 0;
    for (const der of ders) {
      // Expired ones too: shared documents keep history signed while they were valid.
      const c =
        der.byteLength <= MAX_CERT_BYTES
          ? this.identity.verifier.check(der, now + this.clockOffsetMs, true)
          : 'bad_cert';
      if (typeof c === 'string') refused++;
      else this.book.add(c);
    }
    return refused;
  }

  certOf(auth: Uint8Array): Uint8Array | undefined {
    const tail = certTail(auth);
    return tail.byteLength > CERT_REF_BYTES ? tail : this.book.get(tail)?.der;
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
    if (auth.length < AUTH_BYTES) return 'bad_signature';
    const sig = auth.subarray(0, SIG_BYTES);
    const kind = parseDocId(docId);
    const cert = this.certFor(certTail(auth), now + this.clockOffsetMs, kind?.kind === 'shared');
    if (typeof cert === 'string') return cert;
    const writer = cert.name;
    if (kind?.kind === 'own' && kind.owner !== writer) return 'wrong_signer';
    if (actorName(actor) !== actorName(actorId(writer, 0))) return 'wrong_signer';
    const signed = isBatchRecord(auth)
      ? this.inSignedBatch(auth, cert, batchLeaf(docId, hash))
      : verifySignature(cert.publicKey, DOMAIN, signedParts(docId, change), sig);
    if (!signed) return 'bad_signature';
    if ((this.notAfter.get(writer) ?? -Infinity) < cert.notAfter) this.notAfter.set(writer, cert.notAfter);
    this.verified.set(key, writer);
    this.writers.set(actorName(actor), writer);
    return writer;
  }

  /**
   * Does a batch record's signature cover the change (whose leaf is `leaf`)? The change's
   * path leads to a root, and the signature must be over that root and the tree's size. A
   * signature verified once is remembered with what it covered, so the rest of the batch
   * costs a few hashes each.
   */
  private inSignedBatch(auth: Uint8Array, cert: TrustedCert, leaf: Uint8Array): boolean {
    const place = batchPlace(auth);
    if (!place) return false;
    const root = rootFromPath(leaf, place.index, place.size, place.path);
    if (!root) return false;
    const key = bytesKey(auth.subarray(0, AUTH_BYTES));
    const covers = `${place.size}:${bytesKey(root)}`;
    if (this.batchRoots.get(key) === covers) return true;
    const sig = auth.subarray(0, SIG_BYTES);
    if (!verifySignature(cert.publicKey, BATCH_DOMAIN, batchSigned(place.size, root), sig)) return false;
    this.batchRoots.set(key, covers);
    return true;
  }

  /** The certificate of an auth record's tail (a reference, or a whole certificate from an older agent), checked at `at` (wall-clock ms). */
  private certFor(tail: Uint8Array, at: number, allowExpired: boolean): TrustedCert | AuthReject {
    const verifier = this.identity.verifier;
    if (tail.byteLength > CERT_REF_BYTES) {
      const c = tail.byteLength <= MAX_CERT_BYTES ? verifier.check(tail, at, allowExpired) : 'bad_cert';
      if (typeof c === 'string') return c === 'revoked' ? 'revoked' : 'bad_cert';
      this.book.add(c);
      return c;
    }
    const c = this.book.get(tail);
    if (!c) return 'unknown_cert';
    if (verifier.isRevoked(c.name) || verifier.isRevoked(c.fingerprint)) return 'revoked';
    return at < c.notBefore || (at > c.notAfter && !allowExpired) ? 'bad_cert' : c;
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
 * On disk an auth chunk holds each certificate it references once: [certificates, rows],
 * a row being [hash, signature, certificate index, batch place?] for one change (the batch
 * place is a batch record's bytes after its certificate reference), or [hashes, signature,
 * certificate index] for a whole batch, in order (the paths are rebuilt from the hashes).
 * The loader learns the certificates (checked against the CA) before the records that
 * reference them. A record whose certificate is unknown is left out.
 */
export function authChunk(
  entries: Iterable<[string, Uint8Array]>,
  certOf: (auth: Uint8Array) => Uint8Array | undefined,
): Uint8Array {
  const certs: Uint8Array[] = [];
  const index = new Map<string, number>();
  // Runs of records share a certificate (a node's own changes all do): compare with the
  // last one's bytes before building a map key.
  let last: Uint8Array | undefined;
  let lastIndex = -1;
  const certIndex = (a: Uint8Array): number | undefined => {
    const tail = certTail(a);
    let i = last && Buffer.compare(tail, last) === 0 ? lastIndex : index.get(certKey(a));
    if (i === undefined) {
      const der = certOf(a);
      if (!der) return undefined;
      index.set(certKey(a), (i = certs.push(der) - 1));
    }
    last = tail;
    return (lastIndex = i);
  };
  const list = [...entries];
  const rows: unknown[] = [];
  for (let k = 0; k < list.length;) {
    const [h, a] = list[k]!;
    const i = certIndex(a);
    const whole = i === undefined ? 0 : wholeBatchAt(list, k);
    if (whole > 0)
      rows.push([list.slice(k, k + whole).map(([hh]) => Buffer.from(hh, 'hex')), a.subarray(0, SIG_BYTES), i]);
    else if (i !== undefined) {
      const row = [Buffer.from(h, 'hex'), a.subarray(0, SIG_BYTES), i];
      rows.push(isBatchRecord(a) ? [...row, a.subarray(AUTH_BYTES)] : row);
    }
    k += Math.max(1, whole);
  }
  return Buffer.concat([AUTH_MAGIC, packr.pack([certs, rows])]);
}

/** The size of the batch whose records are list[k..] in order, whole; 0 if they are not. */
function wholeBatchAt(list: readonly [string, Uint8Array][], k: number): number {
  const first = list[k]![1];
  if (!isBatchRecord(first) || first[AUTH_BYTES + 1] !== 0) return 0;
  const size = first[AUTH_BYTES]!;
  if (k + size > list.length) return 0;
  const head = first.subarray(0, AUTH_BYTES + 1);
  for (let j = 1; j < size; j++) {
    const a = list[k + j]![1];
    if (!isBatchRecord(a) || a[AUTH_BYTES + 1] !== j || Buffer.compare(head, a.subarray(0, AUTH_BYTES + 1)) !== 0)
      return 0;
  }
  return size;
}

/** An auth chunk read back: its certificates, and (hash, auth record) pairs referencing them. */
export interface ReadAuthChunk {
  certs: Uint8Array[];
  entries: [string, Uint8Array][];
}

const isHash = (b: unknown): b is Uint8Array => b instanceof Uint8Array && b.length === HASH_BYTES;

/** The certificates and records of `docId`'s auth chunk, or undefined if it is damaged. */
export function readAuthChunk(chunk: Uint8Array, docId: DocId): ReadAuthChunk | undefined {
  try {
    const v = packr.unpack(chunk.subarray(AUTH_MAGIC.length)) as unknown;
    if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || !Array.isArray(v[1])) return undefined;
    const certs = v[0] as unknown[];
    if (!certs.every((c) => c instanceof Uint8Array)) return undefined;
    const refs = (certs as Uint8Array[]).map(certRefOfDer);
    const entries: [string, Uint8Array][] = [];
    for (const e of v[1] as unknown[]) {
      if (!Array.isArray(e) || !(e[1] instanceof Uint8Array) || e[1].length !== SIG_BYTES) return undefined;
      const ref = typeof e[2] === 'number' ? refs[e[2]] : undefined;
      if (!ref) return undefined;
      if (isHash(e[0])) {
        const place = e[3] instanceof Uint8Array ? [e[3]] : [];
        entries.push([Buffer.from(e[0]).toString('hex'), Buffer.concat([e[1], ref, ...place])]);
        continue;
      }
      const hashes = e[0] as unknown;
      if (!Array.isArray(hashes) || hashes.length < 2 || hashes.length > MAX_BATCH || !hashes.every(isHash))
        return undefined;
      const records = batchRecords(e[1], ref, batchTree(docId, hashes).paths);
      hashes.forEach((h, j) => entries.push([Buffer.from(h).toString('hex'), records[j]!]));
    }
    return { certs: certs as Uint8Array[], entries };
  } catch {
    return undefined;
  }
}

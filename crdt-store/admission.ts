// What a document may take from a peer: the checks every change passes before it touches a
// replica (docs/ARCHITECTURE.md, "Owner writes, and the live view": only the owner writes its
// own records, and every receiver enforces it, whoever relayed them).
//
//   n/<X> at epoch E   every change is authored by X in E: its Automerge actor is actorId(X, E)
//                      (names.ts), and every key it writes may live in X's document
//   s/<b>              every key it writes belongs in bucket b and may live in a shared document
//   any document       only root-map string writes and deletes (the store never makes
//                      nested objects, counters or text), and only bytes Automerge can read
//
// What this cannot check without signatures (issue 13; with identity on, change-auth.ts
// checks it, after these rules): an actor is a name's hash, not a
// proof, so a holder of the cluster key can still build a change that claims to be X's.
// The actors of shared documents are not checked at all: a shared document's history
// legitimately holds changes of nodes long gone, which no member list can vouch for. What
// the rules do stop is one node (or a relay) writing records in another owner's key space
// or document, whatever it claims to be.
//
// The key-space rule is the application's (weft's is records/schema.ts recordOwner): given a
// key it names the owner whose document must hold it, SHARED_OWNER for shared key spaces,
// or undefined when any document may hold it.

import { amDecodeChange, amDecodeSyncChanges, amLoadChanges } from './automerge.js';
import { actorId, bucketOf, type DocKind, SHARED_OWNER } from './names.js';
import { AUTH_REJECTS } from './change-auth.js';

/** The owner whose document must hold `key` (a node name or SHARED_OWNER), or undefined for no rule. */
export type KeyOwnerRule = (key: string) => string | undefined;

// The last ones are change-auth.ts's: signatures, with identity on.
export const ADMIT_REJECTS = [
  'undecodable',
  'foreign_actor',
  'foreign_key',
  'wrong_bucket',
  'not_a_record_op',
  'future_epoch',
  ...AUTH_REJECTS,
] as const;
export type AdmitReject = (typeof ADMIT_REJECTS)[number];

/** May a document owned by `owner` (a node, or SHARED_OWNER) hold `key` under `rule`? */
export function mayHold(rule: KeyOwnerRule | undefined, key: string, owner: string): boolean {
  const want = rule?.(key);
  return want === undefined || want === owner;
}

interface DecodedChange {
  actor: string;
  ops: { action?: string; obj: string; key?: unknown; datatype?: string }[];
}

/** Why the decoded change may not enter the document `kind` at `epoch`, or undefined. */
function checkChange(
  c: DecodedChange,
  kind: DocKind,
  epoch: number,
  rule: KeyOwnerRule | undefined,
): AdmitReject | undefined {
  if (kind.kind === 'own' && c.actor !== actorId(kind.owner, epoch)) return 'foreign_actor';
  const owner = kind.kind === 'own' ? kind.owner : SHARED_OWNER;
  for (const op of c.ops) {
    // A record is a string at a root key; anything else is no writer of ours.
    if (op.obj !== '_root' || typeof op.key !== 'string') return 'not_a_record_op';
    if (op.action !== 'set' && op.action !== 'del') return 'not_a_record_op';
    if (kind.kind === 'shared' && bucketOf(op.key) !== kind.bucket) return 'wrong_bucket';
    if (!mayHold(rule, op.key, owner)) return 'foreign_key';
  }
  return undefined;
}

/**
 * Checks chunks (single changes, or saved documents) bound for document `kind` at `epoch`.
 * Never throws: bytes it cannot read are 'undecodable'.
 */
export function checkChunks(
  chunks: readonly Uint8Array[],
  kind: DocKind,
  epoch: number,
  rule: KeyOwnerRule | undefined,
): AdmitReject | undefined {
  for (const chunk of chunks) {
    const r = checkChunk(chunk, kind, epoch, rule);
    if (r) return r;
  }
  return undefined;
}

/** Checks the changes a sync message carries (Automerge sends them as changes or as a saved document). */
export function checkSyncMessage(
  message: Uint8Array,
  kind: DocKind,
  epoch: number,
  rule: KeyOwnerRule | undefined,
): AdmitReject | undefined {
  let chunks: Uint8Array[];
  try {
    chunks = amDecodeSyncChanges(message);
  } catch {
    return 'undecodable';
  }
  return checkChunks(chunks, kind, epoch, rule);
}

/**
 * 'foreign_actor' if a sync message carries a change `has` does not know, for a document
 * only this node writes (a peer cannot hold a change of it that this node lacks).
 */
export function carriesUnknownChanges(message: Uint8Array, has: (hash: string) => boolean): AdmitReject | undefined {
  try {
    for (const chunk of amDecodeSyncChanges(message)) {
      if (chunk.length === 0) continue;
      let hashes: string[];
      try {
        hashes = [amDecodeChange(chunk).hash];
      } catch {
        hashes = amLoadChanges(chunk).map((c) => amDecodeChange(c).hash);
      }
      if (hashes.some((h) => !has(h))) return 'foreign_actor';
    }
    return undefined;
  } catch {
    return 'undecodable';
  }
}

function checkChunk(
  chunk: Uint8Array,
  kind: DocKind,
  epoch: number,
  rule: KeyOwnerRule | undefined,
): AdmitReject | undefined {
  if (chunk.length === 0) return undefined; // nothing to apply (Automerge takes it as a no-op)
  let changes: DecodedChange[];
  try {
    changes = [amDecodeChange(chunk) as unknown as DecodedChange];
  } catch {
    // Not a single change: a saved document (or several), whose changes are read by loading it.
    try {
      changes = amLoadChanges(chunk).map((c) => amDecodeChange(c) as unknown as DecodedChange);
    } catch {
      return 'undecodable';
    }
  }
  for (const c of changes) {
    const r = checkChange(c, kind, epoch, rule);
    if (r) return r;
  }
  return undefined;
}

/** One change of a chunk list: its bytes, hash and Automerge actor. */
export interface ChangeInfo {
  bytes: Uint8Array;
  hash: string;
  actor: string;
}

/**
 * Every change in `chunks` (single changes, or saved documents split into theirs), or
 * undefined if some chunk is no Automerge data. `singleOnly`: a chunk must be one change.
 */
export function changesIn(chunks: readonly Uint8Array[], singleOnly = false): ChangeInfo[] | undefined {
  const out: ChangeInfo[] = [];
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    try {
      const c = amDecodeChange(chunk);
      out.push({ bytes: chunk, hash: c.hash, actor: c.actor });
      continue;
    } catch {
      if (singleOnly) return undefined;
    }
    try {
      for (const bytes of amLoadChanges(chunk)) {
        const c = amDecodeChange(bytes);
        out.push({ bytes, hash: c.hash, actor: c.actor });
      }
    } catch {
      return undefined;
    }
  }
  return out;
}

/** The changes a sync message carries (see changesIn). */
export function changesInSync(message: Uint8Array): ChangeInfo[] | undefined {
  try {
    return changesIn(amDecodeSyncChanges(message));
  } catch {
    return undefined;
  }
}

// Forged replication messages, as a hostile peer would build them (no I/O): used by the
// attacks on real agents (store.ts) and by the simulator's hostile-node property
// (props/hostile-store.test.ts), so the attack code exists once.
import { ReplicaDoc } from '../../crdt-store/replica-doc.js';
import { actorId, bucketOf, ownDocId, sharedDocId } from '../../crdt-store/names.js';
import { DEFAULT_VALUE_LIMITS } from '../../crdt-store/json-value.js';
import { encode, changeId, NO_FORWARD } from '../../crdt-store/replication/wire.js';

/** A push (not forwarded) of one first change of document `docId` at `epoch`, by `actor`, holding `records`. */
/** `sign`, with identity on: the auth record the forger attaches (its own signature, a stolen one, garbage). */
export type ForgeSigner = (docId: string, change: Uint8Array) => Uint8Array | undefined;

export function forgedPush(
  docId: string,
  kind: { kind: 'own'; owner: string } | { kind: 'shared'; bucket: number },
  epoch: number,
  actor: string,
  records: Record<string, unknown>,
  sign?: ForgeSigner,
): Uint8Array {
  const doc = ReplicaDoc.create(docId, kind, epoch, actor, DEFAULT_VALUE_LIMITS);
  for (const [k, v] of Object.entries(records)) doc.put(k, JSON.stringify(v));
  const c = doc.commit(true)!;
  doc.free();
  const auth = sign?.(docId, c.change);
  return encode({
    t: 'push',
    origin: 'mallory',
    limit: NO_FORWARD,
    changes: [{ docId, epoch, id: changeId(c.hash), change: c.change, ...(auth ? { auth } : {}) }],
  });
}

/** n/<owner> at `epoch`, as if written by the owner (its actor for that epoch). */
export const forgedOwnDocPush = (
  owner: string,
  epoch: number,
  records: Record<string, unknown>,
  actor = actorId(owner, epoch),
  sign?: ForgeSigner,
): Uint8Array => forgedPush(ownDocId(owner), { kind: 'own', owner }, epoch, actor, records, sign);

/** One shared change writing `key` = `value` (in the key's bucket, or `bucket` to misplace it). */
export function sharedWritePush(
  key: string,
  value: unknown,
  bucket = bucketOf(key),
  actor = actorId('mallory', 1),
  sign?: ForgeSigner,
): Uint8Array {
  return forgedPush(sharedDocId(bucket), { kind: 'shared', bucket }, 0, actor, { [key]: value }, sign);
}

// Keys, node names and document ids: what they may look like and how they map onto
// each other. These rules are part of the protocol: every node must agree on them.
//
// Two kinds of document hold the records:
//   n/<node>     the records a node owns; only that node writes it (single writer), and
//                it compacts it by starting a new epoch.
//   s/<bucket>   shared records (owner SHARED_OWNER), any node writes them; a key's
//                bucket is murmur3(key) mod SHARED_BUCKETS.

import { LruMap } from '../base/lru.js';
import { murmur3 } from './hash.js';
import { StoreValueError } from './json-value.js';

/** The owner named by shared records: always alive, never reaped. Not a valid node name. */
export const SHARED_OWNER = '*';

/**
 * Shared buckets. Each document costs ~15 KB before any record and one digest entry, so
 * a few; each write to a shared key costs ~0.1 ms whatever the bucket's size, so more
 * buckets do not buy speed, only smaller repair units. 16 keeps a bucket's repair
 * (bloom filter of its history) small for the low-churn shared data this is for.
 */
export const SHARED_BUCKETS = 16;

export const MAX_KEY_BYTES = 512;
export const MAX_NODE_NAME_BYTES = 128;

// eslint-disable-next-line no-control-regex -- keys must not hold control characters: this is the check
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws a StoreValueError unless `key` is a usable key. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new StoreValueError('a key is a non-empty string');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new StoreValueError(`key is over ${MAX_KEY_BYTES} bytes`);
  if (CONTROL.test(key)) throw new StoreValueError('a key may not contain control characters');
}

export function isNodeName(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name !== SHARED_OWNER &&
    Buffer.byteLength(name, 'utf8') <= MAX_NODE_NAME_BYTES &&
    !CONTROL.test(name)
  );
}

export function checkNodeName(name: unknown): asserts name is string {
  if (!isNodeName(name))
    throw new StoreValueError(
      `node name ${JSON.stringify(name)} is not usable: a non-empty string without control characters, at most ${MAX_NODE_NAME_BYTES} bytes, not "${SHARED_OWNER}"`,
    );
}

export type DocId = string;

export type DocKind = { kind: 'own'; owner: string } | { kind: 'shared'; bucket: number };

export const ownDocId = (owner: string): DocId => `n/${owner}`;
export const sharedDocId = (bucket: number): DocId => `s/${bucket}`;
export const bucketOf = (key: string): number => murmur3(key, 0x5eed) % SHARED_BUCKETS;

/** What a document id names, or undefined for an id no node would use (from the wire). */
export const parseDocId = (id: unknown): DocKind | undefined => knownDocId(id)?.kind;

/**
 * `id` as the one string of its content this process keeps, or undefined for an id no node
 * would use. Ids decoded from the wire are new strings at every packet; every table keyed
 * by document then finds the kept one by pointer, without hashing and comparing characters.
 */
export const canonicalDocId = (id: unknown): DocId | undefined => knownDocId(id)?.id;

function knownDocId(id: unknown): { id: DocId; kind: DocKind } | undefined {
  if (typeof id !== 'string') return undefined;
  let known = docIds.get(id);
  if (known === undefined) {
    const kind = docKindOf(id);
    if (kind !== undefined) docIds.set(id, (known = { id, kind }));
  }
  return known;
}

/**
 * Document ids and kinds, made once (kinds frozen: every holder shares one). Each change
 * received is parsed against its document's id, twice; and every replica keeps its kind.
 */
const docIds = new LruMap<string, { id: DocId; kind: DocKind }>(4096);

function docKindOf(id: string): DocKind | undefined {
  if (id.startsWith('n/')) {
    const owner = id.slice(2);
    return isNodeName(owner) ? Object.freeze({ kind: 'own', owner }) : undefined;
  }
  if (id.startsWith('s/')) {
    const rest = id.slice(2);
    if (!/^(0|[1-9][0-9]?)$/.test(rest)) return undefined;
    const bucket = Number(rest);
    return bucket < SHARED_BUCKETS ? Object.freeze({ kind: 'shared', bucket }) : undefined;
  }
  return undefined;
}

export const ownerOfDoc = (kind: DocKind): string => (kind.kind === 'own' ? kind.owner : SHARED_OWNER);

/**
 * The Automerge actor of `node` in `epoch`: 8 bytes of the name's hash, 8 bytes of the
 * epoch. Epochs never repeat for a node (they rise across restarts, see the journal), so
 * no actor ever reuses a sequence number, even after losing an unsynced tail.
 */
export function actorId(node: string, epoch: number): string {
  let a = actors.get(node);
  if (a === undefined) {
    const half = murmur3(node, 1).toString(16).padStart(8, '0') + murmur3(node, 2).toString(16).padStart(8, '0');
    actors.set(node, (a = { half, epoch: -1, actor: '' }));
  }
  if (a.epoch !== epoch) {
    const hi = Math.floor(epoch / 2 ** 32)
      .toString(16)
      .padStart(8, '0');
    const lo = (epoch >>> 0).toString(16).padStart(8, '0');
    a.epoch = epoch;
    a.actor = a.half + hi + lo;
  }
  return a.actor;
}

/**
 * actorId's name half by node, made once, and its actor in the epoch last asked for:
 * admission checks every change it takes against its writer's, and a writer's changes come
 * in one epoch at a time.
 */
const actors = new LruMap<string, { half: string; epoch: number; actor: string }>(4096);

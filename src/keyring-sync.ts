// Cluster-wide keyring changes (`weft keyring`), as serf's `keys`, through the store:
//
//   keyring-op       shared record: the keyring every node should hold, { sealed, by, at }.
//                    `sealed` is the list of keys (primary first) sealed with the sender's
//                    primary key, so the keys never sit in the store, on disk or in the
//                    API in the clear; any node holding an installed key opens it.
//   keyring/<node>   each node's own record: fingerprints of the keys it holds (never the
//                    keys), so any node can count how many live nodes hold each key.
//
// Every node follows keyring-op (level-triggered: on start and on each change of it), makes
// its keyring hold exactly those keys (src/keyring-file.ts reconcileKeyring), rewrites its
// keyring file and republishes its fingerprints. `use` of a key some live node lacks, and
// `remove` of a key that is some live node's primary, are refused: traffic would stop.
//
// Without signatures (issue 13) any key holder can write keyring-op: key holders are
// trusted here, as in serf.
import { createHash } from 'node:crypto';
import { parseKey, type Keyring } from '../membership/index.js';
import { KEYRING_OP_KEY, KEYRING_PREFIX } from '../records/schema.js';
import { reconcileKeyring } from './keyring-file.js';

const AAD = Buffer.from('weft keyring-op v1');

export type KeyringOp = 'install' | 'use' | 'remove';
export const KEYRING_OPS: readonly KeyringOp[] = ['install', 'use', 'remove'];

/** 16 hex digits of SHA-256 of the key: tells keys apart, reveals nothing of them. */
export function fingerprint(key: string): string {
  return createHash('sha256').update(parseKey(key)).digest('hex').slice(0, 16);
}

export interface NodeKeys {
  primary: string;
  keys: string[];
}

export const nodeKeysKey = (node: string): string => `${KEYRING_PREFIX}${node}`;

export function nodeKeysOf(ring: Keyring): NodeKeys {
  return { primary: fingerprint(ring.primary()), keys: ring.keys().map(fingerprint) };
}

export function parseNodeKeys(v: unknown): NodeKeys | undefined {
  const o = v as Partial<NodeKeys> | undefined;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.primary !== 'string' ||
    !Array.isArray(o.keys) ||
    !o.keys.every((k) => typeof k === 'string')
  )
    return undefined;
  return { primary: o.primary, keys: o.keys };
}

export interface OpRecord {
  sealed: string;
  by: string;
  at: number;
}

export function sealKeys(ring: Keyring, keys: readonly string[], by: string, at: number): OpRecord {
  return { sealed: ring.seal(Buffer.from(JSON.stringify(keys)), AAD).toString('base64'), by, at };
}

/** The keys a keyring-op record asks for, or undefined if it does not open with `ring` or is not a key list. */
export function openKeys(ring: Keyring, v: unknown): string[] | undefined {
  const rec = v as Partial<OpRecord> | undefined;
  if (typeof rec !== 'object' || rec === null || typeof rec.sealed !== 'string') return undefined;
  const plain = ring.open(Buffer.from(rec.sealed, 'base64'), AAD);
  if (!plain) return undefined;
  try {
    const keys: unknown = JSON.parse(plain.toString('utf8'));
    if (!Array.isArray(keys) || keys.length === 0) return undefined;
    for (const k of keys) parseKey(k as string);
    return keys as string[];
  } catch {
    return undefined;
  }
}

export interface KeyCount {
  fingerprint: string;
  /** Live nodes holding it. */
  nodes: number;
  /** Live nodes sending with it. */
  primaryOn: number;
  /** Live nodes lacking it (names). */
  missing: string[];
}

/** Per key, how many of the live nodes hold it, from their keyring/<node> records (a node without one holds nothing we know of). */
export function countKeys(live: readonly string[], held: ReadonlyMap<string, NodeKeys>): KeyCount[] {
  const fps = new Set<string>();
  for (const n of live) for (const k of held.get(n)?.keys ?? []) fps.add(k);
  return [...fps].sort().map((fp) => {
    const holders = live.filter((n) => held.get(n)?.keys.includes(fp));
    return {
      fingerprint: fp,
      nodes: holders.length,
      primaryOn: live.filter((n) => held.get(n)?.primary === fp).length,
      missing: live.filter((n) => !holders.includes(n)),
    };
  });
}

/**
 * The keyring the whole cluster should hold after `op`, or a refusal a person can act on.
 * `current`: this node's keys, primary first.
 */
export function planOp(
  op: KeyringOp,
  key: string,
  current: readonly string[],
  live: readonly string[],
  counts: readonly KeyCount[],
): { keys: string[] } | { refused: string } {
  const k = parseKey(key).toString('base64');
  const fp = fingerprint(k);
  const count = counts.find((c) => c.fingerprint === fp);
  switch (op) {
    case 'install':
      return { keys: current.includes(k) ? [...current] : [...current, k] };
    case 'use': {
      const missing = count ? count.missing : [...live];
      if (missing.length > 0) {
        return {
          refused: `key ${fp} is installed on ${live.length - missing.length} of ${live.length} live nodes (missing on ${missing.join(', ')}): install it everywhere first (weft keyring install), then use it once weft keyring list shows ${live.length}/${live.length}`,
        };
      }
      return { keys: [k, ...current.filter((x) => x !== k)] };
    }
    case 'remove': {
      if (current[0] === k)
        return {
          refused: `key ${fp} is the primary key: use another key first (weft keyring use), then remove this one`,
        };
      if (count && count.primaryOn > 0)
        return {
          refused: `key ${fp} is still the primary key on ${count.primaryOn} live node(s): wait until weft keyring list shows the new primary everywhere, then remove it`,
        };
      return { keys: current.filter((x) => x !== k) };
    }
  }
}

/** What a store offers the keyring sync (StoreNode fits). */
export interface KeyringStore {
  put(key: string, value: never, opts?: { shared?: boolean; durable?: boolean }): Promise<unknown>;
  watch(prefix: string, handler: (e: { key: string; after: { value: unknown } | undefined }) => void): () => void;
}

/**
 * Follows keyring-op and publishes this node's fingerprints until the returned function is
 * called. `changed` is the agent's keyringChanged (file, listeners); `onError` logs.
 */
export function followKeyringOps(
  node: string,
  ring: Keyring,
  store: KeyringStore,
  changed: () => void,
  onError: (msg: string) => void,
): { publish(): void; stop(): void } {
  const publish = () => {
    store
      .put(nodeKeysKey(node), nodeKeysOf(ring) as never, { durable: true })
      .catch((e: Error) => onError(`cannot publish this node's key fingerprints: ${e.message}`));
  };
  const unwatch = store.watch(KEYRING_OP_KEY, (e) => {
    if (e.key !== KEYRING_OP_KEY || !e.after) return;
    const keys = openKeys(ring, e.after.value);
    if (!keys) {
      onError(
        'a keyring change from the cluster does not open with any installed key (or is malformed): ignored; this node may have missed a rotation (check weft keyring list)',
      );
      return;
    }
    try {
      if (reconcileKeyring(ring, keys)) changed();
    } catch (err) {
      onError(`cannot apply a keyring change from the cluster: ${(err as Error).message}`);
    }
  });
  publish();
  return { publish, stop: unwatch };
}

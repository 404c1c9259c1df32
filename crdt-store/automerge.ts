// The one door to Automerge. The store uses Automerge's low-level document (the wasm
// `Automerge` class) and never the proxy API: measured on this machine, a change through
// `Automerge.change` costs ~0.4 ms and grows with the document (the proxy layer keeps a
// materialised JS copy; ~70 ms per change at 50k keys), while `put` + `commit` on the
// low-level document costs ~0.05-0.15 ms whatever the size. The store keeps its own
// decoded view of the values, so the JS copy would only be paid for twice.
//
// So only the package's wasm bindings module is loaded, by path (the package exports the
// low-level document's type but not the module, nor the wasm-side SyncState constructor the
// low-level sync calls need). The proxy API is imported for its types alone: loading it cost
// ~60 ms of every start and ~7 MB of RSS for nothing (`npm run bench -- startup`). The layout
// is checked at load, so an Automerge upgrade that moves it fails here, loudly, and not
// somewhere in replication.

import type * as Automerge from '@automerge/automerge';
import { createRequire } from 'node:module';
import { LruMap } from '../base/lru.js';
import { dirname, join } from 'node:path';

/** A low-level Automerge document. */
export type AmDoc = ReturnType<typeof Automerge.getBackend>;
/** The wasm-side state of a sync session with one peer about one document. */
export type AmSyncState = Parameters<AmDoc['generateSyncMessage']>[0];

interface WasmApi {
  create(options?: { actor?: string }): AmDoc;
  load(data: Uint8Array, options?: { actor?: string; unchecked?: boolean; allowMissingDeps?: boolean }): AmDoc;
  initSyncState(): AmSyncState;
  decodeChange(change: Uint8Array): { hash: string; deps: string[]; actor: string; seq: number };
  decodeSyncMessage(message: Uint8Array): { changes: Uint8Array[] };
}

const PINNED = 'this store is written against @automerge/automerge 3.5';

function loadWasmApi(): WasmApi {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@automerge/automerge'); // dist/cjs/fullfat_node.cjs
  const bindings = join(dirname(entry), '..', 'mjs', 'wasm_bindgen_output', 'nodejs', 'automerge_wasm.cjs');
  let api: Partial<WasmApi>;
  try {
    api = require(bindings) as Partial<WasmApi>;
  } catch (err) {
    throw new Error(
      `crdt-store: cannot load Automerge's wasm bindings at ${bindings} (${(err as Error).message}); ${PINNED}`,
      {
        cause: err,
      },
    );
  }
  for (const fn of ['create', 'load', 'initSyncState', 'decodeChange', 'decodeSyncMessage'] as const) {
    if (typeof api[fn] !== 'function')
      throw new Error(`crdt-store: Automerge's wasm bindings at ${bindings} lack ${fn}(); ${PINNED}`);
  }
  return api as WasmApi;
}

const wasm = loadWasmApi();

export const amCreate = (actor: string): AmDoc => wasm.create({ actor });

/** Loads saved bytes; throws on anything Automerge cannot read. */
export const amLoad = (data: Uint8Array, actor: string): AmDoc => wasm.load(data, { actor });

export const amInitSyncState = (): AmSyncState => wasm.initSyncState();

type DecodedChange = ReturnType<WasmApi['decodeChange']>;

/**
 * Decoded changes (or why they are not changes) by their bytes, least recently used
 * first. A pushed change is decoded by admission, again for the keys it touches, and with
 * identity for its signature; in a simulator, by every node of the process.
 *
 * Keyed by a number read from the bytes, not by the bytes as a string: that string (as many
 * characters as the change has bytes) was made again at every lookup, three per change
 * received, the largest thing a reception allocated. The bytes are compared on a hit, so a
 * change is never taken for another whose key it shares: a peer can make its bytes collide
 * with another change's key (the checksum is theirs to write), and costs that change a
 * decode, no more.
 */
interface Decoded {
  /** A copy: a view would pin the packet it came in. */
  bytes: Buffer;
  d: DecodedChange | Error;
}
let decodeCacheEntries = 256;
let decoded = new LruMap<number, Decoded>(decodeCacheEntries);
/** Changes larger than this are decoded every time (copying them into the cache costs as much). */
const MAX_CACHED_CHANGE_BYTES = 4096;
/**
 * Nor is a change of more ops kept: Automerge's columns run-length encode, so a few bytes
 * can decode to thousands of ops, and a peer could pin them all in the cache.
 */
const MAX_CACHED_CHANGE_OPS = 64;

/** How many decoded changes to keep (a simulator running many stores keeps more); empties the cache. */
export function amDecodeCacheSize(entries: number): void {
  decodeCacheEntries = Math.max(0, Math.floor(entries));
  decoded = new LruMap(decodeCacheEntries);
  byArray = new WeakMap();
}

/**
 * A change's cache key: its length and bytes 4-7, where Automerge's chunk header keeps a
 * checksum (the first bytes of the change's SHA-256 hash): spread like a hash, read for free.
 * An int32, so the key is a small integer to V8 and looking it up allocates nothing.
 */
function decodeKey(b: Uint8Array): number {
  if (b.length < 8) return b.length;
  return (((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) ^ Math.imul(b.length, 0x9e3779b1)) | 0;
}

/**
 * Decoded changes by the array they came in, held no longer than the array: a change
 * received is decoded several times in a row (admission, its hash, its keys) from the same
 * array, which bytes from the network are never written into; and a simulator hands one
 * change's array to every node, whose lookups then skip the key and the comparison of bytes.
 */
let byArray = new WeakMap<Uint8Array, Decoded>();

/** Throws on bytes that are not a change. What it returns is shared: never change it. */
export function amDecodeChange(change: Uint8Array): DecodedChange {
  if (change.length > MAX_CACHED_CHANGE_BYTES || decodeCacheEntries === 0) return wasm.decodeChange(change);
  const known = byArray.get(change);
  if (known !== undefined) return decodedOf(known);
  const key = decodeKey(change);
  let entry = decoded.get(key);
  if (entry === undefined || !entry.bytes.equals(change)) {
    let d: DecodedChange | Error;
    try {
      d = wasm.decodeChange(change);
    } catch (err) {
      d = err instanceof Error ? err : new Error(String(err));
    }
    entry = { bytes: Buffer.from(change), d };
  }
  // Set again on a hit too: that makes it the most recently used.
  if (((entry.d as { ops?: unknown[] }).ops?.length ?? 0) <= MAX_CACHED_CHANGE_OPS) {
    decoded.set(key, entry);
    byArray.set(change, entry);
  }
  return decodedOf(entry);
}

function decodedOf(entry: Decoded): DecodedChange {
  if (entry.d instanceof Error) throw entry.d;
  return entry.d;
}

/** The change chunks a sync message carries (each a change or a saved document). Throws on bytes that are not one. */
export const amDecodeSyncChanges = (message: Uint8Array): Uint8Array[] => wasm.decodeSyncMessage(message).changes;

/**
 * Every change in saved bytes (a document, or concatenated changes whose dependencies may
 * be missing), each as change bytes. Throws on bytes Automerge cannot read.
 */
export function amLoadChanges(data: Uint8Array): Uint8Array[] {
  const doc = wasm.load(data, { actor: '00', allowMissingDeps: true });
  try {
    return doc.getChanges([]);
  } finally {
    doc.free();
  }
}

// crdt-store: the replicated key-value store on Automerge.
//
// In the daemon:
//   const store = await StoreNode.start({ name, dataDir, bind, port, membership, gossipPort });
//   store.get(key) / keys(prefix) / entries(prefix) / watch(prefix, handler)   (live view by default)
//   await store.update(key, (old) => next, { durable, shared }) / put(key, value) / delete(key)
//   store.stats()   for /metrics;  store.problems   what start-up found wrong with the data dir
//   await store.stop()
//
// Layers, each usable alone (tests and the simulator use them directly):
//   json-value.ts, names.ts    what values, keys, names and document ids may be
//   replica-doc.ts             one Automerge document and its decoded view
//   admission.ts               what a peer's changes may write, where, as whom (owners write their own)
//   views.ts                   the live/all views and watches
//   local-store.ts             the store on one node: documents, epochs, liveness, reaping
//   persist/                   snapshot + append log in the data directory
//   replication/               the sans-IO replication core (fast path, repair, wire format)
//   envelope.ts, store-node.ts the real-network driver

export { StoreNode, type StoreNodeOptions, type StoreNodeStats, type MembershipSource } from './store-node.js';
export {
  LocalStore,
  type LocalStoreOptions,
  type LocalStoreStats,
  type Mutator,
  type ReadOptions,
  type UpdateOptions,
  type UpdateResult,
} from './local-store.js';
export type { StoreRecord, WatchEvent, WatchHandler, ViewName } from './views.js';
export { StoreValueError, type Json, type ValueLimits, DEFAULT_VALUE_LIMITS } from './json-value.js';
export { SHARED_OWNER, SHARED_BUCKETS, MAX_KEY_BYTES } from './names.js';
export { openStore, openMemoryStore, type OpenedStore } from './persist/open.js';
export { StoreFileError, type JournalStats } from './persist/journal.js';
export {
  StoreCore,
  DEFAULT_REPLICATION,
  type ReplicationConfig,
  type ReplicationStats,
  type StoreOutput,
  type Member,
  type Peer,
} from './replication/core.js';
export { REJECT_REASONS as REPLICATION_REJECT_REASONS } from './replication/wire.js';
export { ENVELOPE_REJECTS } from './envelope.js';
export { ADMIT_REJECTS, type AdmitReject, type KeyOwnerRule } from './admission.js';

// A record as a replica holds it: shared by replica-doc.ts and doc-pool.ts.
import type { Json } from './json-value.js';

/** One record as a reader sees it; views.ts re-exports it with the views built from these. */
export interface StoreRecord {
  readonly key: string;
  readonly value: Json;
  /** The node that owns it, or SHARED_OWNER ("*") for a shared record. */
  readonly owner: string;
}

/** One key of a document as ReplicaDoc reads it; the lazily filled fields depend only on the text. */
export interface Entry {
  text: string;
  /** Decoded on first read and shared (frozen) by every reader after. */
  value?: Json;
  /** The record readers get, made once per text. */
  record?: StoreRecord;
}

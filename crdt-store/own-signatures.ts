// This node's own changes are signed in batches, at the first need: when replication reads
// a change's auth record to push it, when the journal writes a batch of records, before a
// snapshot, a sync or a durable write. Every change is still signed once, and before it
// leaves the node; but a burst of writes signs back to back, which costs about 60 % of
// signing each one between Automerge's work (measured: the key and the curve's tables stay
// in cache). A crash before the signing loses nothing a peer could need: a change of ours
// without its record is signed again when a sync asks for it (LocalStore.syncAuths).
// Where every member reads them, a batch is signed once for up to MAX_BATCH changes
// (change-auth.ts signBatch); an agent from before them could not check such a record.

import { MAX_BATCH, type ChangeAuth } from './change-auth.js';
import type { ReplicaDoc } from './replica-doc.js';

interface Pending {
  doc: ReplicaDoc;
  hash: string;
  change: Uint8Array;
  auth?: Uint8Array;
}

export class OwnSignatures {
  private pending: Pending[] = [];

  /** Sign up to MAX_BATCH changes with one signature (every member reads batch records)? */
  batches = true;

  constructor(private readonly auth: ChangeAuth) {}

  /**
   * A change this node just made in `doc`: it is signed with the next batch, and its record
   * kept in doc.auths then. Returns what reads the record (signing the batch if need be).
   */
  add(doc: ReplicaDoc, hash: string, change: Uint8Array): () => Uint8Array | undefined {
    const p: Pending = { doc, hash, change };
    this.pending.push(p);
    doc.noteUnpersistedAuth(hash);
    return () => {
      if (!p.auth) this.signAll();
      return p.auth;
    };
  }

  /** Signs every pending change now. */
  signAll(): void {
    const list = this.pending;
    if (list.length === 0) return;
    this.pending = [];
    const step = this.batches ? MAX_BATCH : 1;
    // A batch is one document's: on disk it is one row of that document's signatures.
    const byDoc = new Map<ReplicaDoc, Pending[]>();
    for (const p of list) {
      const mine = byDoc.get(p.doc);
      if (mine) mine.push(p);
      else byDoc.set(p.doc, [p]);
    }
    for (const mine of byDoc.values())
      for (let at = 0; at < mine.length; at += step) this.signPart(mine.slice(at, at + step));
  }

  private signPart(part: Pending[]): void {
    const doc = part[0]!.doc;
    const auths =
      part.length > 1
        ? this.auth.signBatch(
            doc.id,
            part.map((p) => p.hash),
          )
        : part.map((p) => this.auth.sign(doc.id, p.change));
    part.forEach((p, i) => {
      p.auth = auths[i]!;
      p.doc.setAuth(p.hash, p.auth);
    });
  }
}

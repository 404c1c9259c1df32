// The two-level anti-entropy digest of what a node holds. Every document contributes
// its heads hash (id, epoch and heads); documents fall into DIGEST_GROUPS groups by id;
// a group's digest is the XOR of its documents' hashes and the root hashes the groups.
// Two nodes compare roots in one small packet (the common, idle case), then groups in
// another, then list only the documents of the groups that differ. XOR makes each
// update O(1): a document's old hash is XORed out and its new one in.

import { murmur3 } from '../hash.js';
import type { DocId } from '../names.js';

export const DIGEST_GROUPS = 64;

export const groupOf = (docId: DocId): number => murmur3(docId, 0x67) % DIGEST_GROUPS;

export interface DigestEntry {
  epoch: number;
  hash: number;
}

/**
 * An entry as kept: the hash as an int32, which V8 holds in the object itself. A uint32 past
 * 2^31 in a field is a number object of its own: one more per document on every node.
 */
interface Kept {
  epoch: number;
  hash32: number;
}

export class Digest {
  private readonly entries = new Map<DocId, Kept>();
  private readonly groupHashes = new Uint32Array(DIGEST_GROUPS);
  private readonly members: Set<DocId>[] = Array.from({ length: DIGEST_GROUPS }, () => new Set());
  private rootCache: number | undefined;

  set(docId: DocId, epoch: number, hash: number): void {
    const hash32 = hash | 0;
    const old = this.entries.get(docId);
    if (old?.epoch === epoch && old.hash32 === hash32) return;
    const g = groupOf(docId);
    if (old) {
      this.groupHashes[g] ^= old.hash32 ^ hash32;
      old.epoch = epoch;
      old.hash32 = hash32;
    } else {
      this.groupHashes[g] ^= hash32;
      this.entries.set(docId, { epoch, hash32 });
      this.members[g].add(docId);
    }
    this.rootCache = undefined;
  }

  remove(docId: DocId): void {
    const old = this.entries.get(docId);
    if (!old) return;
    const g = groupOf(docId);
    this.groupHashes[g] ^= old.hash32;
    this.entries.delete(docId);
    this.members[g].delete(docId);
    this.rootCache = undefined;
  }

  get(docId: DocId): DigestEntry | undefined {
    const e = this.entries.get(docId);
    return e && { epoch: e.epoch, hash: e.hash32 >>> 0 };
  }

  get size(): number {
    return this.entries.size;
  }

  root(): number {
    if (this.rootCache === undefined)
      this.rootCache = murmur3(Array.from(this.groupHashes, (h) => h.toString(36)).join(','), 0x7007);
    return this.rootCache;
  }

  groups(): number[] {
    return Array.from(this.groupHashes);
  }

  /** Groups whose digest differs from `theirs`. */
  differingGroups(theirs: readonly number[]): number[] {
    const out: number[] = [];
    for (let g = 0; g < DIGEST_GROUPS; g++) if (this.groupHashes[g] !== theirs[g]) out.push(g);
    return out;
  }

  /** The documents of group `g`, with their epochs and hashes. */
  docsIn(g: number): { docId: DocId; epoch: number; hash: number }[] {
    return [...this.members[g]].map((docId) => {
      const e = this.entries.get(docId)!;
      return { docId, epoch: e.epoch, hash: e.hash32 >>> 0 };
    });
  }
}

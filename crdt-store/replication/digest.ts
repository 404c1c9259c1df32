// The two-level anti-entropy digest of what a node holds. Every document contributes
// its heads hash (id, epoch and heads); documents fall into DIGEST_GROUPS groups by id;
// a group's digest is the XOR of its documents' hashes and the root hashes the groups.
// Two nodes compare roots in one small packet (the common, idle case), then groups in
// another, then list only the documents of the groups that differ. XOR makes each
// update O(1): a document's old hash is XORed out and its new one in.

import { grown } from '../../base/typed-arrays.js';
import { murmur3 } from '../hash.js';
import type { DocId } from '../names.js';

export const DIGEST_GROUPS = 64;

export const groupOf = (docId: DocId): number => murmur3(docId, 0x67) % DIGEST_GROUPS;

export interface DigestEntry {
  epoch: number;
  hash: number;
}

export class Digest {
  /**
   * Each document's entry is a slot in two typed arrays: its epoch, and its hash as an int32
   * (a uint32 past 2^31 would not fit V8's small integers). A node holds one entry per
   * document it has: an object each was one more object per (node, document) pair for every
   * collection to mark.
   */
  private readonly slots = new Map<DocId, number>();
  private epochs = new Float64Array(16);
  private hashes = new Int32Array(16);
  /** Slots of removed documents, taken again before new ones. */
  private readonly freeSlots: number[] = [];
  private slotsUsed = 0;
  /** Each slot's group: a group's documents are listed by one pass over the slots, not kept in a set per group. */
  private groupOfSlot = new Uint8Array(16);
  private readonly groupSizes = new Uint32Array(DIGEST_GROUPS);
  private readonly groupHashes = new Uint32Array(DIGEST_GROUPS);
  private rootCache: number | undefined;

  set(docId: DocId, epoch: number, hash: number): void {
    const hash32 = hash | 0;
    let slot = this.slots.get(docId);
    if (slot !== undefined) {
      const old = this.hashes[slot];
      if (this.epochs[slot] === epoch && old === hash32) return;
      this.groupHashes[this.groupOfSlot[slot]] ^= old ^ hash32;
    } else {
      const g = groupOf(docId);
      slot = this.freeSlots.pop() ?? this.newSlot();
      this.slots.set(docId, slot);
      this.groupOfSlot[slot] = g;
      this.groupSizes[g]++;
      this.groupHashes[g] ^= hash32;
    }
    this.epochs[slot] = epoch;
    this.hashes[slot] = hash32;
    this.rootCache = undefined;
  }

  remove(docId: DocId): void {
    const slot = this.slots.get(docId);
    if (slot === undefined) return;
    const g = this.groupOfSlot[slot];
    this.groupHashes[g] ^= this.hashes[slot];
    this.groupSizes[g]--;
    this.slots.delete(docId);
    this.freeSlots.push(slot);
    this.rootCache = undefined;
  }

  get(docId: DocId): DigestEntry | undefined {
    const slot = this.slots.get(docId);
    return slot === undefined ? undefined : { epoch: this.epochs[slot], hash: this.hashes[slot] >>> 0 };
  }

  get size(): number {
    return this.slots.size;
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

  /** How many documents group `g` holds. */
  groupSize(g: number): number {
    return this.groupSizes[g];
  }

  /** The documents of `groups`, with their epochs and hashes. */
  docsIn(groups: readonly number[]): { docId: DocId; epoch: number; hash: number }[] {
    const wanted = new Uint8Array(DIGEST_GROUPS);
    for (const g of groups) wanted[g] = 1;
    const out: { docId: DocId; epoch: number; hash: number }[] = [];
    for (const [docId, slot] of this.slots)
      if (wanted[this.groupOfSlot[slot]] === 1)
        out.push({ docId, epoch: this.epochs[slot], hash: this.hashes[slot] >>> 0 });
    return out;
  }

  private newSlot(): number {
    if (this.slotsUsed === this.epochs.length) {
      this.epochs = grown(this.epochs, 2 * this.slotsUsed);
      this.hashes = grown(this.hashes, 2 * this.slotsUsed);
      this.groupOfSlot = grown(this.groupOfSlot, 2 * this.slotsUsed);
    }
    return this.slotsUsed++;
  }
}

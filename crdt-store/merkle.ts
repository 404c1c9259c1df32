// A Merkle tree hash over a batch of signed messages (RFC 9162 §2.1: SHA-256, leaves
// prefixed 0x00, interior nodes 0x01, the split at the largest power of two below n).
// change-auth.ts signs a burst of this node's changes with one Ed25519 signature over
// the tree's root; each change's record carries its audit path, so a receiver checks
// one change alone, whoever relayed it, and pays the signature once per burst.
// The prefixes keep a leaf from passing for an interior node (second preimages).

import { createHash } from 'node:crypto';

export const HASH_BYTES = 32;
const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

/** The leaf hash of a message given as parts (hashed as their concatenation). */
export function leafHash(parts: readonly Uint8Array[]): Buffer {
  const h = createHash('sha256').update(LEAF);
  for (const p of parts) h.update(p);
  return h.digest();
}

const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer =>
  createHash('sha256').update(NODE).update(left).update(right).digest();

/** The largest power of two below n (n > 1). */
const split = (n: number): number => 2 ** Math.floor(Math.log2(n - 1));

/** The root over leaf hashes `leaves` (at least one), and each leaf's audit path, leaf first. */
export function treeOf(leaves: readonly Uint8Array[]): { root: Uint8Array; paths: Uint8Array[][] } {
  const paths: Uint8Array[][] = leaves.map(() => []);
  const build = (from: number, to: number): Uint8Array => {
    if (to - from === 1) return leaves[from]!;
    const k = from + split(to - from);
    const left = build(from, k);
    const right = build(k, to);
    for (let i = from; i < k; i++) paths[i]!.push(right);
    for (let i = k; i < to; i++) paths[i]!.push(left);
    return nodeHash(left, right);
  };
  return { root: build(0, leaves.length), paths };
}

/**
 * The root that leaf `index` of a tree of `size` leaves and its audit path lead to, or
 * undefined if the path does not fit that place (RFC 9162 §2.1.3.2, without the final
 * comparison: the caller checks the root by its signature).
 */
export function rootFromPath(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
): Uint8Array | undefined {
  if (index < 0 || index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else r = nodeHash(r, p);
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 ? r : undefined;
}

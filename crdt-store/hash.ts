// Non-cryptographic hashes that every node must compute identically: the shared bucket
// of a key, the ring positions of the broadcast trees, the anti-entropy digests.
// MurmurHash3 (x86, 32-bit) over the UTF-16 code units of a string: simple, fast, good
// avalanche, and defined here so no dependency can change it under a running cluster.

export function murmur3(s: string, seed: number): number {
  let h = seed >>> 0;
  const n = s.length;
  let i = 0;
  // Two UTF-16 code units per 32-bit block.
  for (; i + 1 < n; i += 2) {
    let k = (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)) >>> 0;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  if (i < n) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 2^52: ring positions live in [0, 2^52), exact in a double. */
export const RING_SIZE = 2 ** 52;

/** A 52-bit position from two independent 32-bit hashes. */
export function position52(s: string, salt: number): number {
  const hi = murmur3(s, 0x9747b28c ^ salt) >>> 12; // 20 bits
  const lo = murmur3(s, 0x5bd1e995 ^ salt); // 32 bits
  return hi * 2 ** 32 + lo;
}

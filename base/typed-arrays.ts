// Typed arrays cannot grow in place: the columns and lists built on them (membership's
// member tables) move to a larger copy.

type Growable = Uint8Array | Int32Array | Uint32Array | Float64Array;

/** `a`'s elements in a new array of the same kind with room for `n`. */
export function grown<T extends Growable>(a: T, n: number): T {
  const b = new (a.constructor as new (length: number) => T)(n);
  b.set(a);
  return b;
}

/** The first power-of-two multiple of `length` (at least 1) above `index`. */
export function capacityFor(length: number, index: number): number {
  let n = Math.max(1, length);
  while (n <= index) n *= 2;
  return n;
}

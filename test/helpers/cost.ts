// How the cost of an operation grows with the size of a table: for tests that a bounded
// table under a flood of new keys costs the same per call full at its default size as
// full at a tiny one. Wall time on a shared machine is noisy, so each figure is the best
// of a few rounds, and tests compare two sizes measured back to back rather than a time.

/**
 * The best, over `rounds`, of the ns per call that `calls` calls of `op` took (op gets the
 * call's number). With `untimed`, each call is timed alone and `untimed` runs after it
 * off the clock: for an op whose setup would otherwise dominate what is measured.
 */
export function nsPerCall(calls: number, op: (i: number) => void, rounds = 3, untimed?: (i: number) => void): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    let ns = 0n;
    if (untimed === undefined) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) op(r * calls + i);
      ns = process.hrtime.bigint() - t0;
    } else {
      for (let i = 0; i < calls; i++) {
        const t0 = process.hrtime.bigint();
        op(r * calls + i);
        ns += process.hrtime.bigint() - t0;
        untimed(r * calls + i);
      }
    }
    best = Math.min(best, Number(ns) / calls);
  }
  return best;
}

/**
 * ns per call of `op` on a table made by `make(size)` and first filled by `fill` calls,
 * at a large size over a small one. `op` and `fill` get the call's number, so keys can
 * stay new; the figure for the large size is divided by the small size's. The comparison
 * is made `attempts` times and the lowest ratio kept: a busy moment of the machine (CI
 * runs tests side by side) can slow one size and not the other, but a cost that grows
 * with the table shows in every attempt. `untimed` (table, call's number) runs after each
 * call of `op`, filling included, off the clock (nsPerCall).
 */
export function costGrowth<T>(
  sizes: { small: number; large: number },
  make: (size: number) => T,
  op: (table: T, i: number) => void,
  calls = 50_000,
  attempts = 5,
  untimed?: (table: T, i: number) => void,
): { small: number; large: number; ratio: number } {
  const at = (size: number) => {
    const table = make(size);
    // Full, and past the first rehash of its deleted slots: the steady state of a flood.
    for (let i = 0; i < 3 * size; i++) {
      op(table, -1 - i);
      untimed?.(table, -1 - i);
    }
    return nsPerCall(calls, (i) => op(table, i), 3, untimed && ((i) => untimed(table, i)));
  };
  let best = { small: 0, large: 0, ratio: Infinity };
  for (let i = 0; i < attempts; i++) {
    const small = at(sizes.small);
    const large = at(sizes.large);
    if (large / small < best.ratio) best = { small, large, ratio: large / small };
  }
  return best;
}

/**
 * Polls `check` until it holds; resolves with the ms it took, or rejects naming `what` after
 * timeoutMs (a function: read then, so the failure can say the state it was left in).
 */
export async function eventually(
  what: string | (() => string),
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`not within ${timeoutMs}ms: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

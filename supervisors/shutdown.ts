// Bounded stop of one child: the supervisor must never hang on a child that does not stop.
import type { Child } from './types.js';
import { asError } from './errors.js';

export type StopOutcome = { kind: 'stopped' } | { kind: 'killed'; afterMs: number } | { kind: 'failed'; error: Error };

/**
 * Calls `child.stop()`; if it has not settled after `shutdownMs`, calls `kill()` (when
 * there is one) and moves on. A rejected stop also gets `kill()`, since whatever it
 * failed to release is still held. Never rejects.
 */
export async function stopWithin(child: Child, shutdownMs: number): Promise<StopOutcome> {
  // A stop() that throws synchronously is a failed stop, not a thrown supervisor.
  const stopping: Promise<StopOutcome> = Promise.resolve()
    .then(() => child.stop())
    .then(
      (): StopOutcome => ({ kind: 'stopped' }),
      (err: unknown): StopOutcome => ({ kind: 'failed', error: asError(err) }),
    );
  let outcome: StopOutcome | undefined;
  if (!Number.isFinite(shutdownMs)) {
    outcome = await stopping;
  } else {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, shutdownMs));
    });
    outcome = await Promise.race([stopping, expired]);
    clearTimeout(timer);
  }
  if (outcome === undefined) {
    forceKill(child);
    return { kind: 'killed', afterMs: shutdownMs };
  }
  if (outcome.kind === 'failed') forceKill(child);
  return outcome;
}

/**
 * Best effort, synchronous: `kill()` if the child has one, else a `stop()` that
 * nobody waits for. Used when the whole subtree is being killed.
 */
export function forceKill(child: Child): void {
  try {
    if (typeof child.kill === 'function') {
      child.kill();
      return;
    }
    Promise.resolve()
      .then(() => child.stop())
      .catch(() => undefined);
  } catch {
    // A kill that throws has nothing left for us to do.
  }
}

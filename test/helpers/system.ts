// System tests need root, the kernel or external programs. Without WEFT_REQUIRE_SYSTEM=1 a
// missing prerequisite skips the test with the exact reason; with it (as in CI) it fails.
import { execFileSync } from 'node:child_process';

export function requireSystem(): boolean {
  return process.env.WEFT_REQUIRE_SYSTEM === '1';
}

/** Why the prerequisites are not met, or undefined when they are. */
export function missing(needs: { root?: boolean; commands?: string[] }): string | undefined {
  const reasons: string[] = [];
  if (needs.root && process.getuid?.() !== 0) reasons.push('needs root');
  for (const cmd of needs.commands ?? []) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    } catch {
      reasons.push(`needs \`${cmd}\` on PATH`);
    }
  }
  return reasons.length ? reasons.join(', ') : undefined;
}

/** tap's `skip` option for a system test: a reason string to skip, or false to run (or to fail when required). */
export function skipUnless(needs: { root?: boolean; commands?: string[] }): string | false {
  const why = missing(needs);
  if (!why) return false;
  if (requireSystem()) throw new Error(`system prerequisite missing with WEFT_REQUIRE_SYSTEM=1: ${why}`);
  return why;
}

// Reading a bench's knobs from the environment, shared by the bench entry points.
// (The leading underscore keeps it off `npm run bench`'s list of benches.)
import { spawnSync } from 'node:child_process';

const env = process.env;

/**
 * `--smoke`: tiny sizes and a few seconds, so `npm test` (bench/smoke.test.ts) proves every
 * bench still runs end to end and prints its JSON line. The figures mean nothing then.
 */
export const SMOKE = process.argv.includes('--smoke');

/** BENCH_X=1 or true. */
export function envFlag(name: string): boolean {
  return env[name] === '1' || env[name] === 'true';
}

/** A positive number from the environment, or the default when unset or empty (`smoke` under --smoke). */
export function envNumber(name: string, dflt: number, smoke?: number): number {
  const v = env[name];
  if (v === undefined || v === '') return SMOKE && smoke !== undefined ? smoke : dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
}

/** The commands of `cmds` that are not on PATH. */
export function missingCommands(cmds: readonly string[]): string[] {
  return cmds.filter((c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status !== 0);
}

/** Whether this process may program the kernel (root, with `ip netns` and nft at hand). */
export function kernelUsable(): boolean {
  return process.getuid?.() === 0 && missingCommands(['ip', 'nft']).length === 0;
}

/**
 * The last line of a bench whose peers are missing: the figures it could not take are
 * null and `absent` says what was missing, so a smoke run passes on a bare machine and a
 * full run says why it measured nothing.
 */
export function printAbsent(absent: string[], fields: Record<string, unknown> = {}): void {
  console.log(`skipped: ${absent.join(', ')} not available`);
  console.log(JSON.stringify({ ...fields, absent }));
}

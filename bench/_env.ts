// Reading a bench's knobs from the environment, shared by the bench entry points.
// (The leading underscore keeps it off `npm run bench`'s list of benches.)
const env = process.env;

/** BENCH_X=1 or true. */
export function envFlag(name: string): boolean {
  return env[name] === '1' || env[name] === 'true';
}

/** A positive number from the environment, or the default when unset or empty. */
export function envNumber(name: string, dflt: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
}

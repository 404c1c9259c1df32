/**
 * "500ms", "10s", "2m", "1h" (or 0) in milliseconds; undefined for anything else. A number
 * without its unit is refused, from a flag, the environment, a config file or a label alike:
 * `--dns-ttl 5` meant 5 s to its writer and 5 ms to an old parser, and no guess is right for
 * everyone.
 */
export function parseDuration(raw: unknown): number | undefined {
  if (raw === 0 || raw === '0') return 0;
  if (typeof raw !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]!]!;
  return Math.round(Number(m[1]) * unit);
}

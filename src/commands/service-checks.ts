// The health-check parts of `weft service`: --check flags for register, the TTL pushes
// (pass, warn, fail) and the CHECKS column of ls. The agent validates every check
// (checks/spec.ts); here flags only become the register body's `checks`.
import { parseArgs } from 'node:util';
import { API_FLAGS, parseCommand, type Options } from './args.js';
import { apiTarget, callApi } from './client.js';
import { UsageError } from './errors.js';

export const CHECK_HELP = `  --check KIND=TARGET  a health check, run by this node's agent; repeatable:
                http=:8080/healthz (2xx/3xx pass), tcp=:5432 (connects), ttl=30s (the
                service pushes weft service pass|warn|fail ID), script='CMD' (exit 0 pass,
                1 warning, else critical; only with the agent's checks.allowScripts)
  --check-interval D  --check-timeout D   e.g. 5s and 2s (default 5s, 2s)
  --check-rise N  --check-fall N           passes to come back, failures to go critical (default 2, 3)
  --check-body TEXT   http: the body must contain TEXT
  --note TEXT   pass|warn|fail: what to show as the check's output`;

export const CHECK_USAGE = `  weft service pass|warn|fail ID|SERVICE/ID [--note TEXT]   push a ttl check's status`;

export const CHECK_FLAGS = {
  check: { type: 'string', multiple: true },
  'check-interval': { type: 'string' },
  'check-timeout': { type: 'string' },
  'check-rise': { type: 'string' },
  'check-fall': { type: 'string' },
  'check-body': { type: 'string' },
} as const satisfies Options;

const SETTINGS = {
  'check-interval': 'interval',
  'check-timeout': 'timeout',
  'check-rise': 'rise',
  'check-fall': 'fall',
  'check-body': 'body',
} as const;

/** The register body's checks from the flags; undefined without --check. */
export function checksFromFlags(values: Record<string, unknown>): Record<string, string>[] | undefined {
  const settings: Record<string, string> = {};
  for (const [flag, field] of Object.entries(SETTINGS))
    if (typeof values[flag] === 'string') settings[field] = values[flag] as string;
  const given = (values.check as string[] | undefined) ?? [];
  if (given.length === 0) {
    if (Object.keys(settings).length)
      throw new UsageError('--check-* settings need a --check, e.g. --check http=:8080/healthz');
    return undefined;
  }
  return given.map((c) => {
    const eq = c.indexOf('=');
    if (eq <= 0) throw new UsageError(`--check ${c}: write KIND=TARGET, e.g. http=:8080/healthz, tcp=:5432 or ttl=30s`);
    const { body, ...rest } = settings;
    const kind = c.slice(0, eq);
    return { [kind]: c.slice(eq + 1), ...rest, ...(kind === 'http' && body !== undefined ? { body } : {}) };
  });
}

const STATUS = { pass: 'passing', warn: 'warning', fail: 'critical' } as const;
const TTL_FLAGS = { note: { type: 'string' }, ...API_FLAGS } as const satisfies Options;

/**
 * weft service pass|warn|fail ID [--note TEXT]: its exit code, or undefined for the other
 * subcommands. `help`: the service command's.
 */
export async function runTtlPush(help: string, argv: string[]): Promise<number | undefined> {
  // Which subcommand, leniently (register's flags are not known here); then strictly.
  const first = parseArgs({ args: argv, options: TTL_FLAGS, strict: false, allowPositionals: true }).positionals[0];
  if (first === undefined || !(first in STATUS)) return undefined;
  const parsed = parseCommand(help, 'service', argv, TTL_FLAGS, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [sub, ...args] = positionals as [keyof typeof STATUS, ...string[]];
  if (args.length !== 1) throw new UsageError(`usage: weft service ${sub} ID|SERVICE/ID [--note TEXT]`);
  const status = STATUS[sub];
  await callApi(apiTarget(values), 'PUT', '/v1/checks/ttl', { endpoint: args[0], status, note: values.note });
  console.log(`${args[0]}: ttl check ${status}`);
  return 0;
}

interface CheckView {
  name: string;
  status: string;
  output: string;
}

/** ls: the checks of an endpoint in one cell, and the output of the worst one (bounded). */
export function checkCells(checks: CheckView[] | undefined): [string, string] {
  if (!checks?.length) return ['-', ''];
  const order = ['critical', 'warning', 'passing'];
  const worst = [...checks].sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status))[0]!;
  const out = worst.output.length > 60 ? `${worst.output.slice(0, 59)}…` : worst.output;
  return [checks.map((c) => `${c.name}:${c.status}`).join(','), out];
}

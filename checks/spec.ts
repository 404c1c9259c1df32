// What a person writes to define a check -> the check's definition (records/checks.ts).
// One parser for the three ways in: Docker labels (registrar/labels.ts), the API's register
// body and the CLI's --check flags (both as the body's `checks: [...]`). Pure; every refusal
// is a short reason naming the field.
//
// A check is one object with exactly one kind field and optional settings:
//   { "http": ":8080/healthz", "interval": "5s", "timeout": "2s", "rise": 2, "fall": 3, "body": "ok" }
//   { "tcp": ":5432" }     { "script": "/usr/local/bin/check-db" }     { "ttl": "30s" }
//
// Targets name a port of the endpoint itself (":PORT"), never a host: whoever can start a
// container or call the API must not make this node probe other machines.
import { parseDuration } from '../base/duration.js';
import { MAX_CHECKS, type CheckDef, type CheckKind } from '../records/checks.js';
import { DEFAULTS } from './defaults.js';
import { parseExecCommand } from './exec-command.js';

export const KIND_FIELDS: readonly CheckKind[] = ['http', 'tcp', 'script', 'ttl'];
export const SETTING_FIELDS = ['interval', 'timeout', 'rise', 'fall', 'body', 'name'] as const;
const FIELDS: readonly string[] = [...KIND_FIELDS, ...SETTING_FIELDS];

export interface SpecOptions {
  /** Why script checks are refused here, or undefined when they are allowed. */
  refuseScript?: string;
  /** 'container': a script runs inside the endpoint's container, as an argv (exec-command.ts). */
  scriptIn?: 'host' | 'container';
}

const PORT_PATH = /^:([0-9]{1,5})(\/[\x21-\x7e]{0,255})?$/;
const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const fmt = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

function portOf(target: string, kind: 'http' | 'tcp'): string | undefined {
  const m = PORT_PATH.exec(target);
  const port = m ? Number(m[1]) : 0;
  if (!m || port < 1 || port > 65535 || (kind === 'tcp' && m[2] !== undefined)) {
    const want = kind === 'http' ? ':PORT[/path]' : ':PORT';
    return `${kind} ${JSON.stringify(target)}: write ${want}, a port of the endpoint's own address (1-65535)`;
  }
  return undefined;
}

function durationOf(field: string, raw: unknown, min: number, max: number): number | string {
  const ms = parseDuration(raw);
  if (ms === undefined) return `${field} ${JSON.stringify(raw)}: a duration with its unit, such as 5s or 500ms`;
  if (ms < min || ms > max) return `${field} ${fmt(ms)}: must be from ${fmt(min)} to ${fmt(max)}`;
  return ms;
}

function countOf(field: string, raw: unknown): number | string {
  const n = typeof raw === 'string' && /^[0-9]{1,3}$/.test(raw) ? Number(raw) : raw;
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > DEFAULTS.maxCount)
    return `${field} ${JSON.stringify(raw)}: a whole number from 1 to ${DEFAULTS.maxCount}`;
  return n as number;
}

function kindOf(
  b: Record<string, unknown>,
  opts: SpecOptions,
): { kind: CheckKind; target: string; ttlMs?: number } | string {
  const kinds = KIND_FIELDS.filter((k) => b[k] !== undefined);
  if (kinds.length !== 1)
    return `a check needs exactly one of ${KIND_FIELDS.join(', ')} (got ${kinds.length ? kinds.join(', ') : 'none'})`;
  const kind = kinds[0]!;
  const raw = b[kind];
  if (typeof raw !== 'string') return `${kind} must be text`;
  if (kind === 'ttl') {
    const ttl = durationOf('ttl', raw, DEFAULTS.minIntervalMs, DEFAULTS.maxIntervalMs);
    return typeof ttl === 'string' ? ttl : { kind, target: '', ttlMs: ttl };
  }
  if (kind === 'script') {
    if (opts.refuseScript) return opts.refuseScript;
    if (opts.scriptIn === 'container') {
      const argv = parseExecCommand(raw);
      return typeof argv === 'string' ? argv : { kind, target: raw };
    }
    if (raw.trim() === '' || raw.length > 512 || /[\0\r\n]/.test(raw))
      return 'script: one line of at most 512 characters';
    return { kind, target: raw };
  }
  const bad = portOf(raw, kind);
  return bad ?? { kind, target: raw };
}

/** One check from what a person wrote, or the reason it is refused. `name` defaults to the kind. */
export function parseCheckSpec(input: unknown, opts: SpecOptions = {}): CheckDef | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return 'a check is an object such as {"http": ":8080/healthz", "interval": "5s"}';
  const b = input as Record<string, unknown>;
  const unknown = Object.keys(b).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) return `unknown check field ${JSON.stringify(unknown)} (known: ${FIELDS.join(', ')})`;
  const k = kindOf(b, opts);
  if (typeof k === 'string') return k;
  const intervalMs =
    b.interval === undefined
      ? (k.ttlMs ?? DEFAULTS.intervalMs)
      : durationOf('interval', b.interval, DEFAULTS.minIntervalMs, DEFAULTS.maxIntervalMs);
  if (typeof intervalMs === 'string') return intervalMs;
  const timeoutMs =
    b.timeout === undefined
      ? Math.min(DEFAULTS.timeoutMs, intervalMs)
      : durationOf('timeout', b.timeout, DEFAULTS.minTimeoutMs, intervalMs);
  if (typeof timeoutMs === 'string') return `${timeoutMs} (at most the interval)`;
  const rise = b.rise === undefined ? DEFAULTS.rise : countOf('rise', b.rise);
  const fall = b.fall === undefined ? DEFAULTS.fall : countOf('fall', b.fall);
  if (typeof rise === 'string') return rise;
  if (typeof fall === 'string') return fall;
  if (b.name !== undefined && (typeof b.name !== 'string' || !NAME.test(b.name)))
    return `name ${JSON.stringify(b.name)}: 1-32 of a-z, 0-9 and -`;
  if (b.body !== undefined && (k.kind !== 'http' || typeof b.body !== 'string' || b.body.length > 512))
    return 'body: text of at most 512 characters, for http checks only';
  const def: CheckDef = {
    name: (b.name as string | undefined) ?? k.kind,
    kind: k.kind,
    target: k.target,
    intervalMs,
    timeoutMs,
    rise,
    fall,
  };
  if (k.ttlMs !== undefined) def.ttlMs = k.ttlMs;
  if (b.body !== undefined) def.body = b.body as string;
  return def;
}

/** A list of checks: each parsed, at most MAX_CHECKS, a second check of one kind named kind-2, kind-3... */
export function parseCheckSpecs(list: unknown, opts: SpecOptions = {}): CheckDef[] | string {
  if (!Array.isArray(list)) return 'checks must be a list of checks such as [{"http": ":8080/healthz"}]';
  if (list.length > MAX_CHECKS) return `at most ${MAX_CHECKS} checks per endpoint (got ${list.length})`;
  const out: CheckDef[] = [];
  const names = new Set<string>();
  for (const [i, input] of list.entries()) {
    const def = parseCheckSpec(input, opts);
    if (typeof def === 'string') return `check ${i + 1}: ${def}`;
    const explicit = (input as { name?: unknown }).name !== undefined;
    if (!explicit) for (let n = 2; names.has(def.name); n++) def.name = `${def.kind}-${n}`;
    if (names.has(def.name)) return `check ${i + 1}: name ${def.name} is used twice`;
    names.add(def.name);
    out.push(def);
  }
  return out;
}

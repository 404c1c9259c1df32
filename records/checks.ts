// The health checks of an endpoint, as its record carries them (records/schema.ts,
// EndpointRecord.checks): what to run (written by the registrar or the API) and the last
// status (written by the owning node's checker, checks/). Every node reads the status to
// decide whether the endpoint is served, so this is a protocol between nodes: readers
// validate each field and refuse the whole record when a check is malformed.
//
// The field is optional: a record without it (from an older node, or an endpoint without
// checks) is served as before. An older reader ignores the field, so in a mixed-version
// cluster it keeps answering endpoints whose checks fail until it is upgraded.

export type CheckKind = 'http' | 'tcp' | 'script' | 'ttl';
/** As Consul's: warning is still served (it is a hint for the operator), critical is not. */
export type CheckStatus = 'passing' | 'warning' | 'critical';

/** What to run: the part the registrar or the API writes. */
export interface CheckDef {
  /** Unique within the endpoint: the kind, or kind-<n> for a second check of one kind. */
  name: string;
  kind: CheckKind;
  /** http: ":<port>[/<path>]"; tcp: ":<port>"; script: the command; ttl: "". */
  target: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive passes to become passing again after critical. */
  rise: number;
  /** Consecutive failures to become critical. */
  fall: number;
  /** ttl: the check turns critical when no update came for this long. */
  ttlMs?: number;
  /** http: a substring the body must contain. */
  body?: string;
}

export interface CheckRecord extends CheckDef {
  status: CheckStatus;
  /** What the probe said when the status last changed, at most MAX_CHECK_OUTPUT characters. */
  output: string;
}

export const CHECK_KINDS: readonly CheckKind[] = ['http', 'tcp', 'script', 'ttl'];
export const CHECK_STATUSES: readonly CheckStatus[] = ['passing', 'warning', 'critical'];
/** Output is for a person reading `weft service ls`: a line, not a log file in every replica. */
export const MAX_CHECK_OUTPUT = 200;
/** Checks per endpoint: each one is a probe every interval on the owner, and bytes in every replica. */
export const MAX_CHECKS = 8;
const MAX_TARGET = 512;
const MAX_MS = 24 * 3_600_000;
const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isMs = (v: unknown, min: number): v is number =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= MAX_MS;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 100;

/** A check as a record holds it, or undefined if any field is not as above. */
export function parseCheckRecord(v: unknown): CheckRecord | undefined {
  if (!isObject(v) || typeof v.name !== 'string' || !NAME.test(v.name)) return undefined;
  if (!CHECK_KINDS.includes(v.kind as CheckKind) || !CHECK_STATUSES.includes(v.status as CheckStatus)) return undefined;
  if (typeof v.target !== 'string' || v.target.length > MAX_TARGET) return undefined;
  if (!isMs(v.intervalMs, 1) || !isMs(v.timeoutMs, 1) || !isCount(v.rise) || !isCount(v.fall)) return undefined;
  if (v.ttlMs !== undefined && !isMs(v.ttlMs, 1)) return undefined;
  if (v.body !== undefined && (typeof v.body !== 'string' || v.body.length > MAX_TARGET)) return undefined;
  if (typeof v.output !== 'string' || v.output.length > MAX_CHECK_OUTPUT) return undefined;
  const c: CheckRecord = {
    name: v.name,
    kind: v.kind as CheckKind,
    target: v.target,
    intervalMs: v.intervalMs,
    timeoutMs: v.timeoutMs,
    rise: v.rise,
    fall: v.fall,
    status: v.status as CheckStatus,
    output: v.output,
  };
  if (v.ttlMs !== undefined) c.ttlMs = v.ttlMs;
  if (v.body !== undefined) c.body = v.body;
  return c;
}

/** The checks field of a record: undefined when absent, false when malformed. */
export function parseCheckRecords(v: unknown): CheckRecord[] | undefined | false {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > MAX_CHECKS) return false;
  const out: CheckRecord[] = [];
  const names = new Set<string>();
  for (const c of v) {
    const parsed = parseCheckRecord(c);
    if (!parsed || names.has(parsed.name)) return false;
    names.add(parsed.name);
    out.push(parsed);
  }
  return out;
}

/** Served unless a check is critical (warning is served, as in Consul). */
export function checksServing(checks: readonly CheckRecord[] | undefined): boolean {
  return !checks || checks.every((c) => c.status !== 'critical');
}

/** The definition part of a check, as one string: two checks with the same key run the same probe. */
export function checkDefKey(c: CheckDef): string {
  return JSON.stringify([
    c.name,
    c.kind,
    c.target,
    c.intervalMs,
    c.timeoutMs,
    c.rise,
    c.fall,
    c.ttlMs ?? null,
    c.body ?? null,
  ]);
}

/** Cuts output to what a record holds. */
export function boundOutput(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length <= MAX_CHECK_OUTPUT ? line : `${line.slice(0, MAX_CHECK_OUTPUT - 1)}…`;
}

/**
 * The checks a writer (registrar, API) puts in a record: each definition with the status of
 * the same check in the record it replaces, so that rewriting a record (a Docker event, a
 * re-registration) does not reset what the checker found. A new or changed check starts
 * critical: an endpoint is served only once its checks have passed.
 */
export function carryCheckStatus(defs: readonly CheckDef[], prev: readonly CheckRecord[] | undefined): CheckRecord[] {
  const before = new Map((prev ?? []).map((c) => [checkDefKey(c), c]));
  return defs.map((d) => {
    const old = before.get(checkDefKey(d));
    return { ...d, status: old?.status ?? 'critical', output: old?.output ?? 'not run yet' };
  });
}

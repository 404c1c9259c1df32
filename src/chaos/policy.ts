// Chaos policies, after Docker's Entropy: each policy says what to do (mode), how often
// (every `interval`, with `probability`), to whom (targets chosen by name or metadata) and
// for how long. Read from a YAML/JSON file or from flags; every problem is reported at once.
//
//   seed: 7                  # same seed, same schedule (the targets' state aside)
//   for: 60s                 # how long to inject; everything is healed at the end
//   policies:
//     - mode: drop           # drop | partition | latency | pause | kill
//       probability: 0.5     # chance per interval
//       interval: 5s
//       duration: 3s         # how long one fault lasts (kill: the node restarts after it)
//       targets: { names: [dev-2], match: "^dev-[0-9]$", meta: "zone=b", count: 1 }
//       loss: 0.3            # drop: fraction of packets dropped (default 1)
//       delay: 200ms         # latency: added one-way delay
//       ports: [7946, 7947]  # drop/latency: which ports (default gossip and store)
import { parseDuration } from '../config.js';

export const MODES = ['drop', 'partition', 'latency', 'pause', 'kill'] as const;
export type Mode = (typeof MODES)[number];

export interface Targets {
  names?: string[];
  /** A regular expression on node names. */
  match?: string;
  /** Text that must appear in the node's gossip metadata. */
  meta?: string;
  /** How many of the matching nodes one fault takes (default 1; partition: the group size). */
  count: number;
}

export interface Policy {
  mode: Mode;
  probability: number;
  intervalMs: number;
  durationMs: number;
  targets: Targets;
  loss: number;
  delayMs: number;
  ports: number[];
}

export interface ChaosPlan {
  seed: number;
  forMs: number;
  policies: Policy[];
}

export const DEFAULT_PORTS = [7946, 7947];

export class PolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? problems[0]
        : `${problems.length} problems with the chaos policy:\n  - ${problems.join('\n  - ')}`,
    );
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A plan from parsed YAML/JSON (or from flags shaped the same way). Throws PolicyError. */
export function parsePlan(raw: unknown): ChaosPlan {
  const problems: string[] = [];
  if (!isObject(raw)) throw new PolicyError(['the policy file must be a mapping with "policies:" (a list)']);
  const seed = raw.seed === undefined ? Date.now() % 2 ** 31 : raw.seed;
  if (!Number.isSafeInteger(seed)) problems.push(`seed ${JSON.stringify(raw.seed)} is not an integer`);
  const forMs = raw.for === undefined ? 60_000 : parseDuration(raw.for);
  if (forMs === undefined || forMs <= 0) problems.push(`for ${JSON.stringify(raw.for)} is not a duration such as 60s`);
  if (!Array.isArray(raw.policies) || raw.policies.length === 0) problems.push('policies must be a non-empty list');
  const policies = (Array.isArray(raw.policies) ? raw.policies : []).map((p, i) =>
    parsePolicy(p, `policies[${i}]`, problems),
  );
  if (problems.length) throw new PolicyError(problems);
  return { seed: seed as number, forMs: forMs!, policies: policies as Policy[] };
}

function parsePolicy(p: unknown, where: string, problems: string[]): Policy | undefined {
  if (!isObject(p)) {
    problems.push(`${where} must be a mapping`);
    return undefined;
  }
  const bad = (key: string, what: string) => problems.push(`${where}.${key} ${JSON.stringify(p[key])}: ${what}`);
  const known = new Set(['mode', 'probability', 'interval', 'duration', 'targets', 'loss', 'delay', 'ports']);
  for (const k of Object.keys(p))
    if (!known.has(k)) problems.push(`${where}: unknown key ${k} (known: ${[...known].join(', ')})`);
  if (!MODES.includes(p.mode as Mode)) bad('mode', `is one of ${MODES.join(', ')}`);
  const probability = p.probability ?? 1;
  if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1))
    bad('probability', 'is a number from 0 to 1');
  const intervalMs = parseDuration(p.interval ?? '5s');
  if (intervalMs === undefined || intervalMs < 100) bad('interval', 'is a duration of at least 100ms');
  const durationMs = parseDuration(p.duration ?? '3s');
  if (durationMs === undefined || durationMs < 100) bad('duration', 'is a duration of at least 100ms');
  const loss = p.loss ?? 1;
  if (typeof loss !== 'number' || !(loss > 0 && loss <= 1)) bad('loss', 'is a fraction above 0, at most 1');
  const delayMs = parseDuration(p.delay ?? '100ms');
  if (delayMs === undefined || delayMs < 1) bad('delay', 'is a duration such as 100ms');
  const ports = p.ports ?? DEFAULT_PORTS;
  if (!Array.isArray(ports) || ports.length === 0 || !ports.every((x) => Number.isInteger(x) && x >= 1 && x <= 65535))
    bad('ports', 'is a non-empty list of ports');
  const t = p.targets ?? {};
  let targets: Targets = { count: 1 };
  if (!isObject(t)) bad('targets', 'is a mapping of names, match, meta, count');
  else {
    if (t.names !== undefined && (!Array.isArray(t.names) || !t.names.every((n) => typeof n === 'string')))
      bad('targets', 'names is a list of node names');
    if (t.match !== undefined) {
      try {
        new RegExp(String(t.match));
      } catch {
        bad('targets', 'match is not a regular expression');
      }
    }
    if (t.meta !== undefined && typeof t.meta !== 'string') bad('targets', 'meta is text');
    const count = t.count ?? 1;
    if (!Number.isInteger(count) || (count as number) < 1) bad('targets', 'count is an integer of at least 1');
    targets = {
      names: t.names as string[] | undefined,
      match: t.match as string | undefined,
      meta: t.meta as string | undefined,
      count: count as number,
    };
  }
  return {
    mode: p.mode as Mode,
    probability: probability as number,
    intervalMs: intervalMs!,
    durationMs: durationMs!,
    targets,
    loss: loss as number,
    delayMs: delayMs!,
    ports: ports as number[],
  };
}

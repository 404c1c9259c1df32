// The weft.check.* labels -> the container's health checks (checks/spec.ts reads each).
//
//   weft.check.http=:8080/healthz    GET the container's address, port 8080, /healthz
//   weft.check.tcp=:5432             connect to the container's address, port 5432
//   weft.check.ttl=30s               the service pushes its status (weft service pass|warn|fail)
//   weft.check.script=/bin/check -q  runs inside the container, by Docker exec (checks/exec-probe.ts),
//                                    an argv (checks/exec-command.ts); only with checks.allowContainerScripts
//   weft.check.interval=5s  weft.check.timeout=2s  weft.check.rise=2  weft.check.fall=3
//   weft.check.body=ok               (http) the body must contain this
//       The settings apply to every check of the container.
//
// weft.check.script never runs on this host: a label is written by whoever can start a
// container, so its command runs inside that container, which that person controls
// anyway. The checker knows it from the record (source docker, with the container's id).
// Without checks.allowContainerScripts the label is refused.
//
// A check label that cannot be read leaves the container out (not registered): an
// endpoint whose health cannot be known must not be served as healthy.
import type { CheckDef } from '../records/checks.js';
import { KIND_FIELDS, SETTING_FIELDS, parseCheckSpecs } from '../checks/index.js';

export const CHECK_PREFIX = 'weft.check.';
const SCRIPT_REFUSED =
  'script: scripts in containers are off on this agent (turn on with checks.allowContainerScripts), or use Docker HEALTHCHECK';

export interface CheckLabelOptions {
  /** weft.check.script runs inside the container (checks.allowContainerScripts); otherwise it is refused. */
  containerScripts?: boolean;
}

export interface CheckLabels {
  checks: CheckDef[];
  /** The reason the check labels are refused, naming the label, or undefined. */
  problem?: { label: string; value: string; reason: string };
}

/** Reads every weft.check.* label of one container (the others are ignored). */
export function parseCheckLabels(labels: Record<string, string>, opts: CheckLabelOptions = {}): CheckLabels {
  const kinds: Record<string, string>[] = [];
  const settings: Record<string, string> = {};
  for (const label of Object.keys(labels)
    .filter((k) => k.startsWith(CHECK_PREFIX))
    .sort()) {
    const field = label.slice(CHECK_PREFIX.length);
    const value = labels[label]!;
    if ((KIND_FIELDS as readonly string[]).includes(field)) kinds.push({ [field]: value });
    else if ((SETTING_FIELDS as readonly string[]).includes(field) && field !== 'name') settings[field] = value;
    else
      return {
        checks: [],
        problem: {
          label,
          value,
          reason: `unknown check label (known: ${[...KIND_FIELDS, ...SETTING_FIELDS.filter((f) => f !== 'name')].map((f) => CHECK_PREFIX + f).join(', ')})`,
        },
      };
  }
  if (kinds.length === 0) {
    const [first] = Object.entries(settings);
    return first
      ? {
          checks: [],
          problem: {
            label: CHECK_PREFIX + first[0],
            value: first[1],
            reason: 'a check setting without a check (weft.check.http, tcp or ttl)',
          },
        }
      : { checks: [] };
  }
  // body is for http only: a container with http and tcp checks gives it to the http one.
  const specs = kinds.map((k) => ({ ...k, ...settings, ...('http' in k ? {} : { body: undefined }) }));
  const parsed = parseCheckSpecs(
    specs,
    opts.containerScripts ? { scriptIn: 'container' } : { refuseScript: SCRIPT_REFUSED },
  );
  if (typeof parsed !== 'string') return { checks: parsed };
  const culprit = labelOf(parsed);
  return {
    checks: [],
    problem: { label: culprit, value: labels[culprit] ?? '', reason: parsed.replace(/^check \d+: /, '') },
  };
}

/** parseLabels' part: the checks, or the problem and the mark that leaves the container out. */
export function readCheckLabels(
  labels: Record<string, string>,
  out: { checks: CheckDef[]; checksRefused?: boolean; problems: { label: string; value: string; reason: string }[] },
  opts: CheckLabelOptions = {},
): void {
  const read = parseCheckLabels(labels, opts);
  out.checks = read.checks;
  if (!read.problem) return;
  out.problems.push(read.problem);
  out.checksRefused = true;
}

/** The label a spec error names (its first word is the field), for the log line. */
function labelOf(reason: string): string {
  const field = /^check \d+: (\w+)/.exec(reason)?.[1];
  return field && [...KIND_FIELDS, ...SETTING_FIELDS].includes(field as never)
    ? CHECK_PREFIX + field
    : `${CHECK_PREFIX}*`;
}

// The commented config file the package installs as /etc/weft/weft.yaml: every key of the
// one table (config-schema.ts) with its doc, type and default, commented out, so the file
// can never document a key the agent does not know. `set` gives the few values the host
// install sets for real (its data directory).
import { stringify } from 'yaml';
import { CONFIG_KEYS, describeType, envOf, flagOf, type KeySpec } from './config-schema.js';

export function exampleConfig(set: Readonly<Record<string, unknown>> = {}): string {
  const out = [
    '# weft agent config. Precedence: flags > WEFT_* environment > this file > defaults.',
    '# Every key is listed, commented out, at its default; `weft agent --print-config`',
    '# shows the effective value of each and where it came from.',
  ];
  let section = '';
  for (const k of CONFIG_KEYS) {
    const [top, key] = k.path.split('.') as [string, string];
    if (top !== section) {
      section = top;
      const anySet = CONFIG_KEYS.some((o) => o.path.startsWith(`${top}.`) && o.path in set);
      out.push('', anySet ? `${top}:` : `# ${top}:`);
    }
    out.push(...keyLines(k, key, set));
  }
  return out.join('\n') + '\n';
}

function keyLines(k: KeySpec, key: string, set: Readonly<Record<string, unknown>>): string[] {
  const lines = [`  # ${k.doc}`, `  # ${describeType(k.type)}; flag --${flagOf(k)}, env ${envOf(k)}`];
  if (k.path in set) return [...lines, `  ${yamlPair(key, set[k.path])}`];
  // The host name and secrets have no default worth writing down.
  const shown =
    k.secret || k.path === 'node.name' || k.default === undefined
      ? undefined
      : k.type.kind === 'duration'
        ? durationText(k.default as number)
        : k.default;
  return [...lines, `  # ${shown === undefined ? `${key}:` : yamlPair(key, shown)}`];
}

const yamlPair = (key: string, value: unknown): string =>
  stringify({ [key]: value }, { flow: true })
    .trim()
    .replace(/^\{ ?|,? ?\}$/g, '');

/** Milliseconds as the config reads them back: with the largest unit that divides them. */
export function durationText(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

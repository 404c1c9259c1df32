import { CONFIG_KEYS, describeType, envOf, flagOf } from '../config-schema.js';
import { ConfigError, loadConfig, redacted, type ConfigInputs, type LoadedConfig } from '../config.js';
import { resolveApiTokens } from '../api-tokens.js';
import { exposureMessage, unprotectedExposure } from '../secure-default.js';
import { type Options, parseFlags } from './args.js';
import { CommandFailed, UsageError } from './errors.js';

export function agentHelp(): string {
  const rows = CONFIG_KEYS.map((k) => {
    const def =
      k.secret || k.path === 'node.name'
        ? ''
        : k.default === undefined
          ? " (default: the preset's)"
          : ` (default: ${JSON.stringify(k.default)})`;
    const type = BOOLEAN_FLAGS.has(flagOf(k)) ? 'a flag without a value' : describeType(k.type);
    return `  --${flagOf(k).padEnd(16)} ${k.doc}${def}\n  ${''.padEnd(18)} ${type}; env ${envOf(k)}; file ${k.path}`;
  });
  return [
    'Usage: weft agent [flags]',
    '',
    'Run the weft daemon. With no flags it runs a single-node agent on loopback and needs no root.',
    'Config precedence: flags > WEFT_* environment > config file > defaults.',
    '',
    'Flags:',
    '  --config FILE      YAML config file (env WEFT_CONFIG)',
    '  --print-config     print the effective config with the source of each value, then exit',
    '  --cleanup          remove what weft programmed on this host (nft table, VIP interface, overlay devices and routes), then exit',
    '  -h, --help         this help',
    ...rows,
    '',
    'Signals: SIGTERM/SIGINT stop gracefully (exit 0); SIGHUP reloads the config file where safe.',
  ].join('\n');
}

/** The config from every source, or a UsageError saying what is wrong in it. */
async function loadCheckedConfig(inputs: ConfigInputs): Promise<LoadedConfig> {
  let loaded;
  try {
    loaded = await loadConfig(inputs);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`config error: ${e.message}`);
    throw e;
  }
  try {
    // Timings that parse one by one can still clash (a probe timeout longer than the interval).
    const { swimConfig } = await import('../components/membership-child.js');
    swimConfig(loaded.config.gossip);
  } catch (e) {
    const g = loaded.config.gossip;
    const msg = (e as Error).message
      .replace(/^membership config /, '')
      .replace(/\b([a-z]\w*?)(?:Ms)?\b/g, (word, name: string) => (Object.hasOwn(g, name) ? `gossip.${name}` : word));
    throw new UsageError(`config error: gossip timings: ${msg}`);
  }
  return loaded;
}

/** --print-config: the effective config as YAML, each value with its source. */
async function printConfig(loaded: LoadedConfig): Promise<number> {
  const { stringify } = await import('yaml');
  const shown = redacted(loaded.config) as unknown as Record<string, Record<string, unknown>>;
  let section = '';
  const lines = stringify(shown)
    .split('\n')
    .map((line) => {
      const top = /^(\w+):/.exec(line);
      if (top) section = top[1]!;
      const key = /^ {2}(\w+):/.exec(line);
      return key ? `${line}  # ${loaded.sources[`${section}.${key[1]}`]}` : line;
    });
  console.log(lines.join('\n').trimEnd());
  return 0;
}

/** --cleanup: removes what weft programmed on this host; exit 1 when something stayed. */
async function cleanup(loaded: LoadedConfig): Promise<number> {
  const { cleanupHost } = await import('../cleanup.js');
  const r = await cleanupHost(loaded.config);
  for (const line of r.removed) console.log(`removed ${line}`);
  for (const f of r.failed) console.error(`could not remove: ${f}`);
  if (r.removed.length === 0 && r.failed.length === 0) console.log("nothing of weft's to remove");
  return r.failed.length ? 1 : 0;
}

/** Config flags given alone (`--insecure`), not with a value. */
const BOOLEAN_FLAGS = new Set(['insecure']);
/**
 * Config flags given once per item (`--tag role=web --tag zone=a`, `--join a --join b`), joined
 * with ',' as the environment writes them: every list, and the tags.
 */
const REPEATABLE_FLAGS = new Set(
  CONFIG_KEYS.filter((k) => k.type.kind === 'list' || k.type.kind === 'tags').map(flagOf),
);

const OPTIONS: Options = {
  config: { type: 'string' },
  'print-config': { type: 'boolean' },
  cleanup: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...Object.fromEntries(
    CONFIG_KEYS.map((k) => [
      flagOf(k),
      {
        type: BOOLEAN_FLAGS.has(flagOf(k)) ? ('boolean' as const) : ('string' as const),
        multiple: REPEATABLE_FLAGS.has(flagOf(k)),
      },
    ]),
  ),
};

/** A config flag's value as the config loader takes it: text, or undefined when not given. */
function flagText(value: unknown, flag: string): string | undefined {
  if (BOOLEAN_FLAGS.has(flag)) return value ? 'true' : undefined;
  if (REPEATABLE_FLAGS.has(flag)) return Array.isArray(value) ? value.join(',') : undefined;
  return value as string | undefined;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags('agent', argv, OPTIONS);
  if (values.help) {
    console.log(agentHelp());
    return 0;
  }
  const inputs: ConfigInputs = {
    flags: Object.fromEntries(CONFIG_KEYS.map((k) => [flagOf(k), flagText(values[flagOf(k)], flagOf(k))])),
    env: process.env,
    file: values.config as string | undefined,
  };
  const loaded = await loadCheckedConfig(inputs);
  if (values['print-config']) return printConfig(loaded);
  if (values.cleanup) return cleanup(loaded);
  // Before anything binds: a token file that cannot be read, or a node open to the network.
  try {
    resolveApiTokens(loaded.config.api);
  } catch (e) {
    throw new UsageError(`config error: ${(e as Error).message}`);
  }
  const exposure = unprotectedExposure(loaded.config);
  if (exposure && !loaded.config.security.insecure) throw new UsageError(exposureMessage(exposure));
  if (exposure)
    console.error(
      `weft: warning: running with --insecure: ${exposure.exposed.join(' and ')} with ${exposure.missing.join(' and ')}`,
    );
  const { startDaemon } = await import('../daemon.js');
  try {
    return await startDaemon(loaded, inputs);
  } catch (e) {
    throw new CommandFailed((e as Error).message);
  }
}

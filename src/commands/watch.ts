// `weft watch`: run a command when something in the cluster changes.
import { parseDuration } from '../config.js';
import { deliver, type WatchFlags } from '../watch/deliver.js';
import { WATCH_KINDS, type WatchKind } from '../watch/snapshot.js';
import { StateWatcher } from '../watch/state-watcher.js';
import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget } from './client.js';
import { UsageError } from './errors.js';

/**
 * 500 ms: a script that writes a handful of keys (a deploy) lands in one run, and a person
 * still sees the handler act at once. Shorter windows split such bursts into several runs.
 */
export const DEFAULT_QUIET_MS = 500;
/** As base/exec's kernel tools: a handler not done in 30 s is stuck; the next changes must not wait longer. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Kinds without a change stream (service, members, vip) are listed this often: a loopback GET. */
export const DEFAULT_POLL_MS = 2_000;
/** kv has a change stream; its listing is repeated only as a safety net. */
const STREAM_POLL_MS = 30_000;

const HELP = `Usage: weft watch <kv|service|members|vip|event> [PREFIX] [--exec CMD] [flags]

Runs CMD (with /bin/sh -c) whenever what is watched changes, with the change as JSON on
stdin; without --exec, prints each batch as one JSON line.

  kv [PREFIX]        keys of the shared store (weft kv) under PREFIX
  service [PREFIX]   service endpoints, key SERVICE/NODE/ID, of services named PREFIX...
  members [PREFIX]   cluster members (name, address, state, metadata) named PREFIX...
  vip [PREFIX]       VIPs as this node programs them (address, backends)
  event [NAME]       user events (weft event) named NAME..., one run per event

stdin (state kinds): {"kind","prefix","run","initial","changes":[{"op":"put","key","value"},
{"op":"delete","key"}]}. The first run has the current state (initial: true); every later
change to a key is in exactly one run, with the key's value as of that run. Changes within
the quiet period share a run; changes of one key in one run are one change (its latest value).
When the agent stops, the watch retries; when it is back, the next run has exactly what
changed meanwhile, nothing twice. A handler that fails is reported, not run again.
Environment: WEFT_WATCH_KIND, WEFT_WATCH_PREFIX, WEFT_WATCH_RUN, WEFT_WATCH_CHANGES (count),
WEFT_API (the agent), and for events WEFT_EVENT_NAME, WEFT_EVENT_ORIGIN.

One run at a time; a run still going after --timeout is killed with its process group.

Flags:
  --exec CMD        the handler (a shell command line)
  --quiet DURATION  changes within this share one run (default ${DEFAULT_QUIET_MS}ms)
  --timeout DURATION  kill a handler still running after this (default ${DEFAULT_TIMEOUT_MS / 1000}s)
  --poll DURATION   service, members, vip: how often the state is listed (default ${DEFAULT_POLL_MS / 1000}s)
  --api URL         agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F    API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  -h, --help        this help

Example:
  weft watch kv app/config/ --exec 'jq -r ".changes[].key" >> /var/log/config-changes'`;

function durationFlag(name: string, v: unknown, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const ms = parseDuration(v);
  if (ms === undefined || ms < min)
    throw new UsageError(
      `watch: --${name} takes a duration of at least ${min}ms with its unit (500ms, 2s), not "${String(v)}"`,
    );
  return ms;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    HELP,
    'watch',
    argv,
    {
      ...API_FLAGS,
      exec: { type: 'string' },
      quiet: { type: 'string' },
      timeout: { type: 'string' },
      poll: { type: 'string' },
    },
    true,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [kindName, prefix = '', ...extra] = positionals;
  if (!kindName)
    throw new UsageError(
      'usage: weft watch <kv|service|members|vip|event> [PREFIX] [--exec CMD]; run weft watch --help',
    );
  if (extra.length) throw new UsageError(`watch: one PREFIX at most, not "${extra.join(' ')}"`);
  const exec = values.exec as string | undefined;
  if (exec !== undefined && exec.trim() === '') throw new UsageError('watch: --exec is empty; give the command to run');
  const flags: WatchFlags = {
    target: apiTarget(values),
    exec,
    quietMs: durationFlag('quiet', values.quiet, DEFAULT_QUIET_MS, 0),
    timeoutMs: durationFlag('timeout', values.timeout, DEFAULT_TIMEOUT_MS, 10),
    pollMs: durationFlag('poll', values.poll, DEFAULT_POLL_MS, 100),
  };
  if (kindName === 'event') {
    const { watchEvents } = await import('../watch/event-watch.js');
    await watchEvents(flags, prefix);
    return 0;
  }
  const kind = WATCH_KINDS[kindName];
  if (!kind) throw new UsageError(`watch: unknown kind "${kindName}"; watch one of kv, service, members, vip, event`);
  await watchState(flags, kindName, kind, prefix);
  return 0;
}

/** Runs a StateWatcher until a signal stops the process. */
async function watchState(flags: WatchFlags, kindName: string, kind: WatchKind, prefix: string): Promise<void> {
  const watcher = new StateWatcher({
    target: flags.target,
    kindName,
    kind,
    prefix,
    quietMs: flags.quietMs,
    pollMs: kind.stream ? Math.max(flags.pollMs, STREAM_POLL_MS) : flags.pollMs,
    deliver: (batch) =>
      deliver(flags, batch, {
        WEFT_WATCH_KIND: batch.kind,
        WEFT_WATCH_PREFIX: batch.prefix,
        WEFT_WATCH_RUN: String(batch.run),
        WEFT_WATCH_CHANGES: String(batch.changes.length),
      }),
    say: (line) => process.stderr.write(`weft watch: ${line}\n`),
  });
  process.once('SIGINT', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
  await watcher.start();
  await new Promise(() => undefined); // runs until a signal
}

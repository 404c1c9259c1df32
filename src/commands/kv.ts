// `weft kv`: the cluster-wide key-value store, through the local agent's /v1/kv.
import { API_FLAGS, noSubcommand, parseCommand, readStdin, type Options } from './args.js';
import { apiTarget, callApi, openStream, streamJson, table, type ApiTarget } from './client.js';
import { UsageError } from './errors.js';

const HELP = `Usage: weft kv <get|put|del|ls|watch> [flags]

The cluster's shared key-value store. A write is local and never waits on other nodes;
it reaches every node within a second or so. Concurrent writes of one key: one wins on
every node (the later by Lamport time).

  weft kv get KEY               print the value (JSON; --json adds the key's index)
  weft kv put KEY VALUE         VALUE is JSON ({"a":1}, 42, true, '"quoted"'); anything else
                                is refused unless --raw; "-" reads it from stdin
  weft kv del KEY               (also: delete)
  weft kv del --recurse PREFIX  every key under PREFIX
  weft kv ls [PREFIX]           keys, indexes and values under PREFIX
  weft kv watch [PREFIX]        print the current entries, then every change, until Ctrl-C;
                                reconnects when the agent restarts, printing what changed meanwhile

Flags:
  --api URL     agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --durable     put/del: return only once the write is on the agent's disk (fsync)
  --raw         put: store VALUE as a string, as typed (--string is the same)
  --cas INDEX   put: write only if the key is still at INDEX (from kv get --json or kv ls;
                0: only if the key does not exist); else exit 1 and nothing is written
  --recurse     del: delete every key under the prefix
  --json        get/ls/watch: print JSON (watch: one object per line)
  -h, --help    this help`;

const KV_FLAGS = {
  ...API_FLAGS,
  durable: { type: 'boolean' },
  string: { type: 'boolean' },
  raw: { type: 'boolean' },
  cas: { type: 'string' },
  recurse: { type: 'boolean' },
  json: { type: 'boolean' },
} as const satisfies Options;

const path = (key: string) => `/v1/kv/${encodeURIComponent(key)}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'kv', argv, KV_FLAGS, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [sub, ...args] = positionals;
  if (!sub) return noSubcommand(HELP);
  const call: KvCall = { base: apiTarget(values), sub, args, values, durable: values.durable ? '?durable=true' : '' };
  if (values.cas !== undefined && sub !== 'put') throw new UsageError('kv: --cas goes with put');
  if (values.recurse && sub !== 'del' && sub !== 'delete') throw new UsageError('kv: --recurse goes with del');
  switch (sub) {
    case 'get':
      return get(call);
    case 'put':
      return put(call);
    case 'del':
    case 'delete':
      return del(call);
    case 'ls':
    case 'list':
      return list(call);
    case 'watch': {
      if (args.length > 1) throw new UsageError('usage: weft kv watch [PREFIX]');
      await watch(call.base, args[0] ?? '', values.json === true);
      return 0;
    }
    default:
      throw new UsageError(`kv: unknown subcommand "${sub}"; run weft kv --help`);
  }
}

/** One `weft kv` subcommand as typed: where the agent is, its arguments and flags. */
interface KvCall {
  base: ApiTarget;
  sub: string;
  args: string[];
  values: NonNullable<ReturnType<typeof parseCommand>>['values'];
  /** The query string of --durable, or nothing. */
  durable: string;
}

/** Refuses a subcommand given the wrong number of arguments or an empty key. */
function wantArgs({ sub, args }: KvCall, n: number, usage: string): void {
  if (args.length !== n) throw new UsageError(`usage: weft kv ${usage}`);
  if (args[0] === '')
    throw new UsageError(
      `kv ${sub}: the key is empty; name one, as in weft kv ${usage.replace('KEY', 'app/config').replace('PREFIX', 'app/')}`,
    );
}

async function get(call: KvCall): Promise<number> {
  wantArgs(call, 1, 'get KEY');
  const r = (await callApi(call.base, 'GET', path(call.args[0]!))) as { value: unknown };
  console.log(call.values.json ? JSON.stringify(r) : JSON.stringify(r.value, null, 2));
  return 0;
}

async function put(call: KvCall): Promise<number> {
  const { args, values, durable } = call;
  wantArgs(call, 2, 'put KEY VALUE');
  const cas = values.cas === undefined ? '' : `${durable ? '&' : '?'}cas=${casIndex(values.cas as string)}`;
  const text = args[1] === '-' ? await readStdin() : args[1]!;
  const r = (await callApi(
    call.base,
    'PUT',
    path(args[0]!) + durable + cas,
    parseValue(text, values.raw === true || values.string === true),
  )) as { changed: boolean };
  if (!r.changed) console.error('unchanged: the key already had this value');
  return 0;
}

async function del(call: KvCall): Promise<number> {
  const { args, durable } = call;
  if (call.values.recurse) {
    wantArgs(call, 1, 'del --recurse PREFIX');
    const r = (await callApi(
      call.base,
      'DELETE',
      path(args[0]!) + (durable ? `${durable}&` : '?') + 'recurse=true',
    )) as { deleted: number };
    console.error(`deleted ${r.deleted} key${r.deleted === 1 ? '' : 's'} under "${args[0]}"`);
    return 0;
  }
  wantArgs(call, 1, 'del KEY');
  const r = (await callApi(call.base, 'DELETE', path(args[0]!) + durable)) as { deleted: boolean };
  if (!r.deleted) console.error(`no key "${args[0]}"`);
  return 0;
}

async function list({ base, args, values }: KvCall): Promise<number> {
  if (args.length > 1) throw new UsageError('usage: weft kv ls [PREFIX]');
  const r = (await callApi(base, 'GET', `/v1/kv?prefix=${encodeURIComponent(args[0] ?? '')}`)) as {
    entries: { key: string; value: unknown; index: number }[];
  };
  console.log(
    values.json
      ? JSON.stringify(r.entries, null, 2)
      : table(
          ['KEY', 'INDEX', 'VALUE'],
          r.entries.map((e) => [e.key, String(e.index), JSON.stringify(e.value)]),
        ),
  );
  return 0;
}

/** A value typed on the command line: JSON, or with --raw the text itself. A typo is not silently stored as a string. */
export function parseValue(text: string, raw: boolean): unknown {
  if (raw) return text;
  try {
    return JSON.parse(text);
  } catch {
    const hint = text.length > 40 ? `${text.slice(0, 40)}...` : text;
    throw new UsageError(
      `kv put: the value is not JSON (${hint}); quote a string ('"text"') or pass --raw to store it as typed`,
    );
  }
}

function casIndex(v: string): number {
  if (!/^\d{1,15}$/.test(v))
    throw new UsageError(`kv put: --cas takes the key's index (a whole number; 0: only if absent), not "${v}"`);
  return Number(v);
}

type WatchLine = { op: string; key: string; value?: unknown; initial?: boolean };

/**
 * Prints the entries under `prefix`, then every change. When the agent goes away (stopped,
 * restarted, or it cut a client that did not read) it says so on stderr and reconnects with
 * backoff; on reconnecting it prints only what changed meanwhile (the agent sends the
 * current entries again; a key gone since is printed as deleted), so each change shows once.
 */
async function watch(target: ApiTarget, prefix: string, json: boolean): Promise<void> {
  const seen = new Map<string, string>(); // key -> its value as JSON, as last printed
  const print = (e: WatchLine) => {
    if (json) console.log(JSON.stringify(e));
    else console.log(e.op === 'put' ? `put ${e.key} ${JSON.stringify(e.value)}` : `del ${e.key}`);
  };
  process.once('SIGINT', () => process.exit(0));
  let connectedOnce = false;
  let backoffMs = 250;
  for (;;) {
    const res = await openWatch(target, prefix, connectedOnce);
    if (!res) {
      await new Promise((r) => setTimeout(r, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 5_000);
      continue;
    }
    const resync = connectedOnce;
    if (resync)
      process.stderr.write(`weft: reconnected to the agent at ${target.base}; printing what changed meanwhile\n`);
    connectedOnce = true;
    backoffMs = 250;
    await printWatch(res, { target, prefix, seen, print, resync });
    process.stderr.write(
      `weft: the agent at ${target.base} closed the watch (it stopped or restarted, or cut a client that did not read); reconnecting (Ctrl-C stops)\n`,
    );
  }
}

/** Opens the watch stream (client.ts's openStream). */
function openWatch(target: ApiTarget, prefix: string, connectedOnce: boolean): Promise<Response | undefined> {
  return openStream(target, `/v1/kv?watch=true&prefix=${encodeURIComponent(prefix)}`, connectedOnce);
}

interface WatchState {
  target: ApiTarget;
  prefix: string;
  /** key -> its value as JSON, as last printed, across reconnects */
  seen: Map<string, string>;
  print: (e: WatchLine) => void;
  /** A reconnect: print only what differs from `seen`. */
  resync: boolean;
}

/** Prints one watch stream's lines until it ends or breaks. */
async function printWatch(res: Response, { target, prefix, seen, print, resync }: WatchState): Promise<void> {
  // On a reconnect the agent's current entries arrive first (initial: true); keys printed
  // before and missing from them were deleted meanwhile: found at the first live line, or
  // from a listing once the stream goes quiet.
  const initialKeys = new Set<string>();
  let pendingDeletes = resync;
  const flushDeletes = (present: Set<string>) => {
    if (!pendingDeletes) return;
    pendingDeletes = false;
    for (const key of [...seen.keys()]) {
      if (present.has(key)) continue;
      seen.delete(key);
      print({ op: 'delete', key });
    }
  };
  const quiet = resync
    ? setTimeout(() => {
        void callApi(target, 'GET', `/v1/kv?prefix=${encodeURIComponent(prefix)}`)
          .then((r) => flushDeletes(new Set((r as { entries: { key: string }[] }).entries.map((e) => e.key))))
          .catch(() => undefined);
      }, 500)
    : undefined;
  try {
    for await (const e of streamJson<WatchLine>(res)) {
      if (e.initial) initialKeys.add(e.key);
      else flushDeletes(initialKeys);
      const value = e.op === 'put' ? JSON.stringify(e.value) : undefined;
      if (resync && e.initial && seen.get(e.key) === value) continue;
      if (value === undefined) seen.delete(e.key);
      else seen.set(e.key, value);
      print(e);
    }
  } finally {
    clearTimeout(quiet);
  }
}

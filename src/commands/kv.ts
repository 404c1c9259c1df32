// `weft kv`: the cluster-wide key-value store, through the local agent's /v1/kv.
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { API_FLAGS, parseFlags } from './args.js';
import { apiTarget, authHeaders, callApi, refused, table, unreachable, type ApiTarget } from './client.js';
import { CommandFailed, UsageError } from './errors.js';

const HELP = `Usage: weft kv <get|put|del|ls|watch> [flags]

The cluster's shared key-value store. A write is local and never waits on other nodes;
it reaches every node within a second or so. Concurrent writes of one key: one wins on
every node (the later by Lamport time).

  weft kv get KEY               print the value (JSON)
  weft kv put KEY VALUE         VALUE is JSON if it parses ({"a":1}, 42, true, "quoted"),
                                else taken as a string; "-" reads it from stdin
  weft kv del KEY
  weft kv ls [PREFIX]           keys and values under PREFIX
  weft kv watch [PREFIX]        print the current entries, then every change, until Ctrl-C

Flags:
  --api URL     agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --durable     put/del: return only once the write is on the agent's disk (fsync)
  --string      put: take VALUE as a string even if it parses as JSON
  --json        get/ls/watch: print JSON (watch: one object per line)
  -h, --help    this help`;

const path = (key: string) => `/v1/kv/${encodeURIComponent(key)}`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'kv',
    argv,
    {
      ...API_FLAGS,
      durable: { type: 'boolean' },
      string: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  const [sub, ...args] = positionals;
  if (values.help || !sub) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const base = apiTarget(values);
  const durable = values.durable ? '?durable=true' : '';
  const want = (n: number, usage: string) => {
    if (args.length !== n) throw new UsageError(`usage: weft kv ${usage}`);
  };
  switch (sub) {
    case 'get': {
      want(1, 'get KEY');
      const r = (await callApi(base, 'GET', path(args[0]!))) as { value: unknown };
      console.log(values.json ? JSON.stringify(r) : JSON.stringify(r.value, null, 2));
      return 0;
    }
    case 'put': {
      want(2, 'put KEY VALUE');
      const text = args[1] === '-' ? await readStdin() : args[1]!;
      const r = (await callApi(base, 'PUT', path(args[0]!) + durable, parseValue(text, values.string === true))) as { changed: boolean };
      if (!r.changed) console.error('unchanged: the key already had this value');
      return 0;
    }
    case 'del':
    case 'delete': {
      want(1, 'del KEY');
      const r = (await callApi(base, 'DELETE', path(args[0]!) + durable)) as { deleted: boolean };
      if (!r.deleted) console.error(`no key "${args[0]}"`);
      return 0;
    }
    case 'ls':
    case 'list': {
      if (args.length > 1) throw new UsageError('usage: weft kv ls [PREFIX]');
      const r = (await callApi(base, 'GET', `/v1/kv?prefix=${encodeURIComponent(args[0] ?? '')}`)) as { entries: { key: string; value: unknown }[] };
      console.log(values.json ? JSON.stringify(r.entries, null, 2) : table(['KEY', 'VALUE'], r.entries.map((e) => [e.key, JSON.stringify(e.value)])));
      return 0;
    }
    case 'watch': {
      if (args.length > 1) throw new UsageError('usage: weft kv watch [PREFIX]');
      await watch(base, args[0] ?? '', values.json === true);
      return 0;
    }
    default:
      throw new UsageError(`kv: unknown subcommand "${sub}"; run weft kv --help`);
  }
}

function parseValue(text: string, asString: boolean): unknown {
  if (asString) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '');
}

async function watch(target: ApiTarget, prefix: string, json: boolean): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${target.base}/v1/kv?watch=true&prefix=${encodeURIComponent(prefix)}`, { headers: authHeaders(target) });
  } catch (e) {
    throw unreachable(target.base, e);
  }
  if (!res.ok || !res.body) throw refused(target, res.status, ((await res.json().catch(() => ({}))) as { error?: string }).error);
  const lines = createInterface({ input: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) });
  process.once('SIGINT', () => process.exit(0));
  for await (const line of lines) {
    if (!line) continue;
    if (json) {
      console.log(line);
      continue;
    }
    const e = JSON.parse(line) as { op: string; key: string; value?: unknown };
    console.log(e.op === 'put' ? `put ${e.key} ${JSON.stringify(e.value)}` : `del ${e.key}`);
  }
  throw new CommandFailed('the agent closed the watch (it stopped or restarted its store, or cut a client that did not read)');
}

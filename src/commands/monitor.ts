import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget, authHeaders, refused, unreachable } from './client.js';
import { CommandFailed } from './errors.js';

const HELP = `Usage: weft monitor [--level LEVEL] [--json] [--api URL]

Stream a running agent's log lines, as they are written, until Ctrl-C. Lines below the
agent's own log.level are never written, so --level debug needs an agent at debug.

Flags:
  --level L       trace, debug, info (default), warn, error or fatal
  --json          print each line as the agent's JSON
  --api URL       agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  -h, --help      this help`;

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

export async function run(argv: string[]): Promise<number> {
  const options = {
    ...API_FLAGS,
    level: { type: 'string' },
    json: { type: 'boolean' },
  } as const;
  const parsed = parseCommand(HELP, 'monitor', argv, options);
  if (!parsed) return 0;
  const { values } = parsed;
  const target = apiTarget(values);
  let res: Response;
  try {
    res = await fetch(`${target.base}/v1/agent/monitor?level=${encodeURIComponent(String(values.level ?? 'info'))}`, {
      headers: authHeaders(target),
    });
  } catch (e) {
    throw unreachable(target.base, e);
  }
  if (!res.ok || !res.body)
    throw refused(target, res.status, ((await res.json().catch(() => ({}))) as { error?: string }).error);
  process.once('SIGINT', () => process.exit(0));
  try {
    for await (const text of createInterface({
      input: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
    })) {
      if (text) console.log(values.json ? text : readable(JSON.parse(text) as Record<string, unknown>));
    }
  } catch {
    // the connection broke: as an end
  }
  throw new CommandFailed(
    `the agent at ${target.base} closed the stream (it stopped, or cut a client that did not read)`,
  );
}

/** `15:04:05.123 INFO  [dns] DNS serving`: the line as a person reads it. */
export function readable(line: Record<string, unknown>): string {
  const time = typeof line.time === 'string' ? line.time.slice(11, 23) : '';
  const level = (LEVEL_NAMES[line.level as number] ?? String(line.level)).padEnd(5);
  const component = typeof line.component === 'string' ? `[${line.component}] ` : '';
  return `${time} ${level} ${component}${String(line.msg ?? '')}`;
}

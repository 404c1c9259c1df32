// Flag parsing shared by the subcommands, on node:util parseArgs, with errors a person can act on.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseFlags(command: string, argv: string[], options: Options, allowPositionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(`${command}: ${flagProblem((e as Error).message)}; run weft ${command} --help`);
  }
  const api = parsed.values.api;
  if (typeof api === 'string' && !isApiAddress(api))
    throw new UsageError(
      `${command}: --api "${api}" is not an agent address (as http://127.0.0.1:8947 or 127.0.0.1:8947); run weft ${command} --help`,
    );
  return parsed;
}

/** parseArgs's complaint in a few words, on one line (its own runs to three). */
function flagProblem(message: string): string {
  const flag = /^Option '(?:-\w, )?(-[^' ]+)/.exec(message)?.[1];
  if (flag && /argument (is ambiguous|missing)/.test(message))
    return `${flag} needs a value (for one that starts with "-", write ${flag}=VALUE)`;
  return message
    .replace(/^Unknown option '([^']+)'.*$/s, 'unknown flag $1')
    .replace(/\.?\s*To specify.*$/s, '')
    .replace(/\s*\n\s*/g, ' ');
}

function isApiAddress(v: string): boolean {
  try {
    return new URL(v.startsWith('http') ? v : `http://${v}`).hostname !== '';
  } catch {
    return false;
  }
}

/** The flags of every command that talks to an agent: where it is and the token to send. */
export const API_FLAGS = { api: { type: 'string' }, 'token-file': { type: 'string' } } as const satisfies Options;

/** API base URL from --api, WEFT_API or the default listen address. */
export function apiBase(flag: string | undefined): string {
  const v =
    flag ??
    process.env.WEFT_API ??
    `http://${process.env.WEFT_API_ADDR ?? '127.0.0.1'}:${process.env.WEFT_API_PORT ?? '8947'}`;
  return v.startsWith('http') ? v.replace(/\/$/, '') : `http://${v}`;
}

/** All of stdin as text, less one trailing newline (a VALUE or PAYLOAD given as "-"). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '');
}

/**
 * parseFlags with -h/--help added: the flags, or undefined once the help is printed (the
 * command then exits 0).
 */
export function parseCommand(
  help: string,
  command: string,
  argv: string[],
  options: Options,
  allowPositionals = false,
) {
  const parsed = parseFlags(command, argv, { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals);
  if (!parsed.values.help) return parsed;
  console.log(help);
  return undefined;
}

/** A command of subcommands run without one: a usage error, its help on stderr (exit 2, as `weft` alone). */
export function noSubcommand(help: string): number {
  console.error(help);
  return 2;
}

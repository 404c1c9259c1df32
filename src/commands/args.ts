// Flag parsing shared by the subcommands, on node:util parseArgs, with errors a person can act on.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseFlags(command: string, argv: string[], options: Options, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    const msg = (e as Error).message
      .replace(/\. To specify.*$/s, '')
      .replace(/^Unknown option '([^']+)'.*$/s, 'unknown flag $1');
    throw new UsageError(`${command}: ${msg}; run weft ${command} --help`);
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

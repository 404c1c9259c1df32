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

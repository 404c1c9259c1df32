// `weft keygen`: fresh secrets for a secure deployment, from node:crypto's CSPRNG.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { generateKey } from '../../membership/keyring.js';
import { parseCommand } from './args.js';
import { CommandFailed } from './errors.js';

const HELP = `Usage: weft keygen [--token] [--out FILE]

Print a fresh gossip encryption key (base64 of 32 random bytes) for gossip.keyFile or
--encrypt; with --token, a fresh API token for api.tokenFile (and for the CLI's
WEFT_TOKEN_FILE).

Flags:
  --token       an API token instead of an encryption key
  --out FILE    write it to FILE, readable by its owner only (0600), instead of printing
                it; an existing FILE is left alone
  -h, --help    this help`;

/** An API token: 32 random bytes, base64url (43 characters, no padding). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'keygen', argv, {
    token: { type: 'boolean' },
    out: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const secret = values.token ? generateToken() : generateKey();
  const out = values.out as string | undefined;
  if (!out) {
    console.log(secret);
    return 0;
  }
  try {
    writeFileSync(out, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CommandFailed(
      code === 'EEXIST'
        ? `${out} exists; remove it first or choose another file`
        : `cannot write ${out} (${code ?? 'error'})`,
    );
  }
  console.error(`wrote a new ${values.token ? 'API token' : 'gossip key'} to ${out}`);
  return 0;
}

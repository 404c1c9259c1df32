// Secrets (API tokens, keys) kept in files rather than on the command line, where `ps`
// shows them. The first non-empty line is the secret; a file others can read is allowed
// but reported, as ssh does for keys.
import { readFileSync, statSync } from 'node:fs';

export interface Secret {
  value: string;
  /** Set when the file is readable by its group or everyone. */
  warning?: string;
}

export class SecretFileError extends Error {}

/** Reads the secret in `path`; `what` names it in errors ("api.tokenFile"). */
export function readSecretFile(path: string, what: string): Secret {
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new SecretFileError(`${what} ${path} cannot be read (${code})`);
  }
  const value = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  if (!value)
    throw new SecretFileError(`${what} ${path} is empty; write a secret into it, e.g. with \`weft keygen --token\``);
  const warning =
    mode & 0o044
      ? `${what} ${path} is readable by ${mode & 0o004 ? 'everyone' : 'its group'}; chmod 600 it`
      : undefined;
  return { value, warning };
}

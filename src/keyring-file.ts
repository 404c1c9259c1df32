// The keyring file (gossip.keyFile), as serf's keyring_file: a JSON list of base64 keys,
// primary first, mode 0600. It keeps the current keyring across restarts (weft keyring and
// SIGHUP rotations rewrite it) and keeps keys off the command line, where `ps` shows them.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, chmodSync, statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { Keyring, parseKey } from '../membership/index.js';

export class KeyringFileError extends Error {}

/** The keys in the file, primary first; undefined when there is no file. Throws KeyringFileError naming what is wrong. */
export function readKeyringFile(path: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyringFileError(
      `keyring file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let v: unknown;
  try {
    // A lone key (what `weft keygen --out FILE` writes) is a keyring of one.
    v = /^\s*[A-Za-z0-9+/]+=*\s*$/.test(text) ? [text.trim()] : JSON.parse(text);
  } catch {
    throw new KeyringFileError(
      `keyring file ${path}: not JSON; it must be a list of base64 keys, primary first, e.g. ["<output of: openssl rand -base64 32>"]`,
    );
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((k) => typeof k === 'string')) {
    throw new KeyringFileError(`keyring file ${path}: must be a non-empty JSON list of base64 keys, primary first`);
  }
  v.forEach((k: string, i) => {
    try {
      parseKey(k);
    } catch (err) {
      throw new KeyringFileError(`keyring file ${path}: key ${i + 1}: ${(err as Error).message}`);
    }
  });
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) chmodSync(path, 0o600); // keys are secrets: close a file someone left readable
  return (v as string[]).map((k) => k.trim());
}

/** Writes the keys (primary first) atomically, mode 0600: a crash leaves the old file or the new one. */
export function writeKeyringFile(path: string, keys: readonly string[]): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(keys, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    throw new KeyringFileError(
      `keyring file ${path}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check that its directory exists and is writable`,
    );
  }
}

/**
 * The keys an agent starts with: the keyring file's when it exists (the current keyring,
 * which flags may lag behind, as Consul does), else the configured ones, which then seed
 * the file. `ignored` is set when configured keys were passed over for the file's.
 */
export function startingKeys(g: { keys: readonly string[]; keyFile: string }): { keys: string[]; ignored: boolean } {
  if (!g.keyFile) return { keys: [...g.keys], ignored: false };
  const fromFile = readKeyringFile(g.keyFile);
  if (fromFile)
    return { keys: fromFile, ignored: g.keys.length > 0 && JSON.stringify(fromFile) !== JSON.stringify(g.keys) };
  if (g.keys.length > 0) writeKeyringFile(g.keyFile, g.keys);
  return { keys: [...g.keys], ignored: false };
}

/**
 * Makes `ring` hold exactly `keys`, with keys[0] as the primary: add the new ones, switch
 * the primary, drop the rest (the order of a rotation, so traffic keeps flowing). Returns
 * whether anything changed.
 */
export function reconcileKeyring(ring: Keyring, keys: readonly string[]): boolean {
  if (keys.length === 0) return false;
  const before = JSON.stringify(ring.keys());
  const want = keys.map((k) => parseKey(k).toString('base64'));
  for (const k of want) if (!ring.keys().includes(k)) ring.add(k);
  ring.use(want[0]!);
  for (const k of ring.keys()) if (!want.includes(k)) ring.remove(k);
  return JSON.stringify(ring.keys()) !== before;
}

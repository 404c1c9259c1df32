// Creating the cluster CA and node certificates for `weft tls` (issue 13). Keys are Ed25519
// from node:crypto; the X.509 encoding and signing is the `openssl` command's (Debian's
// openssl 3), because Node can parse and verify certificates but not create them, and an
// encoder is exactly what should not be hand-written. Only this CLI path runs openssl:
// the agent itself only verifies (membership/identity.ts).
//
// Every file is written 0600, and an existing file is never overwritten.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityError, makeIdentity, parseCa } from '../membership/identity.js';

export interface CaFiles {
  cert: string;
  key: string;
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new IdentityError('the openssl command is needed to create certificates (apt-get install openssl)');
    throw new IdentityError(
      `openssl ${args[0]} failed: ${err.stderr?.toString().trim().split('\n')[0] ?? err.message}`,
    );
  }
}

/** Runs `fn` in a private temporary directory (0700), removed afterwards whatever happens. */
function inScratch<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'weft-tls-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function newKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

function refuseExisting(...paths: string[]): void {
  for (const p of paths)
    if (existsSync(p)) throw new IdentityError(`${p} exists; remove it first or choose another --dir`);
}

const serial = () =>
  `0x${randomBytes(16)
    .toString('hex')
    .replace(/^[89a-f]/, '7')}`; // positive, 128 bits

/** A new CA: `<dir>/weft-ca.pem` and `<dir>/weft-ca-key.pem`. */
export function createCa(dir: string, opts: { days?: number; commonName?: string } = {}): CaFiles {
  const out = { cert: join(dir, 'weft-ca.pem'), key: join(dir, 'weft-ca-key.pem') };
  refuseExisting(out.cert, out.key);
  const keyPem = newKeyPem();
  const certPem = inScratch((tmp) => {
    writeFileSync(join(tmp, 'ca.key'), keyPem, { mode: 0o600 });
    openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'ca.key',
        '-subj',
        `/CN=${opts.commonName ?? 'weft cluster CA'}`,
        '-days',
        String(opts.days ?? 3650),
        '-set_serial',
        serial(),
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-out',
        'ca.pem',
      ],
      tmp,
    );
    return readFileSync(join(tmp, 'ca.pem'), 'utf8');
  });
  writeFileSync(out.key, keyPem, { mode: 0o600, flag: 'wx' });
  writeFileSync(out.cert, certPem, { mode: 0o600, flag: 'wx' });
  return out;
}

/**
 * A node key and a certificate binding `node` (CN) to it, signed by the CA:
 * `<dir>/<node>.pem` and `<dir>/<node>-key.pem`. Checked with the agent's own loader
 * before anything is written.
 */
export function createNodeCert(opts: { node: string; dir: string; ca: CaFiles; days?: number }): CaFiles {
  if (!NODE_NAME.test(opts.node))
    throw new IdentityError(
      `node name ${JSON.stringify(opts.node)}: 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  const out = { cert: join(opts.dir, `${opts.node}.pem`), key: join(opts.dir, `${opts.node}-key.pem`) };
  refuseExisting(out.cert, out.key);
  const caPem = readFileSync(opts.ca.cert);
  parseCa(caPem, opts.ca.cert);
  const keyPem = newKeyPem();
  const certPem = inScratch((tmp) => {
    writeFileSync(join(tmp, 'node.key'), keyPem, { mode: 0o600 });
    writeFileSync(join(tmp, 'ca.pem'), caPem, { mode: 0o600 });
    writeFileSync(join(tmp, 'ca.key'), readFileSync(opts.ca.key), { mode: 0o600 });
    openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'node.key',
        '-subj',
        `/CN=${opts.node}`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-days',
        String(opts.days ?? 365),
        '-set_serial',
        serial(),
        '-addext',
        'basicConstraints=critical,CA:FALSE',
        '-addext',
        'keyUsage=critical,digitalSignature',
        '-out',
        'node.pem',
      ],
      tmp,
    );
    return readFileSync(join(tmp, 'node.pem'), 'utf8');
  });
  makeIdentity({ caPem, certPem, keyPem, name: opts.node, now: Date.now() + 1000 });
  writeFileSync(out.key, keyPem, { mode: 0o600, flag: 'wx' });
  writeFileSync(out.cert, certPem, { mode: 0o600, flag: 'wx' });
  return out;
}

// `weft tls`: the cluster CA and node certificates (issue 13), with consul tls's shape:
//   weft tls ca create                      weft-ca.pem, weft-ca-key.pem
//   weft tls cert create --node NAME        NAME.pem, NAME-key.pem, signed by the CA
import { resolve } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { IdentityError, signRevocation } from '../../membership/identity.js';
import { apiTarget, callApi } from './client.js';
import { createCa, createNodeCert } from '../tls-files.js';
import { API_FLAGS, noSubcommand, parseCommand } from './args.js';
import { CommandFailed, UsageError } from './errors.js';

const HELP = `Usage: weft tls ca create [--dir DIR] [--days N]
       weft tls cert create --node NAME [--dir DIR] [--ca FILE] [--ca-key FILE] [--days N]
       weft tls revoke --node NAME [--dir DIR] [--ca-key FILE] [--api URL] [--token-file FILE]

Per-node identity: a cluster CA (Ed25519) signs one certificate per node, binding the
node's name to its key. Each agent takes tls.caFile (the CA certificate, never its key),
tls.certFile and tls.keyFile; with them, everything it writes to the store is signed, and
every node checks the signature and the certificate, whoever relayed the change.
Keep weft-ca-key.pem off the nodes. Files are written 0600 and never overwritten.
revoke signs a revocation of NAME with the CA key and hands it to a running agent, which
writes it into the store: every node checks the CA's signature, drops NAME's records and
refuses its changes from then on.

Flags:
  --dir DIR       where to write (default: the current directory)
  --days N        validity (ca: 3650, cert: 365)
  --node NAME     cert: the node name (as its node.name)
  --ca FILE       cert: the CA certificate (default: DIR/weft-ca.pem)
  --ca-key FILE   cert, revoke: the CA key (default: DIR/weft-ca-key.pem)
  --api URL       revoke: agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  revoke: the API token file (default: $WEFT_TOKEN_FILE)
  -h, --help      this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    HELP,
    'tls',
    argv,
    {
      dir: { type: 'string' },
      days: { type: 'string' },
      node: { type: 'string' },
      ca: { type: 'string' },
      'ca-key': { type: 'string' },
      ...API_FLAGS,
    },
    true,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const what = positionals.join(' ');
  if (!what) return noSubcommand(HELP);
  const dir = resolve((values.dir as string | undefined) ?? '.');
  const days = parseDays(values.days as string | undefined);
  try {
    return await runSubcommand(what, dir, days, values as TlsFlags);
  } catch (e) {
    if (e instanceof IdentityError) throw new CommandFailed(`tls: ${e.message}`);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CommandFailed(`tls: ${(e as Error).message.replace(/^ENOENT: /, '')}`);
    throw e;
  }
}

function parseDays(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const days = Number(flag);
  if (!Number.isInteger(days) || days < 1 || days > 36500)
    throw new UsageError(`tls: --days ${flag}: a whole number of days, 1 to 36500`);
  return days;
}

type TlsFlags = { node?: string; ca?: string; 'ca-key'?: string; api?: string; 'token-file'?: string };

async function runSubcommand(what: string, dir: string, days: number | undefined, values: TlsFlags): Promise<number> {
  switch (what) {
    case 'ca create': {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const f = createCa(dir, { days });
      console.log(`created CA ${f.cert} and its key ${f.key} (keep the key off the nodes)`);
      return 0;
    }
    case 'cert create': {
      const node = values.node;
      if (!node) throw new UsageError('tls cert create: --node NAME is needed');
      const ca = {
        cert: resolve(values.ca ?? `${dir}/weft-ca.pem`),
        key: resolve(values['ca-key'] ?? `${dir}/weft-ca-key.pem`),
      };
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const f = createNodeCert({ node, dir, ca, days });
      console.log(
        `created ${f.cert} and ${f.key} for node ${node}; give the agent --tls-ca-file ${ca.cert} --tls-cert-file ${f.cert} --tls-key-file ${f.key}`,
      );
      return 0;
    }
    case 'revoke': {
      const node = values.node;
      if (!node) throw new UsageError('tls revoke: --node NAME is needed');
      const caKey = resolve(values['ca-key'] ?? `${dir}/weft-ca-key.pem`);
      const signature = Buffer.from(signRevocation(readFileSync(caKey), node)).toString('base64');
      await callApi(apiTarget(values), 'POST', '/v1/tls/revocations', { node, signature });
      console.log(
        `node ${node} revoked: every node drops its records and refuses its changes as the revocation reaches it`,
      );
      return 0;
    }
    default:
      throw new UsageError(`tls: unknown subcommand "${what}"; run weft tls --help`);
  }
}

// `weft tls`: the cluster CA and node certificates (issue 13), with consul tls's shape:
//   weft tls ca create                      weft-ca.pem, weft-ca-key.pem
//   weft tls cert create --node NAME        NAME.pem, NAME-key.pem, signed by the CA
import { resolve } from 'node:path';
import { IdentityError } from '../../membership/identity.js';
import { createCa, createNodeCert } from '../tls-files.js';
import { parseFlags } from './args.js';
import { CommandFailed, UsageError } from './errors.js';

const HELP = `Usage: weft tls ca create [--dir DIR] [--days N]
       weft tls cert create --node NAME [--dir DIR] [--ca FILE] [--ca-key FILE] [--days N]

Per-node identity: a cluster CA (Ed25519) signs one certificate per node, binding the
node's name to its key. Each agent takes tls.caFile (the CA certificate, never its key),
tls.certFile and tls.keyFile; with them, everything it writes to the store is signed, and
every node checks the signature and the certificate, whoever relayed the change.
Keep weft-ca-key.pem off the nodes. Files are written 0600 and never overwritten.

Flags:
  --dir DIR       where to write (default: the current directory)
  --days N        validity (ca: 3650, cert: 365)
  --node NAME     cert: the node name (as its node.name)
  --ca FILE       cert: the CA certificate (default: DIR/weft-ca.pem)
  --ca-key FILE   cert: the CA key (default: DIR/weft-ca-key.pem)
  -h, --help      this help`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'tls',
    argv,
    { dir: { type: 'string' }, days: { type: 'string' }, node: { type: 'string' }, ca: { type: 'string' }, 'ca-key': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  const what = positionals.join(' ');
  if (values.help || !what) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const dir = resolve((values.dir as string | undefined) ?? '.');
  let days: number | undefined;
  if (values.days !== undefined) {
    days = Number(values.days);
    if (!Number.isInteger(days) || days < 1 || days > 36500) throw new UsageError(`tls: --days ${values.days}: a whole number of days, 1 to 36500`);
  }
  try {
    switch (what) {
      case 'ca create': {
        const f = createCa(dir, { days });
        console.log(`created CA ${f.cert} and its key ${f.key} (keep the key off the nodes)`);
        return 0;
      }
      case 'cert create': {
        const node = values.node as string | undefined;
        if (!node) throw new UsageError('tls cert create: --node NAME is needed');
        const ca = { cert: resolve((values.ca as string | undefined) ?? `${dir}/weft-ca.pem`), key: resolve((values['ca-key'] as string | undefined) ?? `${dir}/weft-ca-key.pem`) };
        const f = createNodeCert({ node, dir, ca, days });
        console.log(`created ${f.cert} and ${f.key} for node ${node}; give the agent --tls-ca-file ${ca.cert} --tls-cert-file ${f.cert} --tls-key-file ${f.key}`);
        return 0;
      }
      default:
        throw new UsageError(`tls: unknown subcommand "${what}"; run weft tls --help`);
    }
  } catch (e) {
    if (e instanceof IdentityError) throw new CommandFailed(`tls: ${e.message}`);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CommandFailed(`tls: ${(e as Error).message.replace(/^ENOENT: /, '')}`);
    throw e;
  }
}

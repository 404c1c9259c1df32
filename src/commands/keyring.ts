// `weft keyring`: the gossip and store encryption keys of the whole running cluster, as
// serf's `keys`, through /v1/keyring (src/keyring-sync.ts).
import { API_FLAGS, noSubcommand, parseCommand } from './args.js';
import { apiTarget, callApi, table } from './client.js';
import { UsageError } from './errors.js';

const HELP = `Usage: weft keyring <list|install|use|remove> [KEY] [flags]

One keyring encrypts gossip and the store. A rotation, run against any one agent:
  weft keyring install NEWKEY   every node adds the key (it decrypts with it)
  weft keyring list             wait until the key shows N/N live nodes
  weft keyring use NEWKEY       every node encrypts with it (refused unless all hold it)
  weft keyring remove OLDKEY    every node drops it (refused for a primary key)
Each agent rewrites its keyring file (gossip.keyFile), so a restart keeps the current keys.
Keys are base64 of 32 random bytes (openssl rand -base64 32). Lists show fingerprints
(16 hex digits of SHA-256), never keys.

Flags:
  --api URL     agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  --json        list: print JSON
  -h, --help    this help`;

interface KeyringStatus {
  encryption: boolean;
  live: number;
  keys: {
    fingerprint: string;
    nodes: number;
    primaryOn: number;
    missing: string[];
    local: boolean;
    localPrimary: boolean;
  }[];
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'keyring', argv, { ...API_FLAGS, json: { type: 'boolean' } }, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [sub, ...args] = positionals;
  if (!sub) return noSubcommand(HELP);
  const target = apiTarget(values);
  switch (sub) {
    case 'list':
    case 'ls': {
      const s = (await callApi(target, 'GET', '/v1/keyring')) as KeyringStatus;
      if (values.json) {
        console.log(JSON.stringify(s, null, 2));
        return 0;
      }
      if (!s.encryption) {
        console.log('encryption is off (no keys)');
        return 0;
      }
      console.log(
        table(
          ['KEY', 'NODES', 'PRIMARY ON', 'HERE', 'MISSING ON'],
          s.keys.map((k) => [
            k.fingerprint,
            `${k.nodes}/${s.live}`,
            `${k.primaryOn}`,
            k.localPrimary ? 'primary' : k.local ? 'yes' : 'no',
            k.missing.join(',') || '-',
          ]),
        ),
      );
      return 0;
    }
    case 'install':
    case 'use':
    case 'remove': {
      if (args.length !== 1) throw new UsageError(`usage: weft keyring ${sub} KEY`);
      const r = (await callApi(target, 'POST', '/v1/keyring', { op: sub, key: args[0] })) as {
        fingerprint: string;
        keys: string[];
      };
      const done = { install: 'installed', use: 'now the primary key', remove: 'removed' }[sub];
      console.log(`key ${r.fingerprint} ${done} here; every node follows (weft keyring list shows how far)`);
      return 0;
    }
    default:
      throw new UsageError(`keyring: unknown subcommand "${sub}"; run weft keyring --help`);
  }
}

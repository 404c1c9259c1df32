import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget, callApi } from './client.js';
import { CommandFailed } from './errors.js';
import type { ReloadResult } from '../daemon-routes.js';

const HELP = `Usage: weft reload [--api URL]

Reload a running agent's config file, keyring file and node certificate, as SIGHUP does,
and say what was applied and what needs a restart.

Flags:
  --api URL       agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  -h, --help      this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'reload', argv, API_FLAGS);
  if (!parsed) return 0;
  const { values } = parsed;
  const r = (await callApi(apiTarget(values), 'POST', '/v1/agent/reload')) as ReloadResult;
  console.log(`applied: ${r.applied.join(', ') || 'nothing changed'}`);
  if (r.needRestart.length) console.log(`needs a restart to change: ${r.needRestart.join(', ')}`);
  if (r.errors.length) throw new CommandFailed(r.errors.join('; '));
  return 0;
}

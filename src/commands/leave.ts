import { API_FLAGS, parseCommand } from './args.js';
import { apiTarget, callApi } from './client.js';
import { CommandFailed } from './errors.js';

const HELP = `Usage: weft leave [--api URL]

Make a running agent leave the cluster gracefully (the others see it as left, not failed),
then stop. Under systemd the unit stays down (exit status 10) until it is started again.

Flags:
  --api URL       agent API (default: $WEFT_API or http://127.0.0.1:8947)
  --token-file F  API token file (default: $WEFT_TOKEN_FILE, or $WEFT_TOKEN)
  -h, --help      this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'leave', argv, API_FLAGS);
  if (!parsed) return 0;
  const { values } = parsed;
  const target = apiTarget(values);
  await callApi(target, 'POST', '/v1/agent/leave');
  // The agent is gone when its API stops answering; a graceful stop takes at most 30 s.
  const deadline = Date.now() + 35_000;
  while (Date.now() < deadline) {
    try {
      await fetch(`${target.base}/v1/health`, { signal: AbortSignal.timeout(1_000) });
    } catch {
      console.log('left the cluster; the agent has stopped');
      return 0;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new CommandFailed(
    `the agent at ${target.base} is still answering 35 s after it was asked to leave; see its log`,
  );
}

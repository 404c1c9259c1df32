// Gives one input to `weft watch`'s handler (or prints it when there is none).
import type { ApiTarget } from '../commands/client.js';
import { runHandler } from './handler.js';
import type { WatchBatch } from './state-watcher.js';

export interface WatchFlags {
  target: ApiTarget;
  exec?: string;
  quietMs: number;
  timeoutMs: number;
  pollMs: number;
}

/** Runs the handler with one input (or prints it), reporting a failed run on stderr. */
export async function deliver(
  flags: WatchFlags,
  input: WatchBatch | object,
  env: Record<string, string>,
): Promise<void> {
  if (!flags.exec) {
    console.log(JSON.stringify(input));
    return;
  }
  const r = await runHandler({
    cmd: flags.exec,
    input,
    env: { ...env, WEFT_API: flags.target.base },
    timeoutMs: flags.timeoutMs,
  });
  if (r.stdout) process.stdout.write(r.stdout);
  if (r.stderr) process.stderr.write(r.stderr);
  if (!r.ok)
    process.stderr.write(
      `weft watch: run ${env.WEFT_WATCH_RUN ?? ''} of the handler failed (${r.failure}); its changes count as handled\n`,
    );
}

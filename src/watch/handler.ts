// Runs one handler: a shell command (`/bin/sh -c CMD`) given its input as JSON on stdin and
// WEFT_* variables, in its own process group so that a timeout kills everything it started.
// Shared by `weft watch --exec` and the agent's events.handlers.
import { CommandError, exec } from '../../base/exec.js';

export interface HandlerRun {
  cmd: string;
  /** Written to stdin as one JSON document and a newline. */
  input: unknown;
  /** Added to this process's environment. */
  env: Record<string, string>;
  timeoutMs: number;
}

export interface HandlerResult {
  ok: boolean;
  /** Why it failed: "exit 3", "timed out after 10s (killed)", "cannot run: ...". */
  failure?: string;
  stdout: string;
  stderr: string;
}

/** A handler's own output is for its log line, not a flood: 64 KiB is a runaway. */
const MAX_OUTPUT_BYTES = 64 * 1024;

export async function runHandler(run: HandlerRun): Promise<HandlerResult> {
  const started = performance.now();
  try {
    const r = await exec(['/bin/sh', '-c', run.cmd], {
      input: JSON.stringify(run.input) + '\n',
      env: { ...process.env, ...run.env },
      timeoutMs: run.timeoutMs,
      maxOutputBytes: MAX_OUTPUT_BYTES,
      killGroup: true,
    });
    return {
      ok: r.code === 0,
      failure: r.code === 0 ? undefined : `exit ${r.code}`,
      stdout: r.stdout,
      stderr: r.stderr,
    };
  } catch (e) {
    const stderr = e instanceof CommandError ? e.stderr : '';
    const timedOut = performance.now() - started >= run.timeoutMs - 5;
    const failure = timedOut
      ? `timed out after ${run.timeoutMs / 1000}s (its process group was killed)`
      : `cannot run: ${(e as Error).message}`;
    return { ok: false, failure, stdout: '', stderr };
  }
}

// Runs the kernel tools (nft, ip, bridge, conntrack), optionally inside a network namespace.
// The adapters built on it are thin: they move text in and out; every decision is made in
// the planners. `exec` hands back any exit status (iproute2's -batch -force reports
// per-line failures on stderr with a non-zero exit, which the caller attributes); `run`
// wants success. Both reject when the program could not run, timed out or wrote too much.
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly stderr: string,
    readonly code: number | null,
  ) {
    super(message);
  }
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec <ns> ...`). */
  netns?: string;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** The process is killed after this long. Default 30 s. */
  timeoutMs?: number;
  /** stdout and stderr together; beyond it the process is killed. Default 64 MiB. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** A kernel tool that has not finished in 30 s is stuck (a wedged netns, a held lock); a pass then fails and retries. */
const TIMEOUT_MS = 30_000;
/** `ip -json` of a big host or an nft ruleset of thousands of VIPs is a few MB; 64 MiB is a runaway. */
const MAX_OUTPUT_BYTES = 64 << 20;

const firstLines = (stderr: string): string => stderr.trim().split('\n').slice(0, 4).join(' | ');

/** Resolves with stdout, stderr and the exit status, whatever it is. */
export function exec(argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const full = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  const what = argv.slice(0, 3).join(' ');
  const max = opts.maxOutputBytes ?? MAX_OUTPUT_BYTES;
  return new Promise((resolve, reject) => {
    const p = spawn(full[0], full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    // Our own timer rather than spawn's `timeout`, which stays armed when the program is missing.
    const timer = setTimeout(() => p.kill('SIGTERM'), opts.timeoutMs ?? TIMEOUT_MS);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let tooMuch = false;
    const take = (into: Buffer[]) => (d: Buffer) => {
      size += d.length;
      if (size > max) {
        tooMuch = true;
        p.kill('SIGKILL');
      } else into.push(d);
    };
    p.stdout.on('data', take(out));
    p.stderr.on('data', take(err));
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(`${argv[0]}: ${e.message}`, '', null));
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      if (tooMuch) return reject(new CommandError(`${what}: more than ${max} bytes of output`, stderr, null));
      if (code === null)
        return reject(
          new CommandError(
            `${what} was killed (${signal ?? 'no status'}): it ran too long or was stopped`,
            stderr,
            null,
          ),
        );
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr, code });
    });
    p.stdin.on('error', () => {}); // the process may exit before reading all of it; 'close' reports why
    p.stdin.end(opts.input ?? '');
  });
}

/** Resolves with stdout; rejects with a CommandError carrying the first lines of stderr. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await exec(argv, opts);
  if (r.code === 0) return r.stdout;
  throw new CommandError(
    `${argv.slice(0, 3).join(' ')} failed (${r.code}): ${firstLines(r.stderr) || 'no message'}`,
    r.stderr,
    r.code,
  );
}

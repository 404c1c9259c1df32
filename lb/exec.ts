// Runs the kernel tools (nft, ip), optionally inside a network namespace. The adapters
// built on it are thin: they move text in and out; every decision is made in the planners.
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
  input?: string;
  timeoutMs?: number;
}

/** Resolves with stdout; rejects with a CommandError carrying the first lines of stderr. */
export function run(argv: string[], opts: RunOptions = {}): Promise<string> {
  const full = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const p = spawn(full[0], full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 30_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', (e) => reject(new CommandError(`${argv[0]}: ${e.message}`, '', null)));
    p.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const first = stderr.trim().split('\n').slice(0, 4).join(' | ');
      reject(new CommandError(`${argv.slice(0, 3).join(' ')} failed (${code ?? signal}): ${first || 'no message'}`, stderr, code));
    });
    p.stdin.on('error', () => {}); // the process may exit before reading all of it; 'close' reports why
    p.stdin.end(opts.input ?? '');
  });
}

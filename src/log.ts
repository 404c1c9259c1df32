// Structured logs with pino: JSON lines for machines, readable lines on a TTY.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LogOptions {
  level: LevelWithSilent;
  format: 'auto' | 'json' | 'pretty';
  name: string;
  /** Where lines go; stdout by default. Tests pass their own stream. */
  destination?: NodeJS.WritableStream;
}

export async function createLogger(opts: LogOptions): Promise<Logger> {
  const dest = opts.destination ?? process.stdout;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && (dest as NodeJS.WriteStream).isTTY === true);
  const base = { level: opts.level, base: { node: opts.name }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!pretty) return pino(base, dest === process.stdout ? pino.destination({ fd: 1, sync: true }) : (dest as never));
  // pino-pretty in-process and synchronous: no worker thread, so the last lines before exit are never lost.
  const { default: prettyStream } = await import('pino-pretty');
  return pino(
    base,
    prettyStream({
      destination: dest as never,
      sync: true,
      colorize: (dest as NodeJS.WriteStream).isTTY === true,
      ignore: 'pid,hostname',
      translateTime: 'HH:MM:ss.l',
    }),
  );
}

// Structured logs with pino: JSON lines for machines, readable lines on a TTY.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LogOptions {
  level: LevelWithSilent;
  format: 'auto' | 'json' | 'pretty';
  name: string;
  /** Where lines go; stdout by default. Tests pass their own stream. */
  destination?: NodeJS.WritableStream;
  /** Also hands every line, as JSON, to the tap's subscribers (`weft monitor`). */
  tap?: LogTap;
}

export async function createLogger(opts: LogOptions): Promise<Logger> {
  const dest = opts.destination ?? process.stdout;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && (dest as NodeJS.WriteStream).isTTY === true);
  const base = { level: opts.level, base: { node: opts.name }, timestamp: pino.stdTimeFunctions.isoTime };
  let out: pino.DestinationStream;
  if (!pretty) out = dest === process.stdout ? pino.destination({ fd: 1, sync: true }) : (dest as never);
  else {
    // pino-pretty in-process and synchronous: no worker thread, so the last lines before exit are never lost.
    const { default: prettyStream } = await import('pino-pretty');
    out = prettyStream({
      destination: dest as never,
      sync: true,
      colorize: (dest as NodeJS.WriteStream).isTTY === true,
      ignore: 'pid,hostname',
      translateTime: 'HH:MM:ss.l',
    });
  }
  if (!opts.tap) return pino(base, out);
  const level = opts.level === 'silent' ? 'fatal' : opts.level;
  return pino(
    base,
    pino.multistream([
      { level, stream: out },
      { level, stream: opts.tap },
    ]),
  );
}

/** pino's numeric levels, by name. */
export const LOG_LEVELS: Readonly<Record<string, number>> = pino.levels.values;

/**
 * The agent's log lines for whoever listens (the API's monitor stream): each subscriber gets
 * the lines at or above its level, parsed. Costs nothing while nobody listens.
 */
export class LogTap {
  private readonly subscribers = new Set<{ min: number; deliver: (line: Record<string, unknown>) => void }>();

  write(text: string): void {
    if (this.subscribers.size === 0) return;
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const s of this.subscribers) if ((line.level as number) >= s.min) s.deliver(line);
  }

  /** Lines at `level` and above go to `deliver` until the returned function is called. */
  subscribe(level: string, deliver: (line: Record<string, unknown>) => void): () => void {
    const entry = { min: LOG_LEVELS[level] ?? LOG_LEVELS.info!, deliver };
    this.subscribers.add(entry);
    return () => this.subscribers.delete(entry);
  }
}

// A logger for tests that keeps every line (level, fields, message) to assert on.
import type { RegistrarLogger } from './engine.js';

export interface LogLine {
  level: 'info' | 'warn' | 'error' | 'debug';
  obj: object;
  msg: string;
}

export function captureLogger(echo = process.env.WEFT_TEST_LOG === '1'): RegistrarLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => {
    lines.push({ level, obj, msg: msg ?? '' });
    if (echo) console.error(`[${level}] ${msg ?? ''} ${JSON.stringify(obj)}`);
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

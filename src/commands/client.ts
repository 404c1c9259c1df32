// A tiny JSON client for the agent's HTTP API, with failures phrased for the person at the terminal.
import { CommandFailed } from './errors.js';

export async function callApi(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
  } catch (e) {
    throw unreachable(base, e);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    throw new CommandFailed(`the agent at ${base} answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const msg = (parsed as { error?: string }).error ?? `status ${res.status}`;
    throw new CommandFailed(msg);
  }
  return parsed;
}

/** The failure to show when the agent's API does not answer at all. */
export function unreachable(base: string, e: unknown): CommandFailed {
  const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
  return new CommandFailed(`cannot reach the agent at ${base} (${cause}): is \`weft agent\` running? Point elsewhere with --api`);
}

/** Left-aligned columns for terminal tables. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

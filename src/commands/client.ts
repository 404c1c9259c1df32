// A tiny JSON client for the agent's HTTP API, with failures phrased for the person at the terminal.
import { readSecretFile, SecretFileError } from '../secret-file.js';
import { apiBase } from './args.js';
import { CommandFailed } from './errors.js';

/** Where the agent is, and the token to show it. */
export interface ApiTarget {
  base: string;
  token?: string;
}

/**
 * From a command's --api and --token-file; else WEFT_TOKEN_FILE, WEFT_TOKEN, then the
 * agent's own WEFT_API_TOKEN_FILE / WEFT_API_TOKEN (a shell set up for the agent works too).
 */
export function apiTarget(
  values: { api?: unknown; 'token-file'?: unknown },
  env: NodeJS.ProcessEnv = process.env,
): ApiTarget {
  const base = apiBase(values.api as string | undefined);
  const fromFile = (file: string, what: string) => {
    try {
      return readSecretFile(file, what).value;
    } catch (e) {
      if (e instanceof SecretFileError) throw new CommandFailed(e.message);
      throw e;
    }
  };
  const flag = values['token-file'] as string | undefined;
  if (flag) return { base, token: fromFile(flag, '--token-file') };
  if (env.WEFT_TOKEN_FILE) return { base, token: fromFile(env.WEFT_TOKEN_FILE, 'WEFT_TOKEN_FILE') };
  if (env.WEFT_TOKEN) return { base, token: env.WEFT_TOKEN.trim() };
  if (env.WEFT_API_TOKEN_FILE) return { base, token: fromFile(env.WEFT_API_TOKEN_FILE, 'WEFT_API_TOKEN_FILE') };
  if (env.WEFT_API_TOKEN) return { base, token: env.WEFT_API_TOKEN.trim() };
  return { base };
}

/** The headers every request to the agent carries. */
export function authHeaders(target: ApiTarget): Record<string, string> {
  return target.token ? { 'x-weft-token': target.token } : {};
}

/** The failure to show for a 401/403 from the agent. */
export function refused(target: ApiTarget, status: number, message: string | undefined): CommandFailed {
  if (status === 401) {
    return new CommandFailed(
      target.token
        ? `the agent at ${target.base} did not accept the API token; check WEFT_TOKEN_FILE (or WEFT_TOKEN, --token-file) against the agent's api.tokenFile`
        : `the agent at ${target.base} needs an API token: set WEFT_TOKEN_FILE to the file holding it (or WEFT_TOKEN, or pass --token-file FILE)`,
    );
  }
  return new CommandFailed(message ?? `status ${status}`);
}

export async function callApi(target: ApiTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = target.base;
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: { ...authHeaders(target), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
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
  if (!res.ok) throw refused(target, res.status, (parsed as { error?: string }).error);
  return parsed;
}

/** The failure to show when the agent's API does not answer at all. */
export function unreachable(base: string, e: unknown): CommandFailed {
  const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
  return new CommandFailed(
    `cannot reach the agent at ${base} (${cause}): is \`weft agent\` running? Point elsewhere with --api`,
  );
}

/** Left-aligned columns for terminal tables. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

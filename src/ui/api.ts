// The page's one way to the agent: same-origin fetch with the token (if the agent needs one)
// in the X-Weft-Token header. The token is asked for once and kept in sessionStorage: it goes
// with the tab, never into a URL (which access logs and history keep) nor a cookie (which the
// browser would send on requests other pages make).
const TOKEN_KEY = 'weft.token';

export const token = {
  get: (): string => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer the agent refused, with its own message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Told when the agent answers 401: the page shows the login. */
export const onUnauthorized = new Set<() => void>();

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  const t = token.get();
  if (t) h['x-weft-token'] = t;
  if (json) h['content-type'] = 'application/json';
  return h;
}

async function failure(res: Response): Promise<ApiFailure> {
  if (res.status === 401) for (const f of onUnauthorized) f();
  let msg = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string };
    if (body.error) msg = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiFailure(res.status, msg);
}

export async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/**
 * Follows an NDJSON stream, calling onLine for each line, and connects again (after a pause
 * that grows to 5 s) when it ends or breaks, until the signal aborts. onState says whether it
 * is connected, for the page to show.
 */
export function follow(
  path: string,
  onLine: (line: unknown) => void,
  signal: AbortSignal,
  onState: (s: { connected: boolean; error?: string }) => void = () => {},
): void {
  let pause = 250;
  const once = async () => {
    const res = await fetch(path, { headers: headers(false), signal, cache: 'no-store' });
    if (!res.ok || !res.body) throw await failure(res);
    onState({ connected: true });
    pause = 250;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (text) onLine(JSON.parse(text));
      }
    }
  };
  const loop = async () => {
    while (!signal.aborted) {
      try {
        await once();
        onState({ connected: false, error: 'the stream ended; reconnecting' });
      } catch (e) {
        if (signal.aborted) return;
        onState({ connected: false, error: (e as Error).message });
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 5_000);
    }
  };
  void loop();
}

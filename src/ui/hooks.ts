// Live data for a view: one stream (/v1/ui/watch?view=...) per view while it is shown.
import { useEffect, useState } from 'preact/hooks';
import { follow } from './api.js';

export interface Read<T> {
  status: number;
  body: T;
}

export interface ViewData {
  data?: Record<string, Read<unknown>>;
  connected: boolean;
  error?: string;
}

export function useView(view: string): ViewData {
  const [state, setState] = useState<ViewData>({ connected: false });
  useEffect(() => {
    const ctl = new AbortController();
    follow(
      `/v1/ui/watch?view=${encodeURIComponent(view)}`,
      (line) => setState((s) => ({ ...s, data: (line as { data: ViewData['data'] }).data })),
      ctl.signal,
      (c) => setState((s) => ({ ...s, ...c })),
    );
    return () => ctl.abort();
  }, [view]);
  return state;
}

/** One read of the view: its body when it answered 2xx, else the agent's message. */
export function readOf<T>(v: ViewData, path: string): { body?: T; error?: string } {
  const r = v.data?.[path];
  if (!r) return {};
  if (r.status >= 200 && r.status < 300) return { body: r.body as T };
  return { error: (r.body as { error?: string })?.error ?? `status ${r.status}` };
}

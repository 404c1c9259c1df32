// Pieces every view uses: the stream's state line and the grid row layout.
import type { ComponentChildren } from 'preact';
import type { ViewData } from '../hooks.js';

export function StreamState({ v, error }: { v: ViewData; error?: string }) {
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!v.data) return <p class="muted">{v.error ? `Not connected: ${v.error}` : 'Loading…'}</p>;
  if (!v.connected)
    return (
      <p class="error" role="status">
        Reconnecting: {v.error}
      </p>
    );
  return null;
}

export function Row({
  cols,
  head,
  children,
  ...rest
}: {
  cols: string;
  head?: boolean;
  children: ComponentChildren;
  [k: string]: unknown;
}) {
  return (
    <div
      class={head ? 'row head' : 'row'}
      style={{ gridTemplateColumns: cols, height: '28px' }}
      role="listitem"
      {...rest}
    >
      {children}
    </div>
  );
}

export const tagText = (tags: Record<string, string> | undefined) =>
  Object.entries(tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

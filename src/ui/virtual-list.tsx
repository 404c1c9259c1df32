// A windowed list: only the rows in view (and a few around) are in the DOM, so 5,000 rows
// render as fast as 30. Rows have one fixed height.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

interface Props<T> {
  items: readonly T[];
  rowHeight: number;
  /** Height of the scrolling box in px. */
  height: number;
  row: (item: T, index: number) => ComponentChildren;
  label: string;
}

const OVERSCAN = 8;

export function VirtualList<T>({ items, rowHeight, height, row, label }: Props<T>) {
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((top + height) / rowHeight) + OVERSCAN);
  const shown = [];
  for (let i = first; i < last; i++) shown.push(row(items[i]!, i));
  return (
    <div
      class="vlist"
      style={{ height: `${Math.min(height, items.length * rowHeight + 2)}px` }}
      onScroll={(e) => setTop((e.currentTarget as HTMLElement).scrollTop)}
      tabIndex={0}
      role="list"
      aria-label={label}
    >
      <div style={{ height: `${items.length * rowHeight}px`, position: 'relative' }}>
        <div style={{ position: 'absolute', top: `${first * rowHeight}px`, left: 0, right: 0 }}>{shown}</div>
      </div>
    </div>
  );
}

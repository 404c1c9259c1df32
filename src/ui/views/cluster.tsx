// Cluster: every member with its state; suspect and dead ones first and in colour, and a
// timeline of the changes this page has seen.
import { useMemo, useRef } from 'preact/hooks';
import { readOf, useView } from '../hooks.js';
import { VirtualList } from '../virtual-list.js';
import { Row, StreamState, tagText } from './common.js';

export interface Member {
  name: string;
  addr: string;
  port: number;
  state: string;
  incarnation: number;
  tags?: Record<string, string>;
  lastChange: string;
}

const ORDER: Record<string, number> = { dead: 0, suspect: 1, left: 2, alive: 3 };
const COLS = 'minmax(8rem,1.5fr) minmax(9rem,1.2fr) 5rem minmax(0,1.5fr) 5rem minmax(0,1.2fr)';

export function sortMembers(ms: Member[]): Member[] {
  return [...ms].sort((a, b) => (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9) || a.name.localeCompare(b.name));
}

interface Change {
  at: string;
  text: string;
}

/** What changed between two listings, as timeline lines. */
function changes(before: Map<string, string>, now: Member[]): Change[] {
  const out: Change[] = [];
  for (const m of now) {
    const was = before.get(m.name);
    if (was === undefined) out.push({ at: m.lastChange, text: `${m.name} joined (${m.state})` });
    else if (was !== m.state) out.push({ at: m.lastChange, text: `${m.name}: ${was} → ${m.state}` });
  }
  return out;
}

export function Cluster() {
  const v = useView('cluster');
  const r = readOf<{ members: Member[] }>(v, '/v1/members');
  const members = useMemo(() => sortMembers(r.body?.members ?? []), [r.body]);
  const seen = useRef<{ body?: unknown; states?: Map<string, string>; timeline: Change[] }>({ timeline: [] });
  const s = seen.current;
  if (r.body && r.body !== s.body) {
    if (s.states) s.timeline = [...changes(s.states, members).reverse(), ...s.timeline].slice(0, 50);
    s.states = new Map(members.map((m) => [m.name, m.state]));
    s.body = r.body;
  }
  const counts = members.reduce<Record<string, number>>((c, m) => ((c[m.state] = (c[m.state] ?? 0) + 1), c), {});
  return (
    <section aria-labelledby="h-cluster">
      <h2 id="h-cluster">
        Cluster: <span data-count={members.length}>{members.length} members</span>{' '}
        <span class="muted">
          {Object.entries(counts)
            .map(([s, n]) => `${n} ${s}`)
            .join(', ')}
        </span>
      </h2>
      <StreamState v={v} error={r.error} />
      <Row cols={COLS} head>
        <span>Name</span>
        <span>Address</span>
        <span>State</span>
        <span class="wide">Tags</span>
        <span class="wide">Inc.</span>
        <span class="wide">Last change</span>
      </Row>
      <VirtualList
        items={members}
        rowHeight={28}
        height={480}
        label="members"
        row={(m) => (
          <Row cols={COLS} key={m.name} data-member={m.name} data-state={m.state}>
            <span>{m.name}</span>
            <span>
              {m.addr}:{m.port}
            </span>
            <span class={`state-${m.state}`}>{m.state}</span>
            <span class="wide">{tagText(m.tags)}</span>
            <span class="wide">{m.incarnation}</span>
            <span class="wide">{m.lastChange.replace('T', ' ').slice(0, 19)}</span>
          </Row>
        )}
      />
      <Timeline changes={s.timeline} />
    </section>
  );
}

function Timeline({ changes }: { changes: Change[] }) {
  return (
    <>
      <h2>Recent changes</h2>
      <ul class="timeline" aria-live="polite">
        {changes.length === 0 && <li class="muted">None since this page opened.</li>}
        {changes.map((c, i) => (
          <li key={i}>
            <span class="muted">{c.at.slice(11, 19)}</span> {c.text}
          </li>
        ))}
      </ul>
    </>
  );
}

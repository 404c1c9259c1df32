// Services: every endpoint, filterable by service name, tag and health; a row opens its record.
import { useMemo, useState } from 'preact/hooks';
import { readOf, useView } from '../hooks.js';
import { VirtualList } from '../virtual-list.js';
import { Row, StreamState } from './common.js';

export interface Endpoint {
  node: string;
  id: string;
  dns: string;
  addrs: string[];
  ports: unknown;
  health: string;
  tags: string[];
  checks?: unknown[];
  meta: Record<string, string>;
}
export interface Service {
  service: string;
  endpoints: Endpoint[];
}
type Flat = Endpoint & { service: string };

const COLS = 'minmax(6rem,1fr) minmax(6rem,1fr) minmax(8rem,1.2fr) minmax(0,1fr) 6rem minmax(0,1fr)';

export const portsText = (p: unknown): string =>
  p && typeof p === 'object'
    ? Object.entries(p as Record<string, unknown>)
        .map(([k, v]) => (v && typeof v === 'object' ? `${k}:${Object.values(v).join('/')}` : `${k}:${String(v)}`))
        .join(' ')
    : '';

export function Services() {
  const v = useView('services');
  const r = readOf<{ services: Service[] }>(v, '/v1/services');
  const [f, setF] = useState<Filter>({ name: '', tag: '', health: '' });
  const [open, setOpen] = useState<Flat | undefined>();
  const all = useMemo(
    () => (r.body?.services ?? []).flatMap((s) => s.endpoints.map((e) => ({ ...e, service: s.service }))),
    [r.body],
  );
  const shown = all.filter(
    (e) =>
      (!f.name || e.service.includes(f.name)) &&
      (!f.tag || e.tags.some((t) => t.includes(f.tag))) &&
      (!f.health || e.health === f.health),
  );
  return (
    <section aria-labelledby="h-services">
      <h2 id="h-services">
        Services: <span data-count={all.length}>{all.length} endpoints</span>{' '}
        <span class="muted">in {r.body?.services.length ?? 0} services</span>
      </h2>
      <StreamState v={v} error={r.error} />
      <Filters f={f} setF={setF} shown={shown.length} />
      <Row cols={COLS} head>
        <span>Service</span>
        <span>Node</span>
        <span>Address</span>
        <span class="wide">Ports</span>
        <span>Health</span>
        <span class="wide">Tags</span>
      </Row>
      <VirtualList
        items={shown}
        rowHeight={28}
        height={420}
        label="endpoints"
        row={(e) => (
          <Row
            cols={COLS}
            key={`${e.service}/${e.node}/${e.id}`}
            data-endpoint={`${e.service}/${e.node}/${e.id}`}
            tabIndex={0}
            onClick={() => setOpen(e)}
            onKeyDown={(k: KeyboardEvent) => k.key === 'Enter' && setOpen(e)}
          >
            <span>{e.service}</span>
            <span>{e.node}</span>
            <span>{e.addrs.join(' ')}</span>
            <span class="wide">{portsText(e.ports)}</span>
            <span class={`health-${e.health}`}>{e.health}</span>
            <span class="wide">{e.tags.join(' ')}</span>
          </Row>
        )}
      />
      {open && <EndpointRecord e={open} close={() => setOpen(undefined)} />}
    </section>
  );
}

interface Filter {
  name: string;
  tag: string;
  health: string;
}

function Filters({ f, setF, shown }: { f: Filter; setF: (f: Filter) => void; shown: number }) {
  return (
    <div class="bar">
      <input
        aria-label="filter by service name"
        placeholder="service"
        value={f.name}
        onInput={(e) => setF({ ...f, name: e.currentTarget.value })}
      />
      <input
        aria-label="filter by tag"
        placeholder="tag"
        value={f.tag}
        onInput={(e) => setF({ ...f, tag: e.currentTarget.value })}
      />
      <select
        aria-label="filter by health"
        value={f.health}
        onChange={(e) => setF({ ...f, health: e.currentTarget.value })}
      >
        <option value="">any health</option>
        {['passing', 'warning', 'critical', 'none'].map((h) => (
          <option key={h}>{h}</option>
        ))}
      </select>
      <span class="muted">{shown} shown</span>
    </div>
  );
}

function EndpointRecord({ e, close }: { e: Flat; close: () => void }) {
  return (
    <div>
      <h2>
        {e.dns} <span class="muted">owned by node {e.node}</span> <button onClick={close}>Close</button>
      </h2>
      <pre>{JSON.stringify(e, null, 2)}</pre>
    </div>
  );
}

// This agent: the supervision tree with states and restarts, the config with each key's
// source (secrets redacted by the agent), and the version.
import { readOf, useView } from '../hooks.js';

interface Child {
  id: string;
  state: string;
  restarts: number;
  children?: Child[];
}
interface Status {
  node: string;
  version: string;
  uptimeS: number;
  listening: Record<string, string>;
  components: Child[] | Child;
}

function Tree({ items }: { items: Child[] }) {
  return (
    <ul class="tree">
      {items.map((c) => (
        <li key={c.id} data-component={c.id}>
          <b>{c.id}</b> <span class={c.state === 'running' ? 'ok' : 'error'}>{c.state}</span>
          <span class="muted">, {c.restarts} restarts</span>
          {c.children && <Tree items={c.children} />}
        </li>
      ))}
    </ul>
  );
}

function flat(o: unknown, at = ''): [string, unknown][] {
  if (o && typeof o === 'object' && !Array.isArray(o))
    return Object.entries(o).flatMap(([k, v]) => flat(v, at ? `${at}.${k}` : k));
  return [[at, o]];
}

export function Agent() {
  const v = useView('agent');
  const st = readOf<Status>(v, '/v1/status');
  const cfg = readOf<{ config: unknown; sources: Record<string, unknown> }>(v, '/v1/ui/config');
  const s = st.body;
  return (
    <section aria-labelledby="h-agent">
      <h2 id="h-agent">This agent</h2>
      {st.error && <p class="error">{st.error}</p>}
      {s && (
        <>
          <p>
            Node <b data-node>{s.node}</b>, weft <b data-version>{s.version}</b>, up {s.uptimeS} s.{' '}
            {Object.entries(s.listening)
              .map(([k, a]) => `${k} ${a}`)
              .join(', ')}
          </p>
          <h2>Supervision</h2>
          <Tree items={Array.isArray(s.components) ? s.components : [s.components]} />
        </>
      )}
      {cfg.body && (
        <>
          <h2>Config</h2>
          <table>
            <tbody>
              {flat(cfg.body.config).map(([k, val]) => (
                <tr key={k}>
                  <td>{k}</td>
                  <td>
                    <code>{JSON.stringify(val)}</code>
                  </td>
                  <td class="muted">{String(cfg.body!.sources[k] ?? 'default')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

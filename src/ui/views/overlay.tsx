// Overlay: this node's lease, and the node → subnet → VTEP peers it has programmed.
import { readOf, useView } from '../hooks.js';

interface Status {
  node: string;
  cidr: string;
  state: string;
  lease: unknown;
  peers: Record<string, unknown>[];
  skipped: { node: string; reason: string }[];
  programmed: Record<string, unknown> | null;
}

export function Overlay() {
  const v = useView('overlay');
  const r = readOf<Status>(v, '/v1/overlay');
  const s = r.body;
  const cols = s?.peers[0] ? Object.keys(s.peers[0]) : [];
  return (
    <section aria-labelledby="h-overlay">
      <h2 id="h-overlay">Overlay</h2>
      {r.error && <p class="muted">{r.error}</p>}
      {s && (
        <>
          <p>
            {s.node}: {s.state} in {s.cidr}; lease <code>{JSON.stringify(s.lease)}</code>; programmed{' '}
            <code>{JSON.stringify(s.programmed)}</code>
          </p>
          <table>
            <thead>
              <tr>
                {cols.map((c) => (
                  <th key={c}>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {s.peers.map((p, i) => (
                <tr key={i}>
                  {cols.map((c) => (
                    <td key={c}>{typeof p[c] === 'object' ? JSON.stringify(p[c]) : String(p[c])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {s.skipped.map((x) => (
            <p key={x.node} class="muted">
              {x.node} skipped: {x.reason}
            </p>
          ))}
        </>
      )}
    </section>
  );
}

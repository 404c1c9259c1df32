// VIPs: each VIP's address, port, protocol and backends, the datapath and the last reconcile.
import { readOf, useView } from '../hooks.js';

interface Vip {
  key: string;
  vip: string;
  addr?: string;
  port: number;
  proto: string;
  listen?: string;
  backends: string[];
  error?: string;
}
interface LbStatus {
  datapath: string;
  vipCidr: string;
  vips: Vip[];
  lastReconcile?: { at: string; ok: boolean; durationMs: number; error?: string } | null;
}

export function Vips() {
  const v = useView('vips');
  const r = readOf<LbStatus>(v, '/v1/vips');
  const s = r.body;
  return (
    <section aria-labelledby="h-vips">
      <h2 id="h-vips">VIPs</h2>
      {r.error && <p class="error">{r.error}</p>}
      {!v.data && <p class="muted">Loading…</p>}
      {s && (
        <>
          <p>
            Datapath <b>{s.datapath}</b>, addresses from {s.vipCidr}. Last reconcile:{' '}
            {s.lastReconcile ? (
              <span class={s.lastReconcile.ok ? 'ok' : 'error'}>
                {s.lastReconcile.at} ({s.lastReconcile.ok ? 'ok' : s.lastReconcile.error}, {s.lastReconcile.durationMs}{' '}
                ms)
              </span>
            ) : (
              'none yet'
            )}
          </p>
          <table>
            <thead>
              <tr>
                <th>VIP</th>
                <th>Address</th>
                <th>Port</th>
                <th>Proto</th>
                <th>Backends</th>
              </tr>
            </thead>
            <tbody>
              {s.vips.map((x) => (
                <tr key={x.key} data-vip={x.key}>
                  <td>{x.vip}</td>
                  <td>
                    {x.addr ?? '—'}
                    {x.listen && <span class="muted"> (here {x.listen})</span>}
                  </td>
                  <td>{x.port}</td>
                  <td>{x.proto}</td>
                  <td>
                    {x.backends.length ? x.backends.join(', ') : <span class="error">no live backend</span>}
                    {x.error && <div class="error">{x.error}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

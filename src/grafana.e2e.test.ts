// contrib/grafana/weft.json queries only metrics an agent exports: every weft_* name in its
// expressions is in a running agent's /metrics (the overlay's, which needs root and a VXLAN
// device to run, from its own metrics class on a registry, as the agent registers it).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { OverlayMetrics } from '../overlay/metrics.js';
import { startAgent } from '../test/helpers/agent-process.js';

const DASHBOARD = fileURLToPath(new URL('../contrib/grafana/weft.json', import.meta.url));

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

/** The metric names a PromQL expression reads: weft_* tokens, histogram series by their family's name. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bweft_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

t.test('every metric the Grafana dashboard queries is in an agent’s /metrics', async (t) => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; title: string };
  const a = await startAgent(t, ['--node', 'graf', '--bind', '127.0.13.30']);
  const agentText = await (await fetch(`${a.ready.api}/metrics`)).text();
  const overlay = new Registry();
  new OverlayMetrics(overlay);
  const exported = new Set(
    [...(agentText + '\n' + (await overlay.metrics())).matchAll(/^# TYPE (weft_[a-z0-9_]+) /gm)].map((m) => m[1]!),
  );
  const queried = dash.panels.flatMap((p) => (p.targets ?? []).flatMap((q) => metricNames(q.expr)));
  t.ok(queried.length > 30, `the dashboard queries ${queried.length} series`);
  t.same(
    [...new Set(queried.filter((n) => !exported.has(n)))],
    [],
    'no query names a metric the agent does not export',
  );
  const titles = dash.panels.filter((p) => p.type === 'row').map((p) => p.title);
  t.same(titles, ['Membership', 'Store', 'DNS', 'Load balancer', 'Overlay', 'Supervision'], 'the sections of issue 16');
});

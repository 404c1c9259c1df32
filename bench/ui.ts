// `npm run bench -- ui`: the dashboard (issue 16) in Debian's chromium.
//   ui_first_render_ms   navigation to first render of Cluster at BENCH_MEMBERS (1,000) members
//                        and Services at BENCH_ENDPOINTS (5,000) endpoints, fixture data behind
//                        a real agent's page (best of BENCH_ROUNDS loads); aim <= 1,000
//   ui_event_to_screen_ms  kill -9 of one of two agents: from the moment the other's API says
//                        dead until the open page shows it; aim <= 500
//   ui_bundle_kb_gz      dist/ui gzipped; aim <= 200
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startAgent, FAST_GOSSIP_FLAGS as FAST } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { envNumber, printAbsent, SMOKE } from './_env.js';
import { bundleKbGz, CHROMIUM, firstRender, fixture, newPage, openBrowser } from './ui-page.js';

const MEMBERS = envNumber('BENCH_MEMBERS', 1000, 50);
const ENDPOINTS = envNumber('BENCH_ENDPOINTS', 5000, 200);
const ROUNDS = envNumber('BENCH_ROUNDS', 3, 1);
const DIST_UI = fileURLToPath(new URL('../ui', import.meta.url));

const cleanups: (() => unknown)[] = [];
const td = { teardown: (fn: () => unknown) => void cleanups.push(fn) };
async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanup().then(() => process.exit(130)));

async function firstRenders(origin: string): Promise<Record<'cluster' | 'services', number>> {
  const browser = await openBrowser(td);
  const lines = fixture(MEMBERS, ENDPOINTS);
  const best = { cluster: Infinity, services: Infinity };
  for (const [view, count] of [
    ['cluster', MEMBERS],
    ['services', ENDPOINTS],
  ] as const) {
    for (let i = 0; i < ROUNDS; i++) {
      const r = await firstRender(browser, td, origin, view, count, lines[view]);
      best[view] = Math.min(best[view], r.ms);
      await r.page.context().close();
    }
  }
  return best;
}

/** Two agents; the page open at a's Cluster view; kill -9 of b. */
async function eventToScreen(): Promise<{ detectMs: number; toScreenMs: number }> {
  const a = await startAgent(td, ['--node', 'bui-a', '--bind', '127.0.13.41', ...FAST]);
  const b = await startAgent(td, ['--node', 'bui-b', '--bind', '127.0.13.42', '--join', a.ready.gossip!, ...FAST]);
  const page = await newPage(await openBrowser(td), td);
  await page.goto(`${a.ready.api}/ui/#cluster`);
  await page.locator('[data-member="bui-b"][data-state="alive"]').waitFor({ timeout: 20_000 });
  const shown = page
    .locator('[data-member="bui-b"][data-state="dead"]')
    .waitFor({ timeout: 30_000 })
    .then(() => performance.now());
  const killed = performance.now();
  b.proc.kill('SIGKILL');
  const dead = async () =>
    (
      (await (await fetch(`${a.ready.api}/v1/members`)).json()) as { members: { name: string; state: string }[] }
    ).members.some((m) => m.name === 'bui-b' && m.state === 'dead');
  await eventually('a says bui-b is dead', dead, 30_000, 10);
  const known = performance.now();
  const onScreen = await shown;
  return { detectMs: Math.round(known - killed), toScreenMs: Math.max(0, Math.round(onScreen - known)) };
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) return printAbsent(['chromium'], { ui_bundle_kb_gz: null });
  const kb = Math.round(bundleKbGz(DIST_UI) * 10) / 10;
  const a = await startAgent(td, ['--node', 'bui-load', '--bind', '127.0.13.40']);
  const render = await firstRenders(new URL(a.ready.api!).origin);
  const event = await eventToScreen();
  console.log(
    `members ${MEMBERS}, endpoints ${ENDPOINTS}, best of ${ROUNDS}, load ${loadavg()[0]!.toFixed(1)}${SMOKE ? ' (smoke)' : ''}`,
  );
  console.log(`first render: cluster ${render.cluster} ms, services ${render.services} ms (aim <= 1000)`);
  console.log(
    `kill -9 detected by the API in ${event.detectMs} ms; on screen ${event.toScreenMs} ms later (aim <= 500)`,
  );
  console.log(`bundle ${kb} KB gzipped (aim <= 200)`);
  console.log(
    JSON.stringify({
      members: MEMBERS,
      endpoints: ENDPOINTS,
      ui_first_render_ms: Math.max(render.cluster, render.services),
      ui_first_render_cluster_ms: render.cluster,
      ui_first_render_services_ms: render.services,
      ui_event_to_screen_ms: event.toScreenMs,
      ui_detect_ms: event.detectMs,
      ui_bundle_kb_gz: kb,
    }),
  );
}

try {
  await main();
} finally {
  await cleanup();
}

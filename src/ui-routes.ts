// The dashboard (issue 16): its static files at /ui/, and one live stream per view.
//
//   GET /ui/, /ui/<file>          the bundle built by scripts/build-ui.mjs into dist/ui/ (no token:
//                                 they hold no data; the page sends the token with each call)
//   GET /v1/ui/watch?view=<name>  NDJSON: the view's API reads as one line, again whenever
//                                 they change (at once on a membership change, else checked
//                                 every second), so a page holds one stream per view
//   GET /v1/ui/config             the effective config (secrets redacted) and each key's source
//   GET /v1/ui/dns?name=&type=    a question to this agent's own DNS server (ui-dns.ts)
//
// A view's lines are the API's own answers (ApiServer.get), so the page shows what the API says.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError, type ApiServer } from './api.js';
import type { MembershipHandle } from './components/membership-child.js';
import { registerUiDnsRoute } from './ui-dns.js';

/** Which API reads make up each view. */
export const UI_VIEWS: Record<string, readonly string[]> = {
  cluster: ['/v1/members'],
  services: ['/v1/services'],
  vips: ['/v1/vips'],
  overlay: ['/v1/overlay'],
  dns: ['/metrics'],
  agent: ['/v1/status', '/v1/ui/config'],
};

/** Only scripts, styles and pages from this origin; no frames, no forms elsewhere, no plugins. */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** How often a view is read again when no membership change asked for it. */
const VIEW_CHECK_MS = 1_000;
/** Changes within this share one read. */
const VIEW_DEBOUNCE_MS = 20;

export interface UiSources {
  membership: MembershipHandle;
  /** The effective config (secrets redacted) and where each key came from. */
  config: () => { config: unknown; sources: Record<string, unknown> };
  /** The DNS server's listen addresses (AgentContext.listening), for the DNS view's queries. */
  dnsAddr: () => string | undefined;
}

export function registerUiRoutes(api: ApiServer, sources: UiSources, dir = uiDir()): void {
  const files = loadFiles(dir);
  const serve = (name: string) => {
    const text = files.get(name);
    if (text === undefined)
      throw new ApiError(
        404,
        files.size ? `no such file: /ui/${name}` : 'the dashboard is not built: run npm run build',
      );
    return { text, contentType: TYPES[extname(name)], headers: { 'content-security-policy': UI_CSP } };
  };
  api.route('GET', '/ui', () => serve('index.html'));
  api.route('GET', '/ui/*file', (req) => serve(req.params.file!));
  api.route('GET', '/v1/ui/config', () => ({ body: sources.config() }));
  registerUiDnsRoute(api, sources.dnsAddr);
  api.route('GET', '/v1/ui/watch', (req) => {
    const view = req.query.get('view') ?? '';
    const paths = UI_VIEWS[view];
    if (!paths) throw new ApiError(400, `view "${view.slice(0, 40)}": one of ${Object.keys(UI_VIEWS).join(', ')}`);
    return { stream: (send) => watchView(api, sources.membership, view, paths, send) };
  });
}

/** Sends the view's reads now and whenever they change; returns the stop. */
function watchView(
  api: ApiServer,
  membership: MembershipHandle,
  view: string,
  paths: readonly string[],
  send: (line: unknown) => void,
): () => void {
  let last = '';
  let running = false;
  let again = false;
  let stopped = false;
  let soon: NodeJS.Timeout | undefined;
  const pass = async () => {
    if (running) return void (again = true);
    running = true;
    const data: Record<string, unknown> = {};
    for (const p of paths) data[p] = await api.get(p);
    running = false;
    const text = JSON.stringify(data);
    if (!stopped && text !== last) {
      last = text;
      send({ view, data });
    }
    if (again && !stopped) {
      again = false;
      schedule();
    }
  };
  const schedule = () => {
    if (!soon) soon = setTimeout(() => ((soon = undefined), void pass()), VIEW_DEBOUNCE_MS);
  };
  // Membership restarts replace the instance: follow the one running at each check.
  let followed = membership.current;
  followed?.on('change', schedule);
  const timer = setInterval(() => {
    if (membership.current !== followed) {
      followed?.off('change', schedule);
      (followed = membership.current)?.on('change', schedule);
    }
    void pass();
  }, VIEW_CHECK_MS);
  void pass();
  return () => {
    stopped = true;
    clearInterval(timer);
    clearTimeout(soon);
    followed?.off('change', schedule);
  };
}

/** dist/ui beside dist/src (the npm build), or ui/ beside the packaged bundle (dist/weft-main.cjs). */
function uiDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '../ui'), join(here, 'ui')].find((d) => existsSync(join(d, 'index.html'))) ?? join(here, '../ui');
}

/** The bundle is small (tens of KB) and fixed: read once, served from memory, nothing else on disk reachable. */
function loadFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) {
    if (TYPES[extname(name)]) files.set(name, readFileSync(join(dir, name), 'utf8'));
  }
  return files;
}

// The dashboard in chromium, shared by `npm run bench -- ui` and src/ui.e2e.test.ts: fixture
// data at cluster scale, and the time from a page's navigation to its first render of it.
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function openBrowser(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  return browser;
}

/** A page of its own context that records every URL it asks for in `urls`. */
export async function newPage(browser: Browser, t: Teardown, urls: string[] = []): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  page.on('request', (r) => urls.push(r.url()));
  return page;
}

/** The dashboard's files in dist/ui, gzipped, in KB. */
export function bundleKbGz(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + gzipSync(readFileSync(`${dir}/${f}`)).length, 0) / 1024;
}

/** One line of /v1/ui/watch: the view's reads, each answered 200 with its body. */
export const viewLine = (view: string, data: Record<string, unknown>) =>
  JSON.stringify({
    view,
    data: Object.fromEntries(Object.entries(data).map(([p, body]) => [p, { status: 200, body }])),
  }) + '\n';

/** `members` members and `endpoints` endpoints (100 per service), as /v1/members and /v1/services answer. */
export function fixture(members: number, endpoints: number) {
  const now = new Date().toISOString();
  const ms = Array.from({ length: members }, (_, i) => ({
    name: `node-${String(i).padStart(4, '0')}`,
    addr: `10.${(i >> 8) & 255}.${i & 255}.1`,
    port: 7946,
    state: i % 97 === 0 ? 'dead' : i % 89 === 0 ? 'suspect' : 'alive',
    incarnation: i % 5,
    meta: '',
    tags: { rack: `r${i % 20}` },
    lastChange: now,
  }));
  const services = Array.from({ length: Math.ceil(endpoints / 100) }, (_, s) => ({
    service: `svc-${s}`,
    endpoints: Array.from({ length: Math.min(100, endpoints - s * 100) }, (_, e) => ({
      node: ms[(s * 100 + e) % members]!.name,
      id: `e${e}`,
      dns: `e${e}`,
      addrs: [`10.1.${s & 255}.${e}`],
      ports: { http: { port: 8080, proto: 'tcp' } },
      health: e % 10 === 0 ? 'critical' : 'passing',
      source: 'api',
      tags: [`t${e % 3}`],
      meta: {},
    })),
  }));
  return {
    cluster: viewLine('cluster', { '/v1/members': { members: ms } }),
    services: viewLine('services', { '/v1/services': { services } }),
  };
}

/**
 * Opens `origin`/ui/#view in a fresh page whose view stream answers `line`, and returns the
 * ms from the navigation's start (page, bundle, token check, stream, render) until the view
 * shows `count` items and its first rows; and how many rows are in the DOM.
 */
export async function firstRender(
  browser: Browser,
  t: Teardown,
  origin: string,
  view: 'cluster' | 'services',
  count: number,
  line: string,
): Promise<{ ms: number; rows: number; page: Page }> {
  const page = await newPage(browser, t);
  // The fixture stands in for the agent's stream; the page, its bundle and its data layer are real.
  await page.route(/\/v1\/ui\/watch\?view=/, (route) =>
    route.fulfill({ status: 200, contentType: 'application/x-ndjson', body: line }),
  );
  await page.goto(`${origin}/ui/#${view}`);
  const ms = await page.waitForFunction(rendered, count, { polling: 'raf', timeout: 20_000 });
  const rows = await page.locator('[data-member],[data-endpoint]').count();
  return { ms: Math.round((await ms.jsonValue()) as number), rows, page };
}

/**
 * Runs in the page (a function, not a string: the page's CSP forbids eval): the time since
 * navigation once the view shows `n` items and its first rows, else false.
 */
function rendered(n: number): number | false {
  const doc = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document;
  const done = doc.querySelector(`[data-count="${n}"]`) && doc.querySelector('[data-member],[data-endpoint]');
  return done ? performance.now() : false;
}

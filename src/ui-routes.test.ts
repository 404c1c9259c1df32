// The dashboard's routes on a real ApiServer (loopback, port 0): its files need no token and
// carry a strict CSP; nothing but those files is served under /ui/; the data routes need the
// token like every other read; a view stream sends the API's own answer, and again on change.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { ApiServer } from './api.js';
import { createRegistry } from './metrics.js';
import { registerUiRoutes } from './ui-routes.js';
import type { MembershipHandle } from './components/membership-child.js';

const TOKEN = 'ui-test-token';

async function server(t: { teardown(fn: () => unknown): void }, dir: string, membership: MembershipHandle = {}) {
  const api = new ApiServer(pino({ level: 'silent' }), createRegistry());
  let members = [{ name: 'a', state: 'alive' }];
  api.route('GET', '/v1/members', () => ({ body: { members } }));
  registerUiRoutes(api, { membership, config: () => ({ config: {}, sources: {} }), dnsAddr: () => undefined }, dir);
  const addr = await api.listen('127.0.0.1', 0, { access: { hosts: new Set(['127.0.0.1']), token: TOKEN } });
  t.teardown(() => api.close());
  return { base: `http://127.0.0.1:${addr.port}`, setMembers: (m: typeof members) => (members = m) };
}

function uiDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ui-files-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><p>weft</p>');
  writeFileSync(join(dir, 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'notes.txt'), 'not a dashboard file');
  return dir;
}

t.test('the files: no token, strict CSP, nothing else reachable', async (t) => {
  const { base } = await server(t as never, uiDir());
  for (const path of ['/ui', '/ui/', '/ui/index.html']) {
    const res = await fetch(base + path);
    t.equal(res.status, 200, `${path} without a token`);
    t.match(res.headers.get('content-security-policy'), /default-src 'self'/);
    t.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.match(await res.text(), /weft/);
  }
  t.match((await fetch(base + '/ui/app.js')).headers.get('content-type'), /javascript/);
  for (const path of [
    '/ui/notes.txt',
    '/ui/%2e%2e%2fpackage.json',
    '/ui/..%2f..%2fetc%2fpasswd',
    '/ui/x/../../v1/members',
  ]) {
    const res = await fetch(base + path);
    t.not(res.status, 200, `${path} is not served (${res.status})`);
  }
  t.equal((await fetch(base + '/uix')).status, 401, 'only /ui and /ui/... are public');
});

t.test('the data routes need the token; a view streams the API answer and its changes', async (t) => {
  const m = new EventEmitter();
  const { base, setMembers } = await server(t as never, uiDir(), { current: m as never });
  t.equal((await fetch(base + '/v1/ui/watch?view=cluster')).status, 401, 'no token: 401');
  t.equal((await fetch(base + '/v1/ui/config')).status, 401);
  const bad = await fetch(base + '/v1/ui/watch?view=nope', { headers: { 'x-weft-token': TOKEN } });
  t.equal(bad.status, 400);
  t.match(((await bad.json()) as { error: string }).error, /one of cluster, services/);
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const res = await fetch(base + '/v1/ui/watch?view=cluster', {
    headers: { 'x-weft-token': TOKEN },
    signal: ctl.signal,
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const next = async () => JSON.parse((await reader.read()).value!) as { data: Record<string, { body: unknown }> };
  t.same((await next()).data['/v1/members']!.body, { members: [{ name: 'a', state: 'alive' }] });
  setMembers([{ name: 'a', state: 'dead' }]);
  m.emit('change', {});
  t.same((await next()).data['/v1/members']!.body, { members: [{ name: 'a', state: 'dead' }] }, 'a change is sent');
});

// The registrar without a Docker engine (runs anywhere, no root): it starts, says so once,
// keeps retrying, and never crashes. The tests against a real dockerd are in
// registrar.system.test.ts.
import t from 'tap';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { LocalStore } from '../crdt-store/local-store.js';
import { endpointKey, type EndpointRecord } from '../records/schema.js';
import { Registrar, resolveSocket, DEFAULT_SOCKET, type EndpointStore } from './registrar.js';
import type { StoreNode } from '../crdt-store/store-node.js';
import { describeEngineError, type RegistrarLogger } from './engine.js';
import type { Logger } from 'pino';
import type { Json } from '../crdt-store/json-value.js';
import { captureLogger } from './log-capture.fixture.js';

const fast = { initialMs: 20, maxMs: 40 };

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-reg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const rec = (over: Partial<EndpointRecord>): EndpointRecord => ({
  service: 'web',
  addrs: ['10.0.0.1'],
  ports: {},
  health: 'none',
  vips: [],
  source: 'docker',
  ...over,
});

t.test('resolveSocket: explicit, DOCKER_HOST unix://, anything else', async (t) => {
  t.same(resolveSocket('/x.sock', { DOCKER_HOST: 'unix:///y.sock' }), { socket: '/x.sock' });
  t.same(resolveSocket('unix:///x.sock', {}), { socket: '/x.sock' });
  t.same(resolveSocket(undefined, { DOCKER_HOST: 'unix:///y.sock' }), { socket: '/y.sock' });
  t.same(resolveSocket(undefined, {}), { socket: DEFAULT_SOCKET });
  t.same(resolveSocket(undefined, { DOCKER_HOST: 'unix://' }).socket, DEFAULT_SOCKET);
  t.match(resolveSocket(undefined, { DOCKER_HOST: 'tcp://10.0.0.1:2375' }), {
    socket: DEFAULT_SOCKET,
    warning: /not a unix:\/\/ socket/,
  });
});

t.test('engine errors read as a person would want them', async (t) => {
  const e = (code: string) => Object.assign(new Error('x'), { code });
  t.equal(describeEngineError(e('ENOENT'), '/s'), 'no Docker engine at /s');
  t.equal(describeEngineError(e('ECONNREFUSED'), '/s'), 'no Docker engine at /s');
  t.match(describeEngineError(e('EACCES'), '/s'), /no permission to use \/s; run weft as root/);
  t.match(
    describeEngineError(Object.assign(new Error('boom'), { statusCode: 500, reason: 'server error' }), '/s'),
    /answered 500 \(server error\)/,
  );
  t.match(describeEngineError(new Error('first line\nsecond'), '/s'), /: first line$/);
});

t.test('no engine at all: starts, not connected, one log line, keeps retrying', async (t) => {
  const dir = tmp(t);
  const socket = join(dir, 'docker.sock');
  const log = captureLogger();
  const registry = new Registry();
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const t0 = Date.now();
  const r = await Registrar.start({
    node: 'n1',
    nodeAddr: '127.0.0.1',
    store,
    logger: log,
    socket,
    registry,
    backoff: fast,
  });
  t.teardown(() => r.stop());
  t.ok(Date.now() - t0 < 2000, 'start does not wait for Docker');
  t.match(r.status(), { socket, connected: false, containers: 0, lastError: `no Docker engine at ${socket}` });
  await new Promise((res) => setTimeout(res, 400));
  const warns = log.lines.filter((l) => l.level === 'warn');
  t.equal(warns.length, 1, 'said once');
  t.match(warns[0].msg, new RegExp(`^no Docker engine at ${socket}; retrying with backoff`));
  const reconnects = (await registry.getSingleMetricAsString('weft_registrar_reconnects_total')).match(/ (\d+)$/m);
  t.ok(Number(reconnects?.[1]) >= 5, `kept retrying (${reconnects?.[1]} attempts)`);
  t.match(await registry.getSingleMetricAsString('weft_registrar_connected'), /weft_registrar_connected 0/);
  await r.stop();
  t.equal(r.status().connected, false);
});

t.test('a socket that accepts and hangs up: one line, no crash', async (t) => {
  const dir = tmp(t);
  const socket = join(dir, 'docker.sock');
  const server = createServer((c) => c.destroy());
  await new Promise<void>((res) => server.listen(socket, res));
  t.teardown(() => new Promise<void>((res) => server.close(() => res())));
  const log = captureLogger();
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const r = await Registrar.start({ node: 'n1', store, logger: log, socket, backoff: fast });
  t.teardown(() => r.stop());
  await new Promise((res) => setTimeout(res, 300));
  t.equal(r.status().connected, false);
  t.equal(log.lines.filter((l) => l.level === 'warn').length, 1);
  t.match(r.status().lastError, /closed the connection|cannot use the Docker engine/);
});

t.test('start without an engine drops docker records of an earlier run, never api ones or other nodes’', async (t) => {
  const dir = tmp(t);
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const stale = endpointKey('web', 'n1', 'aaaaaaaaaaaa');
  const api = endpointKey('web', 'n1', 'api-1');
  const otherNodeName = endpointKey('web', 'n2', 'bbbbbbbbbbbb');
  store.put(stale, rec({ container: 'a'.repeat(64) }) as unknown as Json);
  store.put(api, rec({ source: 'api' }) as unknown as Json);
  // Written by this store but under another node's name: not this registrar's to remove.
  store.put(otherNodeName, rec({ container: 'b'.repeat(64) }) as unknown as Json);
  store.put('kv/x', 1);
  const log = captureLogger();
  const r = await Registrar.start({ node: 'n1', store, logger: log, socket: join(dir, 'none.sock'), backoff: fast });
  t.teardown(() => r.stop());
  t.same(store.keys(''), ['kv/x', api, otherNodeName].sort());
  t.ok(log.lines.some((l) => l.level === 'info' && /removed 1 Docker endpoint record/.test(l.msg)));
});

t.test('two registrars on one registry (a restart under a supervisor) share the metrics', async (t) => {
  const dir = tmp(t);
  const registry = new Registry();
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const a = await Registrar.start({
    node: 'n1',
    store,
    logger: captureLogger(),
    socket: join(dir, 'x.sock'),
    registry,
    backoff: fast,
  });
  await a.stop();
  const b = await Registrar.start({
    node: 'n1',
    store,
    logger: captureLogger(),
    socket: join(dir, 'x.sock'),
    registry,
    backoff: fast,
  });
  await b.stop();
  t.equal((await registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('weft_registrar_')).length, 5);
});

// Both stores of crdt-store fit the registrar's narrow interface (checked by the compiler).
export type StoresFit = [
  LocalStore extends EndpointStore ? true : never,
  StoreNode extends EndpointStore ? true : never,
  Logger extends RegistrarLogger ? true : never,
];
export const storesFit: StoresFit = [true, true, true];

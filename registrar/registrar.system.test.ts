// System test (needs root, dockerd, a static busybox): the registrar against a real,
// private dockerd (test/helpers/docker.ts) writing into a real LocalStore. One engine for
// the file; each test makes and removes its own containers and networks. The engine
// restart test runs last, as it stops every container.
import t from 'tap';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { LocalStore } from '../crdt-store/local-store.js';
import { endpointKey, parseEndpointRecord, SERVICE_PREFIX, type EndpointRecord } from '../records/schema.js';
import { eventually } from '../test/helpers/eventually.js';
import { dockerSkip, startDocker, type DockerEngine } from '../test/helpers/docker.js';
import { Registrar } from './registrar.js';
import type { Json } from '../crdt-store/json-value.js';
import { captureLogger } from './log-capture.fixture.js';

type Test = { teardown(fn: () => unknown): void };

const skip = dockerSkip();
const NODE = 'n1';
const NODE_ADDR = '192.0.2.10';
const fast = { initialMs: 100, maxMs: 500 };

let engine: DockerEngine;

if (!skip) {
  t.before(async () => {
    engine = await startDocker(t);
  });
}

function harness(t: Test) {
  const store = new LocalStore({ name: NODE, clock: () => Date.now() });
  const log = captureLogger();
  const registry = new Registry();
  let registrar: Registrar | undefined;
  t.teardown(async () => {
    await registrar?.stop();
    store.close();
  });
  return {
    store,
    log,
    registry,
    async start() {
      return this.startAt(engine.socket);
    },
    async startAt(socket: string) {
      registrar = await Registrar.start({
        node: NODE,
        nodeAddr: NODE_ADDR,
        store,
        logger: log,
        socket,
        registry,
        backoff: fast,
      });
      return registrar;
    },
    /** This node's endpoint records, by key. */
    records(): Record<string, EndpointRecord> {
      const out: Record<string, EndpointRecord> = {};
      for (const r of store.entries(SERVICE_PREFIX)) {
        const e = parseEndpointRecord(r.value);
        if (e) out[r.key] = e;
      }
      return out;
    },
  };
}

/** Runs a container for this test and removes it at teardown; returns its full id. */
async function container(t: Test, args: string[], cmd: string[] = ['sleep', '600']): Promise<string> {
  // --init: busybox sleep as PID 1 ignores SIGTERM, and every stop would wait 10 s.
  const id = await engine.run(['run', '-d', '--init', ...args, engine.image, ...cmd]);
  t.teardown(() =>
    engine.run(['rm', '-f', id]).then(
      () => undefined,
      () => undefined,
    ),
  );
  return id;
}

async function network(t: Test, name: string): Promise<string> {
  await engine.run(['network', 'create', name]);
  t.teardown(() =>
    engine.run(['network', 'rm', name]).then(
      () => undefined,
      () => undefined,
    ),
  );
  return name;
}

const ipOn = (id: string, net: string) =>
  engine.run(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, id]);
// The container's name, which the record keeps as the endpoint's instance name (issue 14).
const nameOf = async (id: string) => (await engine.run(['inspect', '-f', '{{.Name}}', id])).replace(/^\//, '');
const key = (service: string, id: string) => endpointKey(service, NODE, id.slice(0, 12));

t.test(
  'labelled containers become records: user network, host network, network changes; unlabelled ones are ignored',
  { skip },
  async (t) => {
    const h = harness(t);
    const net = await network(t, 'weft-reg-a');
    const net2 = await network(t, 'weft-reg-a2');
    const web = await container(t, [
      '--network',
      net,
      '-l',
      'weft.service=web',
      '-l',
      'weft.port.http=8080',
      '-l',
      'weft.port.dns=53/udp',
      '-l',
      'weft.vip=web:80->8080',
      '-l',
      'weft.vip.2=10.99.0.1:53/udp',
    ]);
    const host = await container(t, ['--network', 'host', '-l', 'weft.service=hosty', '-l', 'weft.port.ssh=2222']);
    await container(t, ['--network', net, '-l', 'other=1']);
    const r = await h.start();
    t.match(r.status(), { connected: true, containers: 2, lastError: undefined });
    // Each VIP binding carries its claim time (lb/claims.ts): a new VIP's is the time of writing.
    const atStart = h.records();
    for (const b of atStart[key('web', web)]?.vips ?? []) {
      t.ok(Number.isSafeInteger(b.since) && Math.abs(b.since! - Date.now()) < 60_000, `${b.vip} claimed at ${b.since}`);
      delete b.since;
    }
    t.same(
      atStart,
      {
        [key('web', web)]: {
          service: 'web',
          addrs: [await ipOn(web, net)],
          ports: { dns: { port: 53, proto: 'udp' }, http: { port: 8080, proto: 'tcp' } },
          health: 'none',
          vips: [
            { vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 },
            { vip: '10.99.0.1', port: 53, proto: 'udp', targetPort: 53 },
          ],
          source: 'docker',
          container: web,
          name: await nameOf(web),
        },
        [key('hosty', host)]: {
          service: 'hosty',
          addrs: [NODE_ADDR],
          ports: { ssh: { port: 2222, proto: 'tcp' } },
          health: 'none',
          vips: [],
          source: 'docker',
          container: host,
          name: await nameOf(host),
        },
      },
      'the containers running at start are read from the list',
    );

    // After start, through events.
    const late = await container(t, ['--network', net, '-l', 'weft.service=late']);
    await eventually('the late container has a record', () => h.records()[key('late', late)] !== undefined, 5000, 20);
    t.same(h.records()[key('late', late)].addrs, [await ipOn(late, net)]);

    await engine.run(['network', 'connect', net2, web]);
    const both = [await ipOn(web, net), await ipOn(web, net2)].sort();
    await eventually('the second network shows', () => h.records()[key('web', web)].addrs.length === 2, 5000, 20);
    t.same(h.records()[key('web', web)].addrs, both);
    await engine.run(['network', 'disconnect', net2, web]);
    await eventually(
      'the second network is gone again',
      () => h.records()[key('web', web)].addrs.length === 1,
      5000,
      20,
    );
    t.same(h.records()[key('web', web)].addrs, [await ipOn(web, net)]);
    t.equal(Object.keys(h.records()).length, 3, 'nothing for the unlabelled container');
    t.match(await h.registry.getSingleMetricAsString('weft_registrar_containers'), /weft_registrar_containers 3/);
    t.match(await h.registry.getSingleMetricAsString('weft_registrar_connected'), /weft_registrar_connected 1/);
    t.equal(h.log.lines.filter((l) => l.level === 'warn' || l.level === 'error').length, 0, 'no warnings');
  },
);

t.test('stop, kill and rm remove the record; start brings it back; pause keeps it', { skip }, async (t) => {
  const h = harness(t);
  const net = await network(t, 'weft-reg-b');
  const ids = await Promise.all(
    ['a', 'b', 'c', 'd'].map(() => container(t, ['--network', net, '-l', 'weft.service=life'])),
  );
  const [stopped, killed, removed, paused] = ids;
  await h.start();
  t.same(Object.keys(h.records()).sort(), ids.map((id) => key('life', id)).sort());
  const writes: string[] = [];
  h.store.watch(SERVICE_PREFIX, (e) => {
    if (!e.initial) writes.push(`${e.after ? 'put' : 'del'} ${e.key.slice(-12)}`);
  });
  const has = (id: string) => h.records()[key('life', id)] !== undefined;

  await engine.run(['stop', '-t', '0', stopped]);
  await eventually('stopped: record removed', () => !has(stopped), 5000, 20);
  await engine.run(['kill', killed]);
  await eventually('killed: record removed', () => !has(killed), 5000, 20);
  await engine.run(['rm', '-f', removed]);
  await eventually('removed: record removed', () => !has(removed), 5000, 20);
  await engine.run(['pause', paused]);
  await engine.run(['unpause', paused]);
  await engine.run(['start', stopped]);
  await eventually('restarted: record back', () => has(stopped), 5000, 20);
  t.ok(has(paused), 'pause and unpause kept the record');
  t.same(
    writes.filter((w) => w.endsWith(paused.slice(0, 12))),
    [],
    'and did not even rewrite it',
  );
  t.same(
    writes.filter((w) => w.startsWith('del')).length,
    3,
    'one delete per container gone (a die followed by stop and destroy is not three)',
  );
  // Issue 14: each registration and deregistration is logged at info, once.
  const logged = (what: 'registered' | 'deregistered', id: string) =>
    h.log.lines.filter(
      (l) =>
        l.level === 'info' &&
        l.msg.startsWith(`${what} Docker container`) &&
        (l.obj as { container?: string }).container === id.slice(0, 12),
    ).length;
  t.same(
    ids.map((id) => [logged('registered', id), logged('deregistered', id)]),
    [
      [2, 1], // stopped: registered, deregistered, registered again on start
      [1, 1], // killed
      [1, 1], // removed
      [1, 0], // paused and unpaused: no news
    ],
    'one info line per registration and per deregistration, none for a pause',
  );
});

t.test('health follows the healthcheck: starting -> healthy, and unhealthy', { skip }, async (t) => {
  const h = harness(t);
  const net = await network(t, 'weft-reg-c');
  await h.start();
  const seen: string[] = [];
  h.store.watch(SERVICE_PREFIX, (e) => {
    const v = e.after && parseEndpointRecord(e.after.value);
    if (v && v.service === 'checked') seen.push(v.health);
  });
  const good = await container(t, [
    '--network',
    net,
    '-l',
    'weft.service=checked',
    '--health-cmd',
    'true',
    '--health-interval',
    '1s',
  ]);
  const bad = await container(t, [
    '--network',
    net,
    '-l',
    'weft.service=failing',
    '--health-cmd',
    'false',
    '--health-interval',
    '1s',
    '--health-retries',
    '1',
  ]);
  await eventually('healthy', () => h.records()[key('checked', good)]?.health === 'healthy', 10_000, 50);
  t.same(seen, ['starting', 'healthy'], 'the record went starting -> healthy, each written once');
  await eventually('unhealthy', () => h.records()[key('failing', bad)]?.health === 'unhealthy', 10_000, 50);
});

t.test('bad labels: logged once per container, left out, the registrar keeps going', { skip }, async (t) => {
  const h = harness(t);
  const net = await network(t, 'weft-reg-d');
  const badName = await container(t, [
    '--network',
    net,
    '--name',
    'bad-name',
    '-l',
    'weft.service=Not_A_Label',
    '-l',
    'weft.port.http=80',
  ]);
  const badPort = await container(t, [
    '--network',
    net,
    '--name',
    'bad-port',
    '-l',
    'weft.service=api',
    '-l',
    'weft.port.http=80/sctp',
    '-l',
    'weft.port.ok=81',
    '-l',
    'weft.vip=nope',
  ]);
  const noAddr = await container(t, ['--network', 'none', '--name', 'no-addr', '-l', 'weft.service=lonely']);
  const r = await h.start();
  const warns = () => h.log.lines.filter((l) => l.level === 'warn');
  t.same(Object.keys(h.records()), [key('api', badPort)], 'only the container whose service name is good');
  t.same(h.records()[key('api', badPort)].ports, { ok: { port: 81, proto: 'tcp' } }, 'without its bad labels');
  t.equal(warns().length, 3, 'one line per container');
  const byName = (n: string) => warns().find((l) => l.msg.includes(n))?.msg ?? '';
  t.match(
    byName('bad-name'),
    /left out \(no usable weft.service label\).*weft.service="Not_A_Label": service name must be a DNS label/,
  );
  t.match(
    byName('bad-port'),
    /weft.port.http="80\/sctp": protocol "sctp" is not tcp or udp; weft.vip="nope": no :<port>/,
  );
  t.match(byName('no-addr'), /left out \(runs in network mode none/);
  t.match(
    await h.registry.getSingleMetricAsString('weft_registrar_label_errors_total'),
    /weft_registrar_label_errors_total 3/,
  );

  // Restarting them goes through die/start events and new inspects: no new lines.
  await engine.run(['restart', '-t', '0', badName, badPort, noAddr]);
  const good = await container(t, ['--network', net, '-l', 'weft.service=fine']);
  await eventually(
    'a good container after the bad ones still gets a record',
    () => h.records()[key('fine', good)] !== undefined,
    5000,
    20,
  );
  await eventually('bad-port is back', () => h.records()[key('api', badPort)] !== undefined, 5000, 20);
  t.equal(warns().length, 3, 'still one line per container');
  t.equal(r.status().connected, true);
});

t.test('stale and foreign records at start: docker ones of gone containers go, api ones stay', { skip }, async (t) => {
  const h = harness(t);
  const net = await network(t, 'weft-reg-e');
  const live = await container(t, ['--network', net, '-l', 'weft.service=web']);
  const gone = 'f'.repeat(64);
  const rec = (over: Partial<EndpointRecord>): EndpointRecord => ({
    service: 'web',
    addrs: ['10.0.0.1'],
    ports: {},
    health: 'none',
    vips: [],
    source: 'docker',
    ...over,
  });
  h.store.put(key('web', gone), rec({ container: gone }) as unknown as Json);
  h.store.put(endpointKey('web', NODE, 'by-api'), rec({ source: 'api' }) as unknown as Json);
  // A record of the live container under another service name (its label changed between runs).
  h.store.put(key('old-name', live), rec({ service: 'old-name', container: live }) as unknown as Json);
  await h.start();
  t.same(Object.keys(h.records()).sort(), [endpointKey('web', NODE, 'by-api'), key('web', live)].sort());
  t.equal(h.records()[endpointKey('web', NODE, 'by-api')].addrs[0], '10.0.0.1', 'api record untouched');
});

/**
 * A unix socket that passes through to the engine until cut: from the registrar's side the
 * engine is gone (connections dropped, socket file removed) while it keeps running, so
 * the test can change containers that the registrar then only learns of by resyncing.
 */
async function cuttablePath(t: Test, target: string) {
  const path = join(engine.dir, `proxy-${Math.random().toString(36).slice(2, 8)}.sock`);
  const conns = new Set<Socket>();
  let server: Server | undefined;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((c) => {
        const up = connect(target);
        conns.add(c).add(up);
        c.pipe(up).pipe(c);
        const end = () => (c.destroy(), up.destroy(), conns.delete(c), conns.delete(up));
        c.on('error', end).on('close', end);
        up.on('error', end).on('close', end);
      });
      server.listen(path, resolve);
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const c of conns) c.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  t.teardown(cut);
  await open();
  return { path, cut, open };
}

t.test('connection lost: resync after reconnecting removes what vanished, adds what came', { skip }, async (t) => {
  const h = harness(t);
  const net = await network(t, 'weft-reg-g');
  const proxy = await cuttablePath(t, engine.socket);
  const stays = await container(t, ['--network', net, '-l', 'weft.service=stays']);
  const goes = await container(t, ['--network', net, '-l', 'weft.service=goes']);
  const stops = await container(t, ['--network', net, '-l', 'weft.service=stops']);
  const r = await h.startAt(proxy.path);
  t.same(Object.keys(h.records()).sort(), [key('goes', goes), key('stays', stays), key('stops', stops)].sort());

  await proxy.cut();
  await eventually('the registrar sees the engine go', () => !r.status().connected, 5000, 20);
  await engine.run(['rm', '-f', goes]);
  await engine.run(['stop', '-t', '0', stops]);
  const came = await container(t, ['--network', net, '-l', 'weft.service=came']);
  await new Promise((res) => setTimeout(res, 300));
  t.equal(Object.keys(h.records()).length, 3, 'records stay as they were while the engine cannot be reached');

  await proxy.open();
  await eventually('reconnected', () => r.status().connected, 5000, 20);
  // The count alone is 2 before the resync too (goes and stays): wait for the set itself.
  const want = [key('came', came), key('stays', stays)].sort();
  await eventually(
    'resynced',
    () => JSON.stringify(Object.keys(h.records()).sort()) === JSON.stringify(want),
    5000,
    20,
  ).catch(() => undefined);
  t.same(Object.keys(h.records()).sort(), want);
  const lines = h.log.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  t.equal(lines.length, 1, `one warning for the outage: ${lines.join(' | ')}`);
});

t.test('engine restart: reconnects, resyncs, the records match what runs after', { skip }, async (t) => {
  const h = harness(t);
  const net = await network(t, 'weft-reg-f');
  const transient = await container(t, ['--network', net, '-l', 'weft.service=transient']);
  const always = await container(t, [
    '--network',
    net,
    '--restart',
    'always',
    '-l',
    'weft.service=always',
    '-l',
    'weft.vip=bad',
  ]);
  const r = await h.start();
  t.same(Object.keys(h.records()).sort(), [key('always', always), key('transient', transient)].sort());
  const warnsBefore = h.log.lines.filter((l) => l.level === 'warn').length;

  // The engine stops its containers first; their die events may or may not reach the
  // registrar before the engine is gone, so what the store holds in between is not checked.
  await engine.stopDaemon();
  await eventually('the registrar sees the engine go', () => !r.status().connected, 5000, 20);
  await new Promise((res) => setTimeout(res, 800)); // a few retries against no engine
  t.match(r.status(), { connected: false, lastError: /no Docker engine at/ });

  await engine.startDaemon();
  await eventually('reconnected', () => r.status().connected, 10_000, 20);
  await eventually(
    'resynced: the stopped container is gone, the restarted one is there',
    () => {
      const keys = Object.keys(h.records());
      return keys.length === 1 && keys[0] === key('always', always);
    },
    10_000,
    20,
  );
  t.same(h.records()[key('always', always)].addrs, [await ipOn(always, net)], 'with its address after the restart');
  const fresh = await container(t, ['--network', net, '-l', 'weft.service=fresh']);
  await eventually('events flow again', () => h.records()[key('fresh', fresh)] !== undefined, 5000, 20);

  const lines = h.log.lines.map((l) => `${l.level} ${l.msg}`);
  t.equal(
    lines.filter((l) => /^info connected to the Docker engine/.test(l)).length,
    2,
    'one connected line per connection',
  );
  const outage = lines.filter((l) => /^warn (connection to the Docker engine lost|no Docker engine)/.test(l));
  t.equal(outage.length, 1, `one line for the outage, however many retries: ${outage.join(' | ')}`);
  t.equal(
    h.log.lines.filter((l) => l.level === 'warn').length - warnsBefore,
    1,
    'the bad vip label of the restarted container is not logged again',
  );
  t.match(
    await h.registry.getSingleMetricAsString('weft_registrar_reconnects_total'),
    /weft_registrar_reconnects_total [2-9]/,
  );
});

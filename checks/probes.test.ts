// Each probe against real local servers on 127.0.0.1 port 0, and the runner's rise/fall
// against a real HTTP server that is turned off and on.
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRng } from '../base/rng.js';
import type { CheckDef, CheckRecord } from '../records/checks.js';
import { httpProbe, scriptProbe, tcpProbe } from './probes.js';
import { CheckRunner } from './runner.js';
import { socketProbe, TCP_PROBE_BARE } from './tcp-probe.js';
import { eventually } from '../test/helpers/eventually.js';

const def = (over: Partial<CheckDef>): CheckDef => ({
  name: 'c',
  kind: 'http',
  target: ':1/',
  intervalMs: 1000,
  timeoutMs: 1000,
  rise: 1,
  fall: 1,
  ...over,
});

async function listen(t: Test, server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

/** A port that nothing listens on: bound, read, closed. */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

t.test('http: 2xx and 3xx pass, 429 warns, 5xx fails, the body must contain the expected text', async (t) => {
  const server = createServer((req, res) => {
    const code = Number(req.url!.slice(1)) || 200;
    res.writeHead(code, code === 302 ? { location: '/elsewhere' } : {});
    res.end(req.url === '/big' ? 'x'.repeat(1 << 20) : `status ${code}`);
  });
  const port = await listen(t, server);
  const probe = (path: string, body?: string) =>
    httpProbe(def({ target: `:${port}${path}`, ...(body ? { body } : {}) }), '127.0.0.1');
  t.same(await probe('/200'), { status: 'passing', output: 'HTTP 200: status 200' });
  t.equal((await probe('/302')).status, 'passing', 'a redirect is not followed, and passes');
  t.equal((await probe('/429')).status, 'warning');
  t.same(await probe('/503'), { status: 'critical', output: 'HTTP 503: status 503' });
  t.equal((await probe('/200', 'status 200')).status, 'passing');
  t.match(await probe('/200', 'ready'), { status: 'critical', output: /does not contain "ready"/ });
  t.equal((await probe('/big')).status, 'passing', 'a huge body is read only in part');
  const refused = await httpProbe(def({ target: `:${await closedPort()}/` }), '127.0.0.1');
  t.match(refused, { status: 'critical', output: /ECONNREFUSED/ });
});

t.test('http: a server that never answers is critical at the timeout', async (t) => {
  const server = createServer(() => {}); // accepts, never responds
  const port = await listen(t, server);
  t.teardown(() => server.closeAllConnections());
  const t0 = performance.now();
  const r = await httpProbe(def({ target: `:${port}/`, timeoutMs: 300 }), '127.0.0.1');
  t.match(r, { status: 'critical', output: /timed out after 300 ms/ });
  t.ok(performance.now() - t0 < 5_000, 'resolved near the timeout');
});

t.test('tcp: a listener passes, a closed port fails', async (t) => {
  const port = await listen(
    t,
    createTcpServer((s) => s.destroy()),
  );
  t.match(await tcpProbe(def({ kind: 'tcp', target: `:${port}` }), '127.0.0.1'), { status: 'passing' });
  t.match(await tcpProbe(def({ kind: 'tcp', target: `:${await closedPort()}` }), '127.0.0.1'), {
    status: 'critical',
    output: /ECONNREFUSED/,
  });
});

t.test(
  'tcp: the bare-handle probe and the net.Socket one agree, over IPv4 and IPv6, and leak no descriptor',
  async (t) => {
    t.ok(TCP_PROBE_BARE, 'this node has the tcp_wrap binding, so probes use the bare handle');
    const server = createTcpServer((s) => s.destroy());
    const port = await listen(t, server);
    const closed = await closedPort();
    const c = (p: number) => def({ kind: 'tcp', target: `:${p}` });
    for (const probe of [tcpProbe, (d: CheckDef, a: string) => socketProbe(d, a, Number(d.target.slice(1)))]) {
      t.same(await probe(c(port), '127.0.0.1'), { status: 'passing', output: `connected to 127.0.0.1:${port}` });
      t.match(await probe(c(closed), '127.0.0.1'), {
        status: 'critical',
        output: /^connect 127\.0\.0\.1:\d+: .*ECONNREFUSED/,
      });
    }
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 50; i++) await Promise.all([tcpProbe(c(port), '127.0.0.1'), tcpProbe(c(closed), '127.0.0.1')]);
    await eventually('the descriptors of 100 probes are closed', () => fds() <= before + 2, 10_000);
    const six = createTcpServer((s) => s.destroy());
    const six6 = await new Promise<number | undefined>((r) => {
      six.once('error', () => r(undefined));
      six.listen(0, '::1', () => r((six.address() as AddressInfo).port));
    });
    if (six6 === undefined) return t.comment('no ::1 here: the IPv6 case is not run');
    t.teardown(() => new Promise<void>((r) => six.close(() => r())));
    t.same(await tcpProbe(c(six6), '::1'), { status: 'passing', output: `connected to [::1]:${six6}` });
  },
);

t.test('script: exit 0 passing, 1 warning, other critical, with its output', async (t) => {
  t.same(await scriptProbe(def({ kind: 'script', target: 'echo all good' })), {
    status: 'passing',
    output: 'all good',
  });
  t.same(await scriptProbe(def({ kind: 'script', target: 'echo disk 91% >&2; exit 1' })), {
    status: 'warning',
    output: 'disk 91%',
  });
  t.same(await scriptProbe(def({ kind: 'script', target: 'exit 2' })), { status: 'critical', output: 'exit 2' });
  t.match(
    await scriptProbe(def({ kind: 'script', target: 'head -c 100000 /dev/zero | tr "\\0" a' })),
    { status: 'passing' },
    'much output is cut, not fatal',
  );
});

t.test('script: at the timeout the whole process group is killed, children too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-check-'));
  const pidFile = join(dir, 'child.pid');
  const t0 = performance.now();
  // The script starts a child that would outlive it, records its pid, and waits.
  const r = await scriptProbe(def({ kind: 'script', target: `sleep 30 & echo $! > ${pidFile}; wait`, timeoutMs: 300 }));
  t.match(r, { status: 'critical', output: /timed out after 300 ms and was killed/ });
  t.ok(performance.now() - t0 < 5_000, 'resolved near the timeout, not after the sleep');
  const child = Number(readFileSync(pidFile, 'utf8'));
  await eventually("the script's child is gone", () => !alive(child), 5_000);
  t.pass(`child ${child} killed with its group`);
});

function alive(pid: number): boolean {
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false;
  }
}

t.test('runner: rise and fall against a real server that goes down and comes back', async (t) => {
  let up = true;
  const server = createServer((_req, res) => {
    res.writeHead(up ? 200 : 503);
    res.end();
  });
  const port = await listen(t, server);
  const seen: string[] = [];
  const runner = new CheckRunner({
    rng: seededRng(5),
    clock: () => performance.now(),
    onTransition: (_e, _c, tr) => seen.push(tr.status),
  });
  t.teardown(() => runner.stop());
  const rec: CheckRecord = {
    ...def({ target: `:${port}/`, intervalMs: 100, timeoutMs: 90, rise: 3, fall: 2 }),
    status: 'critical',
    output: 'not run yet',
  };
  runner.setEndpoint('svc/web/n1/w1', ['127.0.0.1'], [rec]);
  await eventually('passing', () => seen.at(-1) === 'passing', 10_000, 10);
  up = false;
  await eventually('critical after the server fails', () => seen.at(-1) === 'critical', 10_000, 10);
  up = true;
  await eventually('passing again', () => seen.at(-1) === 'passing', 10_000, 10);
  t.same(seen, ['passing', 'critical', 'passing'], 'one transition each way, no flapping');
  runner.setEndpoint('svc/web/n1/w1', ['127.0.0.1'], []);
  t.same(runner.endpointKeys(), [], 'an endpoint without checks is forgotten');
});

t.test('runner: rise/fall counts are obeyed (fall 2: one failure does not take it out)', async (t) => {
  let codes = [200];
  let i = 0;
  const server = createServer((_req, res) => {
    res.writeHead(codes[Math.min(i++, codes.length - 1)]!);
    res.end();
  });
  const port = await listen(t, server);
  const seen: string[] = [];
  const results: string[] = [];
  const runner = new CheckRunner({
    rng: seededRng(5),
    clock: () => performance.now(),
    onTransition: (_e, _c, tr) => seen.push(tr.status),
    onResult: (_k, st) => results.push(st),
  });
  t.teardown(() => runner.stop());
  codes = [200, 500, 200, 500, 500, 200, 200, 200];
  runner.setEndpoint(
    'k',
    ['127.0.0.1'],
    [
      {
        ...def({ target: `:${port}/`, intervalMs: 150, timeoutMs: 140, rise: 3, fall: 2 }),
        status: 'critical',
        output: '',
      },
    ],
  );
  await eventually('eight results', () => results.length >= 8, 10_000, 10);
  runner.stop();
  t.same(results.slice(0, 8), [
    'passing',
    'critical',
    'passing',
    'critical',
    'critical',
    'passing',
    'passing',
    'passing',
  ]);
  t.same(
    seen,
    ['passing', 'critical', 'passing'],
    'up at the first pass, down at the second failure in a row, up at the third pass in a row',
  );
});

t.test(
  'runner: at most maxChecks checks per node; beyond it an endpoint is not checked (and stays critical)',
  async (t) => {
    const refused: string[] = [];
    const runner = new CheckRunner({
      rng: seededRng(1),
      clock: () => performance.now(),
      onTransition: () => {},
      maxChecks: 3,
      onRefused: (e) => refused.push(e),
    });
    t.teardown(() => runner.stop());
    const ttl = (name: string): CheckRecord => ({
      ...def({ name, kind: 'ttl', target: '', ttlMs: 60_000 }),
      status: 'critical',
      output: '',
    });
    runner.setEndpoint('a', ['127.0.0.1'], [ttl('ttl'), ttl('ttl-2')]);
    runner.setEndpoint('b', ['127.0.0.1'], [ttl('ttl'), ttl('ttl-2')]);
    t.same(runner.endpointKeys(), ['a']);
    t.same(refused, ['b']);
    runner.setEndpoint('a', ['127.0.0.1'], [ttl('ttl'), ttl('ttl-2'), ttl('ttl-3')]);
    t.equal(runner.running(), 3, 'an endpoint may grow up to the cap: its own checks do not count twice');
    runner.setEndpoint('a', ['127.0.0.1'], []);
    runner.setEndpoint('b', ['127.0.0.1'], [ttl('ttl')]);
    t.same(runner.endpointKeys(), ['b'], 'room again once others are gone');
  },
);

t.test(
  'runner: a script in a record runs on this host only when allowed, and a container script never does',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-check-'));
    const script = (name: string): CheckRecord => ({
      ...def({ name, kind: 'script', target: `touch ${join(dir, name)}`, intervalMs: 100, timeoutMs: 90 }),
      status: 'critical',
      output: '',
    });
    const outputs = new Map<string, string>();
    const execs: string[] = [];
    const make = (over: Partial<ConstructorParameters<typeof CheckRunner>[0]>) => {
      const r = new CheckRunner({
        rng: seededRng(3),
        clock: () => performance.now(),
        onTransition: (e, c, tr) => outputs.set(`${e}#${c}`, tr.output),
        ...over,
      });
      t.teardown(() => r.stop());
      return r;
    };
    const off = make({});
    off.setEndpoint('api', ['127.0.0.1'], [script('host')]);
    off.setEndpoint('docker', ['127.0.0.1'], [script('container')], 'c'.repeat(64));
    await eventually('both reported', () => outputs.size === 2, 10_000, 10);
    t.match(outputs.get('api#host'), /not run: scripts are off here \(checks.allowScripts\)/);
    t.match(outputs.get('docker#container'), /not run: scripts in containers are off here/);
    const on = make({
      hostScripts: true,
      containerExec: async (d, container) => {
        execs.push(`${container.slice(0, 3)} ${d.target}`);
        return { status: 'warning', output: 'exec ran' };
      },
    });
    on.setEndpoint('api2', ['127.0.0.1'], [script('host2')]);
    on.setEndpoint('docker2', ['127.0.0.1'], [script('container2')], 'c'.repeat(64));
    await eventually('both ran', () => outputs.size === 4, 10_000, 10);
    t.equal(outputs.get('docker2#container2'), 'exec ran', "the container's script went to the container");
    t.match(execs[0], /^ccc touch /);
    off.stop();
    on.stop();
    t.same(readdirSync(dir).sort(), ['host2'], 'only the allowed host script ran on this host');
  },
);

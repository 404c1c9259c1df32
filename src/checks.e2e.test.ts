// Health checks across two real agents: a check that fails on the owning agent A takes
// its endpoint out of DNS answers and VIP backends at agent B; when it passes again the
// endpoint comes back. Also the TTL pushes of `weft service pass|fail`, `weft service ls`
// and the metrics.
import t from 'tap';
import { freePort } from '../test/helpers/free-port.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  resolvesA,
  runCli,
  startAgent,
  type AgentProcess,
  FAST_GOSSIP_FLAGS as FAST,
} from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

interface Vips {
  vips: { vip: string; backends: string[] }[];
}
interface Services {
  services: {
    service: string;
    endpoints: { id: string; checks?: { name: string; status: string; output: string }[] }[];
  }[];
}

const post = (a: AgentProcess, body: unknown) =>
  fetch(`${a.ready.api}/v1/services`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
const backendsAt = async (x: AgentProcess) =>
  ((await (await fetch(`${x.ready.api}/v1/vips`)).json()) as Vips).vips.find((v) => v.vip === 'web')?.backends.sort() ??
  [];
const checksAt = async (x: AgentProcess, id: string) =>
  ((await (await fetch(`${x.ready.api}/v1/services`)).json()) as Services).services
    .flatMap((s) => s.endpoints)
    .find((e) => e.id === id)?.checks;

t.test('a failing check takes the endpoint out of DNS and the VIP at the other agent, and back', async (t) => {
  let healthy = true;
  const server = createServer((_req, res) => {
    res.writeHead(healthy ? 200 : 503);
    res.end(healthy ? 'ok' : 'down for maintenance');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;

  const a = await startAgent(t, ['--node', 'ca', '--bind', '127.0.9.1', ...FAST]);
  const b = await startAgent(t, ['--node', 'cb', '--bind', '127.0.9.2', '--join', a.ready.gossip!, ...FAST]);
  const check = { http: `:${port}/`, interval: '1s', timeout: '500ms', rise: 1, fall: 1 };
  const vport = await freePort(); // the VIP's port, where each agent's proxy listens
  const r1 = await post(a, {
    service: 'web',
    id: 'w1',
    addrs: ['127.0.0.1'],
    vips: [`web:${vport}->${port}`],
    checks: [check],
  });
  t.equal(r1.status, 201, 'registered with a check');
  // A second endpoint without checks: the answer shrinks to it rather than to nothing.
  t.equal(
    (await post(a, { service: 'web', id: 'w2', addrs: ['127.0.0.3'], vips: [`web:${vport}->${port}`] })).status,
    201,
  );

  const both = ['127.0.0.1', '127.0.0.3'];
  await eventually(
    "both endpoints in B's DNS once the check passed",
    async () => JSON.stringify(await resolvesA(b, 'web.svc.weft.internal')) === JSON.stringify(both),
    20_000,
  );
  await eventually('both backends of the VIP at B', async () => (await backendsAt(b)).length === 2, 20_000);
  t.match(
    await checksAt(b, 'w1'),
    [{ name: 'http', status: 'passing', output: 'HTTP 200: ok' }],
    "B sees the check's status and output",
  );

  healthy = false;
  const outMs = await eventually(
    "w1 leaves B's DNS",
    async () => JSON.stringify(await resolvesA(b, 'web.svc.weft.internal')) === '["127.0.0.3"]',
    20_000,
    50,
  );
  await eventually(
    'w1 leaves the VIP backends at B',
    async () => (await backendsAt(b)).length === 1 && !(await backendsAt(b))[0]!.startsWith('127.0.0.1'),
    20_000,
  );
  t.match(await checksAt(b, 'w1'), [{ status: 'critical', output: /HTTP 503: down for maintenance/ }]);
  const ls = await runCli(['service', 'ls'], { WEFT_API: b.ready.api! });
  t.match(ls.stdout, /CHECKS\s+CHECK OUTPUT/);
  t.match(ls.stdout, /w1 .*http:critical\s+HTTP 503: down for maintenance/);
  const metrics = await (await fetch(`${a.ready.api}/metrics`)).text();
  t.match(metrics, /weft_checks\{status="critical"\} 1/, 'A counts its checks by status');

  healthy = true;
  await eventually(
    "w1 back in B's DNS",
    async () => JSON.stringify(await resolvesA(b, 'web.svc.weft.internal')) === JSON.stringify(both),
    20_000,
    50,
  );
  await eventually('w1 back among the VIP backends at B', async () => (await backendsAt(b)).length === 2, 20_000);
  t.pass(`out of B's DNS ${outMs} ms after the target failed (interval 1s, fall 1)`);
});

t.test('ttl checks: critical until pushed, weft service pass|fail, unknown endpoints 404', async (t) => {
  const a = await startAgent(t, ['--node', 'ta', '--bind', '127.0.9.3', ...FAST]);
  const env = { WEFT_API: a.ready.api! };
  const reg = await runCli(
    ['service', 'register', 'job', '--id', 'j1', '--addr', '127.0.0.5', '--check', 'ttl=30s'],
    env,
  );
  t.equal(reg.code, 0, reg.stderr);
  t.same(await resolvesA(a, 'job.svc.weft.internal'), [], 'not served before its first push');
  const pass = await runCli(['service', 'pass', 'j1', '--note', 'batch done'], env);
  t.equal(pass.code, 0, pass.stderr);
  await eventually('served after pass', async () => (await resolvesA(a, 'job.svc.weft.internal')).length === 1, 10_000);
  t.match(await checksAt(a, 'j1'), [{ name: 'ttl', status: 'passing', output: 'batch done' }]);
  t.equal((await runCli(['service', 'fail', 'job/j1'], env)).code, 0);
  await eventually('out after fail', async () => (await resolvesA(a, 'job.svc.weft.internal')).length === 0, 10_000);
  const missing = await runCli(['service', 'pass', 'nope'], env);
  t.not(missing.code, 0);
  t.match(missing.stderr, /no endpoint nope with a ttl check/);
  const bad = await runCli(['service', 'register', 'job', '--check-interval', '5s'], env);
  t.equal(bad.code, 2, 'a --check-* setting without --check is a usage error');
  const badCheck = await runCli(['service', 'register', 'job', '--check', 'http=example.com:80/'], env);
  t.not(badCheck.code, 0);
  t.match(badCheck.stderr, /:PORT\[\/path\]/);
  const script = await post(a, { service: 'job', checks: [{ script: 'true' }] });
  t.equal(script.status, 400, 'script checks are off by default');
  const unknown = await post(a, { service: 'job', chekcs: [] });
  t.equal(unknown.status, 400);
  t.match(((await unknown.json()) as { error: string }).error, /unknown field "chekcs"/);
});

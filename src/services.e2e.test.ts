// Endpoints registered through the API and `weft service`, seen cluster-wide; gone from
// the live view when their node dies.
import t from 'tap';
import { freePort } from '../test/helpers/free-port.js';
import { startAgent, runCli, FAST_GOSSIP_FLAGS as FAST } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

interface Services {
  services: {
    service: string;
    endpoints: {
      node: string;
      id: string;
      addrs: string[];
      ports: Record<string, { port: number; proto: string }>;
      source: string;
    }[];
  }[];
}

t.test("register, list cluster-wide, deregister; a dead node's endpoints leave", async (t) => {
  const a = await startAgent(t, ['--node', 'sa', '--bind', '127.0.6.1', '--bind-port', '0', ...FAST]);
  const b = await startAgent(t, [
    '--node',
    'sb',
    '--bind',
    '127.0.6.2',
    '--bind-port',
    '0',
    '--join',
    a.ready.gossip!,
    ...FAST,
  ]);
  const at = (x: typeof a) => ({ WEFT_API: x.ready.api! });
  const list = async (x: typeof a) => ((await (await fetch(`${x.ready.api}/v1/services`)).json()) as Services).services;

  const vport = await freePort(); // the VIP's port, where each agent's proxy listens
  const reg = await runCli(
    [
      'service',
      'register',
      'web',
      '--id',
      'w1',
      '--port',
      'http=8080',
      '--port',
      'metrics=9100/tcp',
      '--vip',
      `web:${vport}->8080`,
    ],
    at(b),
  );
  t.equal(reg.code, 0, reg.stderr);
  t.match(reg.stdout, /registered web\/w1 at 127\.0\.6\.2/, "the address defaults to the node's");
  const r2 = await fetch(`${a.ready.api}/v1/services`, {
    method: 'POST',
    body: JSON.stringify({ service: 'web', id: 'w2', addrs: ['10.1.2.3'] }),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(r2.status, 201);

  await eventually(
    'both endpoints of web at both nodes',
    async () => {
      const [la, lb] = await Promise.all([list(a), list(b)]);
      return [la, lb].every((l) => l.find((s) => s.service === 'web')?.endpoints.length === 2);
    },
    10_000,
  );
  const web = (await list(a)).find((s) => s.service === 'web')!;
  t.same(
    web.endpoints.find((e) => e.id === 'w1'),
    {
      node: 'sb',
      id: 'w1',
      addrs: ['127.0.6.2'],
      ports: { http: { port: 8080, proto: 'tcp' }, metrics: { port: 9100, proto: 'tcp' } },
      health: 'none',
      source: 'api',
      dns: 'w1',
      tags: [],
      meta: {},
    },
  );
  const ls = await runCli(['service', 'ls'], at(a));
  t.match(ls.stdout, /web\s+sa\s+w2\s+10\.1\.2\.3/);

  // Bad input: refused with the reason, nothing stored.
  for (const [body, reason] of [
    [{ service: 'Web' }, /not a DNS label/],
    [{ service: 'web', addrs: ['nope'] }, /addrs must be/],
    [{ service: 'web', ports: { http: '70000' } }, /port http/],
    [{ service: 'web', vips: ['web'] }, /vip/],
    [[1, 2], /body must be/],
  ] as const) {
    const r = await fetch(`${a.ready.api}/v1/services`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(((await r.json()) as { error: string }).error, reason);
  }
  const bad = await runCli(['service', 'register', 'web', '--port', 'http'], at(a));
  t.equal(bad.code, 2, 'a malformed --port is a usage error');

  // Deregister at its own node only.
  t.equal(
    (await fetch(`${a.ready.api}/v1/services/web/w1`, { method: 'DELETE' })).status,
    404,
    "a node cannot remove another node's endpoint",
  );
  const dereg = await runCli(['service', 'deregister', 'web', 'w2'], at(a));
  t.equal(dereg.code, 0, dereg.stderr);
  await eventually(
    'w2 gone at b',
    async () => (await list(b)).find((s) => s.service === 'web')?.endpoints.length === 1,
    10_000,
  );

  // sb dies: its endpoint leaves the live view at sa, with no write by anyone.
  b.proc.kill('SIGKILL');
  const ms = await eventually(
    'web gone at sa after sb died',
    async () => !(await list(a)).some((s) => s.service === 'web'),
    20_000,
  );
  t.pass(`sb's endpoint left sa's answers ${ms} ms after kill -9`);
});

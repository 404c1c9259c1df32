// VIPs through the agent, without root: the userspace datapath. An endpoint registered
// with a VIP binding makes the VIP; DNS answers its name with where this node's proxy
// listens; traffic through it reaches the backend; removing the backend removes the VIP.
import t from 'tap';
import { freePort } from '../test/helpers/free-port.js';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { startAgent, runCli } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

interface Vips {
  datapath: string;
  vips: {
    vip: string;
    addr?: string;
    addr6?: string;
    port: number;
    proto: string;
    listen?: string;
    backends: string[];
  }[];
}

t.test('a VIP from a registered endpoint: DNS name, proxy, removal', async (t) => {
  const backend = createServer((_req, res) => res.end('hello from the backend\n'));
  await new Promise<void>((r) => backend.listen(0, '127.0.8.10', r));
  t.teardown(() => backend.close());
  const port = (backend.address() as AddressInfo).port;

  const a = await startAgent(t, [
    '--node',
    'v1',
    '--bind',
    '127.0.8.1',
    '--bind-port',
    '0',
    '--proxy-cidr',
    '127.201.0.0/16',
  ]);
  const env = { WEFT_API: a.ready.api! };
  // The proxy listens on each VIP's port: ports free on every address, not 8080 and 5432,
  // which a program on this host may hold (and would answer on the VIP's address).
  const vport = await freePort();
  const dbPort = await freePort();
  const reg = await runCli(
    ['service', 'register', 'web', '--addr', '127.0.8.10', '--vip', `web:${vport}->${port}`],
    env,
  );
  t.equal(reg.code, 0, reg.stderr);

  const vips = async () => (await (await fetch(`${a.ready.api}/v1/vips`)).json()) as Vips;
  await eventually(
    'the VIP has its backend',
    async () => (await vips()).vips.some((v) => v.vip === 'web' && v.backends.length === 1),
    5000,
    50,
  );
  const web = (await vips()).vips.find((v) => v.vip === 'web')!;
  t.equal((await vips()).datapath, 'userspace');
  t.match(web.addr, /^198\.1[89]\./, `a cluster-wide address from 198.18.0.0/15: ${web.addr}`);
  t.match(
    web.listen,
    new RegExp(`^127\\.201\\.\\d+\\.\\d+:${vport}$`),
    `the proxy listens on loopback at the VIP port: ${web.listen}`,
  );
  t.same(web.backends, [`127.0.8.10:${port}`]);

  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([a.ready.dns!]);
  const [addr] = await r.resolve4('web.vip.weft.internal');
  t.equal(`${addr}:${vport}`, web.listen, 'DNS answers the VIP name with where this node serves it');
  const body = await (await fetch(`http://${addr}:${vport}/`)).text();
  t.equal(body, 'hello from the backend\n', 'traffic through the VIP reaches the backend');

  const add = await runCli(['vip', 'add', `db:${dbPort}`], env);
  t.equal(add.code, 0, add.stderr);
  await eventually(
    'the declared VIP is listed',
    async () => (await vips()).vips.some((v) => v.vip === 'db' && v.port === dbPort),
    5000,
    50,
  );
  const ls = await runCli(['vip', 'ls'], env);
  t.match(
    ls.stdout,
    new RegExp(`db:${dbPort}/tcp\\s+198\\.1[89]\\.\\S+\\s+\\S+\\s+-`),
    'weft vip ls shows it without backends',
  );
  t.equal((await runCli(['vip', 'rm', `db:${dbPort}`], env)).code, 0);
  t.equal((await runCli(['vip', 'rm', `db:${dbPort}`], env)).code, 1, 'removing it twice fails');
  t.equal((await runCli(['vip', 'add', 'Bad Name:80'], env)).code, 1, 'a bad VIP is refused');

  t.equal((await runCli(['service', 'deregister', 'web', 'web'], env)).code, 0);
  await eventually(
    'the VIP is gone with its only endpoint',
    async () => !(await vips()).vips.some((v) => v.vip === 'web'),
    5000,
    50,
  );
  // A new connection (fetch's pooled one may still drain, as established connections should).
  const refused = await new Promise<string>((resolve) => {
    const s = connect(vport, addr!);
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  t.equal(refused, 'ECONNREFUSED', 'a new connection to the VIP is refused');
});

t.test("kill -9 of the backend's node removes the backend from the VIP at another node", async (t) => {
  const FAST = [
    '--probe-interval',
    '300ms',
    '--probe-timeout',
    '150ms',
    '--gossip-interval',
    '100ms',
    '--suspicion-mult',
    '2',
  ];
  const a = await startAgent(t, [
    '--node',
    'va',
    '--bind',
    '127.0.8.21',
    '--bind-port',
    '0',
    '--proxy-cidr',
    '127.202.0.0/16',
    ...FAST,
  ]);
  const b = await startAgent(t, [
    '--node',
    'vb',
    '--bind',
    '127.0.8.22',
    '--bind-port',
    '0',
    '--proxy-cidr',
    '127.203.0.0/16',
    '--join',
    a.ready.gossip!,
    ...FAST,
  ]);
  const vport = await freePort(); // each agent's proxy listens on it
  const register = (x: typeof a, id: string, addr: string) =>
    fetch(`${x.ready.api}/v1/services`, {
      method: 'POST',
      body: JSON.stringify({ service: 'api', id, addrs: [addr], vips: [`api:${vport}->8080`] }),
      headers: { 'content-type': 'application/json' },
    });
  t.equal((await register(a, 'a1', '10.8.0.1')).status, 201);
  t.equal((await register(b, 'b1', '10.8.0.2')).status, 201);
  const backendsAt = async (x: typeof a) =>
    ((await (await fetch(`${x.ready.api}/v1/vips`)).json()) as Vips).vips
      .find((v) => v.vip === 'api')
      ?.backends.sort() ?? [];
  await eventually(
    'both backends at A',
    async () => (await backendsAt(a)).join() === '10.8.0.1:8080,10.8.0.2:8080',
    10_000,
    50,
  );
  const killedAt = Date.now();
  b.proc.kill('SIGKILL');
  await eventually("B's backend gone at A", async () => (await backendsAt(a)).join() === '10.8.0.1:8080', 15_000, 50);
  t.pass(`B's backend left A's VIP ${Date.now() - killedAt} ms after kill -9`);
});

t.test(
  'literal VIPs on loopback, metadata, own or foreign addresses are refused with 400 and a reason (issue 12, item 8)',
  async (t) => {
    const a = await startAgent(t, [
      '--node',
      'vg',
      '--bind',
      '127.0.8.31',
      '--bind-port',
      '0',
      '--proxy-cidr',
      '127.204.0.0/16',
      '--vip-allow',
      '10.98.0.0/24',
    ]);
    const api = a.ready.api!;
    const apiPort = new URL(api).port;
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${api}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      return { status: r.status, body: (await r.json()) as { error?: string } };
    };
    for (const [spec, why] of [
      [`127.0.8.31:${apiPort}`, /loopback/], // the agent's own API address
      ['127.0.0.1:22', /loopback/],
      ['169.254.169.254:80', /link-local/],
      ['0.0.0.0:22', /unspecified/],
      ['224.0.0.251:5353/udp', /multicast/],
      ['8.8.8.8:53/udp', /outside lb\.vipCidr \(198\.18\.0\.0\/15\) or lb\.vipAllow \(10\.98\.0\.0\/24\)/],
      ['11.0.0.7:80', /outside/],
    ] as const) {
      const r = await post('/v1/vips', { vip: spec });
      t.equal(r.status, 400, `POST /v1/vips ${spec}: ${r.body.error}`);
      t.match(r.body.error, why);
      const s = await post('/v1/services', { service: 'x', addrs: ['10.8.0.9'], vips: [`${spec}->80`] });
      t.equal(s.status, 400, `POST /v1/services binding ${spec}: ${s.body.error}`);
    }
    // Accepted VIPs get a proxy listener: on a port free on every address.
    const vport = await freePort();
    t.equal(
      (await post('/v1/vips', { vip: `10.98.0.7:${vport}` })).status,
      201,
      'an address in lb.vipAllow is accepted',
    );
    t.equal((await post('/v1/vips', { vip: `198.18.0.77:${vport}` })).status, 201, 'and one in lb.vipCidr');
    const cli = await runCli(['vip', 'add', '169.254.169.254:80'], { WEFT_API: api });
    t.equal(cli.code, 1);
    t.match(cli.stderr, /169\.254\.169\.254 is a link-local address/, `the CLI says why: ${cli.stderr.trim()}`);
    const vips = (await (await fetch(`${api}/v1/vips`)).json()) as Vips;
    t.same(vips.vips.map((v) => v.vip).sort(), ['10.98.0.7', '198.18.0.77'], 'nothing refused was stored');
    // The agent still answers on its own address.
    t.equal((await fetch(`${api}/v1/health`)).status, 200);
  },
);

t.test(
  "a VIP added later never takes an existing VIP's address: eta after zeta in a full /29 (issue 12, item 10)",
  async (t) => {
    const { vipAddressMoved } = await import('../bench/hostile/vip.js');
    const r = await vipAddressMoved({ smoke: true });
    t.ok(r.held, r.detail ?? r.name);
    t.equal(r.figures?.vip_addresses_moved, 0);
  },
);

t.test(
  'IPv6 VIPs through the API: inside lb.vipCidr6 accepted, hostile ones refused with 400 and a reason (issue 15)',
  async (t) => {
    const a = await startAgent(t, [
      '--node',
      'v6',
      '--bind',
      '127.0.8.61',
      '--bind-port',
      '0',
      '--proxy-cidr',
      '127.206.0.0/16',
      '--vip-cidr6',
      'fd00:5::/64',
    ]);
    const api = a.ready.api!;
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${api}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      return { status: r.status, body: (await r.json()) as { error?: string } };
    };
    for (const [spec, why] of [
      ['[fe80::1]:80', /link-local/],
      ['[ff02::1]:80', /multicast/],
      ['[::1]:22', /loopback/],
      ['[::]:22', /unspecified/],
      ['[::ffff:198.18.0.5]:80', /IPv4-mapped/],
      ['[fd00:5::]:80', /subnet-router anycast address of lb\.vipCidr6/],
      ['[fd00:6::1]:80', /outside lb\.vipCidr \(198\.18\.0\.0\/15\), lb\.vipCidr6 \(fd00:5::\/64\)/],
    ] as const) {
      const r = await post('/v1/vips', { vip: spec });
      t.equal(r.status, 400, `POST /v1/vips ${spec}: ${r.body.error}`);
      t.match(r.body.error, why);
    }
    const vport = await freePort(); // accepted VIPs get a proxy listener
    t.equal(
      (await post('/v1/vips', { vip: `[fd00:5::9]:${vport}` })).status,
      201,
      'an address in lb.vipCidr6 is accepted',
    );
    t.equal((await post('/v1/vips', { vip: `web:${vport}` })).status, 201);
    const vips = async () => (await (await fetch(`${api}/v1/vips`)).json()) as Vips & { vipCidr6?: string };
    await eventually('both VIPs are up', async () => (await vips()).vips.length === 2, 10_000, 50);
    const v = await vips();
    t.equal(v.vipCidr6, 'fd00:5::/64');
    t.match(v.vips.find((x) => x.vip === 'web')?.addr6, /^fd00:5::/, 'the name has an IPv6 address too');
    t.same(v.vips.map((x) => x.vip).sort(), ['fd00:5::9', 'web'], 'nothing refused was stored');
  },
);

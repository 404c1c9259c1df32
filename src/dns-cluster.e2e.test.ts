// DNS across agents: a service registered at one node resolves at another, through that
// node's own DNS server; when its node is killed it stops resolving there within the
// failure-detection bound, with no write by anyone.
import t from 'tap';
import { Resolver } from 'node:dns/promises';
import { startAgent, type AgentProcess, FAST_GOSSIP_FLAGS as FAST } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

// Suspicion at 3 nodes with these timings lasts ~1-2 s; add probing and gossip, and room for a loaded machine.
const DETECT_BOUND_MS = 10_000;

function resolverAt(a: AgentProcess): Resolver {
  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([a.ready.dns!]);
  return r;
}

const resolves = async (r: Resolver, name: string): Promise<string[]> => {
  try {
    return (await r.resolve4(name)).sort();
  } catch {
    return [];
  }
};

t.test('a service at node A resolves at node B until A dies', async (t) => {
  const a = await startAgent(t, ['--node', 'da', '--bind', '127.0.7.1', '--bind-port', '0', ...FAST]);
  const b = await startAgent(t, [
    '--node',
    'db',
    '--bind',
    '127.0.7.2',
    '--bind-port',
    '0',
    '--join',
    a.ready.gossip!,
    ...FAST,
  ]);
  const c = await startAgent(t, [
    '--node',
    'dc',
    '--bind',
    '127.0.7.3',
    '--bind-port',
    '0',
    '--join',
    a.ready.gossip!,
    ...FAST,
  ]);
  const post = (x: AgentProcess, body: unknown) =>
    fetch(`${x.ready.api}/v1/services`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  t.equal((await post(a, { service: 'api', id: 'a1', addrs: ['10.7.0.1'], ports: { http: '8080' } })).status, 201);
  t.equal((await post(c, { service: 'api', id: 'c1', addrs: ['10.7.0.3'], ports: { http: '8080' } })).status, 201);

  const rb = resolverAt(b);
  const ms = await eventually(
    'api resolves at B to both endpoints',
    async () => (await resolves(rb, 'api.svc.weft.internal')).join() === '10.7.0.1,10.7.0.3',
    10_000,
    50,
  );
  t.pass(`api.svc.weft.internal resolved at B to A's and C's endpoints ${ms} ms after registration`);
  t.same(await resolves(rb, 'da.node.weft.internal'), ['127.0.7.1'], 'node names resolve');
  const srv = await rb.resolveSrv('_http._tcp.api.svc.weft.internal');
  t.same(srv.map((s) => s.port).sort(), [8080, 8080], 'SRV carries the named port of both endpoints');

  const killedAt = Date.now();
  a.proc.kill('SIGKILL');
  await eventually(
    "A's endpoint leaves B's answers",
    async () => (await resolves(rb, 'api.svc.weft.internal')).join() === '10.7.0.3',
    DETECT_BOUND_MS,
    50,
  );
  t.pass(`A's endpoint left B's answers ${Date.now() - killedAt} ms after kill -9 (bound ${DETECT_BOUND_MS} ms)`);
  t.same(await resolves(rb, 'da.node.weft.internal'), [], "the dead node's own name is gone too");
  await t.rejects(rb.resolve4('da.node.weft.internal'), { code: 'ENOTFOUND' }, 'as NXDOMAIN');
});

// The whole path, with a real Docker engine: a labelled container becomes an endpoint in
// the agent's store through the registrar, and another container resolves it with busybox
// nslookup through the agent's DNS on the network's gateway; when it stops, the name goes.
import t from 'tap';
import { startAgent } from '../test/helpers/agent-process.js';
import { dockerSkip, startDocker } from '../test/helpers/docker.js';
import { eventually } from '../test/helpers/eventually.js';

const SUBNET = '10.231.7';

t.test('a container resolves another through the agent', { skip: dockerSkip() }, async (t) => {
  const engine = await startDocker(t);
  const net = 'weftnet';
  await engine.run(['network', 'create', '--subnet', `${SUBNET}.0/24`, '--gateway', `${SUBNET}.1`, net]);
  // The agent answers on the network's gateway, port 53, where containers can reach it.
  const agent = await startAgent(t, [
    '--node',
    'dk1',
    '--bind-port',
    '0',
    '--docker',
    'true',
    '--docker-socket',
    engine.socket,
    '--dns-listen',
    `${SUBNET}.1:53`,
  ]);
  t.match(agent.ready.dns, `${SUBNET}.1:53`);

  await engine.run([
    'run',
    '-d',
    '--init',
    '--name',
    'web1',
    '--network',
    net,
    '--ip',
    `${SUBNET}.10`,
    '--label',
    'weft.service=web',
    '--label',
    'weft.port.http=80',
    engine.image,
    'sleep',
    '600',
  ]);
  const services = async () =>
    (
      (await (await fetch(`${agent.ready.api}/v1/services`)).json()) as {
        services: { service: string; endpoints: { addrs: string[] }[] }[];
      }
    ).services;
  const ms = await eventually(
    'web registered from its label',
    async () => (await services()).some((s) => s.service === 'web'),
    15_000,
    50,
  );
  t.pass(`the registrar registered web ${ms} ms after docker run returned`);

  // nslookup exits 1 on NXDOMAIN; the shell keeps its output either way.
  const lookup = (name: string) =>
    engine.run(
      [
        'run',
        '--rm',
        '--network',
        net,
        '--dns',
        `${SUBNET}.1`,
        engine.image,
        'sh',
        '-c',
        `nslookup ${name} ${SUBNET}.1 2>&1; echo "exit=$?"`,
      ],
      { timeoutMs: 20_000 },
    );
  const found = await lookup('web.svc.weft.internal');
  t.match(
    found,
    new RegExp(`Address:?\\s+${SUBNET.replace(/\./g, '\\.')}\\.10`),
    `busybox nslookup in another container resolved web: ${found}`,
  );
  // Without naming a server: the container's resolver, set by --dns, reaches the agent.
  const viaResolvConf = await engine.run(
    [
      'run',
      '--rm',
      '--network',
      net,
      '--dns',
      `${SUBNET}.1`,
      engine.image,
      'sh',
      '-c',
      'nslookup web.svc.weft.internal 2>&1; echo "exit=$?"',
    ],
    { timeoutMs: 20_000 },
  );
  t.match(
    viaResolvConf,
    new RegExp(`Address:?\\s+${SUBNET.replace(/\./g, '\\.')}\\.10[\\s\\S]*exit=0`),
    `through --dns alone: ${viaResolvConf}`,
  );
  const srv = await engine
    .run([
      'run',
      '--rm',
      '--network',
      net,
      engine.image,
      'nslookup',
      '-type=SRV',
      '_http._tcp.web.svc.weft.internal',
      `${SUBNET}.1`,
    ])
    .catch((e: Error) => e.message);
  t.match(srv, /service = \d+ \d+ 80 e[0-9a-f]+\.web\.svc\.weft\.internal/, `SRV answer for the labelled port: ${srv}`);

  await engine.run(['stop', 'web1']);
  await eventually(
    'web gone after docker stop',
    async () => !(await services()).some((s) => s.service === 'web'),
    15_000,
    50,
  );
  const gone = await lookup('web.svc.weft.internal');
  t.match(
    gone,
    /can't find web\.svc\.weft\.internal: NXDOMAIN[\s\S]*exit=1/,
    `after docker stop the agent answers NXDOMAIN: ${gone}`,
  );
});

import t from 'tap';
import { dockerNetworkArgs, dockerNetworkPlan, planDockerNetwork } from './docker.js';

t.test('the Docker network on the lease: weft bridge, subnet, gateway .1, VXLAN MTU, no masquerade', async (t) => {
  const plan = dockerNetworkPlan({ subnet: '10.42.7.0/24', bridge: 'weft0', mtu: 1450 });
  t.match(plan, {
    Name: 'weft',
    Driver: 'bridge',
    IPAM: { Config: [{ Subnet: '10.42.7.0/24', Gateway: '10.42.7.1' }] },
    Options: {
      'com.docker.network.bridge.name': 'weft0',
      'com.docker.network.driver.mtu': '1450',
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
    },
  });
  t.same(dockerNetworkArgs(plan), [
    'network',
    'create',
    '--driver',
    'bridge',
    '--attachable',
    '--subnet',
    '10.42.7.0/24',
    '--gateway',
    '10.42.7.1',
    '--opt',
    'com.docker.network.bridge.name=weft0',
    '--opt',
    'com.docker.network.driver.mtu=1450',
    '--opt',
    'com.docker.network.bridge.enable_ip_masquerade=false',
    '--label',
    'weft.overlay.subnet=10.42.7.0/24',
    'weft',
  ]);
  t.throws(() => dockerNetworkPlan({ subnet: '10.42.7.1/24', bridge: 'weft0', mtu: 1450 }), /not an IPv4 prefix/);
});

t.test(
  'the network plan: created when missing, left when in line, moved with its containers, foreign left alone',
  async (t) => {
    const want = dockerNetworkPlan({ subnet: '172.16.3.0/24', bridge: 'weft0', mtu: 1450 });
    const held = (subnet: string, labels: Record<string, string> = { 'weft.overlay.subnet': subnet }) => ({
      id: 'n1',
      subnet,
      gateway: subnet.replace('.0/24', '.1'),
      options: { ...want.Options },
      labels,
      containers: [
        { id: 'c1', name: 'a' },
        { id: 'c2', name: 'b' },
      ],
    });
    t.same(planDockerNetwork(want, undefined), { verdict: 'missing', steps: [{ kind: 'create', plan: want }] });
    t.same(planDockerNetwork(want, held('172.16.3.0/24')), { verdict: 'in-line', steps: [] });
    t.same(planDockerNetwork(want, held('172.16.9.0/24')).steps, [
      { kind: 'disconnect', network: 'n1', container: 'c1' },
      { kind: 'disconnect', network: 'n1', container: 'c2' },
      { kind: 'remove', network: 'n1' },
      { kind: 'create', plan: want },
      { kind: 'connect', container: 'c1' },
      { kind: 'connect', container: 'c2' },
    ]);
    const otherMtu = {
      ...held('172.16.3.0/24'),
      options: { ...want.Options, 'com.docker.network.driver.mtu': '1500' },
    };
    t.equal(planDockerNetwork(want, otherMtu).verdict, 'moved', 'an MTU change recreates it too');
    t.same(planDockerNetwork(want, held('172.16.9.0/24', {})), { verdict: 'foreign', steps: [] });
  },
);

t.test('a lost lease withdraws the network; its containers come back on the next lease', async (t) => {
  const want = dockerNetworkPlan({ subnet: '172.16.3.0/24', bridge: 'weft0', mtu: 1450 });
  const held = (
    subnet: string,
    containers: string[],
    labels: Record<string, string> = { 'weft.overlay.subnet': subnet },
  ) => ({
    id: 'n1',
    subnet,
    gateway: subnet.replace('.0/24', '.1'),
    options: { ...want.Options },
    labels,
    containers: containers.map((id) => ({ id, name: `name-${id}` })),
  });
  t.same(planDockerNetwork('withdraw', held('172.16.9.0/24', ['c1', 'c2'])), {
    verdict: 'withdrawn',
    steps: [
      { kind: 'disconnect', network: 'n1', container: 'c1' },
      { kind: 'disconnect', network: 'n1', container: 'c2' },
      { kind: 'remove', network: 'n1' },
    ],
  });
  t.same(planDockerNetwork('withdraw', undefined), { verdict: 'withdrawn', steps: [] }, 'nothing left to withdraw');
  t.same(planDockerNetwork('withdraw', held('172.16.9.0/24', ['c1'], {})), { verdict: 'foreign', steps: [] });
  t.same(
    planDockerNetwork(want, undefined, ['c1', 'c2']).steps,
    [
      { kind: 'create', plan: want },
      { kind: 'connect', container: 'c1' },
      { kind: 'connect', container: 'c2' },
    ],
    'a lease back: created and the parked containers connected',
  );
  t.same(
    planDockerNetwork(want, held('172.16.3.0/24', ['c1']), ['c1', 'c2']),
    { verdict: 'in-line', steps: [{ kind: 'connect', container: 'c2' }] },
    'a parked container already attached is not connected twice',
  );
  t.same(
    planDockerNetwork(want, held('172.16.9.0/24', ['c1']), ['c2']).steps.filter((s) => s.kind === 'connect'),
    [
      { kind: 'connect', container: 'c1' },
      { kind: 'connect', container: 'c2' },
    ],
    'a move puts back both its own containers and the parked ones',
  );
});

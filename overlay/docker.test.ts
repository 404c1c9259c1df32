import t from 'tap';
import { dockerNetworkArgs, dockerNetworkPlan } from './docker.js';

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

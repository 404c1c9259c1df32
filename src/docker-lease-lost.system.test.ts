// The Docker network `weft` when the lease is lost and no subnet is free (issue 15: "If the
// lease changes it is moved, with the containers on it reconnected or clearly reported"),
// with everything real: two host namespaces on one underlay, a private dockerd and an
// agent on host 1, an agent without Docker on host 2.
//
// The cluster CIDR holds one subnet. Host 2 starts alone and claims it; host 1 starts
// alone later, claims it too, makes the weft network and runs a container on it. When
// host 1 joins, host 2's earlier claim wins and host 1 has nothing left to claim: its
// container's address now lies in host 2's subnet. The agent must take the container off
// and remove the network (a new `docker run --network weft` then fails rather than take
// host 2's addresses), say so, and put the container back once a subnet is free again:
// here when host 2 is killed and force-left, which drops its claim. A second container,
// removed while it was off, cannot be put back: that one is reported as not reconnected.
import t, { type Test } from 'tap';
import type { DockerEngine } from '../test/helpers/docker.js';
import {
  containerAddr,
  dockerHostsSkip,
  onDockerHosts,
  type DockerHosts,
  inSubnet,
  leaseOf,
  overlayOf,
  runService,
  weftCli as weft,
  weftNetwork,
} from '../test/helpers/docker-hosts.js';
import { sh, type Host } from '../test/helpers/hosts.js';
import { eventually } from '../test/helpers/eventually.js';

const BOUND_MS = 90_000;
t.setTimeout(300_000);

/** One /24: a node that loses it has nothing else to claim. */
const CIDR = '172.16.12.0/24';
const OVERLAY_FLAGS = ['--overlay-cidr', CIDR, '--overlay-subnet-prefix', '24'];

t.test(
  'a lease lost with no subnet free takes the containers off, and a freed subnet puts them back',
  { skip: dockerHostsSkip() },
  (t) => onDockerHosts(t, 2, { engines: 1, agents: false }, scenario),
);

async function scenario(t: Test, f: DockerHosts): Promise<void> {
  const [h1, h2] = f.hosts.hosts as [Host, Host];
  const engine = f.engines[0] as DockerEngine;
  f.startAgent(h2, { join: false, extra: OVERLAY_FLAGS });
  t.equal(await leaseOf(h2, BOUND_MS), CIDR, `host 2 claimed ${CIDR}`);
  let log = '';
  f.startAgent(h1, { join: false, extra: OVERLAY_FLAGS }).stdout!.on('data', (d: Buffer) => (log += d.toString()));
  t.equal(await leaseOf(h1, BOUND_MS), CIDR, 'host 1 claimed it too, while apart');
  const net = (await f.networks(BOUND_MS))[0]!;
  const before = await runService(engine, 'web-a', net.gateway);
  t.ok(inSubnet(before, CIDR), `web-a is at ${before}`);
  await runService(engine, 'web-b', net.gateway);

  // Together: host 2's earlier claim wins and host 1 has no subnet left.
  await weft(h1, 'join', `${h2.underlay}:7946`);
  await eventually('host 1 has no subnet', async () => (await overlayOf(h1))?.state === 'exhausted', BOUND_MS, 200); // prettier-ignore
  await eventually('the weft network is gone from host 1', async () => (await weftNetwork(engine)) === undefined, BOUND_MS, 200); // prettier-ignore
  t.match(
    await containerAddr(engine, 'web-a'),
    /^(<no value>)?$/,
    "web-a holds no address of host 2's subnet any more",
  );
  t.match((await overlayOf(h1))?.docker, { verdict: 'withdrawn', parked: ['web-a', 'web-b'] }, 'the API names the container taken off'); // prettier-ignore
  t.match(await weft(h1, 'overlay'), /docker network weft: withdrawn;.*taken off until a subnet is free: web-a web-b/, 'weft overlay says so'); // prettier-ignore
  t.match(log, /no subnet held .*: Docker network removed and its containers taken off until a lease returns/, 'and the log'); // prettier-ignore
  t.same(await overlayRoutes(h1), { gateway: [], routes: [] }, "host 1 holds no overlay address and no route to host 2's subnet"); // prettier-ignore
  const refused = await engine.run(['run', '--rm', '--network', 'weft', engine.image, 'true']).then(() => '', (e: Error) => e.message); // prettier-ignore
  t.match(refused, /network weft not found/, 'a new container cannot take an address on the lost subnet');

  await engine.run(['rm', '-f', 'web-b']);

  // Host 2 dies and is force-left: its claim is dropped, host 1 claims the subnet again.
  f.agents[1]!.kill('SIGKILL');
  await eventually('host 2 is force-left', async () => {
    return weft(h1, 'force-leave', 'dh2').then(() => true, () => false); // refused while host 2 is not yet dead
  }, BOUND_MS, 500); // prettier-ignore
  t.equal(await leaseOf(h1, BOUND_MS), CIDR, 'host 1 holds the subnet again');
  let after = '';
  await eventually('web-a is back on the weft network', async () => {
    after = await containerAddr(engine, 'web-a').catch(() => '');
    return after !== '' && after !== '<no value>' && inSubnet(after, CIDR);
  }, BOUND_MS, 200); // prettier-ignore
  t.pass(`web-a is back at ${after}`);
  t.same(await overlayRoutes(h1), { gateway: ['172.16.12.1'], routes: [] }, 'the gateway is back on the bridge');
  t.match((await overlayOf(h1))?.docker, { verdict: 'in-line', containers: 1, parked: [], notReconnected: ['web-b'] }, 'web-b, removed meanwhile, is reported, and nothing is left taken off'); // prettier-ignore
}

/** Host h's IPv4 addresses on the bridge, and its routes through the VXLAN device. */
async function overlayRoutes(h: Host): Promise<{ gateway: string[]; routes: string[] }> {
  const addrs = JSON.parse(await sh('ip', ['-n', h.ns, '-j', '-4', 'addr', 'show', 'dev', 'weft0'])) as { addr_info: { local: string }[] }[]; // prettier-ignore
  const routes = JSON.parse(await sh('ip', ['-n', h.ns, '-j', '-4', 'route', 'show', 'dev', 'weft.vx'])) as { dst: string }[]; // prettier-ignore
  return { gateway: addrs.flatMap((a) => a.addr_info.map((i) => i.local)), routes: routes.map((r) => r.dst) };
}

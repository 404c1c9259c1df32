// The Docker network `weft` follows a lease that moves (issue 15: "If the lease changes it
// is moved, with the containers on it reconnected or clearly reported"), with everything
// real: two host namespaces on one underlay (test/helpers/hosts.ts), a private dockerd
// (iptables on) and an agent on host 1, an agent without Docker on host 2.
//
// How the lease moves (overlay/lease.ts): the cluster CIDR holds two subnets, and host 2's
// node name is picked so that both nodes try the same subnet first. Host 2 starts alone
// and claims it; host 1 starts alone a moment later and claims it too (later claimedAt),
// makes the weft network on it and runs a container there. Then host 1 joins host 2: the
// earlier claim wins, host 1 claims the other subnet, and its agent must move the network
// and put the container back on it with an address in the new subnet, reachable from
// host 2's "container" across the overlay.
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
import type { Host } from '../test/helpers/hosts.js';
import { eventually } from '../test/helpers/eventually.js';
import { probeOrder } from '../overlay/lease.js';

const BOUND_MS = 90_000;
t.setTimeout(300_000);

/** Two /24s: a node that loses its subnet has exactly one other to claim. */
const CIDR = '172.16.8.0/23';
const OVERLAY_FLAGS = ['--overlay-cidr', CIDR, '--overlay-subnet-prefix', '24'];

/** A node name for host 2 that tries first the subnet dh1 tries first (so their claims collide). */
function collidingName(): string {
  const first = (n: string) => probeOrder(n, 2).next().value;
  for (let i = 0; ; i++) if (first(`dh2-${i}`) === first('dh1')) return `dh2-${i}`;
}

t.test('a lease that moves takes the weft network and its containers along', { skip: dockerHostsSkip() }, (t) =>
  onDockerHosts(t, 2, { engines: 1, agents: false }, scenario),
);

async function scenario(t: Test, f: DockerHosts): Promise<void> {
  const [h1, h2] = f.hosts.hosts as [Host, Host];
  const engine = f.engines[0] as DockerEngine;
  f.startAgent(h2, { node: collidingName(), join: false, extra: OVERLAY_FLAGS });
  const first = await leaseOf(h2, BOUND_MS);
  let log = '';
  f.startAgent(h1, { join: false, extra: OVERLAY_FLAGS }).stdout!.on('data', (d: Buffer) => (log += d.toString()));
  t.equal(await leaseOf(h1, BOUND_MS), first, `both nodes claimed ${first} while apart`);
  const net = (await f.networks(BOUND_MS))[0]!;
  const before = await runService(engine, 'web-a', net.gateway);
  t.ok(inSubnet(before, first), `web-a is at ${before}, in ${first}`);

  // Together: host 2's earlier claim wins, host 1 moves to the other subnet.
  await weft(h1, 'join', `${h2.underlay}:7946`);
  let moved = '';
  await eventually('host 1 holds the other subnet', async () => {
    moved = (await overlayOf(h1))?.lease?.subnet ?? first;
    return moved !== first;
  }, BOUND_MS, 200); // prettier-ignore
  t.ok(inSubnet(moved.replace(/\/\d+$/, ''), CIDR), `host 1 moved to ${moved}`);
  await eventually('the weft network is on the new subnet', async () => {
    const n = await weftNetwork(engine);
    return n !== undefined && n.id !== net.id && inSubnet(n.gateway, moved);
  }, BOUND_MS, 200); // prettier-ignore
  let after = '';
  await eventually('web-a is back on the weft network in the new subnet', async () => {
    after = await containerAddr(engine, 'web-a').catch(() => '');
    return after !== '' && after !== '<no value>' && inSubnet(after, moved);
  }, BOUND_MS, 200); // prettier-ignore
  t.pass(`web-a moved from ${before} to ${after}`);
  // Reported: the API's count, `weft overlay`'s line and the log.
  t.match((await overlayOf(h1))?.docker, { subnet: moved, containers: 1, moved: 1, notReconnected: [] }, 'the API counts the move'); // prettier-ignore
  t.match(await weft(h1, 'overlay'), /docker network weft: in-line; subnet .*; 1 container\(s\); moved with the lease 1 time/, 'weft overlay says so'); // prettier-ignore
  t.match(log, /the lease moved: Docker network recreated on the new subnet and its containers reconnected/, 'and the log'); // prettier-ignore
  await reachesAcross(t, engine, h2, first);
}

/** web-a, on its new address, and a "container" on host 2's bridge reach each other over the overlay. */
async function reachesAcross(t: Test, engine: DockerEngine, h2: Host, subnet2: string): Promise<void> {
  const base = subnet2.replace(/\.0\/24$/, '');
  const c = await h2.addContainer({ bridge: 'weft0', addr: `${base}.2`, len: 24, gateway: `${base}.1`, mtu: 1400 });
  await eventually('web-a pings the container on host 2', async () => {
    const out = await engine.run(['exec', 'web-a', 'ping', '-c', '1', '-W', '1', c.addr], { timeoutMs: 10_000 }).catch(() => ''); // prettier-ignore
    return out.includes('1 packets received');
  }, BOUND_MS, 200); // prettier-ignore
  t.pass(`web-a reaches ${c.addr} on host 2 across the overlay from its new address`);
}

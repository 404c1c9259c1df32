// The Docker network `weft` on the overlay, with everything real: three host namespaces on
// one underlay (test/helpers/hosts.ts), a private dockerd in each (iptables on, inside the
// namespace) and a `weft agent --overlay true --docker true` in each. The agents make the
// network on their lease; `docker run --network weft` containers on host 1 reach those on
// hosts 2 and 3 by address, by <service>.svc.weft.internal (the registrar's records, asked
// through Docker's embedded DNS forwarding to the agent on the gateway) and by VIP through
// the nft datapath. A killed host's endpoints leave DNS; a restarted agent changes nothing.
import t, { type Test } from 'tap';
import { sh, type Host } from '../test/helpers/hosts.js';
import type { DockerEngine } from '../test/helpers/docker.js';
import {
  ask,
  containerAddr,
  dockerHostsSkip,
  onDockerHosts,
  runService,
  weftNetwork,
  type DockerHosts,
} from '../test/helpers/docker-hosts.js';
import { eventually } from '../test/helpers/eventually.js';

// Ceilings, not expectations: three dockerds and agents on a loaded 2-core machine start slowly.
const BOUND_MS = 90_000;

// Three dockerds on vfs and three agents: minutes on a loaded 2-core machine, not 30 s.
t.setTimeout(480_000);

t.test(
  'docker run --network weft on three hosts: reach by address, name and VIP; a dead host leaves; a restart changes nothing',
  { skip: dockerHostsSkip() },
  async (t) => {
    const t0 = Date.now();
    await onDockerHosts(t, 3, {}, scenario);
    t.comment(`wall time ${Date.now() - t0} ms`);
  },
);

const NAMES = ['web-a', 'web-b', 'web-c'];

/** Reaches web-b and web-c from web-a by address and name, and the three through the VIP. */
async function reachAll(t: Test, a: DockerEngine, ips: string[]): Promise<void> {
  for (const i of [1, 2]) {
    const n = NAMES[i]!;
    await eventually(`web-a reaches ${n} by address`, async () => (await ask(a, 'web-a', ips[i]!)) === n, BOUND_MS, 200); // prettier-ignore
    await eventually(`web-a reaches ${n} by name`, async () => (await ask(a, 'web-a', `${n}.svc.weft.internal`)) === n, BOUND_MS, 200); // prettier-ignore
  }
  t.pass('web-a reaches web-b and web-c by address and by <service>.svc.weft.internal');
  const seen = new Set<string>();
  await eventually('the VIP web:7000 answers from every backend', async () => {
    seen.add(await ask(a, 'web-a', 'web.vip.weft.internal'));
    return NAMES.every((n) => seen.has(n));
  }, BOUND_MS, 100); // prettier-ignore
  t.pass('web.vip.weft.internal reaches all three backends through the nft datapath');
}

const dig = (h: Host, name: string) =>
  sh('ip', ['netns', 'exec', h.ns, 'dig', '+short', `@${h.underlay}`, '-p', '8600', name]).catch(() => 'error');

async function scenario(t: Test, f: DockerHosts): Promise<void> {
  const { engines, agents } = f;
  const hosts = f.hosts.hosts;
  const t0 = Date.now();
  const nets = await f.networks(BOUND_MS);
  t.comment(`networks made: ${Date.now() - t0} ms into the scenario`);
  t.equal(new Set(nets.map((n) => n.gateway)).size, 3, `three gateways: ${nets.map((n) => n.gateway).join(' ')}`);
  const [a, b] = engines as [DockerEngine, DockerEngine, DockerEngine];
  // Deleted by hand on host 2: the agent makes it again (on its periodic pass).
  await b.run(['network', 'rm', 'weft']);
  const again = await eventually('host 2 has a weft network again', async () => {
    const n = await weftNetwork(b);
    return n !== undefined && n.id !== nets[1]!.id && n.gateway === nets[1]!.gateway;
  }, BOUND_MS, 200); // prettier-ignore
  t.pass(`a deleted weft network is back on the same subnet ${again} ms later`);
  const ips = await Promise.all(engines.map((e, i) => runService(e, NAMES[i]!, nets[i]!.gateway)));
  t.pass(`containers at ${ips.join(' ')}`);
  await reachAll(t, a, ips);

  // Host 3 dies: its agent and its containers.
  agents[2]!.kill('SIGKILL');
  await engines[2]!.stopDaemon();
  await eventually('web-c left DNS on hosts 1 and 2', async () => {
    const out = await Promise.all(hosts.slice(0, 2).map((h) => dig(h, 'web-c.svc.weft.internal')));
    return out.every((o) => o.trim() === '');
  }, BOUND_MS, 200); // prettier-ignore
  t.pass("host 3's endpoints left DNS on hosts 1 and 2");

  // Host 1's agent restarts: the network and the container's address stay, and it still works.
  agents[0]!.kill('SIGTERM');
  await new Promise((r) => agents[0]!.once('exit', r));
  // SIGTERM is not a leave: host 2 keeps host 1's route while host 1's agent is down.
  await eventually('web-b reaches web-a while host 1’s agent is down', async () => (await ask(b, 'web-b', ips[0]!)) === 'web-a', 10_000, 200); // prettier-ignore
  t.pass('web-b reaches web-a while host 1’s agent is down');
  f.startAgent(hosts[0]!);
  await eventually('the restarted agent answers DNS', async () => (await dig(hosts[0]!, 'web-b.svc.weft.internal')).trim() === ips[1], BOUND_MS, 200); // prettier-ignore
  t.same(await weftNetwork(a), nets[0], 'the weft network was not recreated');
  t.comment(`restarted: ${Date.now() - t0} ms into the scenario`);
  t.equal(await containerAddr(a, 'web-a'), ips[0], 'web-a kept its address');
  const back = await eventually('web-b reaches web-a again', async () => (await ask(b, 'web-b', ips[0]!)) === 'web-a', BOUND_MS, 200); // prettier-ignore
  t.pass(`web-b reaches web-a at the same address ${back} ms after the restarted agent answered DNS`);
  // The DNS on the gateway is the restarted agent's new server, bound after its first overlay pass.
  await eventually('web-a reaches web-b by name again', async () => (await ask(a, 'web-a', 'web-b.svc.weft.internal')) === 'web-b', BOUND_MS, 200); // prettier-ignore
  t.pass('web-a reaches web-b by name through the restarted agent');
}

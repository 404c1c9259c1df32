// The Docker network `weft` on the overlay, with everything real: three host namespaces on
// one underlay (test/helpers/hosts.ts), a private dockerd in each (iptables on, inside the
// namespace) and a `weft agent --overlay true --docker true` in each. The agents make the
// network on their lease; `docker run --network weft` containers on host 1 reach those on
// hosts 2 and 3 by address, by <service>.svc.weft.internal (the registrar's records, asked
// through Docker's embedded DNS forwarding to the agent on the gateway) and by VIP through
// the nft datapath. A killed host's endpoints leave DNS; a restarted agent changes nothing.
import t, { type Test } from 'tap';
import { CLI, FAST_GOSSIP_FLAGS as FAST } from '../test/helpers/agent-process.js';
import { Hosts, sh, type Host } from '../test/helpers/hosts.js';
import { dockerSkip, startDocker, type DockerEngine } from '../test/helpers/docker.js';
import { eventually } from '../test/helpers/eventually.js';
import { AGENT_NODE_FLAGS } from './node-flags.js';

// Ceilings, not expectations: three dockerds and agents on a loaded 2-core machine start slowly.
const BOUND_MS = 90_000;
const PORT = '7000';

/** The end of each agent's log, for failure messages. */
const logs = new Map<number, string>();

function startAgent(hosts: Hosts, h: Host, engine: DockerEngine) {
  // hermetic: each agent runs in its own host namespace, so the default ports are its own
  const p = hosts.spawnIn(h.ns, process.execPath, [
    ...AGENT_NODE_FLAGS,
    CLI,
    'agent',
    '--node',
    `dh${h.index}`,
    '--bind',
    h.underlay,
    // hermetic: this host namespace's own gossip port
    '--bind-port',
    '7946',
    '--api-addr',
    h.underlay,
    // hermetic: this host namespace's own DNS address
    '--dns-listen',
    `${h.underlay}:8600`,
    '--docker-socket',
    engine.socket,
    '--lb-datapath',
    'nft',
    '--overlay',
    'true',
    '--log-format',
    'json',
    '--insecure', // the test's own namespaces: no keys or token needed
    ...(h.index > 1 ? ['--join', `${hosts.hosts[0]!.underlay}:7946`] : []),
    ...FAST,
  ]);
  const keep = (d: Buffer) => logs.set(h.index, ((logs.get(h.index) ?? '') + d.toString()).slice(-2500));
  p.stdout!.on('data', keep);
  p.stderr!.on('data', keep);
  return p;
}

/** The weft network's id and gateway on an engine, once the agent made it. */
async function weftNetwork(engine: DockerEngine): Promise<{ id: string; gateway: string } | undefined> {
  const out = await engine
    .run(['network', 'inspect', 'weft', '-f', '{{.Id}} {{(index .IPAM.Config 0).Gateway}}'])
    .catch(() => '');
  const [id, gateway] = out.split(' ');
  return id && gateway ? { id, gateway } : undefined;
}

/** A container on the weft network answering its name on PORT (busybox nc), labelled as service `svc`. */
async function runService(engine: DockerEngine, name: string, gateway: string): Promise<string> {
  await engine.run([
    'run', '-d', '--init', '--network', 'weft', '--dns', gateway, '--name', name, '--hostname', name,
    '--label', `weft.service=${name}`, '--label', `weft.port.echo=${PORT}/tcp`, '--label', `weft.vip=web:${PORT}`,
    engine.image, 'nc', '-ll', '-p', PORT, '-e', '/bin/hostname',
  ]); // prettier-ignore
  return engine.run(['inspect', name, '-f', '{{.NetworkSettings.Networks.weft.IPAddress}}']);
}

/** What a container's connection to `target`:PORT reads (the server's hostname), or '' on failure. */
const ask = (engine: DockerEngine, from: string, target: string) =>
  engine.run(['exec', from, 'timeout', '3', 'nc', target, PORT], { timeoutMs: 10_000 }).catch(() => '');

t.test(
  'docker run --network weft on three hosts: reach by address, name and VIP; a dead host leaves; a restart changes nothing',
  { skip: dockerSkip() || (process.getuid?.() !== 0 && 'needs root') },
  async (t) => {
    const t0 = Date.now();
    const hosts = await Hosts.create(3);
    t.teardown(() => hosts.destroy());
    const engines: DockerEngine[] = [];
    const explain = () => {
      for (const [i, l] of logs) t.comment(`agent ${i}'s log ends:\n${l}`);
      for (const [i, e] of engines.entries()) t.comment(`dockerd ${i + 1}'s log ends:\n${e.logTail(1500)}`);
    };
    await scenario(t, hosts, engines).catch((err: unknown) => {
      explain();
      throw err;
    });
    t.comment(`wall time ${Date.now() - t0} ms`);
  },
);

async function scenario(t: Test, hosts: Hosts, engines: DockerEngine[]): Promise<void> {
  {
    for (const h of hosts.hosts) engines.push(await startDocker(t, { netns: h.ns, iptables: true }));
    const agents = hosts.hosts.map((h, i) => startAgent(hosts, h, engines[i]!));
    const nets: { id: string; gateway: string }[] = [];
    await eventually(
      'every agent made the weft network on its lease',
      async () => {
        for (const [i, e] of engines.entries()) nets[i] ??= (await weftNetwork(e))!;
        return nets.filter(Boolean).length === 3;
      },
      BOUND_MS,
      200,
    );
    t.equal(new Set(nets.map((n) => n.gateway)).size, 3, `three gateways: ${nets.map((n) => n.gateway).join(' ')}`);
    const names = ['web-a', 'web-b', 'web-c'];
    const ips = await Promise.all(engines.map((e, i) => runService(e, names[i]!, nets[i]!.gateway)));
    t.pass(`containers at ${ips.join(' ')}`);

    const [a, b] = engines as [DockerEngine, DockerEngine, DockerEngine];
    for (const i of [1, 2]) {
      await eventually(
        `web-a reaches ${names[i]} by address`,
        async () => (await ask(a, 'web-a', ips[i]!)) === names[i],
        BOUND_MS,
        200,
      );
      await eventually(`web-a reaches ${names[i]} by name`, async () => (await ask(a, 'web-a', `${names[i]}.svc.weft.internal`)) === names[i], BOUND_MS, 200); // prettier-ignore
    }
    t.pass('web-a reaches web-b and web-c by address and by <service>.svc.weft.internal');
    const seen = new Set<string>();
    await eventually('the VIP web:7000 answers from every backend', async () => {
      seen.add(await ask(a, 'web-a', 'web.vip.weft.internal'));
      return names.every((n) => seen.has(n));
    }, BOUND_MS, 100); // prettier-ignore
    t.pass('web.vip.weft.internal reaches all three backends through the nft datapath');

    // Host 3 dies: its agent and its containers.
    agents[2]!.kill('SIGKILL');
    await engines[2]!.stopDaemon();
    const dig = (h: Host, name: string) =>
      sh('ip', ['netns', 'exec', h.ns, 'dig', '+short', `@${h.underlay}`, '-p', '8600', name]).catch(() => 'error');
    await eventually('web-c left DNS on hosts 1 and 2', async () => {
      const out = await Promise.all(hosts.hosts.slice(0, 2).map((h) => dig(h, 'web-c.svc.weft.internal')));
      return out.every((o) => o.trim() === '');
    }, BOUND_MS, 200); // prettier-ignore
    t.pass("host 3's endpoints left DNS on hosts 1 and 2");

    // Host 1's agent restarts: the network and the container's address stay, and it still works.
    agents[0]!.kill('SIGTERM');
    await new Promise((r) => agents[0]!.once('exit', r));
    agents[0] = startAgent(hosts, hosts.hosts[0]!, a);
    await eventually('the restarted agent answers DNS', async () => (await dig(hosts.hosts[0]!, 'web-b.svc.weft.internal')).trim() === ips[1], BOUND_MS, 200); // prettier-ignore
    t.same(await weftNetwork(a), nets[0], 'the weft network was not recreated');
    t.equal(await a.run(['inspect', 'web-a', '-f', '{{.NetworkSettings.Networks.weft.IPAddress}}']), ips[0]);
    t.equal(await ask(b, 'web-b', ips[0]!), 'web-a', 'web-b still reaches web-a');
    t.equal(await ask(a, 'web-a', 'web-b.svc.weft.internal'), 'web-b', 'web-a still reaches web-b by name');
  }
}

// The overlay with real agents: three "hosts" (network namespaces on one underlay segment,
// test/helpers/hosts.ts), a `weft agent --overlay true` in each replicating over the
// underlay, and a "container" on each host's weft0 bridge at an address of that host's
// leased subnet. Containers reach each other across hosts; when a host's agent is killed,
// its route leaves the other hosts.
import t from 'tap';
import { CLI, FAST_GOSSIP_FLAGS as FAST } from '../test/helpers/agent-process.js';
import { Hosts, type Container, type Host } from '../test/helpers/hosts.js';
import { skipUnless } from '../test/helpers/system.js';
import { eventually } from '../test/helpers/eventually.js';
import { AGENT_NODE_FLAGS } from './node-flags.js';

const BOUND_MS = 15_000;

/** The subnet's first address on the host's weft0, once the agent has leased and programmed it. */
async function bridgeAddr(h: Host): Promise<string | undefined> {
  const out = await h.ip('-j', 'addr', 'show', 'dev', 'weft0').catch(() => '[]');
  const info =
    (JSON.parse(out) as { addr_info?: { family: string; local: string; prefixlen: number }[] }[])[0]?.addr_info ?? [];
  const a = info.find((x) => x.family === 'inet');
  return a ? `${a.local}/${a.prefixlen}` : undefined;
}

t.test(
  'containers on three hosts reach each other over the overlay the agents program',
  { skip: skipUnless({ root: true, commands: ['ip', 'bridge'] }) },
  async (t) => {
    const hosts = await Hosts.create(3);
    t.teardown(() => hosts.destroy());
    const agents = hosts.hosts.map((h, i) =>
      // hermetic: each agent runs in its own host namespace, so the default ports are its own
      hosts.spawnIn(h.ns, process.execPath, [
        ...AGENT_NODE_FLAGS,
        CLI,
        'agent',
        '--node',
        `oh${i + 1}`,
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
        '--docker',
        'false',
        '--lb-datapath',
        'userspace',
        '--overlay',
        'true',
        '--log-format',
        'json',
        '--insecure', // the test's own namespaces: no keys or token needed
        ...(i > 0 ? ['--join', `${hosts.hosts[0]!.underlay}:7946`] : []),
        ...FAST,
      ]),
    );
    const gateways: string[] = [];
    const ms = await eventually(
      'every agent leased a subnet and put it on weft0',
      async () => {
        gateways.length = 0;
        for (const h of hosts.hosts) {
          const a = await bridgeAddr(h);
          if (!a) return false;
          gateways.push(a);
        }
        return new Set(gateways.map((g) => g.split('.').slice(0, 3).join('.'))).size === 3;
      },
      BOUND_MS,
      200,
    );
    t.pass(`three distinct subnets on weft0 after ${ms} ms: ${gateways.join(' ')}`);

    const containers: Container[] = [];
    for (const [i, h] of hosts.hosts.entries()) {
      const [gw, len] = gateways[i]!.split('/');
      const addr = gw!.replace(/\.\d+$/, '.10');
      containers.push(await h.addContainer({ bridge: 'weft0', addr, len: Number(len), gateway: gw!, mtu: 1450 }));
    }
    const allPairs = async () => {
      const results = await Promise.all(
        containers.flatMap((a) => containers.filter((b) => b !== a).map((b) => a.connect(b.addr, 500))),
      );
      return results.every(Boolean);
    };
    const reach = await eventually('every container reaches every other', allPairs, BOUND_MS, 200);
    t.pass(`TCP between containers on all 6 host pairs, ${reach} ms after they were attached`);

    // Host 3's agent dies: its route leaves hosts 1 and 2 (no write by anyone: the store's live view).
    const subnet3 = gateways[2]!.replace(/\.1\/(\d+)$/, '.0/$1');
    agents[2]!.kill('SIGKILL');
    const gone = await eventually(
      "host 3's route gone from hosts 1 and 2",
      async () => {
        const routes = await Promise.all(hosts.hosts.slice(0, 2).map((h) => h.ip('route', 'show')));
        return routes.every((r) => !r.includes(subnet3));
      },
      BOUND_MS,
      100,
    );
    t.pass(`host 3's route (${subnet3}) left hosts 1 and 2 ${gone} ms after its agent was killed`);
    t.ok(await containers[0]!.connect(containers[1]!.addr, 1000), 'hosts 1 and 2 still reach each other');
  },
);

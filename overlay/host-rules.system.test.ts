// System test (root, iproute2, VXLAN, nft, iptables) of the overlay's host rules
// (host-rules.ts), in namespaces: two hosts run the overlay driver with hostRules on, each
// with a "container" namespace on its bridge; a third namespace on the underlay, outside
// the cluster CIDR, stands for the world beyond the cluster. Each host namespace first gets
// the FORWARD chain dockerd 20.10 (iptables on) makes: policy DROP, a DOCKER-USER chain
// ending in RETURN, replies accepted, and new traffic accepted only from the bridge out.
//   - masquerade: a container's connection to the outside address arrives from the host's
//     underlay address. The outside namespace has a route back to the cluster CIDR through
//     host 1, so without the masquerade the connection still works and shows the
//     container's own address: the assertion, not a timeout, is what fails.
//   - inside the CIDR, a container's address reaches the other host's container unchanged.
//   - DOCKER-USER: host 2's container opens a connection to host 1's, which Docker's
//     FORWARD policy drops unless weft's accept rule is there.
//   - both rules come back after being deleted by hand (the periodic pass).
import t from 'tap';
import { Registry } from 'prom-client';
import { skipUnless } from '../test/helpers/system.js';
import { Hosts, sh, type Container, type Host } from '../test/helpers/hosts.js';
import { eventually } from '../test/helpers/eventually.js';
import { newStore, pipe } from '../test/helpers/dns.js';
import { hostAt, parsePrefix } from './cidr.js';
import { DEFAULTS } from './defaults.js';
import { OverlayDriver, type OverlayLog } from './driver.js';
import { dockerUserRule, MASQ_TABLE } from './host-rules.js';

const skip = skipUnless({ root: true, commands: ['ip', 'bridge', 'nft', 'iptables'] });
const EVERY_MS = 400;
const BOUND_MS = 20_000;
/** Where the "what address did you see me from" servers listen. */
const WHO_PORT = '7001';

const quiet: OverlayLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** The FORWARD chain dockerd 20.10 makes with iptables on, reduced to what decides overlay traffic. */
async function dockerForward(h: Host): Promise<void> {
  const ipt = (...a: string[]) => sh('ip', ['netns', 'exec', h.ns, 'iptables', '-w', ...a]);
  await ipt('-N', 'DOCKER-USER');
  await ipt('-A', 'DOCKER-USER', '-j', 'RETURN');
  await ipt('-P', 'FORWARD', 'DROP');
  await ipt('-A', 'FORWARD', '-j', 'DOCKER-USER');
  await ipt('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
  await ipt('-A', 'FORWARD', '-i', DEFAULTS.bridge, '!', '-o', DEFAULTS.bridge, '-j', 'ACCEPT');
}

/** A TCP server in `ns` that answers every connection with the peer address it sees. */
async function whoServer(f: Hosts, ns: string): Promise<void> {
  const js = `require('node:net').createServer((s) => s.end(s.remoteAddress)).listen(${WHO_PORT}, '0.0.0.0', () => console.log('ready'))`; // prettier-ignore
  const p = f.spawnIn(ns, process.execPath, ['-e', js]);
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    p.once('exit', (code) => reject(new Error(`who server in ${ns} exited ${code}`)));
  });
}

/** The address the who server at `addr` saw `from` connect from ('' when it could not connect). */
const seenFrom = (from: Container, addr: string) =>
  sh('ip', ['netns', 'exec', from.ns, '/bin/busybox', 'nc', '-w', '2', addr, WHO_PORT]).then((s) => s.trim(), () => ''); // prettier-ignore

t.test('the masquerade and the DOCKER-USER accept, in namespaces with Docker’s FORWARD chain', { skip }, async (t) => {
  const f = await Hosts.create(3);
  const [h1, h2, outside] = f.hosts as [Host, Host, Host];
  const drivers: OverlayDriver[] = [];
  t.teardown(async () => {
    for (const d of drivers) await d.stop();
    await f.destroy();
  });
  const stores = [newStore('m1'), newStore('m2')] as const;
  pipe(stores[0], stores[1]);
  pipe(stores[1], stores[0]);
  stores[0].setAlive(['m2']);
  stores[1].setAlive(['m1']);
  const containers: Container[] = [];
  for (const [i, h] of [h1, h2].entries()) {
    await dockerForward(h);
    const d = await OverlayDriver.start({
      store: stores[i]!,
      node: `m${i + 1}`,
      netns: h.ns,
      underlay: h.underlay,
      log: quiet,
      registry: new Registry(),
      reconcileEveryMs: EVERY_MS,
      hostRules: { setForwarding: true },
    });
    drivers.push(d);
    const p = parsePrefix(d.status().lease!.subnet)!;
    containers.push(await h.addContainer({ bridge: 'weft0', addr: hostAt(p, 2), len: p.len, gateway: hostAt(p, 1), mtu: 1450 })); // prettier-ignore
  }
  const [c1, c2] = containers as [Container, Container];
  t.match(drivers[0]!.status().hostRules, { masquerade: true, dockerUser: 'accepted', setForwarding: true });
  // The outside knows the way back to every container, so only the masquerade hides them.
  await outside.ip('route', 'add', DEFAULTS.cidr, 'via', h1.underlay);
  await whoServer(f, outside.ns);
  await whoServer(f, c2.ns);

  let seen = '';
  await eventually('host 1’s container reaches the outside', async () => (seen = await seenFrom(c1, outside.underlay)) !== '', BOUND_MS, 200); // prettier-ignore
  t.equal(seen, h1.underlay, `leaving the cluster CIDR, ${c1.addr} arrives as the host’s ${h1.underlay}`);
  await eventually('host 1’s container reaches host 2’s', async () => (seen = await seenFrom(c1, c2.addr)) !== '', BOUND_MS, 200); // prettier-ignore
  t.equal(seen, c1.addr, 'inside the cluster CIDR it keeps its own address');
  // Host 2 to host 1: a new connection forwarded to host 1's bridge, which Docker's FORWARD drops.
  await eventually('host 2’s container opens a connection to host 1’s', () => c2.connect(c1.addr), BOUND_MS, 200);
  t.pass('DOCKER-USER lets overlay traffic through Docker’s FORWARD policy');

  // Deleted by hand, both come back within a period.
  await sh('ip', ['netns', 'exec', h1.ns, 'nft', 'delete', 'table', 'ip', MASQ_TABLE]);
  await sh('ip', ['netns', 'exec', h1.ns, 'iptables', '-w', '-D', ...dockerUserRule(DEFAULTS.cidr)]);
  await eventually('the masquerade is back', async () => (await seenFrom(c1, outside.underlay)) === h1.underlay, BOUND_MS, 200); // prettier-ignore
  await eventually('the DOCKER-USER rule is back', () => sh('ip', ['netns', 'exec', h1.ns, 'iptables', '-w', '-C', ...dockerUserRule(DEFAULTS.cidr)]).then(() => true, () => false), BOUND_MS, 200); // prettier-ignore
  t.pass('both rules are put back after a hand deletion');
});

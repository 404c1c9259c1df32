// Issue 12, items 8 and 9, in network namespaces with the nft datapath (root, nft, ip): the
// attacks live in bench/hostile/vip.ts (also run by `npm run bench -- hostile`); here each
// must hold.
import t from 'tap';
import { literalVipOnOwnAddress, vipTrafficLeavesHost } from '../bench/hostile/vip.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ root: true, commands: ['nft', 'ip'] });

t.test(
  "literal VIPs on the node's own address, 127.0.0.1, 169.254.169.254, 0.0.0.0 from a peer's records: refused; the node's own service stays reachable",
  { skip },
  async (t) => {
    const r = await literalVipOnOwnAddress({ smoke: true });
    t.ok(r.held, r.detail ?? r.name);
    t.equal(r.forged_accepted, 0, 'no hostile VIP programmed');
  },
);

t.test(
  'after vip rm, and for an unused address of the VIP CIDR: refused on the node, nothing leaves on the uplink',
  { skip },
  async (t) => {
    const r = await vipTrafficLeavesHost({ smoke: true });
    t.ok(r.held, r.detail ?? r.name);
    t.equal(r.figures?.vip_packets_leaked, 0, 'no packet reached the router');
  },
);

t.test(
  'a vipCidr overlapping the node network does not cut the node off: the range is then not refused (logged)',
  { skip },
  async (t) => {
    const { NetLab } = await import('../test/helpers/netns.js');
    const { LocalStore } = await import('../crdt-store/local-store.js');
    const { LbDriver } = await import('./driver.js');
    const lab = await NetLab.create(t, { tag: 'vx' });
    const node = await lab.addHost(1);
    const peer = await lab.addHost(2);
    await lab.backend(peer, 'peer', { tcp: 9000, udp: 0 });
    const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
    store.put('vip/db:5432/tcp', { vip: 'db', port: 5432, proto: 'tcp' }, { shared: true });
    const errors: string[] = [];
    const log = { debug() {}, info() {}, warn() {}, error: (_o: object, msg: string) => void errors.push(msg) };
    const lb = await LbDriver.start({
      source: store,
      datapath: 'nft',
      netns: node.ns,
      vipCidr: `${lab.subnet}.0/24`,
      table: 'weftvx',
      iface: 'weftvx0',
      log,
    });
    t.teardown(() => lb.cleanup());
    await lb.reconcileNow(true);
    const c = await lab.client(node);
    t.same(await c.tcp(peer.addr, 9000, 5), { peer: 5 }, 'the node still reaches a host in the range');
    t.equal(errors.filter((e) => /holds addresses in use/.test(e)).length, 1, 'said once');
  },
);

// System test (root, iproute2, VXLAN): the planner against the real kernel, in a
// namespace made here. Whatever the kernel holds after a plan is applied, planning
// again yields nothing; the parsers read back what the commands wrote.
import t from 'tap';
import { skipUnless } from '../test/helpers/system.js';
import { Hosts } from '../test/helpers/hosts.js';
import { IpAdapter } from './ip.js';
import { plan, planCleanup } from './plan.js';
import { vtepMac, type DesiredState, type PeerEntry } from './desired.js';

const skip = skipUnless({ root: true, commands: ['ip', 'bridge'] });

const peer = (i: number, underlay = `192.168.77.${100 + i}`): PeerEntry => ({
  node: `p${i}`,
  subnet: `10.42.${i}.0/24`,
  gateway: `10.42.${i}.0`,
  mac: vtepMac(`p${i}`),
  underlay,
});

t.test(
  'plans applied to the kernel converge in one pass, through adds, moves, removals and hand edits',
  { skip },
  async (t) => {
    const f = await Hosts.create(1);
    t.teardown(() => f.destroy());
    const h = f.hosts[0];
    const ip = new IpAdapter({ netns: h.ns });
    const desired = (peers: PeerEntry[], addr = '10.42.1.0/32', mtu = 1450): DesiredState => ({
      device: { name: 'weft.vx', vni: 7, port: 4789, local: h.underlay, dev: 'eth0', mtu, mac: vtepMac('self'), addr },
      bridge: { name: 'weft0', addr: addr.replace(/\.0\/32$/, '.1/24') },
      peers,
    });
    const converge = async (d: DesiredState, what: string) => {
      const first = plan(d, await ip.read('weft.vx', 'weft0'));
      const r = await ip.apply(first);
      t.same(r.failed, [], `${what}: every command succeeded`);
      const after = await ip.read('weft.vx', 'weft0');
      t.same(plan(d, after), [], `${what}: nothing left to do`);
      t.equal(after.routes.length, d.peers.length, `${what}: one route per peer`);
      t.equal(after.neigh.filter((n) => n.permanent).length, d.peers.length, `${what}: one neighbour per peer`);
      t.equal(after.fdb.length, d.peers.length, `${what}: one FDB entry per peer`);
      return first.length;
    };
    const many = Array.from({ length: 20 }, (_, i) => peer(i + 2));
    t.ok((await converge(desired(many), 'from nothing, 20 peers')) > 60);
    t.equal(await converge(desired(many), 'again'), 0, 'a second pass changes nothing');
    const vx = (await ip.read('weft.vx', 'weft0')).links['weft.vx'];
    t.match(vx, {
      kind: 'vxlan',
      up: true,
      mtu: 1450,
      mac: vtepMac('self'),
      addrs: ['10.42.1.0/32'],
      vxlan: { id: 7, port: 4789, local: h.underlay, link: 'eth0', learning: false },
    });
    await converge(desired([...many.slice(0, 10), peer(12, '192.168.77.250')]), 'half leave, one moves');
    await converge(desired(many.slice(0, 10), '10.42.99.0/32', 1400), 'a new lease and MTU');

    await h.ip('route', 'del', '10.42.2.0/24', 'dev', 'weft.vx');
    await h.ip('neigh', 'del', '10.42.3.0', 'dev', 'weft.vx');
    await h.bridgeCmd('fdb', 'del', vtepMac('p4'), 'dev', 'weft.vx', 'dst', '192.168.77.104', 'self');
    await h.ip('route', 'add', '10.42.200.0/24', 'via', '10.42.200.0', 'dev', 'weft.vx', 'onlink');
    await h.bridgeCmd('fdb', 'replace', vtepMac('p5'), 'dev', 'weft.vx', 'dst', '192.168.77.222', 'self', 'permanent');
    await h.ip('neigh', 'replace', '10.42.6.0', 'lladdr', '0e:00:00:00:00:01', 'dev', 'weft.vx', 'nud', 'permanent');
    const repair = plan(desired(many.slice(0, 10), '10.42.99.0/32', 1400), await ip.read('weft.vx', 'weft0'));
    t.same(
      repair.map((c) => c.args.slice(0, 2).join(' ')).sort(),
      ['fdb replace', 'fdb replace', 'neigh replace', 'neigh replace', 'route del', 'route replace'],
      'hand edits: exactly the six repairs',
    );
    await converge(desired(many.slice(0, 10), '10.42.99.0/32', 1400), 'after hand edits');

    await h.ip('link', 'set', 'weft.vx', 'type', 'vxlan', 'learning');
    await converge(desired(many.slice(0, 10), '10.42.99.0/32', 1400), 'learning turned on by hand: device re-created');

    const cleanup = planCleanup(await ip.read('weft.vx', 'weft0'), ['weft.vx', 'weft0']);
    t.same((await ip.apply(cleanup)).failed, []);
    const gone = await ip.read('weft.vx', 'weft0');
    t.same(gone.links, {}, 'cleanup leaves no device');
    t.same((await h.ip('-json', 'route', 'show', 'dev', 'eth0')).includes('10.42.'), false, 'and no route');
  },
);

t.test('a failing line is reported with its error and does not stop the others', { skip }, async (t) => {
  const f = await Hosts.create(1);
  t.teardown(() => f.destroy());
  const ip = new IpAdapter({ netns: f.hosts[0].ns });
  const r = await ip.apply([
    { tool: 'ip', kind: 'link', args: ['link', 'add', 'd1', 'type', 'bridge'] },
    { tool: 'ip', kind: 'route', args: ['route', 'replace', '10.1.0.0/24', 'dev', 'nosuchdev'] },
    { tool: 'ip', kind: 'link', args: ['link', 'add', 'd2', 'type', 'bridge'] },
  ]);
  t.equal(r.failed.length, 1);
  t.match(r.failed[0], { line: 'route replace 10.1.0.0/24 dev nosuchdev', error: /nosuchdev|Cannot find/ });
  const links = await ip.links(['d1', 'd2']);
  t.same(Object.keys(links.links).sort(), ['d1', 'd2'], 'the lines after the failure ran');
  t.same(await ip.routeTo('192.168.77.99'), { addr: f.hosts[0].underlay, dev: 'eth0' });
  t.equal(await ip.routeTo('8.8.8.8'), undefined, 'no default route in a test namespace');
  t.equal(await ip.forwarding(), true, 'the fixture turns forwarding on');
});

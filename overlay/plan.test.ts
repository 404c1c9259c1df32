import t from 'tap';
import fc from 'fast-check';
import {
  plan,
  planCleanup,
  planWithdraw,
  emptyActual,
  type ActualState,
  type Command,
  type LinkState,
} from './plan.js';
import type { DesiredState, PeerEntry } from './desired.js';
import { vtepMac } from './desired.js';
import { attributeFailures, parseAddrShow, parseFdb, parseNeigh, parseRoutes } from './ip.js';

// A model of what the kernel does with the commands the planner emits (only those), to
// check the planner against: planning on the result of applying a plan yields nothing.
function apply(state: ActualState, cmds: Command[], device: string): ActualState {
  const s: ActualState = structuredClone(state);
  for (const c of cmds) {
    const a = c.args;
    const at = (word: string) => a[a.indexOf(word) + 1];
    if (c.tool === 'bridge') {
      const mac = a[2];
      if (a[1] === 'del') s.fdb = s.fdb.filter((f) => !(f.mac === mac && f.dst === at('dst')));
      else {
        const cur = s.fdb.find((f) => f.mac === mac);
        if (cur) Object.assign(cur, { dst: at('dst'), permanent: true });
        else s.fdb.push({ mac, dst: at('dst'), permanent: true });
      }
      continue;
    }
    const [obj, verb] = a;
    if (obj === 'link' && verb === 'del') {
      delete s.links[at('dev')];
      if (at('dev') === device) Object.assign(s, { routes: [], neigh: [], fdb: [] });
    } else if (obj === 'link' && verb === 'add') {
      const vx = a.includes('vxlan');
      const l: LinkState = {
        name: a[2],
        kind: vx ? 'vxlan' : 'bridge',
        up: false,
        mtu: vx ? Number(at('mtu')) : 1500,
        mac: vx ? at('address') : '02:00:00:00:00:99',
        addrs: [],
        vxlan: undefined,
      };
      if (vx)
        l.vxlan = {
          id: Number(at('id')),
          port: Number(at('dstport')),
          local: at('local'),
          link: at('dev'),
          learning: !a.includes('nolearning'),
        };
      s.links[a[2]] = l;
    } else if (obj === 'link' && verb === 'set') {
      const l = s.links[at('dev')];
      if (a.includes('mtu')) l.mtu = Number(at('mtu'));
      if (a.includes('address')) l.mac = at('address');
      if (a[a.length - 1] === 'up') l.up = true;
    } else if (obj === 'addr') {
      const l = s.links[at('dev')];
      if (verb === 'add') l.addrs.push(a[2]);
      else l.addrs = l.addrs.filter((x) => x !== a[2]);
    } else if (obj === 'neigh') {
      s.neigh = s.neigh.filter((n) => n.dst !== a[2]);
      if (verb === 'replace') s.neigh.push({ dst: a[2], lladdr: at('lladdr'), permanent: true });
    } else if (obj === 'route') {
      if (verb === 'del') {
        const i = s.routes.findIndex((r) => r.dst === a[2] && (!a.includes('via') || r.gateway === at('via')));
        if (i >= 0) s.routes.splice(i, 1);
      } else {
        s.routes = s.routes.filter((r) => r.dst !== a[2]);
        s.routes.push({ dst: a[2], gateway: at('via'), onlink: true });
      }
    } else throw new Error(`model does not know: ${a.join(' ')}`);
  }
  return s;
}

const peer = (i: number, underlay = `192.168.0.${i}`): PeerEntry => ({
  node: `n${i}`,
  subnet: `10.42.${i}.0/24`,
  gateway: `10.42.${i}.0`,
  mac: vtepMac(`n${i}`),
  underlay,
});
const desired = (peers: PeerEntry[], over: Partial<DesiredState['device']> = {}, bridge = true): DesiredState => ({
  device: {
    name: 'weft.vx',
    vni: 1,
    port: 4789,
    local: '192.168.0.1',
    dev: 'eth0',
    mtu: 1450,
    mac: vtepMac('n1'),
    addr: '10.42.1.0/32',
    ...over,
  },
  bridge: bridge ? { name: 'weft0', addr: '10.42.1.1/24' } : undefined,
  peers,
});
const lines = (cmds: Command[]) => cmds.map((c) => `${c.tool} ${c.args.join(' ')}`);

t.test('from nothing: device, address, bridge, then one route, neighbour and FDB entry per peer', async (t) => {
  const d = desired([peer(2), peer(3)]);
  const cmds = plan(d, emptyActual());
  t.same(lines(cmds), [
    `ip link add weft.vx address ${vtepMac('n1')} mtu 1450 type vxlan id 1 dstport 4789 local 192.168.0.1 dev eth0 nolearning`,
    'ip addr add 10.42.1.0/32 dev weft.vx',
    'ip link set dev weft.vx up',
    'ip link add weft0 type bridge',
    'ip addr add 10.42.1.1/24 dev weft0',
    'ip link set dev weft0 up',
    'ip route replace 10.42.2.0/24 via 10.42.2.0 dev weft.vx onlink',
    'ip route replace 10.42.3.0/24 via 10.42.3.0 dev weft.vx onlink',
    `ip neigh replace 10.42.2.0 lladdr ${vtepMac('n2')} dev weft.vx nud permanent`,
    `ip neigh replace 10.42.3.0 lladdr ${vtepMac('n3')} dev weft.vx nud permanent`,
    `bridge fdb replace ${vtepMac('n2')} dev weft.vx dst 192.168.0.2 self permanent`,
    `bridge fdb replace ${vtepMac('n3')} dev weft.vx dst 192.168.0.3 self permanent`,
  ]);
  t.same(plan(d, apply(emptyActual(), cmds, 'weft.vx')), [], 'then nothing');
});

t.test('minimal changes: a peer leaves, a peer moves, an entry is lost, the MTU changes', async (t) => {
  const base = apply(emptyActual(), plan(desired([peer(2), peer(3)]), emptyActual()), 'weft.vx');
  t.same(
    lines(plan(desired([peer(2)]), base)),
    [
      'ip route del 10.42.3.0/24 dev weft.vx via 10.42.3.0',
      'ip neigh del 10.42.3.0 dev weft.vx',
      `bridge fdb del ${vtepMac('n3')} dev weft.vx dst 192.168.0.3 self`,
    ],
    'a departed peer: its three entries go, nothing else',
  );
  t.same(
    lines(plan(desired([peer(2), peer(3, '192.168.0.33')]), base)),
    [`bridge fdb replace ${vtepMac('n3')} dev weft.vx dst 192.168.0.33 self permanent`],
    'a new underlay address: only the FDB entry',
  );
  const lost = structuredClone(base);
  lost.routes = lost.routes.filter((r) => r.dst !== '10.42.2.0/24');
  lost.neigh.push({ dst: '10.42.9.9', lladdr: undefined, permanent: false });
  t.same(
    lines(plan(desired([peer(2), peer(3)]), lost)),
    ['ip route replace 10.42.2.0/24 via 10.42.2.0 dev weft.vx onlink'],
    "a route deleted by hand comes back; the kernel's own neighbour cache is left alone",
  );
  t.same(
    lines(plan(desired([peer(2), peer(3)], { mtu: 1400 }), base)),
    ['ip link set dev weft.vx mtu 1400'],
    'MTU in place',
  );
  t.same(
    lines(plan(desired([peer(2), peer(3)], { addr: '10.42.7.0/32' }), base)),
    ['ip addr add 10.42.7.0/32 dev weft.vx', 'ip addr del 10.42.1.0/32 dev weft.vx'],
    'a new lease: the address moves (added first: the last address going would flush the routes)',
  );
  const vni = plan(desired([peer(2)], { vni: 9 }), base);
  t.equal(lines(vni)[0], 'ip link del dev weft.vx', 'a new VNI re-creates the device');
  t.same(plan(desired([peer(2)], { vni: 9 }), apply(base, vni, 'weft.vx')), []);
  t.same(
    lines(plan(desired([peer(2), peer(3)], {}, false), base)),
    [],
    'without a bridge in the desired state an existing one is left alone',
  );
  const down = structuredClone(base);
  down.links['weft0'].up = false;
  t.same(lines(plan(desired([peer(2), peer(3)]), down)), ['ip link set dev weft0 up']);
  t.same(lines(planCleanup(base, ['weft.vx', 'weft0', 'absent'])), [
    'ip link del dev weft.vx',
    'ip link del dev weft0',
  ]);
});

t.test('a lost lease with no subnet free: addresses and peer entries go, the devices stay', async (t) => {
  const held = apply(emptyActual(), plan(desired([peer(2), peer(3)]), emptyActual()), 'weft.vx');
  const cmds = planWithdraw(held, 'weft.vx', 'weft0');
  const gone = apply(held, cmds, 'weft.vx');
  t.same(Object.keys(gone.links).sort(), ['weft.vx', 'weft0'], 'both devices kept');
  t.same([gone.links['weft.vx'].addrs, gone.links['weft0'].addrs], [[], []], 'no overlay address left');
  t.same([gone.routes, gone.neigh, gone.fdb], [[], [], []], 'no peer entry left');
  const first = lines(cmds).findIndex((l) => l.startsWith('ip addr del'));
  t.ok(
    lines(cmds)
      .slice(first)
      .every((l) => l.startsWith('ip addr del')),
    'addresses last: the last one going flushes routes',
  );
  t.same(planWithdraw(gone, 'weft.vx', 'weft0'), [], 'nothing more to do');
  t.ok(plan(desired([peer(2), peer(3)]), gone).length > 0, 'a lease back programs them again');
  t.same(plan(desired([peer(2), peer(3)]), apply(gone, plan(desired([peer(2), peer(3)]), gone), 'weft.vx')), []);
});

t.test('property: planning on the result of applying a plan yields nothing, from any state', async (t) => {
  const mac = fc.integer({ min: 2, max: 9 }).map((i) => vtepMac(`n${i}`));
  const ipArb = fc.integer({ min: 0, max: 9 }).map((i) => `10.42.${i}.0`);
  const actualArb: fc.Arbitrary<ActualState> = fc
    .record({
      vx: fc.option(
        fc.record({
          up: fc.boolean(),
          mtu: fc.constantFrom(1450, 1500),
          id: fc.constantFrom(1, 2),
          learning: fc.boolean(),
          addrs: fc.subarray(['10.42.1.0/32', '10.42.5.0/32', '10.1.1.1/8']),
        }),
      ),
      br: fc.option(
        fc.record({
          kind: fc.constantFrom('bridge', 'dummy'),
          up: fc.boolean(),
          addrs: fc.subarray(['10.42.1.1/24', '10.42.5.1/24']),
        }),
      ),
      routes: fc.array(
        fc.record({
          dst: ipArb.map((a) => `${a}/24`),
          gateway: fc.option(ipArb, { nil: undefined }),
          onlink: fc.boolean(),
        }),
        { maxLength: 8 },
      ),
      neigh: fc.array(fc.record({ dst: ipArb, lladdr: fc.option(mac, { nil: undefined }), permanent: fc.boolean() }), {
        maxLength: 8,
      }),
      fdb: fc.array(
        fc.record({ mac, dst: fc.integer({ min: 2, max: 9 }).map((i) => `192.168.0.${i}`), permanent: fc.boolean() }),
        { maxLength: 8 },
      ),
    })
    .map(({ vx, br, routes, neigh, fdb }) => {
      const s = emptyActual();
      if (vx)
        s.links['weft.vx'] = {
          name: 'weft.vx',
          kind: 'vxlan',
          up: vx.up,
          mtu: vx.mtu,
          mac: vtepMac('n1'),
          addrs: vx.addrs,
          vxlan: { id: vx.id, port: 4789, local: '192.168.0.1', link: 'eth0', learning: vx.learning },
        };
      if (br)
        s.links['weft0'] = {
          name: 'weft0',
          kind: br.kind,
          up: br.up,
          mtu: 1500,
          mac: '02:00:00:00:00:01',
          addrs: br.addrs,
          vxlan: undefined,
        };
      if (vx) {
        // The kernel holds one neighbour per address.
        s.neigh = [...new Map(neigh.map((n) => [n.dst, n])).values()];
        // One route per destination and gateway; one FDB entry per MAC and destination, with one state per MAC.
        const uniqRoutes = [...new Map(routes.map((r) => [`${r.dst} ${r.gateway}`, r])).values()];
        const uniqFdb = [...new Map(fdb.map((f) => [`${f.mac} ${f.dst}`, f])).values()];
        for (const f of uniqFdb) f.permanent = uniqFdb.find((g) => g.mac === f.mac)!.permanent;
        Object.assign(s, { routes: uniqRoutes, fdb: uniqFdb });
      }
      return s;
    });
  const peersArb = fc.subarray([2, 3, 4, 5, 6, 7, 8, 9]).map((ids) => ids.map((i) => peer(i)));
  fc.assert(
    fc.property(actualArb, peersArb, fc.boolean(), (actual, peers, bridge) => {
      const d = desired(peers, {}, bridge);
      const after = apply(actual, plan(d, actual), 'weft.vx');
      const again = plan(d, after);
      if (again.length) throw new Error(`second plan not empty: ${lines(again).join('; ')}`);
      const vx = after.links['weft.vx'];
      return (
        vx.up &&
        after.routes.length === peers.length &&
        after.neigh.filter((n) => n.permanent).length === peers.length &&
        after.fdb.length === peers.length
      );
    }),
    { numRuns: 500 },
  );
  t.pass('idempotent from 500 random states');
});

t.test('parsers: iproute2 JSON as captured on Debian 12 (iproute2 6.1)', async (t) => {
  const links = parseAddrShow(
    JSON.stringify([
      {
        ifname: 'v0',
        mtu: 1500,
        flags: ['UP'],
        address: '02:00:00:00:00:01',
        addr_info: [{ family: 'inet', local: '192.168.99.1', prefixlen: 24 }],
      },
      {
        ifname: 'weft.vx',
        mtu: 1450,
        flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
        address: '0a:11:22:33:44:55',
        linkinfo: {
          info_kind: 'vxlan',
          info_data: { id: 42, local: '192.168.99.1', link: 'v0', port: 4789, learning: false },
        },
        addr_info: [
          { family: 'inet', local: '10.42.1.0', prefixlen: 32 },
          { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
        ],
      },
      { nonsense: true },
    ]),
    ['weft.vx', 'weft0'],
  );
  t.same(links.links, {
    'weft.vx': {
      name: 'weft.vx',
      kind: 'vxlan',
      up: true,
      mtu: 1450,
      mac: '0a:11:22:33:44:55',
      addrs: ['10.42.1.0/32'],
      vxlan: { id: 42, port: 4789, local: '192.168.99.1', link: 'v0', learning: false },
    },
  });
  t.same(links.addrOwner.get('192.168.99.1'), { dev: 'v0', mtu: 1500 });
  t.same(
    parseRoutes(
      '[{"dst":"10.42.2.0/24","gateway":"10.42.2.0","flags":["onlink"]},{"dst":"10.9.9.9","flags":[]},{"dst":"default"}]',
    ),
    [
      { dst: '10.42.2.0/24', gateway: '10.42.2.0', onlink: true },
      { dst: '10.9.9.9/32', gateway: undefined, onlink: false },
    ],
  );
  t.same(
    parseNeigh(
      '[{"dst":"10.42.2.0","lladdr":"0a:00:00:00:00:02","state":["PERMANENT"]},{"dst":"10.42.3.0","state":["FAILED"]}]',
    ),
    [
      { dst: '10.42.2.0', lladdr: '0a:00:00:00:00:02', permanent: true },
      { dst: '10.42.3.0', lladdr: undefined, permanent: false },
    ],
  );
  t.same(
    parseFdb(
      '[{"mac":"0a:00:00:00:00:02","dst":"192.168.99.2","flags":["self"],"state":"permanent"},{"mac":"33:33:00:00:00:01","flags":["self"],"state":"permanent"}]',
    ),
    [{ mac: '0a:00:00:00:00:02', dst: '192.168.99.2', permanent: true }],
  );
  t.same(parseRoutes(''), []);
  t.same(attributeFailures(['a', 'b', 'c'], 'Cannot find device "x"\nCommand failed -:2\n'), [
    { line: 'b', error: 'Cannot find device "x"' },
  ]);
});

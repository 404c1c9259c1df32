// IPv6 VIPs without the kernel: addresses from lb.vipCidr6, the desired state of a
// dual-stack name, which v6 VIPs and backends are refused, and the inet table's plan for
// both families (the kernel side is nft-ipv6.system.test.ts).
import t from 'tap';
import { endpoint, newStore } from '../test/helpers/dns.js';
import { allocate, bigToIpv6, canonicalIp, ipv6ToBig, parseCidr, parseCidr6 } from './allocator.js';
import { computeDesired, type DesiredVip } from './desired.js';
import { matches, parseActual, planNft, renderDiff, renderFull } from './nft-plan.js';
import { RecordIndex } from './records.js';
import { VipGuard, backendRefusal } from './vip-guard.js';
import { VipTable } from './vip-source.js';

const cidr = parseCidr('198.18.0.0/15');
const cidr6 = parseCidr6('fd00:5::/64');
const bind = (vip: string, port = 80, targetPort = 8080) => ({ vip, port, proto: 'tcp' as const, targetPort });

t.test('IPv6 text: parsed and printed as nft prints it (RFC 5952)', async (t) => {
  for (const [a, want] of [
    ['fd00:5::1', 'fd00:5::1'],
    ['FD00:0005:0000:0000:0000:0000:0000:0001', 'fd00:5::1'],
    ['fd00:0:0:1:0:0:0:1', 'fd00:0:0:1::1'],
    ['fd00:1:0:1:1:1:1:1', 'fd00:1:0:1:1:1:1:1'],
    ['::', '::'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
  ])
    t.equal(bigToIpv6(ipv6ToBig(a)), want, a);
  t.equal(canonicalIp('10.0.0.1'), '10.0.0.1', 'IPv4 as it is');
  t.same(
    [cidr6.text, cidr6.first, cidr6.size],
    ['fd00:5::/64', 1, 2 ** 48],
    'a /64: 2^48 slots, the anycast address left out',
  );
  t.equal(parseCidr6('fd00:5::8/126').size, 3);
  t.throws(() => parseCidr6('198.18.0.0/15'), /not an IPv6 CIDR like fd00:5/);
  t.throws(() => parseCidr6('fd00::/129'), /not an IPv6 CIDR/);
});

t.test('allocation into an IPv6 CIDR: deterministic, earliest claim keeps its address', async (t) => {
  const a = allocate(['web', 'api'], cidr6);
  t.match(a.addrs.get('web'), /^fd00:5::[0-9a-f:]+$/);
  t.not(a.addrs.get('web'), a.addrs.get('api'));
  t.same(allocate(['api', 'web'], cidr6).addrs, a.addrs, 'the same set, the same map, whatever the order');
  const small = parseCidr6('fd00:5::/126');
  const claims = new Map([
    ['a', 1],
    ['b', 2],
    ['c', 3],
    ['d', 4],
  ]);
  const r = allocate(['d', 'c', 'b', 'a'], small, claims);
  t.same(r.unallocated, ['d'], 'three slots: the latest claim goes without');
  t.same(allocate(['a', 'b', 'c'], small, claims).addrs.get('a'), r.addrs.get('a'), 'a later VIP never moves one');
  const lit = allocate(['fd00:5::1', 'x', 'y'], small, new Map([['fd00:5::1', 0]]));
  t.equal(lit.addrs.get('fd00:5::1'), 'fd00:5::1', 'a literal in the range keeps its own address');
  t.notOk([lit.addrs.get('x'), lit.addrs.get('y')].includes('fd00:5::1'), 'no name is given its slot');
});

t.test('a dual-stack name: an address per family, each with backends of its family only', async (t) => {
  const s = newStore('n1');
  const idx = new RecordIndex();
  t.teardown(idx.attach(s, () => {}));
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1', 'fd00:77::1'], { vips: [bind('web')] }));
  s.put('svc/web/n1/b', endpoint('web', ['fd00:77::2'], { vips: [bind('web')] }));
  s.put('svc/web/n1/c', endpoint('web', ['10.1.0.3'], { vips: [bind('web')] }));
  s.put('svc/six/n1/a', endpoint('six', ['10.1.0.1', 'fd00:77::1'], { vips: [bind('fd00:5::9')] }));
  const guard = new VipGuard({ vipCidr: cidr, vipCidr6: cidr6 });
  const d = computeDesired(idx.endpoints.values(), idx.declared.values(), cidr, { guard, cidr6 });
  const web = d.vips.find((v) => v.key === 'web:80/tcp')!;
  t.match(web.addr, /^198\.1[89]\./);
  t.match(web.addr6, /^fd00:5::/);
  t.same(
    web.backends.map((b) => b.addr),
    ['10.1.0.1', '10.1.0.3'],
    'IPv4 address: IPv4 backends',
  );
  t.same(
    web.backends6!.map((b) => b.addr),
    ['fd00:77::1', 'fd00:77::2'],
    'IPv6 address: IPv6 backends',
  );
  const six = d.vips.find((v) => v.vip === 'fd00:5::9')!;
  t.equal(six.addr, 'fd00:5::9', 'a literal IPv6 VIP in lb.vipCidr6 is its own address');
  t.same(
    six.backends.map((b) => b.addr),
    ['fd00:77::1'],
    'with the IPv6 backends only',
  );
  t.equal(d.addrs6.get('web'), web.addr6);
  const without = computeDesired(idx.endpoints.values(), idx.declared.values(), cidr, { guard });
  t.equal(without.vips.find((v) => v.key === 'web:80/tcp')!.addr6, undefined, 'no lb.vipCidr6: IPv4 only, as before');
  t.same(without.vips.find((v) => v.key === 'web:80/tcp')!.backends, web.backends, 'and the IPv4 side does not change');
});

t.test('hostile IPv6 VIPs and backends: refused with a reason', async (t) => {
  const guard = new VipGuard({ vipCidr: cidr, vipCidr6: cidr6 });
  for (const [addr, reason] of [
    ['fe80::1', 'link_local'],
    ['ff02::1', 'multicast'],
    ['::1', 'loopback'],
    ['::ffff:198.18.0.5', 'reserved'],
    ['::ffff:127.0.0.1', 'reserved'],
    ['::', 'unspecified'],
    ['fd00:5::', 'network_address'],
    ['fd00:6::1', 'outside_range'],
    ['2001:db8::1', 'outside_range'],
  ])
    t.equal(guard.check(addr)?.reason, reason, `VIP ${addr}: ${reason}`);
  t.equal(guard.check('fd00:5::1'), undefined, 'inside lb.vipCidr6');
  t.equal(guard.check('fd00:5::1', { local: new Set(['fd00:5::1']) })?.reason, 'local_address');
  t.equal(guard.check('fd00:5::1', { members: new Set(['fd00:5::1']) })?.reason, 'member_address');
  t.match(guard.check('fd00:6::1')!.message, /lb\.vipCidr6 \(fd00:5::\/64\)/, 'the message names the range');
  t.equal(new VipGuard({ vipCidr: cidr }).check('fd00:5::1')?.reason, 'outside_range', 'no lb.vipCidr6: outside');
  for (const [addr, reason] of [
    ['fe80::1', 'link_local'],
    ['ff02::1', 'multicast'],
    ['::', 'unspecified'],
    ['::ffff:10.1.0.1', 'reserved'],
    ['::1', undefined],
    ['fd00:77::1', undefined],
    ['10.1.0.1', undefined],
  ] as const)
    t.equal(backendRefusal(addr), reason, `backend ${addr}: ${reason ?? 'accepted'}`);

  const s = newStore('n1');
  const idx = new RecordIndex();
  t.teardown(idx.attach(s, () => {}));
  s.put(
    'svc/web/n1/a',
    endpoint('web', ['fe80::1', 'ff02::1', '::ffff:10.1.0.1', 'fd00:77::1'], { vips: [bind('web')] }),
  );
  s.put('svc/bad/n1/a', endpoint('bad', ['fd00:77::1'], { vips: [bind('fe80::5'), bind('::ffff:198.18.0.5')] }));
  const d = computeDesired(idx.endpoints.values(), idx.declared.values(), cidr, { guard, cidr6 });
  t.same(
    d.vips.find((v) => v.key === 'web:80/tcp')!.backends6!.map((b) => b.addr),
    ['fd00:77::1'],
  );
  t.same(
    d.droppedBackends.map((b) => `${b.addr} ${b.reason}`),
    ['::ffff:10.1.0.1 reserved', 'fe80::1 link_local', 'ff02::1 multicast'],
    'the others left out, each with its reason (by VIP key and address)',
  );
  t.same(
    d.refused.map((r) => `${r.vip} ${r.reason}`),
    ['::ffff:198.18.0.5 reserved', 'fe80::5 link_local'],
    'hostile literal VIPs refused',
  );
});

const vip = (over: Partial<DesiredVip>): DesiredVip => ({
  key: 'web:80/tcp',
  vip: 'web',
  addr: '198.18.0.5',
  port: 80,
  proto: 'tcp',
  backends: [{ addr: '10.1.0.1', port: 8080 }],
  ...over,
});

t.test('the inet plan: both families in one table, each with its own sets, map and DNAT', async (t) => {
  const web = vip({
    addr6: 'FD00:5:0::7',
    backends6: [
      { addr: 'fd00:77:0::1', port: 8080 },
      { addr: 'fd00:77::2', port: 8080 },
    ],
  });
  const p = planNft([web], 'none', ['198.18.0.0/15', 'fd00:5::/64']);
  t.same([...p.vipAddrs], ['198.18.0.5', 'fd00:5::7'], 'addresses as nft prints them');
  t.same([...p.hairpin], ['10.1.0.1 . 10.1.0.1', 'fd00:77::1 . fd00:77::1', 'fd00:77::2 . fd00:77::2']);
  const rules = [...p.chains.values()].map((c) => c.rule);
  t.same(rules, [
    'meta l4proto tcp dnat ip to numgen random mod 1 map { 0 : 10.1.0.1 . 8080 }',
    'meta l4proto tcp dnat ip6 to numgen random mod 2 map { 0 : fd00:77::1 . 8080, 1 : fd00:77::2 . 8080 }',
  ]);
  t.match([...planNft([web], 'source').chains.values()][1].rule, /jhash ip6 saddr mod 2/);
  const crossed = planNft([vip({ backends: [{ addr: 'fd00:77::1', port: 80 }] })]);
  t.equal(crossed.chains.size, 0, 'an IPv4 VIP with only IPv6 backends gets no DNAT (filtered, never crossed)');
  t.same([...crossed.vipAddrs], ['198.18.0.5'], 'but keeps its address, so it is refused');

  const s = renderFull(p);
  t.match(s, /set vip-addrs \{\n {4}type ipv4_addr\n {4}elements = \{ 198\.18\.0\.5 \}/);
  t.match(s, /set vip-addrs6 \{\n {4}type ipv6_addr\n {4}elements = \{ fd00:5::7 \}/);
  t.match(s, /set vip-range6 \{\n {4}type ipv6_addr\n {4}flags interval\n {4}elements = \{ fd00:5::\/64 \}/);
  t.match(
    s,
    /map vips6 \{\n {4}type ipv6_addr \. inet_proto \. inet_service : verdict\n {4}elements = \{ fd00:5::7 \. tcp \. 80 : goto v-/,
  );
  for (const rule of [
    'ct status dnat ip6 saddr @vip-addrs6 masquerade',
    'ct status dnat ip6 saddr . ip6 daddr @hairpin6 masquerade',
    'ct state new ip6 daddr @vip-addrs6 meta l4proto tcp reject with tcp reset',
    'ct state new ip6 daddr @vip-addrs6 meta l4proto udp reject',
    'ip6 daddr @vip-range6 ip6 daddr != @vip-addrs6 meta l4proto tcp reject with tcp reset',
  ])
    t.ok(s.includes(rule), `IPv6 twin: ${rule}`);

  const moved = planNft([{ ...web, backends6: web.backends6!.slice(1) }], 'none', ['198.18.0.0/15', 'fd00:5::/64']);
  const d = renderDiff(p, moved)!;
  t.match(d, /delete element inet weft vips6 \{ fd00:5::7 \. tcp \. 80 \}/, 'IPv6 elements go to the IPv6 map');
  t.match(d, /delete element inet weft hairpin6 \{ fd00:77::1 \. fd00:77::1 \}/);
  t.notMatch(d, / vips \{| vip-addrs \{/, 'the IPv4 side untouched');
});

t.test('nft -j output of an inet table reads back into the same plan', async (t) => {
  const p = planNft([vip({ addr6: 'fd00:5::7', backends6: [{ addr: 'fd00:77::1', port: 8080 }] })], 'none', [
    'fd00:5::/64',
  ]);
  const chains = [...p.chains.keys()];
  const actual = parseActual(
    JSON.stringify({
      nftables: [
        { table: { family: 'inet', name: 'weft' } },
        { set: { table: 'weft', name: 'vip-addrs', elem: ['198.18.0.5'] } },
        { set: { table: 'weft', name: 'vip-addrs6', elem: ['fd00:5::7'] } },
        { set: { table: 'weft', name: 'hairpin', elem: [{ concat: ['10.1.0.1', '10.1.0.1'] }] } },
        { set: { table: 'weft', name: 'hairpin6', elem: [{ concat: ['fd00:77::1', 'fd00:77::1'] }] } },
        { set: { table: 'weft', name: 'vip-range6', elem: [{ prefix: { addr: 'fd00:5::', len: 64 } }] } },
        {
          map: {
            table: 'weft',
            name: 'vips',
            elem: [[{ concat: ['198.18.0.5', 'tcp', 80] }, { goto: { target: chains[0] } }]],
          },
        },
        {
          map: {
            table: 'weft',
            name: 'vips6',
            elem: [[{ concat: ['fd00:5::7', 'tcp', 80] }, { goto: { target: chains[1] } }]],
          },
        },
      ],
    }),
  );
  t.same([...actual.vmap], [...p.vmap]);
  t.same([...actual.vipAddrs], [...p.vipAddrs]);
  t.same([...actual.hairpin], [...p.hairpin]);
  t.same([...actual.range], [...p.range]);
  t.notOk(matches(p, actual), 'no base chains: not a match (the chains are compared as for IPv4)');
});

t.test('the VIP table tells DNS both addresses of a name', async (t) => {
  const table = new VipTable();
  const heard: [string, string | undefined, string | undefined][] = [];
  table.watch((v, a, a6) => heard.push([v, a, a6]));
  table.set(new Map([['web', '198.18.0.5']]), new Map([['web', 'fd00:5::7']]));
  table.set(new Map([['web', '198.18.0.5']]), new Map([['web', 'fd00:5::7']]));
  table.set(new Map([['web', '198.18.0.5']]));
  table.set(new Map());
  t.same(heard, [
    ['web', '198.18.0.5', 'fd00:5::7'],
    ['web', '198.18.0.5', undefined],
    ['web', undefined, undefined],
  ]);
  t.equal(table.get6('web'), undefined);
});

import t from 'tap';
import type { DesiredVip } from './desired.js';
import { LAYOUT_VERSION, emptyActual, matches, parseActual, planNft, renderDiff, renderFull } from './nft-plan.js';

const vip = (
  key: string,
  addr: string,
  port: number,
  backends: [string, number][],
  proto: 'tcp' | 'udp' = 'tcp',
): DesiredVip => ({
  key,
  vip: key.split(':')[0],
  addr,
  port,
  proto,
  backends: backends.map(([a, p]) => ({ addr: a, port: p })),
});

const web = vip('web:80/tcp', '198.18.0.5', 80, [
  ['10.1.0.1', 8080],
  ['10.1.0.2', 8080],
]);
const dns = vip('dns:53/udp', '198.18.0.6', 53, [['10.1.0.3', 5353]], 'udp');
const empty = vip('empty:90/tcp', '198.18.0.7', 90, []);

t.test('the plan: one chain per VIP with backends, its address in the sets, named by content', async (t) => {
  const p = planNft([web, dns, empty]);
  t.equal(p.chains.size, 2);
  const [c] = [...p.chains].filter(([, c]) => c.key === 'web:80/tcp');
  t.match(c[0], /^v-[0-9a-f]{16}$/);
  t.equal(
    c[1].rule,
    'meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.1.0.1 . 8080, 1 : 10.1.0.2 . 8080 }',
  );
  t.equal(p.vmap.get('198.18.0.5 . tcp . 80'), c[0]);
  t.same(
    [...p.vipAddrs],
    ['198.18.0.5', '198.18.0.6', '198.18.0.7'],
    'a VIP without backends still has its address (refused, not passed to a local service)',
  );
  t.same([...p.hairpin], ['10.1.0.1 . 10.1.0.1', '10.1.0.2 . 10.1.0.2', '10.1.0.3 . 10.1.0.3']);
  t.match([...planNft([web], 'source').chains.values()][0].rule, /jhash ip saddr mod 2 map/);
  const again = planNft([web, dns, empty]);
  t.same([...again.chains.keys()], [...p.chains.keys()], 'same input, same chain names');
  const moved = planNft([{ ...web, backends: web.backends.slice(1) }]);
  t.not([...moved.chains.keys()][0], c[0], 'other backends, another chain');
});

t.test('the full script: table rewritten in one file, chains on several lines', async (t) => {
  const s = renderFull(planNft([web, dns]));
  t.match(
    s,
    /^table inet weft \{\n\}\ndelete table inet weft\ntable ip weft \{\n\}\ndelete table ip weft\ntable inet weft \{\n/,
    'the inet table rewritten, and the ip table of before IPv6 deleted in the same transaction',
  );
  t.match(s, new RegExp(`comment "weft lb ${LAYOUT_VERSION}`));
  t.match(s, new RegExp(`chain layout-${LAYOUT_VERSION} \\{\n  \\}`), 'the layout version, readable in nft -j output');
  t.match(
    s,
    /map vips \{\n {4}type ipv4_addr \. inet_proto \. inet_service : verdict\n {4}elements = \{ 198\.18\.0\.5 \. tcp \. 80 : goto v-[0-9a-f]{16}, 198\.18\.0\.6 \. udp \. 53 : goto v-/,
  );
  t.match(
    s,
    /chain output \{\n {4}type nat hook output priority -100; policy accept;\n {4}ip daddr \. meta l4proto \. th dport vmap @vips\n {4}ip6 daddr \. meta l4proto \. th dport vmap @vips6\n {2}\}/,
  );
  t.match(s, /meta l4proto udp dnat ip to numgen random mod 1 map \{ 0 : 10\.1\.0\.3 \. 5353 \} comment "dns:53\/udp"/);
  t.notMatch(renderFull(planNft([])), /elements/, 'no empty element lists');
});

t.test('the diff: nothing when equal; new chains before the map, old chains last', async (t) => {
  const a = planNft([web, dns]);
  t.equal(renderDiff(a, planNft([web, dns])), undefined);
  const b = planNft([{ ...web, backends: web.backends.slice(0, 1) }, empty]);
  const d = renderDiff(a, b)!.split('\n').filter(Boolean);
  const newChain = [...b.chains.keys()][0];
  const old = [...a.chains.keys()];
  t.same(d.slice(0, 3), [
    `add chain inet weft ${newChain}`,
    `flush chain inet weft ${newChain}`,
    `add rule inet weft ${newChain} meta l4proto tcp dnat ip to numgen random mod 1 map { 0 : 10.1.0.1 . 8080 } comment "web:80/tcp"`,
  ]);
  t.same(d.slice(3, 5), [
    'delete element inet weft vips { 198.18.0.5 . tcp . 80, 198.18.0.6 . udp . 53 }',
    `add element inet weft vips { 198.18.0.5 . tcp . 80 : goto ${newChain} }`,
  ]);
  t.ok(d.includes('delete element inet weft vip-addrs { 198.18.0.6 }'));
  t.ok(d.includes('add element inet weft vip-addrs { 198.18.0.7 }'));
  t.ok(d.includes('delete element inet weft hairpin { 10.1.0.2 . 10.1.0.2, 10.1.0.3 . 10.1.0.3 }'));
  t.same(
    d.slice(-2),
    old.map((c) => `delete chain inet weft ${c}`),
  );
});

t.test('reading nft -j output back: matches only the exact table', async (t) => {
  const p = planNft([web, empty], 'none', '198.18.0.0/15');
  const chain = [...p.chains.keys()][0];
  const json = (over: { layout?: string; extraRule?: boolean; elems?: unknown[]; range?: unknown[] } = {}) =>
    JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { table: { family: 'inet', name: 'weft', handle: 1 } },
        {
          set: {
            family: 'inet',
            name: 'vip-addrs',
            table: 'weft',
            type: 'ipv4_addr',
            elem: over.elems ?? ['198.18.0.5', '198.18.0.7'],
          },
        },
        {
          set: {
            family: 'inet',
            name: 'hairpin',
            table: 'weft',
            type: ['ipv4_addr', 'ipv4_addr'],
            elem: [{ concat: ['10.1.0.1', '10.1.0.1'] }, { concat: ['10.1.0.2', '10.1.0.2'] }],
          },
        },
        {
          map: {
            family: 'inet',
            name: 'vips',
            table: 'weft',
            map: 'verdict',
            elem: [[{ concat: ['198.18.0.5', 'tcp', 80] }, { goto: { target: chain } }]],
          },
        },
        {
          set: {
            family: 'inet',
            name: 'vip-range',
            table: 'weft',
            type: 'ipv4_addr',
            flags: ['interval'],
            elem: over.range ?? [{ prefix: { addr: '198.18.0.0', len: 15 } }],
          },
        },
        ...[
          'prerouting',
          'output',
          'postrouting',
          'input',
          'range-output',
          'range-forward',
          over.layout ?? `layout-${LAYOUT_VERSION}`,
          chain,
        ].map((name) => ({ chain: { family: 'inet', table: 'weft', name } })),
        // The base chains' rules: each IPv4 rule and its IPv6 twin.
        ...[
          ['prerouting', 2],
          ['output', 2],
          ['postrouting', 4],
          ['input', 4],
          ['range-output', 4],
          ['range-forward', 4],
        ].flatMap(([c, n]) => Array.from({ length: n as number }, () => ({ rule: { table: 'weft', chain: c } }))),
        { rule: { table: 'weft', chain } },
        ...(over.extraRule ? [{ rule: { table: 'weft', chain } }] : []),
      ],
    });
  t.ok(matches(p, parseActual(json())));
  t.notOk(matches(p, parseActual(json({ layout: 'layout-0123456789ab' }))), 'another layout version');
  t.notOk(matches(p, parseActual(json({ extraRule: true }))), 'a duplicated rule');
  t.notOk(matches(p, parseActual(json({ elems: ['198.18.0.5'] }))), 'a missing address');
  t.notOk(matches(p, parseActual(json({ range: [{ prefix: { addr: '11.0.0.0', len: 8 } }] }))), 'another VIP range');
  t.notOk(matches(p, emptyActual()));
});

t.test(
  'the VIP range: what is not DNATed to a backend is refused locally, from local processes and forwarded alike',
  async (t) => {
    const s = renderFull(planNft([web], 'none', '198.18.0.0/15'));
    t.match(s, /set vip-range \{\n {4}type ipv4_addr\n {4}flags interval\n {4}elements = \{ 198\.18\.0\.0\/15 \}/);
    t.match(
      s,
      /chain range-output \{\n {4}type filter hook output priority filter; policy accept;\n {4}ip daddr @vip-range ip daddr != @vip-addrs meta l4proto tcp reject with tcp reset\n {4}ip daddr @vip-range ip daddr != @vip-addrs reject/,
    );
    t.match(
      s,
      /chain range-forward \{\n {4}type filter hook forward priority filter; policy accept;\n {4}ip daddr @vip-range meta l4proto tcp reject with tcp reset\n {4}ip daddr @vip-range reject/,
    );
    t.equal(renderDiff(planNft([web], 'none', '198.18.0.0/15'), planNft([web], 'none', '198.18.0.0/15')), undefined);
  },
);

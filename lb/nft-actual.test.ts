// Reading the kernel's table back (parseActual) and deciding whether it is exactly the plan
// (matches): the agent rewrites the whole table when they differ, and trusts it when they
// agree, so a reader that sees too much or too little either churns the table or leaves a
// stale one serving. The kernel's view is made here from the script weft itself writes
// (renderFull), turned into the JSON `nft -j list table` prints.
import t from 'tap';
import type { DesiredVip } from './desired.js';
import { emptyActual, matches, parseActual, planNft, renderFull, type NftActual } from './nft-plan.js';

const vip = (
  key: string,
  addr: string,
  port: number,
  backends: string[],
  proto: 'tcp' | 'udp' = 'tcp',
): DesiredVip => ({
  key,
  vip: key.split(':')[0],
  addr,
  port,
  proto,
  backends: backends.map((a) => ({ addr: a, port: 8080 })),
});
const plan = planNft(
  [
    vip('web:80/tcp', '198.18.0.5', 80, ['10.1.0.1', '10.1.0.2']),
    vip('dns:53/udp', '198.18.0.6', 53, ['10.1.0.3'], 'udp'),
  ],
  'none',
  '198.18.0.0/15',
);

/** One element as nft -j prints it: concatenations as {concat}, prefixes as {prefix}, ports as numbers. */
function elem(text: string): unknown {
  const part = (p: string): unknown =>
    /^\d+$/.test(p)
      ? Number(p)
      : p.includes('/')
        ? { prefix: { addr: p.split('/')[0], len: Number(p.split('/')[1]) } }
        : p;
  const parts = text.split(' . ');
  return parts.length > 1 ? { concat: parts.map(part) } : part(text);
}

/** nft's JSON listing of the table a renderFull script creates. */
function listing(script: string, table = 'weft'): unknown[] {
  const body = script.split(`delete table ip weft\n`)[1].split('\n');
  const items: unknown[] = [{ metainfo: { version: '1.0.6' } }, { table: { family: 'ip', name: table, handle: 1 } }];
  for (let i = 0; i < body.length; i++) {
    const head = /^ {2}(set|map|chain) (\S+) \{$/.exec(body[i]);
    if (!head) continue;
    const lines: string[] = [];
    while (body[++i] !== '  }') lines.push(body[i].trim());
    const [, kind, name] = head;
    if (kind === 'chain') {
      items.push({ chain: { family: 'ip', table, name } });
      for (const l of lines)
        if (!l.startsWith('type ')) items.push({ rule: { family: 'ip', table, chain: name, expr: l } });
      continue;
    }
    const elems =
      /^elements = \{ (.*) \}$/.exec(lines.find((l) => l.startsWith('elements')) ?? '')?.[1].split(', ') ?? [];
    const elem2 =
      kind === 'map'
        ? elems.map((e) => [elem(e.split(' : ')[0]), { goto: { target: e.split(' : goto ')[1] } }])
        : elems.map(elem);
    items.push({ [kind]: { family: 'ip', table, name, elem: elem2 } });
  }
  return items;
}
const json = (items: unknown[]) => JSON.stringify({ nftables: items });
const full = listing(renderFull(plan));

t.test('the table weft writes reads back as exactly the plan', async (t) => {
  const a = parseActual(json(full));
  t.equal(a.exists, true);
  t.same([...a.vipAddrs].sort(), [...plan.vipAddrs].sort());
  t.same([...a.hairpin].sort(), [...plan.hairpin].sort());
  t.same([...a.range], ['198.18.0.0/15']);
  t.same([...a.vmap].sort(), [...plan.vmap].sort());
  for (const name of plan.chains.keys()) t.equal(a.chains.get(name), 1, `${name} has its one rule`);
  t.equal(matches(plan, a), true);
});

t.test('other tables and malformed items are not read as ours', async (t) => {
  const other = listing(renderFull(planNft([vip('x:1/tcp', '198.18.0.9', 1, ['10.9.9.9'])])), 'other');
  const noise: unknown[] = [
    null,
    7,
    [],
    'set',
    { set: { table: 'weft', name: 'vip-addrs', elem: 'not a list' } },
    { set: { table: 'weft', name: 'unknown-set', elem: ['198.18.0.99'] } },
    { map: { table: 'weft', name: 'other-map', elem: [['198.18.0.99', { goto: { target: 'v-0000000000000000' } }]] } },
    {
      map: {
        table: 'weft',
        name: 'vips',
        elem: [
          ['only one'],
          ['a', 'b', 'c'],
          5,
          ['198.18.0.98 . tcp . 1', { jump: { target: 'x' } }],
          ['198.18.0.97 . tcp . 1', { goto: {} }],
        ],
      },
    },
    { chain: { table: 'weft', name: 5 } },
    { rule: { table: 'weft', chain: 5 } },
  ];
  const a = parseActual(json([...full, ...other, ...noise]));
  t.same(a, parseActual(json(full)));
  t.equal(matches(plan, a), true);
  t.same(parseActual(json(other)), { ...emptyActual() }, 'only another table: ours does not exist');
  t.same(parseActual('{}'), emptyActual());
  t.same(parseActual('[1]'), emptyActual());
  t.same(parseActual(JSON.stringify({ nftables: 'x' })), emptyActual());
});

t.test('any difference from the plan is a mismatch', async (t) => {
  const base = () => parseActual(json(full));
  const [chain] = plan.chains.keys();
  const cases: [string, (a: NftActual) => void][] = [
    [
      'no table',
      (a) => {
        a.exists = false;
      },
    ],
    [
      'a VIP mapped to another chain',
      (a) => {
        a.vmap.set([...a.vmap.keys()][0], 'v-ffffffffffffffff');
      },
    ],
    [
      'a VIP mapping missing',
      (a) => {
        a.vmap.delete([...a.vmap.keys()][0]);
      },
    ],
    [
      'a VIP mapping too many',
      (a) => {
        a.vmap.set('198.18.0.99 . tcp . 1', chain);
      },
    ],
    [
      'a hairpin pair too many',
      (a) => {
        a.hairpin.add('10.9.9.9 . 10.9.9.9');
      },
    ],
    [
      'a hairpin pair replaced',
      (a) => {
        a.hairpin.delete([...a.hairpin][0]);
        a.hairpin.add('10.9.9.9 . 10.9.9.9');
      },
    ],
    [
      'an address replaced',
      (a) => {
        a.vipAddrs.delete([...a.vipAddrs][0]);
        a.vipAddrs.add('198.18.0.99');
      },
    ],
    [
      'a base chain missing a rule',
      (a) => {
        a.chains.set('postrouting', 1);
      },
    ],
    [
      'a base chain gone',
      (a) => {
        a.chains.delete('input');
      },
    ],
    [
      'a VIP chain the plan does not have',
      (a) => {
        a.chains.set('v-0123456789abcdef', 1);
      },
    ],
    [
      'a chain of another name',
      (a) => {
        a.chains.set('mine', 0);
      },
    ],
    [
      'a VIP chain missing',
      (a) => {
        a.chains.delete(chain);
      },
    ],
    [
      'a VIP chain with two rules',
      (a) => {
        a.chains.set(chain, 2);
      },
    ],
    [
      'the layout chain with a rule',
      (a) => {
        for (const k of a.chains.keys()) if (k.startsWith('layout-')) a.chains.set(k, 1);
      },
    ],
  ];
  for (const [why, change] of cases) {
    const a = base();
    change(a);
    t.equal(matches(plan, a), false, why);
  }
});

t.test('the base chains hold the rules the datapath depends on, each at its hook', async (t) => {
  const chains = new Map<string, string[]>();
  for (const it of full as { chain?: { name: string }; rule?: { chain: string; expr: string } }[]) {
    if (it.chain) chains.set(it.chain.name, []);
    if (it.rule) chains.get(it.rule.chain)!.push(it.rule.expr);
  }
  const hook = (name: string) => renderFull(plan).split(`  chain ${name} {\n`)[1].split('\n')[0].trim();
  // Traffic to a VIP goes through the map, from outside (prerouting) and from this host (output).
  t.match(hook('prerouting'), /^type nat hook prerouting priority dstnat; policy accept;$/);
  t.match(hook('output'), /^type nat hook output priority -100; policy accept;$/);
  for (const c of ['prerouting', 'output'])
    t.same(
      chains.get(c),
      ['ip daddr . meta l4proto . th dport vmap @vips', 'ip6 daddr . meta l4proto . th dport vmap @vips6'],
      c,
    );
  // A backend reached through a VIP answers the VIP's client via this host: masquerade the
  // DNATed traffic of a VIP address, and hairpin traffic (backend to itself through the VIP).
  t.match(hook('postrouting'), /^type nat hook postrouting priority srcnat; policy accept;$/);
  t.same(chains.get('postrouting'), [
    'ct status dnat ip saddr @vip-addrs masquerade',
    'ct status dnat ip saddr . ip daddr @hairpin masquerade',
    'ct status dnat ip6 saddr @vip-addrs6 masquerade',
    'ct status dnat ip6 saddr . ip6 daddr @hairpin6 masquerade',
  ]);
  // A VIP address that was not DNATed (no backends) refuses new connections, never reaches a local service.
  t.match(hook('input'), /^type filter hook input priority filter; policy accept;$/);
  t.same(chains.get('input'), [
    'ct state new ip daddr @vip-addrs meta l4proto tcp reject with tcp reset',
    'ct state new ip daddr @vip-addrs meta l4proto udp reject',
    'ct state new ip6 daddr @vip-addrs6 meta l4proto tcp reject with tcp reset',
    'ct state new ip6 daddr @vip-addrs6 meta l4proto udp reject',
  ]);
});

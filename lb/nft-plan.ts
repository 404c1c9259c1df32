// The nftables datapath, planned without touching the kernel: desired VIPs -> a plan ->
// nft script text; `nft -j list table` output -> the same plan shape, for comparison.
//
// One table of our own, `ip weft` (IPv4: VIP addresses come from an IPv4 CIDR; VIPs or
// backends of another family are left to the userspace path and counted as skipped):
//
//   set vip-addrs      every VIP address (also on the weft-vip0 dummy interface)
//   set hairpin        backend . backend, for a backend reaching its own VIP
//   map vips           addr . proto . port -> goto the VIP's chain (as kube-proxy's service-ips)
//   chain prerouting   nat, dstnat: containers and forwarded traffic -> vmap @vips
//   chain output       nat, -100: local processes -> vmap @vips
//   chain postrouting  nat, srcnat: masquerade DNATed traffic whose source is a VIP address
//                      (a local client: the kernel picks the VIP as source, since it is on
//                      the dummy) or whose source is its own backend (hairpin)
//   chain input        filter: a new connection still addressed to a VIP (no backends, or a
//                      port that is not a VIP's) is refused, rather than reaching a local
//                      service listening on 0.0.0.0
//   set vip-range      the VIP CIDR (lb.vipCidr)
//   chain range-output filter: local processes' packets to an address of the VIP CIDR that
//                      is not a live VIP are refused (TCP reset, else ICMP unreachable)
//   chain range-forward filter: the same for containers and forwarded traffic. Together:
//                      nothing sent to the VIP range leaves the host unless DNATed to a
//                      backend (DNAT happens in the nat chains before these, so what is
//                      still addressed to the range here was not). Without this, an address
//                      no longer (or not yet) a VIP followed the default route off the host.
//   chain v-<hash>     one per VIP with backends: one DNAT rule, numgen random (or jhash of
//                      the source for affinity) into an anonymous map of backends
//
// A VIP chain's name is a hash of its VIP and its rule, so a chain never changes content:
// a change of backends is a new chain, a map element pointing at it, and the old chain
// deleted, all in one transaction. Comparing actual and desired is then comparing names.
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { DesiredVip } from './desired.js';

export type Affinity = 'none' | 'source';

export interface NftPlan {
  /** VIP chain name -> its one rule (without the chain), and the VIP key for its comment. */
  chains: Map<string, { rule: string; key: string }>;
  /** "addr . proto . port" -> chain name */
  vmap: Map<string, string>;
  vipAddrs: Set<string>;
  /** "a . a" for each backend address a */
  hairpin: Set<string>;
  /** The VIP CIDR, "addr/len" (empty: no range guarded). */
  range: Set<string>;
  /** VIPs this datapath cannot program (not IPv4), by key. */
  skipped: string[];
}

const BASE_CHAINS: Record<string, string[]> = {
  prerouting: [
    'type nat hook prerouting priority dstnat; policy accept;',
    'ip daddr . meta l4proto . th dport vmap @vips',
  ],
  output: ['type nat hook output priority -100; policy accept;', 'ip daddr . meta l4proto . th dport vmap @vips'],
  postrouting: [
    'type nat hook postrouting priority srcnat; policy accept;',
    'ct status dnat ip saddr @vip-addrs masquerade',
    'ct status dnat ip saddr . ip daddr @hairpin masquerade',
  ],
  input: [
    'type filter hook input priority filter; policy accept;',
    'ct state new ip daddr @vip-addrs meta l4proto tcp reject with tcp reset',
    'ct state new ip daddr @vip-addrs meta l4proto udp reject',
  ],
  'range-output': [
    'type filter hook output priority filter; policy accept;',
    'ip daddr @vip-range ip daddr != @vip-addrs meta l4proto tcp reject with tcp reset',
    'ip daddr @vip-range ip daddr != @vip-addrs reject with icmp type host-unreachable',
  ],
  'range-forward': [
    'type filter hook forward priority filter; policy accept;',
    'ip daddr @vip-range meta l4proto tcp reject with tcp reset',
    'ip daddr @vip-range reject with icmp type host-unreachable',
  ],
};

// Stryker disable all: SETS and the hash only name the layout's version; another text is another version, which rewrites the table once, as an upgrade does.
const SETS = [
  'set vip-addrs {',
  '  type ipv4_addr',
  '}',
  'set hairpin {',
  '  type ipv4_addr . ipv4_addr',
  '}',
  'set vip-range {',
  '  type ipv4_addr',
  '  flags interval',
  '}',
  'map vips {',
  '  type ipv4_addr . inet_proto . inet_service : verdict',
  '}',
];

/** Names the layout above; a table with another version (an older weft) is rewritten whole. */
export const LAYOUT_VERSION = createHash('sha256')
  .update(JSON.stringify([BASE_CHAINS, SETS]))
  .digest('hex')
  .slice(0, 12);
// Stryker restore all
const TABLE_COMMENT = `weft lb ${LAYOUT_VERSION}, managed by weft: do not edit`;
// nft 1.0.6 leaves the table's comment out of its JSON, so the version is also the name of
// an empty chain, which the JSON does show.
const LAYOUT_CHAIN = `layout-${LAYOUT_VERSION}`;

const isVipChain = (name: string): boolean => /^v-[0-9a-f]{16}$/.test(name);

/** `vipCidr`: the VIP range to refuse locally (its network address and length, as `198.18.0.0/15`). */
export function planNft(vips: readonly DesiredVip[], affinity: Affinity = 'none', vipCidr?: string): NftPlan {
  const plan: NftPlan = {
    chains: new Map(),
    vmap: new Map(),
    vipAddrs: new Set(),
    hairpin: new Set(),
    range: new Set(vipCidr ? [vipCidr] : []),
    skipped: [],
  };
  for (const v of vips) {
    if (v.addr === undefined) continue;
    if (!isIPv4(v.addr)) {
      plan.skipped.push(v.key);
      continue;
    }
    plan.vipAddrs.add(v.addr);
    const backends = v.backends.filter((b) => isIPv4(b.addr));
    if (backends.length === 0) continue;
    const pick = affinity === 'source' ? 'jhash ip saddr mod' : 'numgen random mod';
    const elems = backends.map((b, i) => `${i} : ${b.addr} . ${b.port}`).join(', ');
    const rule = `meta l4proto ${v.proto} dnat ip to ${pick} ${backends.length} map { ${elems} }`;
    const name = 'v-' + createHash('sha256').update(`${v.key}\n${rule}`).digest('hex').slice(0, 16);
    plan.chains.set(name, { rule, key: v.key });
    plan.vmap.set(`${v.addr} . ${v.proto} . ${v.port}`, name);
    for (const b of backends) plan.hairpin.add(`${b.addr} . ${b.addr}`);
  }
  return plan;
}

// A VIP key is a DNS label or an IP, a port and a protocol: nothing that needs escaping
// in a comment, but keep it that way even if records.ts ever loosens.
const comment = (key: string): string => `comment "${key.replace(/[^a-zA-Z0-9.:/_-]/g, '_')}"`;
const ruleLine = (c: { rule: string; key: string }): string => `${c.rule} ${comment(c.key)}`;

function elements(items: Iterable<string>): string | undefined {
  const list = [...items];
  return list.length ? `elements = { ${list.join(', ')} }` : undefined;
}

/**
 * The whole table, replacing whatever is there, as one transaction: the table is created if
 * missing (so the delete cannot fail), deleted and written again. nft applies a file
 * atomically, so no packet sees a half-written or empty table.
 */
export function renderFull(plan: NftPlan, table = 'weft'): string {
  const out = [
    `table ip ${table} {`,
    '}',
    `delete table ip ${table}`,
    `table ip ${table} {`,
    `  comment "${TABLE_COMMENT}"`,
  ];
  const set = (head: string, type: string, elems: string | undefined) => {
    out.push(`  ${head} {`, `    type ${type}`);
    if (elems) out.push(`    ${elems}`);
    out.push('  }');
  };
  set('set vip-addrs', 'ipv4_addr', elements(plan.vipAddrs));
  set('set hairpin', 'ipv4_addr . ipv4_addr', elements(plan.hairpin));
  set('set vip-range', 'ipv4_addr\n    flags interval', elements(plan.range));
  set(
    'map vips',
    'ipv4_addr . inet_proto . inet_service : verdict',
    elements([...plan.vmap].map(([k, c]) => `${k} : goto ${c}`)),
  );
  // Each chain on several lines: nft 1.0.6 refused some chains written on one line.
  for (const [name, lines] of Object.entries(BASE_CHAINS)) {
    out.push(`  chain ${name} {`, ...lines.map((l) => `    ${l}`), '  }');
  }
  out.push(`  chain ${LAYOUT_CHAIN} {`, '  }');
  for (const [name, c] of plan.chains) out.push(`  chain ${name} {`, `    ${ruleLine(c)}`, '  }');
  out.push('}', '');
  return out.join('\n');
}

/**
 * The commands that turn `from` (what was last applied) into `to`, or undefined when they
 * are the same. New chains first, then the map and sets, then old chains, so nothing is
 * referenced before it exists or deleted while referenced. `flush chain` after `add chain`
 * makes re-adding a chain that exists harmless.
 */
export function renderDiff(from: NftPlan, to: NftPlan, table = 'weft'): string | undefined {
  const t = `ip ${table}`;
  const out: string[] = [];
  for (const [name, c] of to.chains) {
    if (from.chains.has(name)) continue;
    out.push(`add chain ${t} ${name}`, `flush chain ${t} ${name}`, `add rule ${t} ${name} ${ruleLine(c)}`);
  }
  const delVmap: string[] = [];
  const addVmap: string[] = [];
  for (const [k, c] of from.vmap) if (to.vmap.get(k) !== c) delVmap.push(k);
  for (const [k, c] of to.vmap) if (from.vmap.get(k) !== c) addVmap.push(`${k} : goto ${c}`);
  if (delVmap.length) out.push(`delete element ${t} vips { ${delVmap.join(', ')} }`);
  if (addVmap.length) out.push(`add element ${t} vips { ${addVmap.join(', ')} }`);
  for (const [set, a, b] of [
    ['vip-addrs', from.vipAddrs, to.vipAddrs],
    ['hairpin', from.hairpin, to.hairpin],
    ['vip-range', from.range, to.range],
  ] as const) {
    const del = [...a].filter((x) => !b.has(x));
    const add = [...b].filter((x) => !a.has(x));
    if (del.length) out.push(`delete element ${t} ${set} { ${del.join(', ')} }`);
    if (add.length) out.push(`add element ${t} ${set} { ${add.join(', ')} }`);
  }
  for (const name of from.chains.keys()) if (!to.chains.has(name)) out.push(`delete chain ${t} ${name}`);
  return out.length ? out.join('\n') + '\n' : undefined;
}

/** What `nft -j list table ip <table>` shows, in the plan's terms. */
export interface NftActual {
  exists: boolean;
  /** chain name -> number of rules */
  chains: Map<string, number>;
  vmap: Map<string, string>;
  vipAddrs: Set<string>;
  hairpin: Set<string>;
  range: Set<string>;
}

export const emptyActual = (): NftActual => ({
  exists: false,
  chains: new Map(),
  vmap: new Map(),
  vipAddrs: new Set(),
  hairpin: new Set(),
  range: new Set(),
});

type JsonObj = Record<string, unknown>;
const obj = (v: unknown): JsonObj | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObj) : undefined;

/** An element as nft -j prints it ("a", {concat: [...]}, or a number) -> "a . b . c". */
function elemText(v: unknown): string {
  const o = obj(v);
  if (o && Array.isArray(o.concat)) return o.concat.map(elemText).join(' . ');
  if (o && obj(o.elem)) return elemText(obj(o.elem)!.val);
  if (o && obj(o.prefix)) return `${String(obj(o.prefix)!.addr)}/${String(obj(o.prefix)!.len)}`;
  return String(v);
}

export function parseActual(json: string, table = 'weft'): NftActual {
  const a = emptyActual();
  const doc = obj(JSON.parse(json));
  const items = doc && Array.isArray(doc.nftables) ? doc.nftables : [];
  for (const item of items) {
    const it = obj(item);
    if (!it) continue;
    const tbl = obj(it.table);
    if (tbl && tbl.name === table) a.exists = true;
    const chain = obj(it.chain);
    if (chain && chain.table === table && typeof chain.name === 'string')
      a.chains.set(chain.name, a.chains.get(chain.name) ?? 0);
    const rule = obj(it.rule);
    if (rule && rule.table === table && typeof rule.chain === 'string')
      a.chains.set(rule.chain, (a.chains.get(rule.chain) ?? 0) + 1);
    const set = obj(it.set);
    if (set && set.table === table && Array.isArray(set.elem)) {
      const into =
        set.name === 'vip-addrs'
          ? a.vipAddrs
          : set.name === 'hairpin'
            ? a.hairpin
            : set.name === 'vip-range'
              ? a.range
              : undefined;
      for (const e of set.elem) into?.add(elemText(e));
    }
    const map = obj(it.map);
    if (map && map.table === table && map.name === 'vips' && Array.isArray(map.elem)) {
      for (const e of map.elem) {
        if (!Array.isArray(e) || e.length !== 2) continue;
        const target = obj(obj(e[1])?.goto)?.target;
        if (typeof target === 'string') a.vmap.set(elemText(e[0]), target);
      }
    }
  }
  return a;
}

/** Whether the kernel holds exactly the plan (chains compared by name and rule count). */
export function matches(plan: NftPlan, actual: NftActual): boolean {
  if (!actual.exists || actual.chains.get(LAYOUT_CHAIN) !== 0) return false;
  for (const [name, lines] of Object.entries(BASE_CHAINS))
    if (actual.chains.get(name) !== lines.length - 1) return false;
  let vipChains = 0;
  for (const [name, rules] of actual.chains) {
    if (name in BASE_CHAINS || name === LAYOUT_CHAIN) continue;
    if (!isVipChain(name) || !plan.chains.has(name) || rules !== 1) return false;
    vipChains++;
  }
  if (vipChains !== plan.chains.size) return false;
  return (
    sameMap(plan.vmap, actual.vmap) &&
    sameSet(plan.vipAddrs, actual.vipAddrs) &&
    sameSet(plan.hairpin, actual.hairpin) &&
    sameSet(plan.range, actual.range)
  );
}

const sameSet = (a: Set<string>, b: Set<string>): boolean => a.size === b.size && [...a].every((x) => b.has(x));
const sameMap = (a: Map<string, string>, b: Map<string, string>): boolean =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

// The nftables datapath, planned without touching the kernel: desired VIPs -> a plan ->
// nft script text; `nft -j list table` output -> the same plan shape, for comparison.
//
// One table of our own, `inet weft`, for both families in one transaction (kube-proxy runs
// one table per family, `ip` and `ip6`, from two proxiers; one table here means one
// read, one atomic apply and one cleanup). Every set and map below has an IPv6 twin named
// `<name>6` (the sets of an inet table are typed), and every rule an `ip6` twin. A VIP
// address gets only backends of its own family; a dual-stack named VIP is two addresses.
// The table of weft before IPv6, `ip weft`, is deleted by every full write (upgrade).
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
//   set vip-range      the VIP CIDRs (lb.vipCidr, lb.vipCidr6)
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
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { sameSet } from '../base/sets.js';
import { canonicalIp } from './allocator.js';
import { vipAddresses, type Backend, type DesiredVip } from './desired.js';

export type Affinity = 'none' | 'source';

export interface NftPlan {
  /** VIP chain name -> its one rule (without the chain), and the VIP key for its comment. */
  chains: Map<string, { rule: string; key: string }>;
  /** "addr . proto . port" -> chain name */
  vmap: Map<string, string>;
  vipAddrs: Set<string>;
  /** "a . a" for each backend address a */
  hairpin: Set<string>;
  /** The VIP CIDRs, "addr/len" (empty: no range guarded). */
  range: Set<string>;
  /** VIPs this datapath cannot program (an address that is no IP), by key. */
  skipped: string[];
}

// Each rule of the IPv4 layout has its IPv6 twin (ip6 daddr, @...6 sets, icmpv6): an inet
// table hooks both families, but its sets and maps are typed, so each family has its own.
const BASE_CHAINS: Record<string, string[]> = {
  prerouting: [
    'type nat hook prerouting priority dstnat; policy accept;',
    'ip daddr . meta l4proto . th dport vmap @vips',
    'ip6 daddr . meta l4proto . th dport vmap @vips6',
  ],
  output: [
    'type nat hook output priority -100; policy accept;',
    'ip daddr . meta l4proto . th dport vmap @vips',
    'ip6 daddr . meta l4proto . th dport vmap @vips6',
  ],
  postrouting: [
    'type nat hook postrouting priority srcnat; policy accept;',
    'ct status dnat ip saddr @vip-addrs masquerade',
    'ct status dnat ip saddr . ip daddr @hairpin masquerade',
    'ct status dnat ip6 saddr @vip-addrs6 masquerade',
    'ct status dnat ip6 saddr . ip6 daddr @hairpin6 masquerade',
  ],
  input: [
    'type filter hook input priority filter; policy accept;',
    'ct state new ip daddr @vip-addrs meta l4proto tcp reject with tcp reset',
    'ct state new ip daddr @vip-addrs meta l4proto udp reject',
    'ct state new ip6 daddr @vip-addrs6 meta l4proto tcp reject with tcp reset',
    'ct state new ip6 daddr @vip-addrs6 meta l4proto udp reject',
  ],
  'range-output': [
    'type filter hook output priority filter; policy accept;',
    'ip daddr @vip-range ip daddr != @vip-addrs meta l4proto tcp reject with tcp reset',
    'ip daddr @vip-range ip daddr != @vip-addrs reject with icmp type host-unreachable',
    'ip6 daddr @vip-range6 ip6 daddr != @vip-addrs6 meta l4proto tcp reject with tcp reset',
    'ip6 daddr @vip-range6 ip6 daddr != @vip-addrs6 reject with icmpv6 type addr-unreachable',
  ],
  'range-forward': [
    'type filter hook forward priority filter; policy accept;',
    'ip daddr @vip-range meta l4proto tcp reject with tcp reset',
    'ip daddr @vip-range reject with icmp type host-unreachable',
    'ip6 daddr @vip-range6 meta l4proto tcp reject with tcp reset',
    'ip6 daddr @vip-range6 reject with icmpv6 type addr-unreachable',
  ],
};

/** The sets and maps, by plan field: IPv4 elements go to the first name, IPv6 ones to the second. */
const SET_TYPES = [
  ['vipAddrs', 'set', 'vip-addrs', 'ipv4_addr', 'ipv6_addr', ''],
  ['hairpin', 'set', 'hairpin', 'ipv4_addr . ipv4_addr', 'ipv6_addr . ipv6_addr', ''],
  ['range', 'set', 'vip-range', 'ipv4_addr', 'ipv6_addr', 'flags interval'],
] as const;

// Stryker disable all: SETS and the hash only name the layout's version; another text is another version, which rewrites the table once, as an upgrade does.
const SETS = [
  ...SET_TYPES.map(([, kind, name, t4, t6, flags]) => [kind, name, t4, t6, flags].join(' ')),
  'map vips ipv4_addr . inet_proto . inet_service : verdict',
  'map vips6 ipv6_addr . inet_proto . inet_service : verdict',
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

/** The table's family: inet, one table hooking IPv4 and IPv6. */
export const FAMILY = 'inet';
/** weft's table before IPv6 VIPs: removed on upgrade and by cleanup. */
export const LEGACY_FAMILY = 'ip';

const isVipChain = (name: string): boolean => /^v-[0-9a-f]{16}$/.test(name);

/** `vipCidr`: the VIP ranges to refuse locally (network address and length, as `198.18.0.0/15`, `fd00:5::/64`). */
export function planNft(
  vips: readonly DesiredVip[],
  affinity: Affinity = 'none',
  vipCidr?: string | readonly string[],
): NftPlan {
  const ranges = vipCidr === undefined ? [] : typeof vipCidr === 'string' ? [vipCidr] : vipCidr;
  const plan: NftPlan = {
    chains: new Map(),
    vmap: new Map(),
    vipAddrs: new Set(),
    hairpin: new Set(),
    range: new Set(ranges),
    skipped: [],
  };
  for (const v of vips) {
    for (const a of vipAddresses(v)) {
      if (isIP(a.addr) === 0) plan.skipped.push(v.key);
      else planVip(plan, v, a.addr, a.backends, affinity);
    }
  }
  return plan;
}

/** One address of a VIP: its address in the sets, and a chain when it has backends of its own family. */
function planVip(plan: NftPlan, v: DesiredVip, vipAddr: string, all: readonly Backend[], affinity: Affinity): void {
  // Addresses as nft prints them, so that the kernel's table compares equal to the plan.
  const addr = canonicalIp(vipAddr);
  plan.vipAddrs.add(addr);
  const six = isIPv6(addr);
  // Never a backend of the other family: the DNAT of one family cannot reach the other.
  const backends = all
    .filter((b) => (six ? isIPv6(b.addr) : isIPv4(b.addr)))
    .map((b) => ({ addr: canonicalIp(b.addr), port: b.port }));
  if (backends.length === 0) return;
  const fam = six ? 'ip6' : 'ip';
  const pick = affinity === 'source' ? `jhash ${fam} saddr mod` : 'numgen random mod';
  const elems = backends.map((b, i) => `${i} : ${b.addr} . ${b.port}`).join(', ');
  const rule = `meta l4proto ${v.proto} dnat ${fam} to ${pick} ${backends.length} map { ${elems} }`;
  const name = 'v-' + createHash('sha256').update(`${v.key}\n${rule}`).digest('hex').slice(0, 16);
  plan.chains.set(name, { rule, key: v.key });
  plan.vmap.set(`${addr} . ${v.proto} . ${v.port}`, name);
  for (const b of backends) plan.hairpin.add(`${b.addr} . ${b.addr}`);
}

// A VIP key is a DNS label or an IP, a port and a protocol: nothing that needs escaping
// in a comment, but keep it that way even if records.ts ever loosens.
const comment = (key: string): string => `comment "${key.replace(/[^a-zA-Z0-9.:/_-]/g, '_')}"`;
const ruleLine = (c: { rule: string; key: string }): string => `${c.rule} ${comment(c.key)}`;

function elements(list: string[]): string | undefined {
  return list.length ? `elements = { ${list.join(', ')} }` : undefined;
}

/** Whether a set element or map key ("a", "a . b", "a/len", "a . tcp . 80") is of the IPv6 family. */
const isSix = (elem: string): boolean => elem.split(' . ')[0].includes(':');
/** A plan's elements split by family: [IPv4, IPv6]. */
const byFamily = (items: Iterable<string>): [string[], string[]] => {
  const list = [...items];
  return [list.filter((e) => !isSix(e)), list.filter(isSix)];
};
const vmapElems = (plan: NftPlan): string[] => [...plan.vmap].map(([k, c]) => `${k} : goto ${c}`);

/**
 * The whole table, replacing whatever is there, as one transaction: the table is created if
 * missing (so the delete cannot fail), deleted and written again. nft applies a file
 * atomically, so no packet sees a half-written or empty table. weft's table of before IPv6
 * (`ip weft`) goes in the same transaction, so an upgraded node never has both hooked.
 */
export function renderFull(plan: NftPlan, table = 'weft'): string {
  const out = [
    `table ${FAMILY} ${table} {`,
    '}',
    `delete table ${FAMILY} ${table}`,
    `table ${LEGACY_FAMILY} ${table} {`,
    '}',
    `delete table ${LEGACY_FAMILY} ${table}`,
    `table ${FAMILY} ${table} {`,
    `  comment "${TABLE_COMMENT}"`,
  ];
  const set = (head: string, type: string, flags: string, elems: string[]) => {
    out.push(`  ${head} {`, `    type ${type}`);
    if (flags) out.push(`    ${flags}`);
    const e = elements(elems);
    if (e) out.push(`    ${e}`);
    out.push('  }');
  };
  for (const [field, kind, name, t4, t6, flags] of SET_TYPES) {
    const [v4, v6] = byFamily(plan[field]);
    set(`${kind} ${name}`, t4, flags, v4);
    set(`${kind} ${name}6`, t6, flags, v6);
  }
  const [m4, m6] = byFamily(vmapElems(plan));
  set('map vips', 'ipv4_addr . inet_proto . inet_service : verdict', '', m4);
  set('map vips6', 'ipv6_addr . inet_proto . inet_service : verdict', '', m6);
  // Each chain on several lines: nft 1.0.6 refused some chains written on one line.
  for (const [name, lines] of Object.entries(BASE_CHAINS)) {
    out.push(`  chain ${name} {`, ...lines.map((l) => `    ${l}`), '  }');
  }
  out.push(`  chain ${LAYOUT_CHAIN} {`, '  }');
  for (const [name, c] of plan.chains) out.push(`  chain ${name} {`, `    ${ruleLine(c)}`, '  }');
  out.push('}', '');
  return out.join('\n');
}

/** `delete element` / `add element` lines for a set or map whose IPv6 twin is `<name>6`. */
function elementOps(t: string, name: string, del: string[], add: string[]): string[] {
  const out: string[] = [];
  const [d4, d6] = byFamily(del);
  const [a4, a6] = byFamily(add);
  for (const [op, list, set] of [
    ['delete', d4, name],
    ['delete', d6, `${name}6`],
    ['add', a4, name],
    ['add', a6, `${name}6`],
  ] as const)
    if (list.length) out.push(`${op} element ${t} ${set} { ${list.join(', ')} }`);
  return out;
}

/**
 * The commands that turn `from` (what was last applied) into `to`, or undefined when they
 * are the same. New chains first, then the map and sets, then old chains, so nothing is
 * referenced before it exists or deleted while referenced. `flush chain` after `add chain`
 * makes re-adding a chain that exists harmless.
 */
export function renderDiff(from: NftPlan, to: NftPlan, table = 'weft'): string | undefined {
  const t = `${FAMILY} ${table}`;
  const out: string[] = [];
  for (const [name, c] of to.chains) {
    if (from.chains.has(name)) continue;
    out.push(`add chain ${t} ${name}`, `flush chain ${t} ${name}`, `add rule ${t} ${name} ${ruleLine(c)}`);
  }
  const delVmap: string[] = [];
  const addVmap: string[] = [];
  for (const [k, c] of from.vmap) if (to.vmap.get(k) !== c) delVmap.push(k);
  for (const [k, c] of to.vmap) if (from.vmap.get(k) !== c) addVmap.push(`${k} : goto ${c}`);
  out.push(...elementOps(t, 'vips', delVmap, addVmap));
  for (const [field, , name] of SET_TYPES) {
    const [a, b] = [from[field], to[field]];
    out.push(
      ...elementOps(
        t,
        name,
        [...a].filter((x) => !b.has(x)),
        [...b].filter((x) => !a.has(x)),
      ),
    );
  }
  for (const name of from.chains.keys()) if (!to.chains.has(name)) out.push(`delete chain ${t} ${name}`);
  return out.length ? out.join('\n') + '\n' : undefined;
}

/** What `nft -j list table inet <table>` shows, in the plan's terms. */
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
      const field = SET_TYPES.find(([, , name]) => set.name === name || set.name === `${name}6`)?.[0];
      const into = field ? a[field] : undefined;
      for (const e of set.elem) into?.add(elemText(e));
    }
    const map = obj(it.map);
    if (map && map.table === table && (map.name === 'vips' || map.name === 'vips6') && Array.isArray(map.elem)) {
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

const sameMap = (a: Map<string, string>, b: Map<string, string>): boolean =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

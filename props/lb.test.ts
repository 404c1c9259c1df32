// Every node computes the same VIPs: fed the same records in any order (with detours:
// values later overwritten, records later deleted, bad values), two load balancers' record
// indexes, allocators and nft planners agree on every VIP address, every backend set and
// every nft chain. A tiny CIDR forces collisions (and, sometimes, a full CIDR). Records
// carry VIP claim times (ties included) and hostile literal VIPs (loopback, metadata, a
// member's address), which every node refuses alike.
//
// And VIP addresses never move when VIPs are added (issue 12, item 10): in a full small
// CIDR, records claiming later than every existing VIP leave every existing address as it
// was.
//
//   PROPS_RUNS   runs per property (default 100)
//   PROPS_SEED   fast-check seed (default: random, printed on failure)
import fc from 'fast-check';
import t from 'tap';
import { reportProperty } from './report.js';
import { allocate, inCidr, parseCidr } from '../lb/allocator.js';
import { computeDesired } from '../lb/desired.js';
import { planNft, renderFull } from '../lb/nft-plan.js';
import { RecordIndex, type SourceEvent } from '../lb/records.js';
import { VipGuard } from '../lb/vip-guard.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 100);
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;

// Literals: one inside every CIDR tested, one in the allow-list, and hostile ones: loopback,
// cloud metadata, a member's address (node/n3's below), outside every range.
const HOSTILE = ['127.0.0.1', '169.254.169.254', '192.168.7.9', '8.8.8.8'];
const vipName = fc.constantFrom(
  'web',
  'api',
  'db',
  'cache',
  'queue',
  'auth',
  'search',
  'mail',
  'log',
  'metrics',
  'a',
  'b',
  'c',
  'd',
  'e',
  'f',
  '10.9.0.3',
  '192.168.7.7',
  ...HOSTILE,
);
// Claim times from a small set, so ties are common; undefined: a record of an older version.
const since = fc.option(fc.constantFrom(0, 1000, 1001, 2000, 5000), { nil: undefined });
const withSince = <T extends object>(r: T, s: number | undefined): T => (s === undefined ? r : { ...r, since: s });
const binding = fc
  .tuple(
    fc.record({
      vip: vipName,
      port: fc.constantFrom(80, 443, 53),
      proto: fc.constantFrom('tcp' as const, 'udp' as const),
      targetPort: fc.constantFrom(8080, 8081, 5353),
    }),
    since,
  )
  .map(([b, s]) => withSince(b, s));
const endpointRec = fc.record({
  service: fc.constantFrom('web', 'api', 'db'),
  addrs: fc.uniqueArray(fc.constantFrom('10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', 'fd00::1', 'fd00::2'), {
    maxLength: 3,
  }),
  ports: fc.constant({}),
  health: fc.constantFrom('healthy' as const, 'none' as const, 'unhealthy' as const, 'starting' as const),
  vips: fc.array(binding, { maxLength: 3 }),
  source: fc.constant('api' as const),
});

interface Rec {
  key: string;
  value: unknown;
}

const records = fc
  .tuple(
    fc.uniqueArray(fc.tuple(fc.constantFrom('n1', 'n2', 'n3'), fc.nat(30), endpointRec), {
      selector: ([n, id, r]) => `${r.service}/${n}/${id}`,
      maxLength: 25,
    }),
    fc.uniqueArray(
      fc.tuple(
        fc.record({
          vip: vipName,
          port: fc.constantFrom(80, 443, 53, 7000),
          proto: fc.constantFrom('tcp' as const, 'udp' as const),
        }),
        since,
      ),
      { selector: ([v]) => `${v.vip}:${v.port}/${v.proto}`, maxLength: 6 },
    ),
  )
  .map(([eps, decl]): Rec[] => [
    { key: 'node/n3', value: { addr: '192.168.7.9' } },
    ...eps.map(([n, id, r]) => ({ key: `svc/${r.service}/${n}/${id}`, value: r as unknown })),
    ...decl.map(([d, s]) => ({ key: `vip/${d.vip}:${d.port}/${d.proto}`, value: withSince(d, s) as unknown })),
  ]);

/** The same final records as events in another order, with detours that end where they should. */
function detoured(recs: Rec[], order: number[], noise: number[]): SourceEvent[] {
  const ev: SourceEvent[] = [];
  order.forEach((i, j) => {
    const r = recs[i % recs.length];
    if (noise[j] === 1) ev.push({ key: r.key, after: { value: { garbage: true } } }); // a bad value first
    if (noise[j] === 2) ev.push({ key: r.key, after: undefined }); // deleted, then back
    if (noise[j] === 3)
      ev.push(
        {
          key: `svc/ghost/n9/${j}`,
          after: {
            value: {
              service: 'ghost',
              addrs: ['10.1.0.9'],
              ports: {},
              health: 'none',
              vips: [{ vip: 'a', port: 80, proto: 'tcp', targetPort: 1 }],
              source: 'api',
            },
          },
        },
        { key: `svc/ghost/n9/${j}`, after: undefined },
      );
  });
  // Then every record once more, in an order of its own: the final value of each key is its record.
  const final = recs
    .map((r, i) => [(order[i % order.length] * 7919 + i * 104729) % 1000003, r] as const)
    .sort((x, y) => x[0] - y[0]);
  for (const [, r] of final) ev.push({ key: r.key, after: { value: r.value } });
  return ev;
}

const view = (idx: RecordIndex, cidr: ReturnType<typeof parseCidr>, local?: Set<string>) => {
  const guard = new VipGuard({ vipCidr: cidr, allow: ['192.168.7.0/24', '10.9.0.0/24'] });
  const d = computeDesired(idx.endpoints.values(), idx.declared.values(), cidr, {
    guard,
    members: idx.memberAddrs(),
    local,
  });
  return {
    vips: d.vips,
    addrs: [...d.addrs].sort(),
    unallocated: d.unallocated,
    conflicts: [...d.conflicts].sort(),
    refused: d.refused,
    nft: renderFull(planNft(d.vips, 'none', cidr.text)),
  };
};

for (const cidrText of ['10.9.0.0/28', '10.9.0.0/29', '198.18.0.0/15']) {
  t.test(`two nodes, same records, any order: same VIP addresses, backends and nft table (${cidrText})`, async (t) => {
    const cidr = parseCidr(cidrText);
    const started = performance.now();
    let checked = 0;
    fc.assert(
      fc.property(
        records,
        fc.array(fc.nat(100), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(100), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(3), { minLength: 40, maxLength: 40 }),
        (recs, o1, o2, noise) => {
          if (recs.length === 0) return true;
          const a = new RecordIndex();
          const b = new RecordIndex();
          for (const e of detoured(recs, o1, noise)) a.apply(e);
          for (const e of detoured(recs, o2, noise.slice().reverse())) b.apply(e);
          const va = view(a, cidr);
          const vb = view(b, cidr);
          if (JSON.stringify(va) !== JSON.stringify(vb))
            throw new Error(`nodes disagree:\n${JSON.stringify(va.vips)}\n${JSON.stringify(vb.vips)}`);
          // And the allocation is sound: distinct addresses in the CIDR for names, literal IPs as themselves.
          const named = va.addrs.filter(([n]) => !/^[0-9.]+$/.test(n));
          const used = new Set(va.addrs.map(([, addr]) => addr));
          if (used.size !== va.addrs.length) throw new Error(`two VIPs share an address: ${JSON.stringify(va.addrs)}`);
          for (const [, addr] of named) if (!inCidr(cidr, addr)) throw new Error(`${addr} outside ${cidrText}`);
          for (const [n, addr] of va.addrs)
            if (/^[0-9.]+$/.test(n) && addr !== n) throw new Error(`literal ${n} got ${addr}`);
          // Hostile literals are refused by every node and never programmed.
          for (const h of HOSTILE)
            if (va.vips.some((v) => v.vip === h) || va.nft.includes(`${h} . `))
              throw new Error(`hostile VIP ${h} was programmed`);
          for (const r of va.refused)
            if (!HOSTILE.includes(r.vip)) throw new Error(`${r.vip} refused (${r.reason}), but it is allowed`);
          // A node holding one of the VIP addresses itself leaves that VIP out, and computes every address as the others do.
          const own = va.addrs.length ? va.addrs[noise[0] % va.addrs.length][1] : undefined;
          if (own !== undefined) {
            const vl = view(b, cidr, new Set([own]));
            if (JSON.stringify(vl.addrs) !== JSON.stringify(va.addrs))
              throw new Error(`a node's own address ${own} changed the allocation`);
            if (vl.vips.some((v) => v.addr === own))
              throw new Error(`the VIP on the node's own address ${own} was programmed`);
          }
          checked++;
          return true;
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    t.ok(checked > 0, `${checked} cases checked`);
    reportProperty(t, {
      property: `lb: two nodes agree on VIPs, backends, nft (${cidrText})`,
      runs: RUNS,
      nodes: 2,
      simulatedMs: 0,
      wallMs: performance.now() - started,
      seed: SEED,
    });
  });
}

t.test(
  'allocation depends only on the set of names: permutations and duplicates agree (tiny CIDR, often full)',
  async (t) => {
    const cidr = parseCidr('10.9.0.0/29'); // 6 slots
    fc.assert(
      fc.property(fc.array(vipName, { maxLength: 20 }), fc.func(fc.integer()), (names, rank) => {
        const shuffled = names
          .map((n, i) => [rank(i), n] as const)
          .sort((x, y) => x[0] - y[0])
          .map(([, n]) => n);
        const a = allocate(names, cidr);
        const b = allocate([...shuffled, ...shuffled], cidr);
        if (
          JSON.stringify([...a.addrs].sort()) !== JSON.stringify([...b.addrs].sort()) ||
          JSON.stringify(a.unallocated) !== JSON.stringify(b.unallocated)
        )
          throw new Error('order changed the allocation');
        const distinctNames = new Set(names.filter((n) => !/^[0-9.]+$/.test(n))).size;
        const literalsIn = new Set(names.filter((n) => /^[0-9.]+$/.test(n) && inCidr(cidr, n))).size;
        if (a.unallocated.length !== Math.max(0, distinctNames - (cidr.size - literalsIn)))
          throw new Error(`wrong number unallocated: ${a.unallocated}`);
        return true;
      }),
      { numRuns: RUNS * 5, seed: SEED },
    );
    t.pass('agreed');
  },
);

t.test(
  'adding VIPs never moves an existing one: later claims, any arrival order, a full /29 (issue 12, item 10)',
  async (t) => {
    const cidr = parseCidr('10.9.0.0/29'); // 6 slots: often full
    const started = performance.now();
    const names = fc.constantFrom(
      'alpha',
      'beta',
      'gamma',
      'delta',
      'epsilon',
      'zeta',
      'eta',
      'theta',
      'iota',
      'kappa',
      'web',
      'api',
      '10.9.0.3',
      '10.9.0.5',
    );
    const declared = (maxLength: number, lo: number, hi: number) =>
      fc.uniqueArray(
        fc.record({ vip: names, port: fc.constantFrom(80, 443), since: fc.integer({ min: lo, max: hi }) }),
        { selector: (d) => `${d.vip}:${d.port}`, maxLength },
      );
    const recs = (ds: { vip: string; port: number; since: number }[]): SourceEvent[] =>
      ds.map((d) => ({
        key: `vip/${d.vip}:${d.port}/tcp`,
        after: { value: { vip: d.vip, port: d.port, proto: 'tcp', since: d.since } },
      }));
    fc.assert(
      fc.property(declared(10, 0, 100), declared(6, 101, 200), fc.func(fc.integer()), (existing, more, rank) => {
        // New records (a key already held would be a rewrite, which keeps its claim: lb/claims.ts stampClaims).
        const added = more.filter((d) => !existing.some((e) => e.vip === d.vip && e.port === d.port));
        const before = new RecordIndex();
        for (const e of recs(existing)) before.apply(e);
        const a = computeDesired(before.endpoints.values(), before.declared.values(), cidr);
        // The new records arrive interleaved with the old ones in any order, at a node that never saw the first state.
        const all = [...recs(existing), ...recs(added)]
          .map((e, i) => [rank(i), e] as const)
          .sort((x, y) => x[0] - y[0])
          .map(([, e]) => e);
        const after = new RecordIndex();
        for (const e of all) after.apply(e);
        const b = computeDesired(after.endpoints.values(), after.declared.values(), cidr);
        for (const [vip, addr] of a.addrs)
          if (b.addrs.get(vip) !== addr)
            throw new Error(
              `${vip} moved from ${addr} to ${b.addrs.get(vip)} when ${JSON.stringify(added)} were added`,
            );
        // Names left out before stay out only if the CIDR is still full; nothing that had an address lost it.
        return true;
      }),
      { numRuns: RUNS * 5, seed: SEED },
    );
    t.pass('no existing VIP moved');
    reportProperty(t, {
      property: 'lb: adding VIPs never moves an existing VIP (full /29)',
      runs: RUNS * 5,
      nodes: 2,
      simulatedMs: 0,
      wallMs: performance.now() - started,
      seed: SEED,
    });
  },
);

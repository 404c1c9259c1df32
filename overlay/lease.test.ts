import t from 'tap';
import fc from 'fast-check';
import { formatPrefix, overlaps, parsePrefix, subnetAt } from './cidr.js';
import { decideLease, holding, precedes, probeOrder, type LeaseConfig } from './lease.js';
import { parseLease, parseLeaseRecord, readLeases, leaseValue, type Lease } from './records.js';
import { peersOf, vtepMac } from './desired.js';

const cfg: LeaseConfig = { cidr: parsePrefix('10.42.0.0/16')!, subnetLen: 24 };
const vtep = (n: number) => ({ addr: `192.168.0.${n}`, mac: vtepMac(`n${n}`), vni: 1, port: 4789 });
const lease = (node: string, subnet: string, claimedAt: number, n = 1): Lease => ({
  node,
  subnet,
  claimedAt,
  vtep: vtep(n),
  prefix: parsePrefix(subnet)!,
});

t.test('records: the parser takes well-formed leases and rejects the rest', async (t) => {
  const good = {
    subnet: '10.42.3.0/24',
    claimedAt: 5,
    vtep: { addr: '192.168.0.1', mac: '0e:01:02:03:04:05', vni: 1, port: 4789 },
  };
  t.same(parseLeaseRecord(good), good);
  t.same(parseLeaseRecord({ ...good, future: 'field' }), good, 'unknown fields are ignored');
  const bad: unknown[] = [
    null,
    'x',
    [],
    { ...good, subnet: '10.42.3.1/24' }, // host bits
    { ...good, subnet: '10.42.3.0/31' }, // too long
    { ...good, subnet: '10.0.0.0/7' }, // too short
    { ...good, subnet: '300.1.1.0/24' },
    { ...good, claimedAt: -1 },
    { ...good, claimedAt: 1.5 },
    { ...good, claimedAt: '5' },
    { ...good, vtep: { ...good.vtep, addr: 'fd00::1' } },
    { ...good, vtep: { ...good.vtep, mac: '01:00:00:00:00:01' } }, // multicast
    { ...good, vtep: { ...good.vtep, mac: '00:00:00:00:00:00' } },
    { ...good, vtep: { ...good.vtep, mac: '0E:01:02:03:04:05' } }, // not lower case
    { ...good, vtep: { ...good.vtep, vni: 1 << 24 } },
    { ...good, vtep: { ...good.vtep, port: 0 } },
    { ...good, vtep: undefined },
  ];
  for (const b of bad) t.equal(parseLeaseRecord(b), undefined, JSON.stringify(b));
  t.equal(
    parseLease({ key: 'overlay/n2', owner: 'n1', value: good }),
    'wrong_owner',
    'a lease written by another node than the one it names',
  );
  t.equal(parseLease({ key: 'overlay/n2', owner: '*', value: good }), 'wrong_owner', 'a shared record is no lease');
  t.equal(parseLease({ key: 'overlay/a/b', owner: 'a/b', value: good }), 'bad_key');
  t.equal(parseLease({ key: 'overlay/n1', owner: 'n1', value: { subnet: 1 } }), 'bad_value');
  const r = readLeases([
    { key: 'overlay/n1', owner: 'n1', value: good },
    { key: 'overlay/n2', owner: 'n2', value: 7 },
  ]);
  t.same(
    r.leases.map((l) => l.node),
    ['n1'],
  );
  t.same(r.bad, [{ key: 'overlay/n2', reason: 'bad_value' }]);
  t.same(leaseValue(r.leases[0]), good, 'the stored form drops the parsed extras');
});

t.test('conflict rule: earliest claim wins, ties by name; overlapping prefixes conflict', async (t) => {
  const a = { node: 'a', prefix: parsePrefix('10.42.1.0/24')!, claimedAt: 10 };
  const b = { node: 'b', prefix: parsePrefix('10.42.1.0/24')!, claimedAt: 5 };
  const c = { node: 'c', prefix: parsePrefix('10.42.1.0/24')!, claimedAt: 5 };
  t.ok(precedes(b, a));
  t.ok(precedes(b, c), 'equal times: the name that sorts first');
  t.same(
    holding([a, b, c]).map((x) => x.node),
    ['b'],
  );
  const wide = { node: 'w', prefix: parsePrefix('10.42.0.0/23')!, claimedAt: 1 };
  const other = { node: 'o', prefix: parsePrefix('10.42.2.0/24')!, claimedAt: 9 };
  t.same(
    holding([a, b, wide, other])
      .map((x) => x.node)
      .sort(),
    ['o', 'w'],
    'a /23 claimed first beats the /24 inside it',
  );
  // Order of input never matters.
  t.same(
    holding([other, wide, b, a])
      .map((x) => x.node)
      .sort(),
    ['o', 'w'],
  );
  const huge = lease('evil', '10.0.0.0/8', 0);
  const d = decideLease('n1', undefined, [huge], cfg, vtep(1), 10);
  t.equal(d.kind, 'claim', 'a claim wider than a subnet or outside the cidr takes nothing from anyone');
});

t.test('probe order visits every subnet once, and differs between names', async (t) => {
  const order = [...probeOrder('node-1', 256)];
  t.equal(new Set(order).size, 256);
  t.not(
    [...probeOrder('node-2', 256)][0] === order[0] && [...probeOrder('node-3', 256)][0] === order[0],
    true,
    'starts are spread',
  );
  t.same([...probeOrder('x', 1)], [0]);
});

t.test('decide: a fresh node claims its first-choice subnet; a restart keeps it', async (t) => {
  const d = decideLease('n1', undefined, [], cfg, vtep(1), 1000);
  t.equal(d.kind, 'claim');
  if (d.kind !== 'claim') return;
  const first = formatPrefix(subnetAt(cfg.cidr, 24, [...probeOrder('n1', 256)][0]));
  t.equal(d.record.subnet, first);
  t.equal(d.record.claimedAt, 1000);
  const own = lease('n1', d.record.subnet, 1000);
  const again = decideLease('n1', own, [own], cfg, vtep(1), 99_999);
  t.same(
    again,
    { kind: 'keep', record: { subnet: first, claimedAt: 1000, vtep: vtep(1) } },
    'kept with its claim time',
  );
  const moved = decideLease('n1', own, [own], cfg, vtep(9), 99_999);
  t.equal(moved.kind, 'keep');
  t.same(
    moved.kind === 'keep' && moved.record.vtep,
    vtep(9),
    'a new underlay address is published under the same lease',
  );
  t.same(
    decideLease('n1', undefined, [], cfg, vtep(1), 5),
    d.kind === 'claim' ? { ...d, record: { ...d.record, claimedAt: 5 } } : d,
    'no data dir: the same subnet is derived again',
  );
});

t.test('decide: the loser moves, stamped after every claim it knows; the winner stays', async (t) => {
  const sub = formatPrefix(subnetAt(cfg.cidr, 24, [...probeOrder('n2', 256)][0]));
  const early = lease('n1', sub, 100);
  const late = lease('n2', sub, 200, 2);
  t.equal(decideLease('n1', early, [early, late], cfg, vtep(1), 300).kind, 'keep');
  const d = decideLease('n2', late, [early, late], cfg, vtep(2), 150); // a clock behind the winner's
  t.equal(d.kind, 'claim');
  if (d.kind !== 'claim') return;
  t.equal(d.lostTo, 'n1');
  t.not(d.record.subnet, sub);
  t.ok(d.record.claimedAt > 200, 'stamped after the latest claim seen, whatever the local clock says');
  const dead = lease('gone', formatPrefix(subnetAt(cfg.cidr, 24, [...probeOrder('n3', 256)][0])), 1);
  const d3 = decideLease('n3', undefined, [dead], cfg, vtep(3), 500);
  t.ok(
    d3.kind === 'claim' && d3.record.subnet !== dead.subnet,
    "a claim still held (a dead owner's, not reaped) is skipped",
  );
  const outside = lease('n4', '10.99.0.0/24', 1);
  const d4 = decideLease('n4', outside, [outside], cfg, vtep(4), 500);
  t.ok(d4.kind === 'claim' && d4.record.subnet.startsWith('10.42.'), 'a lease outside the configured cidr is replaced');
});

t.test('decide: exhaustion is reported, not looped on', async (t) => {
  const small: LeaseConfig = { cidr: parsePrefix('10.42.0.0/23')!, subnetLen: 24 };
  const claims = [lease('a', '10.42.0.0/24', 1), lease('b', '10.42.1.0/24', 2)];
  t.same(decideLease('c', undefined, claims, small, vtep(3), 10), { kind: 'exhausted', held: 2 });
  const lost = lease('c', '10.42.1.0/24', 3);
  t.same(decideLease('c', lost, [...claims, lost], small, vtep(3), 10), { kind: 'exhausted', held: 2, lostTo: 'b' });
});

t.test('decide, property: nodes deciding in any interleaving end on disjoint subnets', async (t) => {
  // A small CIDR (8 subnets) so collisions are common. Each step one node decides with the
  // claims it can see (a random subset of the others': replication lag); at the end every
  // node sees everything and decides until nothing changes.
  const small: LeaseConfig = { cidr: parsePrefix('10.42.0.0/21')!, subnetLen: 24 };
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 8 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 50 })), { maxLength: 60 }),
      (n, steps) => {
        const names = Array.from({ length: n }, (_, i) => `n${i}`);
        const held = new Map<string, Lease>();
        let now = 1000;
        const step = (node: string, visible: Lease[]) => {
          const d = decideLease(node, held.get(node), visible, small, vtep(1), now);
          if (d.kind === 'exhausted') held.delete(node);
          else held.set(node, { ...d.record, node, prefix: parsePrefix(d.record.subnet)! });
        };
        for (const [who, mask, dt] of steps) {
          now += dt;
          const node = names[who % n];
          step(
            node,
            [...held.values()].filter((_, i) => (mask >> i) & 1),
          );
        }
        for (let round = 0; round < 3 * n + 2; round++) for (const node of names) step(node, [...held.values()]);
        const ls = [...held.values()];
        for (let i = 0; i < ls.length; i++)
          for (let j = i + 1; j < ls.length; j++) if (overlaps(ls[i].prefix, ls[j].prefix)) return false;
        return ls.length === n; // 8 subnets, at most 8 nodes: everyone fits
      },
    ),
    { numRuns: 300 },
  );
  t.pass('disjoint and complete');
});

t.test('peers: live leases that hold, in the cidr, on the same VXLAN; never self', async (t) => {
  const me = lease('n1', '10.42.1.0/24', 1, 1);
  const p2 = lease('n2', '10.42.2.0/24', 2, 2);
  const loser = lease('n3', '10.42.2.0/24', 3, 3);
  const far = lease('n4', '10.99.0.0/24', 4, 4);
  const otherVni = { ...lease('n5', '10.42.5.0/24', 5, 5), vtep: { ...vtep(5), vni: 7 } };
  const sameUnderlay = { ...lease('n6', '10.42.6.0/24', 6, 6), vtep: { ...vtep(6), addr: '192.168.0.1' } };
  const all = [me, p2, loser, far, otherVni, sameUnderlay];
  const r = peersOf('n1', all, all, { cfg, vni: 1, port: 4789, underlay: '192.168.0.1' });
  t.same(r.peers, [
    { node: 'n2', subnet: '10.42.2.0/24', gateway: '10.42.2.0', mac: vtepMac('n2'), underlay: '192.168.0.2' },
  ]);
  t.same(r.skipped, [
    { node: 'n3', reason: 'conflict' },
    { node: 'n4', reason: 'foreign_subnet' },
    { node: 'n5', reason: 'other_vxlan' },
    { node: 'n6', reason: 'same_underlay' },
  ]);
  const deadWinner = lease('d', '10.42.7.0/24', 0);
  const liveLoser = lease('n7', '10.42.7.0/24', 9, 7);
  t.same(
    peersOf('n1', [me, liveLoser], [me, liveLoser, deadWinner], { cfg, vni: 1, port: 4789 }).skipped,
    [{ node: 'n7', reason: 'conflict' }],
    "a live claim beaten by a dead owner's is not routed (it is about to move)",
  );
  t.match(vtepMac('n1'), /^0e(:[0-9a-f]{2}){5}$/);
  t.not(vtepMac('n1'), vtepMac('n2'));
});

t.test('conflict rule: an earlier, narrower claim beats a later, wider one that contains it', async (t) => {
  // A node still configured with /25 subnets (a config change under way) claimed first;
  // a later /24 containing that /25 must lose and move (test/mutants/overlay-narrow-claim.patch).
  const narrow = lease('n1', '10.42.5.0/25', 1, 1);
  const wide = lease('n2', '10.42.5.0/24', 2, 2);
  t.same(
    holding([wide, narrow]).map((c) => c.node),
    ['n1'],
    'only the earlier /25 holds',
  );
  const d = decideLease('n2', wide, [narrow, wide], cfg, vtep(2), 10);
  t.equal(d.kind, 'claim', 'the later /24 is given up');
  if (d.kind !== 'claim') return;
  t.equal(d.lostTo, 'n1');
  t.notOk(overlaps(parsePrefix(d.record.subnet)!, narrow.prefix), 'the new subnet does not overlap the /25');
  t.equal(
    decideLease('n1', narrow, [narrow, wide], { cidr: cfg.cidr, subnetLen: 25 }, vtep(1), 10).kind,
    'keep',
    'the /25 keeps its claim',
  );
  // The other way round, the wider claim is the earlier one and holds.
  const earlyWide = lease('n2', '10.42.5.0/24', 1, 2);
  const lateNarrow = lease('n1', '10.42.5.0/25', 2, 1);
  t.equal(
    decideLease('n2', earlyWide, [earlyWide, lateNarrow], cfg, vtep(2), 10).kind,
    'keep',
    'an earlier /24 keeps its claim over a later /25 inside it',
  );
});

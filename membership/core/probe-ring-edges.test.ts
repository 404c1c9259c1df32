// The probe ring at its edges (issue 18's mutation survivors in probe-ring.ts): the exact
// order, which is a contract between versions, and when the ring is rebuilt.
import t from 'tap';
import { MemberTable, type Member } from './members.js';
import { ProbeRing } from './probe-ring.js';
import { Xoshiro128 } from '../../base/rng.js';

function member(name: string): Member {
  return { name, addr: '10.0.0.1', port: 7946, meta: new Uint8Array(), incarnation: 0, state: 'alive', lastChange: 0 };
}

function ringOf(self: string, others: string[]): { table: MemberTable; ring: ProbeRing } {
  const table = new MemberTable(member(self), new Xoshiro128(1));
  for (const n of others) table.add(member(n));
  return { table, ring: new ProbeRing(table) };
}

const targets = (ring: ProbeRing, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ring.target(from + i)?.name ?? '-').join('');

t.test('the order is pinned: nodes of two versions in one cluster must derive the same ring', async (t) => {
  // Alignment (every member probed once per interval) holds only while every node shuffles
  // alike; a change to the hash or the tie-break would split a rolling upgrade's cluster
  // into two unaligned halves. These were computed once from the released code.
  const { ring } = ringOf('a', ['b', 'c', 'd', 'e', 'f', 'g', 'h']);
  t.equal(targets(ring, 0, 21), 'gebfdhc' + 'dcfbegh' + 'hfgdceb', 'cycles 0 to 2');
  t.equal(targets(ring, 7000, 7), 'bgdfhce', 'cycle 1000');
});

t.test('a member that dies mid-cycle is not probed again in that cycle', async (t) => {
  const { table, ring } = ringOf('a', ['b', 'c', 'd', 'e']);
  const first = ring.target(0)!;
  table.setState(first, 'dead');
  const rest = targets(ring, 1, 3);
  // (The span shrinks with it, so the rounds map to a new cycle: a member may come twice.)
  t.notOk(rest.includes(first.name), `${first.name} died: the rest of the cycle is ${rest}`);
});

t.test('a member that comes back mid-cycle is in the ring at once', async (t) => {
  const { table, ring } = ringOf('a', ['b', 'c']);
  table.setState(table.get('c')!, 'dead');
  t.equal(targets(ring, 0, 2), 'bb', 'two live: the other one every round');
  table.setState(table.get('c')!, 'alive');
  const cycle = targets(ring, 2, 2);
  t.ok(cycle.includes('c'), `back in the ring: ${cycle}`);
});

t.test('no target while this node is not alive itself, or alone', async (t) => {
  const { table, ring } = ringOf('a', ['b', 'c']);
  t.not(ring.target(0), undefined);
  table.setState(table.self, 'left');
  t.equal(ring.target(0), undefined, 'a node that left probes nobody');
  const alone = ringOf('a', []);
  t.equal(alone.ring.target(0), undefined, 'alone');
});

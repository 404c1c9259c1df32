import t from 'tap';
import { MemberTable, type Member } from './members.js';
import { ProbeRing } from './probe-ring.js';
import { Xoshiro128 } from '../../base/rng.js';

function member(name: string): Member {
  return {
    name,
    addr: `10.0.0.${name.length}`,
    port: 7946,
    meta: new Uint8Array(),
    incarnation: 0,
    state: 'alive',
    lastChange: 0,
  };
}

/** Every node's view of the same cluster, each with its own table and ring. */
function cluster(names: string[]): { name: string; table: MemberTable; ring: ProbeRing }[] {
  return names.map((self, i) => {
    const table = new MemberTable(member(self), new Xoshiro128(i + 1));
    for (const other of names) if (other !== self) table.add(member(other));
    return { name: self, table, ring: new ProbeRing(table) };
  });
}

t.test('with agreeing views and clocks, every round probes every member exactly once', async (t) => {
  const names = Array.from({ length: 37 }, (_, i) => `n${i}`);
  const nodes = cluster(names);
  for (let round = 1000; round < 1000 + 3 * names.length; round++) {
    const probed = nodes.map((n) => n.ring.target(round)?.name);
    t.notOk(
      probed.some((p, i) => p === undefined || p === nodes[i].name),
      `round ${round}: everyone probes someone else`,
    );
    t.equal(new Set(probed).size, names.length, `round ${round}: a permutation`);
  }
});

t.test('each node visits every other member once per cycle of n-1 rounds', async (t) => {
  const names = Array.from({ length: 11 }, (_, i) => `m${i}`);
  const [node] = cluster(names);
  const span = names.length - 1;
  const start = 7 * span; // a cycle boundary
  const seen = new Set<string>();
  for (let r = start; r < start + span; r++) seen.add(node.ring.target(r)!.name);
  t.equal(seen.size, span);
  t.notOk(seen.has(node.name));
});

t.test('dead members drop out of the ring; alone there is no target', async (t) => {
  const nodes = cluster(['a', 'b', 'c']);
  const a = nodes[0];
  a.table.setState(a.table.get('b')!, 'dead');
  a.table.setState(a.table.get('c')!, 'dead');
  t.equal(a.ring.target(5), undefined);
  a.table.setState(a.table.get('c')!, 'alive');
  t.equal(a.ring.target(5)?.name, 'c');
});
